package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/api"
	"github.com/spendstream/spendstream/aggregates/api/apitest"
	"github.com/spendstream/spendstream/aggregates/auth"
	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
	"github.com/spendstream/spendstream/schemas/events"
)

// costStore adds to the in-memory roll-up store what the cost endpoints read besides the roll-ups.
// Every model computation reads the inventory once, so Inventory's calls count computations; with
// a gate set, a computation waits there (after saying so on entered) until the gate is closed.
type costStore struct {
	*apitest.Store
	calls   atomic.Int64
	mu      sync.Mutex
	gate    chan struct{}
	entered chan struct{}
	low     []bool // per computation: whether its context was marked by Config.LowPriority
}

type lowKey struct{}

// markLow is a Config.LowPriority that tags the context for costStore to see.
func markLow(ctx context.Context) context.Context { return context.WithValue(ctx, lowKey{}, true) }

func newCostStore() *costStore {
	return &costStore{Store: apitest.NewStore(), entered: make(chan struct{}, 64)}
}

func (c *costStore) Inventory(ctx context.Context, _ aggregates.Scope, _ aggregates.InventoryQuery) ([]aggregates.InventoryRecord, error) {
	c.calls.Add(1)
	c.mu.Lock()
	gate := c.gate
	c.low = append(c.low, ctx.Value(lowKey{}) != nil)
	c.mu.Unlock()
	if gate != nil {
		c.entered <- struct{}{}
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return []aggregates.InventoryRecord{{EventTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), EventID: "e1", TenantID: "t-a",
		ResourceID: "vps-1", Kind: events.KindVPS, Provider: "acme", Region: "eu-1", Plan: "small", Action: events.ActionProvisioned}}, nil
}

func (c *costStore) SegmentHistory(context.Context, aggregates.Scope, aggregates.SegmentHistoryQuery) ([]aggregates.SegmentRecord, error) {
	return nil, nil
}

// arm makes the next computations wait at the gate; the returned function opens it.
func (c *costStore) arm() (open func()) {
	g := make(chan struct{})
	c.mu.Lock()
	c.gate = g
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.gate = nil
		c.mu.Unlock()
		close(g)
	}
}

// setAsOf sets the committed progress of both lanes (one partition each) to asOf.
func (c *costStore) setAsOf(asOf time.Time) {
	for _, lane := range []events.Lane{events.LaneLive, events.LaneBackfill} {
		c.SetProgress(aggregates.Progress{Position: aggregates.Position{Lane: lane, Partition: 0, StreamSeq: uint64(asOf.Unix()), AsOf: asOf}, FlushedAt: asOf})
	}
}

const costTestPrices = `version: "cache-1"
currency: USD
vps_plans:
  - {provider: acme, plan: small, vcpus: 2, memory_mb: 4096, monthly_price: "73.00"}
`

// costAPI serves the cost endpoints over st with a settable clock.
type costAPI struct {
	h   http.Handler
	now atomic.Int64 // Unix ns
}

func newCostAPI(t *testing.T, st api.Reader, cfg api.Config) *costAPI {
	t.Helper()
	pl, err := pricelist.Parse([]byte(costTestPrices))
	require.NoError(t, err)
	a := &costAPI{}
	a.now.Store(testNow.UnixNano())
	cfg.Partitions = 1
	cfg.Now = func() time.Time { return time.Unix(0, a.now.Load()).UTC() }
	cfg.Prices = func() *pricelist.PriceList { return pl }
	cfg.Authenticate = func(*http.Request) (auth.Principal, error) {
		return auth.Principal{Subject: "test", Roles: []auth.Role{auth.RoleCFO}}, nil
	}
	a.h = api.New(cfg, st, nil, nil)
	return a
}

func (a *costAPI) advance(d time.Duration) { a.now.Add(int64(d)) }

