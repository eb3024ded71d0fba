package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/consumers/streams"
	"github.com/spendstream/spendstream/schemas/events"
)

// chPrivate is a throwaway ClickHouse server run by deploy/local/clickhouse.sh in its own data dir
// and on its own ports.
type chPrivate struct {
	script        string
	dir           string
	tcp, httpPort string
}

// newCHPrivate starts a private server; it is stopped when the test ends.
func newCHPrivate(t *testing.T) *chPrivate {
	t.Helper()
	script := os.Getenv("SPENDSTREAM_CLICKHOUSE_SCRIPT")
	if script == "" {
		var err error
		script, err = filepath.Abs("../../deploy/local/clickhouse.sh")
		require.NoError(t, err)
	}
	_, err := os.Stat(script)
	require.NoError(t, err, "clickhouse.sh")
	port := func() string {
		_, p, err := net.SplitHostPort(freePort(t))
		require.NoError(t, err)
		return p
	}
	s := &chPrivate{script: script, dir: t.TempDir(), tcp: port(), httpPort: port()}
	s.run(t, "start")
	t.Cleanup(func() { s.run(t, "stop") })
	return s
}

func (s *chPrivate) addr() string { return "127.0.0.1:" + s.tcp }

// run runs one command of the script against this server.
func (s *chPrivate) run(t *testing.T, command string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", s.script, command)
	cmd.Env = append(os.Environ(), "CH_DIR="+s.dir, "CH_TCP="+s.tcp, "CH_HTTP="+s.httpPort)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	require.NoError(t, err, "clickhouse.sh %s: %s", command, out)
	t.Logf("clickhouse.sh %s took %s: %s", command, took.Round(time.Millisecond), strings.TrimSpace(string(out)))
}

// liveConsumers reads the consumer info of the live lane's roll-up consumers (whole-lane or per
// partition, whichever exist): the highest stream sequence delivered, and the pending counts summed.
func liveConsumers(ctx context.Context, js jetstream.JetStream, partitions int) (delivered, pending uint64, err error) {
	scfg := streams.DefaultConfig()
	scfg.Partitions = partitions
	infos, err := streams.RollupConsumerInfos(ctx, js, scfg, events.LaneLive)
	if err != nil {
		return 0, 0, err
	}
	for _, info := range infos {
		delivered = max(delivered, info.Delivered.Stream)
		pending += info.NumPending
	}
	if len(infos) == 0 {
		return 0, 0, jetstream.ErrConsumerNotFound
	}
	return delivered, pending, nil
}

func maxSeq(m map[uint16]uint64) (n uint64) {
	for _, v := range m {
		n = max(n, v)
	}
	return n
}

