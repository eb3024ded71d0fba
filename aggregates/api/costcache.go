package api

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/cost"
	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
	"github.com/spendstream/spendstream/aggregates/window"
)

// DefaultCostCacheTTL is how long a computed cost model is reused (Config.CostCacheTTL).
const DefaultCostCacheTTL = 30 * time.Second

// DefaultCostCacheRefreshFactor: a cached model stays fresh for at least this many times the time
// it took to compute (Config.CostCacheRefreshFactor).
const DefaultCostCacheRefreshFactor = 10

// DefaultCostCacheStale is how long past its TTL a cached model is still served while it is
// recomputed in the background (Config.CostCacheStale).
const DefaultCostCacheStale = 10 * time.Minute

// Bounds of the cost model cache: at most maxCachedModels models, holding at most
// maxCachedInputRows input rows (usage, inventory and segment rows) together. A model's memory
// grows with its input rows (its per-day usage index above all: a 365-day model of 2,000 tenants
// and 20,000 resources has 7.35M input rows), so the row bound is what bounds memory, e.g. that
// year and four 30-day windows. (Not measured per model: BenchmarkCostAPI measured the whole API
// process at 4.0 GiB peak RSS serving that year and a 30-day window, 5.7 GiB while rebuilding the
// year.) The least recently served go first; the model just computed is always kept, however large.
const (
	maxCachedModels    = 32
	maxCachedInputRows = 10_000_000
)

// minRefreshTimeout bounds a background computation of a model from below: it serves no waiting
// client, so it may take longer than Config.QueryTimeout (a 365-day model of a large fleet can).
const minRefreshTimeout = 5 * time.Minute

// modelEntry is a computed model and the committed progress read before its inputs: what its
// figures include, and so what a response built from it is stamped with, however old it is.
type modelEntry struct {
	m        *cost.Model
	progress []aggregates.Progress
	at       time.Time     // the clock when its inputs were read: its age counts from there
	took     time.Duration // how long it took to compute
	rows     int           // its input rows (the cache's memory bound)

	used       atomic.Int64 // the clock (Unix ns) when it was last served: least recently used goes first
	refreshing atomic.Bool  // a background refresh of it has started

	// The recommendations of the model, derived once (Config.Recommend does not change): they
	// take longer than serving a cached model (a 365-day model of a large fleet: hundreds of ms).
	recsOnce sync.Once
	recsUsed atomic.Bool // recommend was called: a refresh of the model derives them before it is served
	recs     cost.Recommendations
	recsErr  error

	// Encoded views of the model (see view), and their bytes together.
	views     sync.Map // string → *cachedView
	viewBytes atomic.Int64
}

// viewBuilder builds the data of one view from a model entry. It depends on nothing but the
// entry and the parameters it was made with, so a refresh can build the same view of the new
// model (see carryViews).
type viewBuilder func(e *modelEntry) (any, error)

// cachedView is one encoded view of a model and how to build it again.
type cachedView struct {
	data   encodedData
	build  viewBuilder
	served atomic.Bool // asked for since it was built: a refresh builds it again (carryViews)
}

// maxViewBytes bounds the encoded views one model keeps (a 365-day breakdown of 1,000 tenants'
// daily series is about 17 MiB; the default page of 100, 1.7 MiB).
const maxViewBytes = 32 << 20

// view returns the encoded data of the view of e's model that key names (the endpoint and every
// parameter and caller capability the data depends on), built and encoded on first use and kept
// while there is room: a dashboard reads the same views of a model many times over its TTL, and
// encoding a large one took most of the time of serving it.
func (e *modelEntry) view(key string, build viewBuilder) (encodedData, error) {
	if v, ok := e.views.Load(key); ok {
		cv := v.(*cachedView)
		cv.served.Store(true)
		return cv.data, nil
	}
	cv, err := e.buildView(key, build)
	if err != nil {
		return nil, err
	}
	cv.served.Store(true)
	return cv.data, nil
}

// buildView builds, encodes and (while there is room) keeps the view key of e.
func (e *modelEntry) buildView(key string, build viewBuilder) (*cachedView, error) {
	d, err := build(e)
	if err != nil {
		return nil, err
	}
	b, err := encodeData(d)
	if err != nil {
		return nil, err
	}
	cv := &cachedView{data: b, build: build}
	if e.viewBytes.Add(int64(len(b))) <= maxViewBytes {
		if v, loaded := e.views.LoadOrStore(key, cv); loaded {
			e.viewBytes.Add(-int64(len(b)))
			return v.(*cachedView), nil
		}
	} else {
		e.viewBytes.Add(-int64(len(b)))
	}
	return cv, nil
}

