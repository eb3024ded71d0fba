// Package streamstest starts an embedded NATS JetStream server for tests of other packages.
package streamstest

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/consumers/streams"
)

// Start starts an embedded JetStream server with its data in a temporary directory and connects
// to it; the connection and the server are closed at the end of the test (before the directory
// is removed).
func Start(t testing.TB) (*streams.Embedded, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	srv, err := streams.StartEmbedded(streams.EmbeddedConfig{Dir: t.TempDir(), Port: -1, MaxStore: 1 << 30})
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return srv, nc, js
}
