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
	return fresh, b.AddBatch(ctx, p, []Entry{{Seq: seq, Stored: stored, Counted: true, Event: *ev}})
}

func (b *Batcher) Skip(p uint16, seq uint64, stored time.Time) (bool, error) {
	fresh := seq > b.Seen(p)
	return fresh, b.AddBatch(context.Background(), p, []Entry{{Seq: seq, Stored: stored}})
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
