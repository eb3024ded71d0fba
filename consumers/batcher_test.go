package consumers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/consumers/streams"
	"github.com/spendstream/spendstream/schemas/events"
)

// memStore is an in-memory Store: it keeps the sum of committed email counts and the positions,
// and can be told to fail the next writes, before or after "committing".
type memStore struct {
	mu        sync.Mutex
	sent      uint64
	positions map[uint16]aggregates.Position
	writes    int
	failNext  int  // fail this many writes
	commitBad bool // a failing write still commits (answer lost)
}

func newMemStore() *memStore { return &memStore{positions: map[uint16]aggregates.Position{}} }

func (s *memStore) WriteBatch(_ context.Context, b *aggregates.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	fail := s.failNext > 0
	if fail {
		s.failNext--
		if !s.commitBad {
			return errors.New("connection refused")
		}
	}
	for _, p := range b.Email {
		s.sent += p.Sent
	}
	for _, p := range b.Positions {
		old := s.positions[p.Partition]
		p.StreamSeq = max(p.StreamSeq, old.StreamSeq)
		if p.AsOf.Before(old.AsOf) {
			p.AsOf = old.AsOf
		}
		s.positions[p.Partition] = p
	}
	if fail {
		return errors.New("read: connection reset by peer")
	}
	return nil
}

func (s *memStore) Positions(context.Context, events.Lane) (map[uint16]aggregates.Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[uint16]aggregates.Position{}
	for k, v := range s.positions {
		out[k] = v
	}
	return out, nil
}

func (s *memStore) AwaitInflightWrites(context.Context) error { return nil }

// Add and Skip feed one message at a time through AddBatch, reporting false for a redelivery.
func (b *Batcher) Add(ctx context.Context, p uint16, seq uint64, stored time.Time, ev *events.Event) (bool, error) {
	fresh := seq > b.Seen(p)
	return fresh, b.AddBatch(ctx, []Entry{{Partition: p, Seq: seq, Stored: stored, Counted: true, Event: *ev}})
}

func (b *Batcher) Skip(p uint16, seq uint64, stored time.Time) (bool, error) {
	fresh := seq > b.Seen(p)
	return fresh, b.AddBatch(context.Background(), []Entry{{Partition: p, Seq: seq, Stored: stored}})
}

func mail(sent uint64) *events.Event {
	return &events.Event{ID: "x", Type: events.TypeEmailVolume, TenantID: "t1",
		Time:  time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC),
		Email: &events.EmailVolume{IP: "192.0.2.1", Pool: "tx", Provider: "ses", Sent: sent}}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestBatcher(s Store, committed map[uint16]aggregates.Position) *Batcher {
	return NewBatcher(BatcherConfig{Lane: events.LaneLive, RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond},
		s, committed, []int{0, 1}, NewMetrics(nil), quietLog())
}

func TestBatcherCountsEachSequenceOnce(t *testing.T) {
	ctx := context.Background()
	s := newMemStore()
	b := newTestBatcher(s, nil)
	at := time.Date(2026, 3, 10, 12, 0, 5, 0, time.UTC)
	for _, c := range []struct {
		p     uint16
		seq   uint64
		added bool
	}{{0, 1, true}, {0, 1, false}, {1, 2, true}, {0, 3, true}, {0, 2, false}, {1, 2, false}} {
		ok, err := b.Add(ctx, c.p, c.seq, at, mail(10))
		require.NoError(t, err)
		require.Equal(t, c.added, ok, "p%d seq %d", c.p, c.seq)
	}
	ok, err := b.Skip(0, 4, at) // dead-lettered message
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, b.Flush(ctx))
	require.Equal(t, uint64(30), s.sent)
	require.Equal(t, uint64(4), s.positions[0].StreamSeq)
	require.Equal(t, uint64(2), s.positions[1].StreamSeq)
	require.Equal(t, uint64(2), s.positions[0].Events)
	require.Equal(t, at, s.positions[0].AsOf)

	// Nothing new: no write.
	writes := s.writes
	require.NoError(t, b.Flush(ctx))
	require.Equal(t, writes, s.writes)
}

func TestBatcherResumesFromCommitted(t *testing.T) {
	s := newMemStore()
	asOf := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	b := newTestBatcher(s, map[uint16]aggregates.Position{0: {StreamSeq: 10, AsOf: asOf}})
	require.Equal(t, uint64(10), b.Seen(0))
	ok, err := b.Add(context.Background(), 0, 9, asOf, mail(1))
	require.NoError(t, err)
	require.False(t, ok, "a message at or below the committed position was already counted")
	ok, err = b.Add(context.Background(), 0, 11, asOf.Add(-time.Hour), mail(1))
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, b.Flush(context.Background()))
	require.Equal(t, asOf, s.positions[0].AsOf, "as_of never moves backwards")
}

