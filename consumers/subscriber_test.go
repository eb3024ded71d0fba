package consumers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/consumers/streams"
	"github.com/spendstream/spendstream/consumers/streams/streamstest"
)

func TestParseAckSubject(t *testing.T) {
	for _, tc := range []struct {
		reply               string
		sseq, cseq, pending uint64
		nanos               int64
	}{
		{"$JS.ACK.USAGE_LIVE.live-0.1.42.7.1700000000123456789.3", 42, 7, 3, 1700000000123456789},
		{"$JS.ACK.hub.ACCHASH.USAGE_LIVE.live-0.2.42.7.1700000000123456789.0", 42, 7, 0, 1700000000123456789},
		{"$JS.ACK.hub.ACCHASH.USAGE_LIVE.live-0.2.42.7.1700000000123456789.0.rand0m", 42, 7, 0, 1700000000123456789},
		{"", 0, 0, 0, 0},
		{"_INBOX.abc", 0, 0, 0, 0},
		{"$JS.ACK.S.C.1.2.3", 0, 0, 0, 0},                        // too few tokens
		{"$JS.ACK.S.C.1.x.3.4.5", 0, 0, 0, 0},                    // not a number
		{"$JS.ACK.S.C.1.2.3.99999999999999999999.5", 0, 0, 0, 0}, // time out of range
		{"$JS.ACK.S.C.1.18446744073709551616.3.4.5", 0, 0, 0, 0}, // overflow
		{"$JS.ACK.S.C.1..3.4.5", 0, 0, 0, 0},                     // empty token
		{"$JS.ACK.a/b/c/d/e/f.C/0.1.12345678.9.1700000000123456789.18446744073709551615", 12345678, 9, 18446744073709551615, 1700000000123456789},
		{"$JS.ACK.S.C.1.2.3.4.5.6.7.8.9.10.11.12.13.14.15", 0, 0, 0, 0}, // too many tokens
	} {
		sseq, cseq, nanos, pending := parseAckSubject(tc.reply)
		require.Equal(t, [4]uint64{tc.sseq, tc.cseq, uint64(tc.nanos), tc.pending},
			[4]uint64{sseq, cseq, uint64(nanos), pending}, tc.reply)
	}
}

// TestParseUint compares parseUint with strconv.ParseUint around the lengths where it switches
// from eight digits at a time to one (8, 16), and where uint64 overflows (20 digits). Inputs of more
// than 20 characters are refused even when strconv accepts them (leading zeros).
func TestParseUint(t *testing.T) {
	inputs := []string{"", "0", "7", "00000000", "12345678", "1234567x", "x2345678", "123456789",
		"9999999999999999", "1234567812345678", "12345678/2345678", "1234567:12345678",
		"9999999999999999999", "10000000000000000000", "18446744073709551615", "18446744073709551616",
		"99999999999999999999", "000000000000000000001", "+1", "-1", " 1", "1 "}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, 1+r.IntN(21))
		for i := range b {
			b[i] = byte('0' + r.IntN(10))
			if r.IntN(40) == 0 {
				b[i] = byte(r.IntN(256))
			}
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		want, err := strconv.ParseUint(in, 10, 64)
		got, ok := parseUint(in)
		require.Equal(t, err == nil && len(in) <= 20, ok, "%q", in) // longer: leading zeros NATS never writes
		if ok {
			require.Equal(t, want, got, "%q", in)
		}
	}
}

func BenchmarkParseAckSubject(b *testing.B) {
	for b.Loop() {
		parseAckSubject("$JS.ACK.USAGE_LIVE.live-0.1.4242424.4242424.1700000000123456789.300000")
	}
}