// carryViews builds on e, a refreshed model, the views of old, the model it replaces, that were
// asked for since old was computed, before e is served: the first request for a view after a
// refresh finds it encoded instead of building it (a 365-day breakdown: hundreds of ms, next to
// a refresh computing the model's successor). Views nobody asked for are not carried, so the set
// follows what dashboards read. A view that fails to build is left to the request that asks for it.
func (e *modelEntry) carryViews(old *modelEntry) {
	old.views.Range(func(k, v any) bool {
		if cv := v.(*cachedView); cv.served.Load() {
			_, _ = e.buildView(k.(string), cv.build)
		}
		return e.viewBytes.Load() < maxViewBytes
	})
}

// recommend returns the recommendations of e's model under cfg, computed on first use. The result
// is shared: callers copy before changing it (Recommendations is a value; they replace Items,
// never change an item in place).
func (e *modelEntry) recommend(cfg cost.RecommendConfig) (cost.Recommendations, error) {
	e.recsUsed.Store(true)
	e.recsOnce.Do(func() { e.recs, e.recsErr = cost.Recommend(e.m, cfg) })
	return e.recs, e.recsErr
}

type modelKey struct {
	from, to int64
	prices   *pricelist.PriceList
}

// flight is the singleflight key of k: one computation per window and price list at a time.
func (k modelKey) flight() string { return fmt.Sprintf("%d-%d-%p", k.from, k.to, k.prices) }

// modelCache reuses cost models and computes each (window, price list) once at a time: a model
// over a year of roll-ups takes seconds, a dashboard asks for several views of it.
//
// A model younger than ttl is served as is. Once older (stale-while-revalidate), it is still served
// at once, stamped with the data it was computed from, while one background refresh recomputes it;
// past ttl+stale it is no longer served and the request computes (or waits for) a new one. A
// negative ttl disables the cache: every request computes its model.
type modelCache struct {
	ttl, stale time.Duration
	factor     float64 // see Config.CostCacheRefreshFactor
	mu         sync.Mutex
	entries    map[modelKey]*modelEntry
	rows       int // input rows of the entries
	group      singleflight.Group
}

// current returns the entry of k, whatever its age.
func (c *modelCache) current(k modelKey) *modelEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries[k]
}

// lookup returns the entry of k that may be served at now, and whether it is fresh (younger than
// the TTL); nil when there is none.
func (c *modelCache) lookup(k modelKey, now time.Time) (*modelEntry, bool) {
	if c.ttl < 0 {
		return nil, false
	}
	e := c.current(k)
	if e == nil {
		return nil, false
	}
	ok, fresh := c.servable(e, now)
	if !ok {
		return nil, false
	}
	return e, fresh
}

// ttlOf is how long e stays fresh: the TTL, or factor times e's compute time when that is longer.
func (c *modelCache) ttlOf(e *modelEntry) time.Duration {
	return max(c.ttl, time.Duration(c.factor*float64(e.took)))
}

// servable reports whether e may be served at now, and whether it is fresh.
func (c *modelCache) servable(e *modelEntry, now time.Time) (ok, fresh bool) {
	age, ttl := now.Sub(e.at), c.ttlOf(e)
	switch {
	case age <= ttl:
		return true, true
	case c.stale > 0 && age <= ttl+c.stale:
		return true, false
	}
	return false, false
}

func (c *modelCache) put(k modelKey, e *modelEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[modelKey]*modelEntry{}
	}
	if old := c.entries[k]; old != nil {
		c.rows -= old.rows
		delete(c.entries, k)
	}
	for len(c.entries) > 0 && (len(c.entries) >= maxCachedModels || c.rows+e.rows > maxCachedInputRows) {
		var lru modelKey
		var at int64
		first := true
		for k, v := range c.entries {
			if u := v.used.Load(); first || u < at {
				lru, at, first = k, u, false
			}
		}
		c.rows -= c.entries[lru].rows
		delete(c.entries, lru)
	}
	c.entries[k] = e
	c.rows += e.rows
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

// model returns the cost model of w: a cached one (see modelCache; a stale one starts a background
// refresh) or a new one computed from the roll-ups, one computation per window and price list at
// a time. The computation of a model the cache keeps does not depend on the request that started
// it: when that request gives up (timeout, client gone), it completes for the next ones.
func (s *server) model(ctx context.Context, w cost.Window) (*cost.Model, error) {
	e, err := s.entry(ctx, w)
	if err != nil {
		return nil, err
	}
	return e.m, nil
}