func TestBatcherProbeAdvancesIdleWatermark(t *testing.T) {
	s := newMemStore()
	b := newTestBatcher(s, nil)
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	_, _ = b.Add(context.Background(), 0, 5, at, mail(1))
	b.Probe(0, at.Add(time.Minute), 3, 5) // still pending: no claim
	require.NoError(t, b.Flush(context.Background()))
	require.Equal(t, at, s.positions[0].AsOf)
	b.Probe(0, at.Add(2*time.Minute), 0, 6) // delivered one we have not handled yet: no claim
	require.NoError(t, b.Flush(context.Background()))
	require.Equal(t, at, s.positions[0].AsOf)
	b.Probe(0, at.Add(3*time.Minute+500*time.Millisecond), 0, 5)
	b.Probe(1, at.Add(3*time.Minute), 0, 0) // empty partition
	require.NoError(t, b.Flush(context.Background()))
	require.Equal(t, at.Add(3*time.Minute), s.positions[0].AsOf, "rounded down to the second")
	require.Equal(t, at.Add(3*time.Minute), s.positions[1].AsOf)
}

// TestBatcherWide: one whole-lane consumer feeds every partition in stream order. Resuming after
// per-partition consumers (positions apart), it starts at the lowest position and counts each
// message once by its own partition's position; every flush then commits the lane's last sequence
// and as_of for every partition, which a later per-partition consumer resumes from.
func TestBatcherWide(t *testing.T) {
	ctx := context.Background()
	s := newMemStore()
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	b := NewBatcher(BatcherConfig{Lane: events.LaneLive, Wide: true, RetryMin: time.Millisecond, RetryMax: time.Millisecond},
		s, map[uint16]aggregates.Position{0: {StreamSeq: 100, AsOf: t0}, 1: {StreamSeq: 150, AsOf: t0.Add(time.Minute)}},
		[]int{0, 1, 2}, NewMetrics(nil), quietLog())
	require.Equal(t, uint64(0), b.StartSeq(), "partition 2 has no position: from the start")

	b = NewBatcher(BatcherConfig{Lane: events.LaneLive, Wide: true, RetryMin: time.Millisecond, RetryMax: time.Millisecond},
		s, map[uint16]aggregates.Position{0: {StreamSeq: 100, AsOf: t0}, 1: {StreamSeq: 150, AsOf: t0.Add(time.Minute)}},
		[]int{0, 1}, NewMetrics(nil), quietLog())
	require.Equal(t, uint64(100), b.StartSeq())
	require.Equal(t, []uint64{100, 150}, b.SeenAll(nil))
	at := func(seq uint64) time.Time { return t0.Add(time.Duration(seq) * time.Second) }
	entry := func(p uint16, seq uint64, sent uint64) Entry {
		return Entry{Partition: p, Seq: seq, Stored: at(seq), Counted: true, Event: *mail(sent)}
	}
	require.NoError(t, b.AddBatch(ctx, []Entry{
		entry(1, 120, 1000), // partition 1 committed it already
		entry(0, 130, 1),
		entry(1, 160, 10),
		entry(0, 170, 100),
		entry(0, 165, 1000), // a redelivery
	}))
	require.NoError(t, b.Flush(ctx))
	require.Equal(t, uint64(111), s.sent)
	for p, events := range map[uint16]uint64{0: 2, 1: 1} {
		require.Equal(t, uint64(170), s.positions[p].StreamSeq, "p%d: every message up to 170 is handled", p)
		require.Equal(t, at(170), s.positions[p].AsOf, "p%d", p)
		require.Equal(t, events, s.positions[p].Events, "p%d", p)
	}

	// Messages of partition 1 only: partition 0 moves along.
	require.NoError(t, b.AddBatch(ctx, []Entry{entry(1, 180, 1)}))
	b.Probe(streams.AllPartitions, at(200), 0, 181) // delivered one not handled yet: no claim
	require.NoError(t, b.Flush(ctx))
	require.Equal(t, uint64(180), s.positions[0].StreamSeq)
	require.Equal(t, at(180), s.positions[0].AsOf)
	require.Zero(t, s.positions[0].Events, "no new events of partition 0 (positions carry counts since the last flush)")

	// Caught up: both partitions' as_of moves to the probe's time.
	b.Probe(streams.AllPartitions, at(300), 0, 180)
	require.NoError(t, b.Flush(ctx))
	require.Equal(t, at(300), s.positions[0].AsOf)
	require.Equal(t, at(300), s.positions[1].AsOf)
	writes := s.writes
	require.NoError(t, b.Flush(ctx))
	require.Equal(t, writes, s.writes, "nothing new: no write")
}