// TestJSSubscriberBatchesInOrder runs the subscriber against an embedded JetStream: every message
// arrives once, in order, framed with its position, over several batches (the pull window is
// smaller than the stream), and no delivery is reported lost.
func TestJSSubscriberBatchesInOrder(t *testing.T) {
	_, nc, js := streamstest.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}})
	require.NoError(t, err)
	const n = 2500
	for i := range n {
		_, err := js.PublishMsg(ctx, &nats.Msg{Subject: fmt.Sprintf("t.%d", i%7), Data: fmt.Appendf(nil, "m%d", i),
			Header: nats.Header{jetstream.MsgIDHeader: []string{fmt.Sprint(i)}}})
		require.NoError(t, err)
	}
	cons, err := js.CreateConsumer(ctx, "T", jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckNonePolicy})
	require.NoError(t, err)

	lost := make(chan error, 1)
	sub := newJSSubscriber(nc, "T", "c", 300, func(err error) { lost <- err }, discardLog)
	defer sub.Close()
	out, err := sub.Subscribe(ctx, "T")
	require.NoError(t, err)
	got, batches := 0, 0
	for got < n {
		select {
		case m := <-out:
			batches++
			for rest := m.Payload; len(rest) > 0; {
				var f frame
				f, rest, err = nextFrame(rest)
				require.NoError(t, err)
				got++
				require.Equal(t, uint64(got), f.streamSeq)
				require.Equal(t, uint64(got), f.consumerSeq)
				require.Equal(t, fmt.Sprintf("t.%d", (got-1)%7), string(f.subject))
				require.Equal(t, fmt.Sprintf("m%d", got-1), string(f.data))
				require.Equal(t, uint64(n-got), f.pending)
				require.NotZero(t, f.storedNanos)
			}
			m.Ack()
		case err := <-lost:
			t.Fatalf("delivery reported lost after %d messages: %v", got, err)
		case <-ctx.Done():
			t.Fatalf("received %d of %d messages", got, n)
		}
	}
	require.Greater(t, batches, 1)
	info, err := cons.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(n), info.Delivered.Consumer)
	require.Zero(t, info.NumPending)

	// Messages published later arrive too (the pull requests are renewed).
	_, err = js.Publish(ctx, "t.x", []byte("late"))
	require.NoError(t, err)
	select {
	case m := <-out:
		f, _, err := nextFrame(m.Payload)
		require.NoError(t, err)
		require.Equal(t, uint64(n+1), f.streamSeq)
		require.Equal(t, "late", string(f.data))
		m.Ack()
	case err := <-lost:
		t.Fatalf("delivery reported lost: %v", err)
	case <-ctx.Done():
		t.Fatal("late message not received")
	}
	require.NoError(t, sub.Close())
}

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestJSSubscriberReportsLostDelivery makes the consumer deliver a message elsewhere (to another
// pull request, queued at the server before or after the subscriber's) and checks that the subscriber
// notices the missing delivery, from the next message's consumer sequence or, when nothing follows,
// from the idle heartbeat, and hands on nothing after the gap.
func TestJSSubscriberReportsLostDelivery(t *testing.T) {
	tests := map[string]struct {
		rogueFirst bool // the other request is queued before the subscriber's
		want       string
	}{
		"first delivery":    {rogueFirst: true, want: "delivery 2 after 0"},
		"the last delivery": {rogueFirst: false, want: "delivered up to 2, received up to 1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, nc, js := streamstest.Start(t)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}})
			require.NoError(t, err)
			cons, err := js.CreateConsumer(ctx, "T", jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckNonePolicy})
			require.NoError(t, err)
			waiting := func(n int) {
				require.Eventually(t, func() bool {
					info, err := cons.Info(ctx)
					return err == nil && info.NumWaiting == n
				}, 10*time.Second, 10*time.Millisecond)
			}
			// The other request, for one message, from another connection.
			rogue := func() {
				other, err := nats.Connect(nc.ConnectedUrl())
				require.NoError(t, err)
				t.Cleanup(other.Close)
				inbox := other.NewInbox()
				_, err = other.SubscribeSync(inbox)
				require.NoError(t, err)
				require.NoError(t, other.PublishRequest("$JS.API.CONSUMER.MSG.NEXT.T.c", inbox, []byte(`{"batch":1,"expires":20000000000}`)))
				require.NoError(t, other.Flush())
			}

			lost := make(chan error, 2)
			sub := newJSSubscriber(nc, "T", "c", 2, func(err error) { lost <- err }, discardLog)
			sub.heartbeat = 200 * time.Millisecond
			defer sub.Close()
			if tc.rogueFirst {
				rogue()
				waiting(1)
			}
			out, err := sub.Subscribe(ctx, "T")
			require.NoError(t, err)
			if !tc.rogueFirst {
				waiting(1)
				rogue()
			}
			waiting(2)
			// The server serves the waiting requests in turn, a message each: the other request gets
			// the first message or the second. What the subscriber received before the gap is
			// handed on, nothing after it.
			for i := range 2 {
				_, err := js.Publish(ctx, "t.a", fmt.Appendf(nil, "m%d", i))
				require.NoError(t, err)
			}
			var seqs []uint64
			for {
				select {
				case m := <-out:
					for rest := m.Payload; len(rest) > 0; {
						var f frame
						f, rest, err = nextFrame(rest)
						require.NoError(t, err)
						seqs = append(seqs, f.consumerSeq)
					}
					m.Ack()
					continue
				case err := <-lost:
					require.ErrorIs(t, err, errDeliveryLost)
					require.ErrorContains(t, err, tc.want)
				case <-ctx.Done():
					t.Fatal("lost delivery not reported")
				}
				break
			}
			if tc.rogueFirst {
				require.Empty(t, seqs)
			} else {
				require.Equal(t, []uint64{1}, seqs)
			}
			select {
			case err := <-lost:
				t.Fatalf("reported twice: %v", err)
			case <-time.After(3 * sub.heartbeat):
			}
		})
	}
}

// TestJSSubscriberResumesAfterServerRestart checks that the pull requests are renewed when the
// connection comes back: messages published after a server restart arrive, in order.
func TestJSSubscriberResumesAfterServerRestart(t *testing.T) {
	dir := t.TempDir()
	srv, err := streams.StartEmbedded(streams.EmbeddedConfig{Dir: dir, Port: -1, MaxStore: 1 << 30})
	require.NoError(t, err)
	port := srv.Server.Addr().(*net.TCPAddr).Port
	nc, err := nats.Connect(srv.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}})
	require.NoError(t, err)
	_, err = js.CreateConsumer(ctx, "T", jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckNonePolicy})
	require.NoError(t, err)
	lost := make(chan error, 1)
	sub := newJSSubscriber(nc, "T", "c", 100, func(err error) { lost <- err }, discardLog)
	defer sub.Close()
	out, err := sub.Subscribe(ctx, "T")
	require.NoError(t, err)
	receive := func(want uint64) {
		t.Helper()
		select {
		case m := <-out:
			f, _, err := nextFrame(m.Payload)
			require.NoError(t, err)
			require.Equal(t, want, f.streamSeq)
			m.Ack()
		case err := <-lost:
			t.Fatalf("delivery reported lost: %v", err)
		case <-ctx.Done():
			t.Fatalf("message %d not received", want)
		}
	}
	_, err = js.Publish(ctx, "t.a", []byte("before"))
	require.NoError(t, err)
	receive(1)

	srv.Shutdown()
	srv, err = streams.StartEmbedded(streams.EmbeddedConfig{Dir: dir, Port: port, MaxStore: 1 << 30})
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	require.Eventually(t, nc.IsConnected, 30*time.Second, 10*time.Millisecond)
	_, err = js.Publish(ctx, "t.a", []byte("after"))
	require.NoError(t, err)
	receive(2)
}
