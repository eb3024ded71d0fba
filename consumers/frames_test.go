package consumers

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFramesRoundTrip(t *testing.T) {
	in := []frame{
		{streamSeq: 1, consumerSeq: 1, storedNanos: 1795704467808923641, pending: 12, subject: []byte("usage.vps.sample.t-1.3"), data: []byte(`{"a":1}`)},
		{streamSeq: 1 << 40, consumerSeq: 2, storedNanos: -1, subject: []byte{}, data: []byte{}},
		{streamSeq: 7, consumerSeq: 3, storedNanos: 0, subject: []byte("s"), data: make([]byte, 70000)},
	}
	var b []byte
	for _, f := range in {
		b = appendFrame(b, f)
	}
	out, err := frames(b)
	require.NoError(t, err)
	require.Equal(t, in, out)

	for cut := 1; cut < len(b); cut += 997 {
		_, err := frames(b[:cut])
		if cut != frameHeader+len(in[0].subject)+4+len(in[0].data) {
			require.ErrorIs(t, err, errBadFrame, "cut at %d", cut)
		}
	}
	empty, err := frames(nil)
	require.NoError(t, err)
	require.Empty(t, empty)
}