// asOf GETs path and returns the response's aggregated_as_of.
func (a *costAPI) asOf(t *testing.T, path string) time.Time {
	t.Helper()
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var env struct {
		AggregatedAsOf *time.Time `json:"aggregated_as_of"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env))
	require.NotNil(t, env.AggregatedAsOf)
	return *env.AggregatedAsOf
}

const costTestPath = "/v1/costs/breakdown?by=tenant&from=2026-02-20T00:00:00Z&to=2026-03-02T00:00:00Z"

// TestCostCacheStaleWhileRevalidate: past the TTL a request gets the cached model at once, stamped
// with the data that model includes, while one background refresh recomputes it; concurrent
// requests meanwhile start no other computation; once refreshed, responses carry the new stamp;
// past TTL + stale the request computes a new model itself.
func TestCostCacheStaleWhileRevalidate(t *testing.T) {
	st := newCostStore()
	a := newCostAPI(t, st, api.Config{CostCacheTTL: 30 * time.Second, CostCacheStale: 10 * time.Minute})
	asOf1 := testNow.Add(-time.Minute).Truncate(time.Second)
	st.setAsOf(asOf1)
	require.Equal(t, asOf1, a.asOf(t, costTestPath))
	require.EqualValues(t, 1, st.calls.Load())
	require.Equal(t, asOf1, a.asOf(t, costTestPath), "fresh: reused")
	require.EqualValues(t, 1, st.calls.Load())

	// Newer data is committed and the model turns stale: requests are answered from it, with its
	// stamp, while the refresh waits at the gate.
	asOf2 := asOf1.Add(time.Minute)
	st.setAsOf(asOf2)
	a.advance(31 * time.Second)
	open := st.arm()
	require.Equal(t, asOf1, a.asOf(t, costTestPath), "stale: served at once with the stamp of its data")
	<-st.entered // the refresh has started and waits
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			a.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, costTestPath, nil))
			require.Equal(t, http.StatusOK, rec.Code)
			require.Contains(t, rec.Body.String(), `"aggregated_as_of":"`+asOf1.Format(time.RFC3339)+`"`)
		})
	}
	wg.Wait()
	require.EqualValues(t, 2, st.calls.Load(), "one refresh, however many stale requests")
	open()
	for a.asOf(t, costTestPath).Equal(asOf1) { // until the refresh is in the cache
		time.Sleep(time.Millisecond)
	}
	require.Equal(t, asOf2, a.asOf(t, costTestPath))
	require.EqualValues(t, 2, st.calls.Load())

	// Past TTL + stale the old model is not served: the request computes a new one.
	asOf3 := asOf2.Add(time.Hour)
	st.setAsOf(asOf3)
	a.advance(30*time.Second + 10*time.Minute + time.Second)
	require.Equal(t, asOf3, a.asOf(t, costTestPath))
	require.EqualValues(t, 3, st.calls.Load())
}

// TestCostCacheOneComputationPerModel: concurrent requests of a model nobody has computed wait for
// one computation.
func TestCostCacheOneComputationPerModel(t *testing.T) {
	st := newCostStore()
	a := newCostAPI(t, st, api.Config{})
	asOf := testNow.Add(-time.Minute).Truncate(time.Second)
	st.setAsOf(asOf)
	open := st.arm()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { require.Equal(t, asOf, a.asOf(t, costTestPath)) })
	}
	<-st.entered
	open()
	wg.Wait()
	require.EqualValues(t, 1, st.calls.Load())
}

// TestCostCacheStaleOff: with a negative CostCacheStale an expired model is recomputed by the
// request, which waits for it.
func TestCostCacheStaleOff(t *testing.T) {
	st := newCostStore()
	a := newCostAPI(t, st, api.Config{CostCacheTTL: 30 * time.Second, CostCacheStale: -1})
	asOf1 := testNow.Add(-time.Minute).Truncate(time.Second)
	st.setAsOf(asOf1)
	require.Equal(t, asOf1, a.asOf(t, costTestPath))
	st.setAsOf(asOf1.Add(time.Minute))
	a.advance(31 * time.Second)
	require.Equal(t, asOf1.Add(time.Minute), a.asOf(t, costTestPath))
	require.EqualValues(t, 2, st.calls.Load())
}

// TestCostCacheOff: with a negative TTL every request computes its model.
func TestCostCacheOff(t *testing.T) {
	st := newCostStore()
	a := newCostAPI(t, st, api.Config{CostCacheTTL: -1})
	st.setAsOf(testNow.Add(-time.Minute).Truncate(time.Second))
	for range 3 {
		a.asOf(t, costTestPath)
	}
	require.EqualValues(t, 3, st.calls.Load())
}

// TestCostCachePrewarm: the models of the default windows (the default cost window and the
// recommendation lookback) are computed when the handler is created, so the first requests without
// from/to find them.
func TestCostCachePrewarm(t *testing.T) {
	st := newCostStore()
	asOf := testNow.Add(-time.Minute).Truncate(time.Second)
	st.setAsOf(asOf)
	open := st.arm()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a := newCostAPI(t, st, api.Config{CostPrewarm: true, Background: ctx})
	<-st.entered // the default cost window
	open()
	// The lookback's model is computed next; a request for it joins that computation or finds it.
	require.Equal(t, asOf, a.asOf(t, "/v1/recommendations"))
	require.Equal(t, asOf, a.asOf(t, "/v1/costs/overview"))
	require.Equal(t, asOf, a.asOf(t, "/v1/costs/breakdown?by=provider"))
	require.EqualValues(t, 2, st.calls.Load(), "two models, both computed by the pre-warm")
}

// TestCostCachePrewarmKeepsFresh: the pre-warm recomputes a served default model before it turns
// stale, and recomputes an expired one (TTL + stale) nobody asked for.
func TestCostCachePrewarmKeepsFresh(t *testing.T) {
	st := newCostStore()
	asOf1 := testNow.Add(-time.Minute).Truncate(time.Second)
	st.setAsOf(asOf1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a := newCostAPI(t, st, api.Config{CostCacheTTL: time.Second, CostCacheStale: time.Minute, CostPrewarm: true, Background: ctx})
	require.Equal(t, asOf1, a.asOf(t, "/v1/costs/breakdown?by=provider"))
	a.advance(time.Millisecond)
	require.Equal(t, asOf1, a.asOf(t, "/v1/costs/breakdown?by=provider")) // served after computed: kept fresh

	// The served model is due (its age plus a check period reaches the TTL): recomputed by the
	// pre-warm, without a request asking.
	asOf2 := asOf1.Add(time.Minute)
	st.setAsOf(asOf2)
	open := st.arm()
	a.advance(time.Second - time.Millisecond)
	<-st.entered
	open()
	for a.asOf(t, "/v1/costs/breakdown?by=provider").Equal(asOf1) { // stale until the refresh lands
		time.Sleep(time.Millisecond)
	}

	// Both models expire (TTL + stale) with nobody asking: the pre-warm computes them again.
	calls := st.calls.Load()
	a.advance(2 * time.Minute)
	for st.calls.Load() < calls+2 { // until both are computed again
		time.Sleep(time.Millisecond)
	}
}

// TestCostCacheComputingPastTimeout: a request whose model takes longer than QueryTimeout gets a
// 503 "computing" with Retry-After (no dependency is down), the computation goes on, and the next
// request is answered from its result without computing again.
func TestCostCacheComputingPastTimeout(t *testing.T) {
	st := newCostStore()
	a := newCostAPI(t, st, api.Config{QueryTimeout: 50 * time.Millisecond})
	asOf := testNow.Add(-time.Minute).Truncate(time.Second)
	st.setAsOf(asOf)
	open := st.arm()
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, costTestPath, nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	require.Equal(t, "5", rec.Header().Get("Retry-After"))
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Equal(t, "computing", body.Error.Code)
	require.Contains(t, body.Error.Message, "still being computed")
	<-st.entered // the computation waits at the gate, detached from the request that gave up
	open()
	require.Eventually(t, func() bool {
		rec := httptest.NewRecorder()
		a.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, costTestPath, nil))
		return rec.Code == http.StatusOK
	}, 10*time.Second, 5*time.Millisecond)
	require.EqualValues(t, 1, st.calls.Load(), "the request after it used the computation that went on")
}

// TestCostCacheRefreshFactor: a model that took long to compute stays fresh for factor × its
// compute time when that is longer than the TTL; with the factor off, the TTL alone.
func TestCostCacheRefreshFactor(t *testing.T) {
	for _, tt := range []struct {
		name   string
		factor float64
		calls  int64 // computations after the clock moved 3 s past a model that took ≥ 50 ms
	}{
		{"factor 100: fresh for ≥ 5 s", 100, 1},
		{"factor off: the 1 s TTL", -1, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := newCostStore()
			a := newCostAPI(t, st, api.Config{CostCacheTTL: time.Second, CostCacheStale: -1, CostCacheRefreshFactor: tt.factor})
			st.setAsOf(testNow.Add(-time.Minute).Truncate(time.Second))
			open := st.arm()
			go func() { <-st.entered; time.Sleep(50 * time.Millisecond); open() }()
			a.asOf(t, costTestPath) // computed: took ≥ 50 ms
			require.EqualValues(t, 1, st.calls.Load())
			a.advance(3 * time.Second)
			a.asOf(t, costTestPath)
			require.EqualValues(t, tt.calls, st.calls.Load())
		})
	}
}

// TestCostCacheLowPriorityRefresh: a background refresh of a stale model reads at low priority;
// the computation a request waits for does not.
func TestCostCacheLowPriorityRefresh(t *testing.T) {
	st := newCostStore()
	a := newCostAPI(t, st, api.Config{CostCacheTTL: 30 * time.Second, CostCacheStale: 10 * time.Minute, LowPriority: markLow})
	st.setAsOf(testNow.Add(-time.Minute).Truncate(time.Second))
	a.asOf(t, costTestPath) // computed for the request
	a.advance(31 * time.Second)
	a.asOf(t, costTestPath) // stale: served, refreshed in the background
	require.Eventually(t, func() bool { return st.calls.Load() == 2 }, 10*time.Second, time.Millisecond)
	st.mu.Lock()
	defer st.mu.Unlock()
	require.Equal(t, []bool{false, true}, st.low)
}