// TestClickHouseRestartDuringFlow stops a private ClickHouse server while a `spendstream consume`
// process is rolling up a steady flow of events, keeps publishing while it is down, starts it again,
// and checks that the consumer survived, caught up, and that the roll-ups equal the ground truth
// exactly: failed flushes are retried without loss, and an insert whose answer was lost in the
// shutdown is not written twice.
func TestClickHouseRestartDuringFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a private ClickHouse server; ~30s")
	}
	clickhouseAddr(t) // no ClickHouse on this machine: skip
	bin := chaosBinary(t)
	const partitions = 4
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	chs := newCHPrivate(t)
	db := "chrestart"
	store := chaosStore(ctx, t, chs.addr(), db)

	emb := startNATS(t)
	js, scfg := chaosJS(ctx, t, emb.URL(), partitions)

	seed := time.Now().UnixNano()
	d := newChaosDataset(seed, time.Second)
	t.Logf("seed %d; dataset: %d items, %d distinct events to count, %d malformed", seed, len(d.items), d.truth.counted, d.malformed)

	cons := newChaosProc(t, "consume", bin, chaosConsumeArgs(emb.URL(), chs.addr(), db, partitions, 0, 1)...)
	cons.start()
	requireAlive := func() {
		t.Helper()
		gone, err := cons.exited()
		require.False(t, gone, "the consumer exited: %v", err)
	}
	// A chunk every 100 ms, for up to 40 s: the flow outlasts the stop, the downtime and the
	// restart; at the end the rest is published at once.
	hurry := make(chan struct{})
	published := d.publishPaced(ctx, streams.NewPublisher(js), 40*time.Second, 400, hurry)

	// Flowing: wait for commits to show up.
	require.True(t, chaosEventually(10*time.Second, 100*time.Millisecond, func() bool {
		_, n, err := chaosCommitted(ctx, store)
		return err == nil && n > 0
	}), "nothing committed while ClickHouse was up")
	time.Sleep(time.Second)
	requireAlive()

	// Down: stop ClickHouse mid-flow (the server refuses new connections at once, but waits for its
	// open connections before it exits) and keep publishing for 5 s after it is gone.
	beforeStop, _, err := chaosCommitted(ctx, store)
	require.NoError(t, err)
	committedAtStop := maxSeq(beforeStop)
	failedBefore := cons.countLog("flush failed")
	downSince := time.Now()
	chs.run(t, "stop")
	streamAtStop := maxSeq(chaosLastSeqs(t, js, scfg))
	var firstDelivered, delivered, pending uint64
	for stopped := time.Now(); time.Since(stopped) < 5*time.Second; {
		time.Sleep(500 * time.Millisecond)
		requireAlive()
		var err error
		delivered, pending, err = liveConsumers(ctx, js, partitions)
		require.NoError(t, err)
		if firstDelivered == 0 {
			firstDelivered = delivered
		}
		t.Logf("ClickHouse down %s: stream at %d, consumers delivered %d, pending %d",
			time.Since(downSince).Round(100*time.Millisecond), maxSeq(chaosLastSeqs(t, js, scfg)), delivered, pending)
	}
	streamAtStart := maxSeq(chaosLastSeqs(t, js, scfg))
	failedDuring := cons.countLog("flush failed") - failedBefore
	t.Logf("while down: stream grew %d -> %d; consumers delivered %d -> %d, against %d committed before the stop; %d failed flush attempts logged",
		streamAtStop, streamAtStart, firstDelivered, delivered, committedAtStop, failedDuring)
	require.Greater(t, streamAtStart, streamAtStop, "events kept arriving while ClickHouse was down")
	require.Positive(t, failedDuring, "the consumer noticed ClickHouse was gone (flush failures)")
	// The lag that matters: stream positions the consumer has taken but ClickHouse does not hold.
	// JetStream's pending count does not show it (the consumer has taken them into its buffer).
	require.Greater(t, streamAtStart, committedAtStop, "uncommitted lag while ClickHouse was down")

	// Up again: the consumer must recover by itself, with events still flowing.
	chs.run(t, "start")
	t.Logf("ClickHouse was unavailable for %s", time.Since(downSince).Round(time.Millisecond))
	select {
	case <-published:
		t.Log("note: the publisher had finished before ClickHouse came back")
	case <-time.After(2 * time.Second):
	}
	requireAlive()
	close(hurry)

	select {
	case err, ok := <-published:
		if ok {
			require.NoError(t, err)
		}
	case <-ctx.Done():
		t.Fatal("publisher did not finish")
	}
	last := chaosLastSeqs(t, js, scfg)
	waitStart := time.Now()
	chaosWaitCommitted(t, store, last, 60*time.Second)
	t.Logf("caught up with the stream (%v) %s after the publisher finished", last, time.Since(waitStart).Round(time.Millisecond))
	requireAlive()

	samples, sent, counted, n := chaosRequireTruth(ctx, t, store, js, d, "")

	require.NoError(t, cons.stop(30*time.Second), "graceful stop after the restart")
	t.Logf("%d VPS samples, %d messages sent, %d events, %d dead letters, all equal to the ground truth; %d consumer runs; took %s",
		samples, sent, counted, n, cons.runs, time.Since(start).Round(time.Millisecond))
}