// TestBatcherCatchUp: while the consumers report a backlog of a full batch or more, the time
// trigger waits for the catch-up interval and the size trigger flushes; without one, the flush
// interval holds again.
func TestBatcherCatchUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newMemStore()
	b := NewBatcher(BatcherConfig{Lane: events.LaneLive, FlushInterval: 5 * time.Millisecond, MinFlushGap: time.Millisecond,
		CatchUpInterval: time.Hour, MaxBatchEvents: 10}, s, nil, []int{0, 1}, NewMetrics(nil), quietLog())
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, stop) }()
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	written := func() uint64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.sent
	}

	b.Backlog(0, 6)
	b.Probe(1, at, 4, 0) // with partition 1's: a full batch waiting
	_, err := b.Add(ctx, 0, 1, at, mail(1))
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)
	require.Zero(t, written(), "catching up: no flush by time")
	for seq := uint64(2); seq <= 10; seq++ {
		_, err := b.Add(ctx, 0, seq, at, mail(1))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return written() == 10 }, 5*time.Second, time.Millisecond, "a full batch is flushed")
	b.Kick() // as a handler does while the batch it filled is being flushed

	_, err = b.Add(ctx, 0, 11, at, mail(1))
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, uint64(10), written())
	b.Backlog(0, 0) // 4 left in partition 1: less than a batch
	require.Eventually(t, func() bool { return written() == 11 }, 5*time.Second, time.Millisecond, "the flush interval holds again")
	close(stop)
	require.NoError(t, <-done)
}

func TestBatcherRetriesAndDetectsCommittedAfterLostAnswer(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

	t.Run("failed insert is retried", func(t *testing.T) {
		s := newMemStore()
		s.failNext = 3
		b := newTestBatcher(s, nil)
		_, _ = b.Add(ctx, 0, 1, at, mail(7))
		require.NoError(t, b.Flush(ctx))
		require.Equal(t, uint64(7), s.sent)
		require.Equal(t, 4, s.writes)
	})
	t.Run("committed insert with a lost answer is not written twice", func(t *testing.T) {
		s := newMemStore()
		s.failNext, s.commitBad = 1, true
		b := newTestBatcher(s, nil)
		_, _ = b.Add(ctx, 0, 1, at, mail(7))
		require.NoError(t, b.Flush(ctx))
		require.Equal(t, uint64(7), s.sent)
		require.Equal(t, 1, s.writes)
	})
	t.Run("abandoned flush blocks later writes", func(t *testing.T) {
		s := newMemStore()
		s.failNext = 1 << 30
		b := newTestBatcher(s, nil)
		_, _ = b.Add(ctx, 0, 1, at, mail(7))
		cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		require.Error(t, b.Flush(cctx))
		s.failNext = 0
		_, _ = b.Add(ctx, 0, 2, at, mail(1))
		require.ErrorIs(t, b.Flush(ctx), errGaveUp)
		require.Equal(t, uint64(0), s.sent)
	})
}

func TestBatcherBackpressure(t *testing.T) {
	ctx := context.Background()
	s := newMemStore()
	s.failNext = 1 << 30
	b := NewBatcher(BatcherConfig{Lane: events.LaneLive, MaxBatchEvents: 2, MaxBufferedEvents: 2,
		RetryMin: time.Millisecond, RetryMax: time.Millisecond}, s, nil, []int{0}, NewMetrics(nil), quietLog())
	at := time.Now()
	_, _ = b.Add(ctx, 0, 1, at, mail(1))
	flushDone := make(chan error, 1)
	go func() { flushDone <- b.Flush(ctx) }() // keeps failing: ClickHouse is "down"
	require.Eventually(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.flushing }, time.Second, time.Millisecond)
	_, _ = b.Add(ctx, 0, 2, at, mail(1))
	_, _ = b.Add(ctx, 0, 3, at, mail(1))
	blocked := make(chan struct{})
	go func() {
		_, _ = b.Add(ctx, 0, 4, at, mail(1))
		close(blocked)
	}()
	select {
	case <-blocked:
		t.Fatal("Add did not block on a full buffer while the flush is failing")
	case <-time.After(50 * time.Millisecond):
	}
	s.mu.Lock()
	s.failNext = 0
	s.mu.Unlock()
	require.NoError(t, <-flushDone)
	<-blocked
	require.NoError(t, b.Flush(ctx))
	require.Equal(t, uint64(4), s.sent)
}
