package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/consumers/streams"
	"github.com/spendstream/spendstream/schemas/generate"
)

// TestNATSFailuresDuringFlow breaks the consumer's link to NATS while a `spendstream consume`
// process rolls up a steady flow: in turn, its connections are cut after a spell in which what the
// server sends them is dropped (deliveries lost on the way, as on a broken network path), and the
// NATS server is restarted (same data dir and port). The roll-up consumers do not ack, so nothing
// on the server brings a lost delivery back: only the subscriber's own checks (the consumer
// sequence, the idle heartbeat) do, by rewinding to the committed positions. The test checks that
// the consumer survived and caught up, that losses were noticed, and that the roll-ups and dead
// letters equal the ground truth exactly. The publisher retries what was not acknowledged, with the
// same message ids, as a producer would; the stream's duplicate window drops what was stored.
func TestNATSFailuresDuringFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("breaks NATS under a real consumer process for ~20s")
	}
	const partitions = 4
	const publishFor = 12 * time.Second
	const faults = 4 // cut, restart, cut, restart
	chAddr := clickhouseAddr(t)
	bin := chaosBinary(t)
	start := time.Now()
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()

	db := testDatabase(t, chAddr, "natsfail")
	store := chaosStore(ctx, t, chAddr, db)

	dir := t.TempDir()
	_, portStr, err := net.SplitHostPort(freePort(t))
	require.NoError(t, err)
	port, err := strconv.Atoi(portStr)
	require.NoError(t, err)
	startServer := func() *streams.Embedded {
		t.Helper()
		var emb *streams.Embedded
		// The port of the server just shut down can take a moment to be free again.
		require.Eventually(t, func() bool {
			emb, err = streams.StartEmbedded(streams.EmbeddedConfig{Dir: dir, Port: port})
			return err == nil
		}, 10*time.Second, 50*time.Millisecond, "restart NATS: %v", err)
		return emb
	}
	emb := startServer()
	t.Cleanup(func() { emb.Shutdown() })

	js, scfg := chaosJS(ctx, t, emb.URL(), partitions, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))

	d := newChaosDataset(seed, time.Second)
	t.Logf("dataset: %d items, %d distinct events to count, %d malformed", len(d.items), d.truth.counted, d.malformed)

	proxy := startLossyProxy(t, net.JoinHostPort("127.0.0.1", portStr))
	cons := newChaosProc(t, "consume", bin, chaosConsumeArgs("nats://"+proxy.addr(), chAddr, db, partitions, 0, 1)...)
	cons.start()

	published := d.publishPacedBy(ctx, retryingSink(streams.NewPublisher(js), d.gen.Fleet().Tenants[0].ID), publishFor, 120, nil)

	// A fault at even intervals while the publisher runs.
	for i := range faults {
		select {
		case <-time.After(publishFor / (faults + 1)):
		case err := <-published:
			t.Fatalf("publishing ended before fault %d: %v", i+1, err)
		}
		gone, exitErr := cons.exited()
		require.False(t, gone, "consumer exited: %v\n%s", exitErr, cons.tail(20))
		if i%2 == 0 {
			dropped := proxy.cut(300 * time.Millisecond)
			t.Logf("fault %d at %s: connections cut, %d bytes to the consumer dropped", i+1, time.Since(start).Round(time.Millisecond), dropped)
		} else {
			emb.Shutdown()
			time.Sleep(200 * time.Millisecond)
			emb = startServer()
			t.Logf("fault %d at %s: NATS restarted", i+1, time.Since(start).Round(time.Millisecond))
		}
	}
	require.NoError(t, <-published)
	t.Logf("published in %s", time.Since(start).Round(time.Millisecond))

	last := chaosLastSeqs(t, js, scfg)
	chaosWaitCommitted(t, store, last, 40*time.Second)
	gone, exitErr := cons.exited()
	require.False(t, gone, "consumer exited: %v\n%s", exitErr, cons.tail(20))

	samples, sent, counted, n := chaosRequireTruth(ctx, t, store, js, d, "")
	require.NoError(t, cons.stop(30*time.Second))
	// The handler's warning carries the subscriber's error as is; the restart's wraps it.
	lost, rewound := cons.countLog(`"err":"jetstream delivery lost`), cons.countLog("restarting consumers")
	t.Logf("%d faults: %d VPS samples, %d messages sent, %d events, %d dead letters, all equal to the ground truth; "+
		"the consumer noticed %d lost deliveries and rewound %d times; took %s",
		faults, samples, sent, counted, n, lost, rewound, time.Since(start).Round(time.Millisecond))
	require.Positive(t, lost, "no lost delivery noticed: the test did not exercise what it is for")
}

// lossyProxy forwards TCP connections to a NATS server. cut drops what the server sends for a
// while and then closes every connection, so that the client loses whatever was on the way.
type lossyProxy struct {
	ln       net.Listener
	target   string
	dropping atomic.Bool
	dropped  atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
}

func startLossyProxy(t *testing.T, target string) *lossyProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &lossyProxy{ln: ln, target: target}
	t.Cleanup(func() { _ = ln.Close(); p.closeAll() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); _ = s.Close() }()
			go func() {
				buf := make([]byte, 32<<10)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						if p.dropping.Load() {
							p.dropped.Add(int64(n))
						} else if _, werr := c.Write(buf[:n]); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				_ = c.Close()
			}()
		}
	}()
	return p
}

func (p *lossyProxy) addr() string { return p.ln.Addr().String() }

// cut drops what the server sends for d, closes every connection, and returns the bytes dropped.
func (p *lossyProxy) cut(d time.Duration) int64 {
	before := p.dropped.Load()
	p.dropping.Store(true)
	time.Sleep(d)
	p.closeAll()
	p.dropping.Store(false)
	return p.dropped.Load() - before
}

func (p *lossyProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// retryingSink is natsSink for a flaky link: each message keeps its id (the malformed ones too) and
// is published again until it is acknowledged, as a producer would.
func retryingSink(pub *streams.Publisher, fallbackTenant string) sink {
	return func(ctx context.Context, items []generate.Item) error {
		out := outgoing(items, fallbackTenant, fmt.Sprintf("malformed-%d", time.Now().UnixNano()))
		for len(out) > 0 {
			var failed []streams.Outgoing
			// An ack lost with the server never comes: give each attempt a deadline.
			actx, acancel := context.WithTimeout(ctx, 5*time.Second)
			res := pub.Publish(actx, out)
			acancel()
			for i, r := range res {
				if r.Err != nil {
					failed = append(failed, out[i])
				}
			}
			out = failed
			if len(out) > 0 {
				select {
				case <-ctx.Done():
					return fmt.Errorf("%d messages not acknowledged: %w", len(out), ctx.Err())
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
		return nil
	}
}
