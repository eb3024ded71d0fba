package api

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/cost"
	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

// DefaultCostCacheTTL is how long a computed cost model is reused (Config.CostCacheTTL).
const DefaultCostCacheTTL = 30 * time.Second

// maxCachedModels bounds the cost models kept (by window and price list).
const maxCachedModels = 32

// modelEntry is a computed model and the committed progress read before its inputs: what its
// figures include, and so what a response built from it is stamped with.
type modelEntry struct {
	m        *cost.Model
	progress []aggregates.Progress
	at       time.Time
}

type modelKey struct {
	from, to int64
	prices   *pricelist.PriceList
}

// modelCache reuses cost models for a short while and computes each (window, price list) once at a
// time: a model over a year of roll-ups takes seconds, a dashboard asks for several views of it.
type modelCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	entries map[modelKey]*modelEntry
	group   singleflight.Group
}

func (c *modelCache) get(k modelKey, now time.Time) *modelEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[k]
	if e == nil || now.Sub(e.at) > c.ttl {
		return nil
	}
	return e
}

func (c *modelCache) put(k modelKey, e *modelEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[modelKey]*modelEntry{}
	}
	if len(c.entries) >= maxCachedModels {
		var oldest modelKey
		var at time.Time
		for k, v := range c.entries {
			if at.IsZero() || v.at.Before(at) {
				oldest, at = k, v.at
			}
		}
		delete(c.entries, oldest)
	}
	c.entries[k] = e
}

// stamp collects the progress snapshots of the models a response is built from.
type stamp struct {
	mu        sync.Mutex
	snapshots [][]aggregates.Progress
}

type stampKey struct{}

func withStamp(ctx context.Context, s *stamp) context.Context {
	return context.WithValue(ctx, stampKey{}, s)
}

func record(ctx context.Context, p []aggregates.Progress) {
	if s, ok := ctx.Value(stampKey{}).(*stamp); ok {
		s.mu.Lock()
		s.snapshots = append(s.snapshots, p)
		s.mu.Unlock()
	}
}

// progress merges the snapshots conservatively: per lane partition the oldest watermark, so the
// stamp never claims more than every model used includes. ok is false when nothing was recorded.
func (s *stamp) progress() ([]aggregates.Progress, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.snapshots) == 0 {
		return nil, false
	}
	type key struct {
		lane string
		p    uint16
	}
	merged := map[key]aggregates.Progress{}
	counts := map[key]int{}
	for _, snap := range s.snapshots {
		for _, p := range snap {
			k := key{string(p.Lane), p.Partition}
			counts[k]++
			if cur, ok := merged[k]; !ok || p.AsOf.Before(cur.AsOf) {
				merged[k] = p
			}
		}
	}
	var out []aggregates.Progress
	for k, p := range merged {
		if counts[k] == len(s.snapshots) { // a partition missing from one snapshot stays unknown
			out = append(out, p)
		}
	}
	return out, true
}

// model returns the cost model of w: a cached one younger than the TTL, or a new one computed from
// the roll-ups (one computation per window and price list at a time).
func (s *server) model(ctx context.Context, w cost.Window) (*cost.Model, error) {
	prices := s.cfg.Prices()
	if prices == nil {
		return nil, errNoPrices
	}
	k := modelKey{from: w.From.Unix(), to: w.To.Unix(), prices: prices}
	if e := s.cache.get(k, s.cfg.Now()); e != nil {
		record(ctx, e.progress)
		return e.m, nil
	}
	v, err, _ := s.cache.group.Do(fmt.Sprintf("%d-%d-%p", k.from, k.to, prices), func() (any, error) {
		all := aggregates.Scope{All: true}
		progress, err := s.reader.LaneProgress(ctx, all) // before the inputs: they include at least this
		if err != nil {
			return nil, unavailable("clickhouse", err)
		}
		at := s.cfg.Now()
		in, err := s.costInput(ctx, w, prices)
		if err != nil {
			return nil, err
		}
		m, err := cost.Compute(in)
		if err != nil {
			return nil, fmt.Errorf("cost model: %w", err)
		}
		e := &modelEntry{m: m, progress: progress, at: at}
		if s.cache.ttl > 0 {
			s.cache.put(k, e)
		}
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	e := v.(*modelEntry)
	record(ctx, e.progress)
	return e.m, nil
}