// entry is model's cache entry of w (see model).
func (s *server) entry(ctx context.Context, w cost.Window) (*modelEntry, error) {
	prices := s.cfg.Prices()
	if prices == nil {
		return nil, errNoPrices
	}
	k := modelKey{from: w.From.Unix(), to: w.To.Unix(), prices: prices}
	now := s.cfg.Now()
	if e, fresh := s.cache.lookup(k, now); e != nil {
		if !fresh {
			s.refresh(k, w, e)
		}
		return s.serveEntry(ctx, e, now), nil
	}
	if s.cache.ttl < 0 { // no cache: computed for this request, under its context
		v, err, _ := s.cache.group.Do(k.flight(), func() (any, error) { return s.computeModel(ctx, k, w) })
		if err != nil {
			return nil, err
		}
		return s.serveEntry(ctx, v.(*modelEntry), now), nil
	}
	select {
	case r := <-s.cache.group.DoChan(k.flight(), func() (any, error) { return s.computeDetached(k, w, s.expired, false) }):
		if r.Err != nil {
			return nil, r.Err
		}
		return s.serveEntry(ctx, r.Val.(*modelEntry), now), nil
	case <-ctx.Done(): // the request's time is up; the computation goes on for the next request
		return nil, &computingError{err: ctx.Err()}
	}
}

// computingError is a request that gave up waiting for a model still being computed in the
// background (a long window of a large fleet can take longer than Config.QueryTimeout): a 503
// that says so, with a Retry-After, rather than blaming a dependency.
type computingError struct{ err error }

func (e *computingError) Error() string { return "cost model still being computed: " + e.err.Error() }
func (e *computingError) Unwrap() error { return e.err }

// computingRetryAfter is the Retry-After of a computingError, in seconds.
const computingRetryAfter = 5

// serveEntry records e's progress for the response's stamp and returns e.
func (s *server) serveEntry(ctx context.Context, e *modelEntry, now time.Time) *modelEntry {
	e.used.Store(now.UnixNano())
	record(ctx, e.progress)
	return e
}

// refresh starts one background recomputation of stale entry e of k (none when one has started).
func (s *server) refresh(k modelKey, w cost.Window, e *modelEntry) {
	if !e.refreshing.CompareAndSwap(false, true) {
		return
	}
	ch := s.cache.group.DoChan(k.flight(), func() (any, error) { return s.computeDetached(k, w, s.expired, true) })
	go func() {
		if r := <-ch; r.Err != nil {
			e.refreshing.Store(false) // a later request tries again
		}
	}()
}

// expired reports whether e is past its TTL (modelCache.ttlOf).
func (s *server) expired(e *modelEntry) bool { return s.cfg.Now().Sub(e.at) > s.cache.ttlOf(e) }

// computeDetached computes and caches the model of k in the background context, under its own
// timeout (the longer of Config.QueryTimeout and minRefreshTimeout), unless the cached entry does
// not need it (a computation that ended just before this one started may have put it). With low
// (no request waits for it) its reads go at Config.LowPriority. A panic of the model becomes an
// error: it runs on its own goroutine, where a panic would end the process.
func (s *server) computeDetached(k modelKey, w cost.Window, needs func(*modelEntry) bool, low bool) (v any, err error) {
	if e := s.cache.current(k); e != nil && !needs(e) {
		return e, nil
	}
	ctx, cancel := context.WithTimeout(s.background(), max(s.cfg.QueryTimeout, minRefreshTimeout))
	defer cancel()
	if low && s.cfg.LowPriority != nil { // nobody waits for it: a refresh or pre-warming
		ctx = s.cfg.LowPriority(ctx)
	}
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("cost model of %s: panic: %v", w, p)
		}
		if err != nil && ctx.Err() == nil {
			s.log.Warn("cost model computation failed", "from", w.From, "to", w.To, "err", err)
		}
	}()
	return s.computeModel(ctx, k, w)
}

// background is the context of the API's background work (Config.Background).
func (s *server) background() context.Context {
	if s.cfg.Background != nil {
		return s.cfg.Background
	}
	return context.Background()
}

