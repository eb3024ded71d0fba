package ingest

import (
	"context"

	"golang.org/x/sync/semaphore"
)

// weighted bounds the events in flight; requests larger than the whole capacity are clamped so they
// can still run alone.
type weighted struct {
	sem *semaphore.Weighted
	max int64
}

func newWeighted(n int64) *weighted { return &weighted{sem: semaphore.NewWeighted(n), max: n} }

func (w *weighted) Acquire(ctx context.Context, n int64) error {
	return w.sem.Acquire(ctx, min(n, w.max))
}

func (w *weighted) Release(n int64) { w.sem.Release(min(n, w.max)) }

func (w *weighted) TryAcquire(n int64) bool { return w.sem.TryAcquire(min(n, w.max)) }