// computeModel reads the inputs of k's window and computes its model; with the cache on it keeps it.
func (s *server) computeModel(ctx context.Context, k modelKey, w cost.Window) (*modelEntry, error) {
	all := aggregates.Scope{All: true}
	progress, err := s.reader.LaneProgress(ctx, all) // before the inputs: they include at least this
	if err != nil {
		return nil, unavailable("clickhouse", err)
	}
	at := s.cfg.Now()
	start := time.Now()
	in, err := s.costInput(ctx, w, k.prices, progress)
	if err != nil {
		return nil, err
	}
	m, err := cost.Compute(in)
	if err != nil {
		return nil, fmt.Errorf("cost model: %w", err)
	}
	e := &modelEntry{m: m, progress: progress, at: at, took: time.Since(start),
		rows: 1 + len(in.VPSUsage) + len(in.EmailUsage) + len(in.Inventory) + len(in.Segments)}
	e.used.Store(at.UnixNano())
	if s.cache.ttl >= 0 {
		if old := s.cache.current(k); old != nil {
			if old.recsUsed.Load() {
				_, _ = e.recommend(s.cfg.Recommend) // the model it replaces served recommendations
			}
			e.carryViews(old)
		}
		s.cache.put(k, e)
	}
	return e, nil
}

// defaultWindows are the windows a request without from/to uses at now: the default cost window
// and (second) the recommendations' lookback, both ending with today.
func (s *server) defaultWindows(now time.Time) []cost.Window {
	to := ceil(now.UTC(), window.Step1d)
	return []cost.Window{{From: to.Add(-DefaultCostWindow), To: to}, s.lookback(to)}
}

// prewarm computes the models of the default windows and keeps them until ctx is done, so that a
// request without from/to finds a model from the first one on. A model that has been served is
// recomputed when it would otherwise turn stale before the next check (its age plus the time it
// took to compute reaches the TTL): while the default windows are in use, requests find them fresh.
// One nobody asked for is left to expire (TTL + stale) and then computed again: an idle process
// computes each about every TTL + stale (10.5 minutes by default), and the first request after a quiet spell gets at worst a
// stale model at once (refreshed in the background). One model at a time: it is background work on
// a machine that serves requests. After the first round it prefills the day cache (prefillDays).
func (s *server) prewarm(ctx context.Context) {
	if s.cache.ttl < 0 || s.costs == nil {
		return
	}
	every := min(max(s.cache.ttl/4, 250*time.Millisecond), 10*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	prefilled := s.cfg.CostDayCachePrefill <= 0 || s.days.max <= 0
	for {
		now := s.cfg.Now()
		for i, w := range s.defaultWindows(now) {
			prices := s.cfg.Prices()
			if prices == nil || ctx.Err() != nil {
				break
			}
			k := modelKey{from: w.From.Unix(), to: w.To.Unix(), prices: prices}
			due := func(e *modelEntry) bool {
				now := s.cfg.Now()
				if ok, _ := s.cache.servable(e, now); !ok {
					return true
				}
				return e.used.Load() > e.at.UnixNano() && now.Sub(e.at)+e.took+every >= s.cache.ttlOf(e)
			}
			if e, _ := s.cache.lookup(k, now); e != nil && !due(e) {
				continue
			}
			select {
			case r := <-s.cache.group.DoChan(k.flight(), func() (any, error) { return s.computeDetached(k, w, due, true) }):
				if e, ok := r.Val.(*modelEntry); ok && i == 1 { // the lookback: its recommendations too
					_, _ = e.recommend(s.cfg.Recommend)
				}
			case <-ctx.Done():
				return
			}
		}
		if !prefilled && ctx.Err() == nil { // after the default windows: they come first
			prefilled = s.prefillDays(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// prefillDays reads into the day cache the days of the last Config.CostDayCachePrefill not there
// yet (once the default windows' models are computed; at low priority), so that a model of another
// window in that span, and the refreshes of long ones, read no closed day from ClickHouse. It
// reports whether it is done (false: it failed, and the next check tries again).
func (s *server) prefillDays(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, max(s.cfg.QueryTimeout, minRefreshTimeout))
	defer cancel()
	if s.cfg.LowPriority != nil {
		ctx = s.cfg.LowPriority(ctx)
	}
	progress, err := s.reader.LaneProgress(ctx, aggregates.Scope{All: true})
	if err == nil {
		to := ceil(s.cfg.Now().UTC(), window.Step1d)
		from := window.Assign(to.Add(-s.cfg.CostDayCachePrefill), window.Step1d)
		err = s.usageDays(ctx, from, to, progress, nil)
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("day cache prefill failed", "err", err)
		}
		return false
	}
	return true
}
