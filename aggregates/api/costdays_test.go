package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/api"
	"github.com/spendstream/spendstream/schemas/events"
)

// dayStore records the first day of every VPS usage read of the cost models.
type dayStore struct {
	*costStore
	mu    sync.Mutex
	froms []time.Time
}

func (d *dayStore) VPSUtilization(ctx context.Context, scope aggregates.Scope, q aggregates.VPSQuery) ([]aggregates.VPSRow, error) {
	d.mu.Lock()
	d.froms = append(d.froms, q.From)
	d.mu.Unlock()
	return d.costStore.VPSUtilization(ctx, scope, q)
}

// reads returns the first days of the VPS reads since the last call.
func (d *dayStore) reads() []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.froms
	d.froms = nil
	return r
}

// usage writes one VPS sample (and one email report) of tenant t-a on day, as a consumer's flush.
func (d *dayStore) usage(t *testing.T, day time.Time, cpu float64) {
	t.Helper()
	b := aggregates.NewBatch()
	k := aggregates.VPSKey{WindowStart: day.Add(time.Hour), TenantID: "t-a", ResourceID: "vps-1", Provider: "acme", Region: "eu-1", Plan: "small"}
	p := &aggregates.VPSPartial{}
	p.Add(&events.VPSSample{CPUUtil: cpu, MemUtil: 0.5, VCPUs: 2, MemoryMB: 4096, IntervalSeconds: 60})
	b.VPS[k] = p
	b.Email[aggregates.EmailKey{WindowStart: day.Add(time.Hour), TenantID: "t-a", IP: "192.0.2.1", Pool: "main", Provider: "mailco"}] =
		&aggregates.EmailPartial{Sent: 100, Delivered: 90, Reports: 1}
	require.NoError(t, d.WriteBatch(context.Background(), b))
}

// setProgress commits the live lane's as_of and the backfill lane's stream sequence.
func (d *dayStore) setProgress(liveAsOf time.Time, backfillSeq uint64) {
	d.SetProgress(aggregates.Progress{Position: aggregates.Position{Lane: events.LaneLive, StreamSeq: 1, AsOf: liveAsOf}, FlushedAt: liveAsOf})
	d.SetProgress(aggregates.Progress{Position: aggregates.Position{Lane: events.LaneBackfill, StreamSeq: backfillSeq, AsOf: liveAsOf}, FlushedAt: liveAsOf})
}

// get GETs path from a and returns the body of its 200.
func (a *costAPI) get(t *testing.T, path string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	return rec.Body.String()
}

// TestCostDayCache: with the day cache, a model reads from the store only the days it has not read
// before and the days still open (the live lane's as_of is not yet the day's end plus the allowed
// lateness); a move of the backfill lane drops every cached day. Every answer equals the answer of
// an api without the cache over the same store, and only a backfill (which moves its lane) can
// change a closed day.
func TestCostDayCache(t *testing.T) {
	st := &dayStore{costStore: newCostStore()}
	day := func(d int) time.Time { return time.Date(2026, 2, d, 0, 0, 0, 0, time.UTC) }
	for d := 10; d <= 28; d++ {
		st.usage(t, day(d), float64(d)/100)
	}
	// Feb 27 ends at Feb 28 00:00: with the default 15-minute lateness, an as_of of 00:10 leaves
	// it open (an event for its last hour accepted at 00:12 still counts).
	st.setProgress(day(28).Add(10*time.Minute), 1)
	cached := newCostAPI(t, st, api.Config{CostCacheTTL: -1}) // no model cache: every request computes
	plain := newCostAPI(t, st, api.Config{CostCacheTTL: -1, CostDayCacheRows: -1})

	// The vendor comparison shows the VPS utilization and the email volume of the window.
	path := func(from, to time.Time) string {
		return fmt.Sprintf("/v1/vendors/compare?kind=vps&from=%s&to=%s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	march1 := day(28).AddDate(0, 0, 1)
	cachedGet := func(p string) (string, []time.Time) {
		t.Helper()
		st.reads()
		b := cached.get(t, p)
		return b, st.reads()
	}
	same := func(p string) string {
		t.Helper()
		b, _ := cachedGet(p)
		require.Equal(t, plain.get(t, p), b, p)
		st.reads()
		return b
	}

	_, reads := cachedGet(path(day(12), march1))
	require.Equal(t, []time.Time{day(12)}, reads, "first model: every day read")
	_, reads = cachedGet(path(day(12), march1))
	require.Equal(t, []time.Time{day(27)}, reads, "then: the open days")
	// An as_of of 00:20 closes Feb 27; Feb 28 stays open.
	st.setProgress(day(28).Add(20*time.Minute), 1)
	b1, reads := cachedGet(path(day(12), march1))
	require.Equal(t, []time.Time{day(27)}, reads)
	b2, reads := cachedGet(path(day(12), march1))
	require.Equal(t, b1, b2)
	require.Equal(t, []time.Time{day(28)}, reads, "then: only the open day")
	require.Equal(t, plain.get(t, path(day(12), march1)), b2)

	_, reads = cachedGet(path(day(20), day(25)))
	require.Empty(t, reads, "a window inside closed days read before: no read")
	same(path(day(20), day(25)))
	_, reads = cachedGet(path(day(10), day(15)))
	require.Equal(t, []time.Time{day(10)}, reads, "days before the first cached one are read, and kept")
	_, reads = cachedGet(path(day(10), day(15)))
	require.Empty(t, reads)
	same(path(day(10), day(15)))
	// Only the days missing are read: Feb 5-9 before the cached ones, none after.
	_, reads = cachedGet(path(day(5), day(20)))
	require.Equal(t, []time.Time{day(5)}, reads)
	same(path(day(5), day(20)))

	// The open day takes more usage: it shows at once.
	st.usage(t, day(28), 0.9)
	b3 := same(path(day(12), march1))
	require.NotEqual(t, b2, b3)

	// Time passes: Feb 28 closes and is kept from its next read on.
	st.setProgress(march1.Add(15*time.Minute), 1)
	_, reads = cachedGet(path(day(12), march1))
	require.Equal(t, []time.Time{day(28)}, reads)
	_, reads = cachedGet(path(day(12), march1))
	require.Empty(t, reads)

	// Usage of a closed day can only come from the backfill lane: until its position moves, the
	// cached day is served (this is what the cache relies on) ...
	st.usage(t, day(14), 0.7)
	b4, reads := cachedGet(path(day(12), march1))
	require.Empty(t, reads)
	require.NotEqual(t, plain.get(t, path(day(12), march1)), b4)
	// ... and once the backfill's position is committed, every day is read again.
	st.setProgress(march1.Add(15*time.Minute), 2)
	_, reads = cachedGet(path(day(12), march1))
	require.Equal(t, []time.Time{day(12)}, reads)
	same(path(day(12), march1))
	_, reads = cachedGet(path(day(12), march1))
	require.Empty(t, reads)

	// Days not cached are read a month (31 days) at a time, each kept as soon as it is read.
	jan1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_, reads = cachedGet(path(jan1, march1))
	require.Equal(t, []time.Time{jan1, jan1.AddDate(0, 0, 31)}, reads)
	_, reads = cachedGet(path(jan1, march1))
	require.Empty(t, reads)
	same(path(jan1, march1))
}

// TestCostDayCachePrefill: with the pre-warm, once the default windows' models are computed the
// days of the prefill span missing from the day cache are read into it, so a model of another
// window inside the span reads no closed day.
func TestCostDayCachePrefill(t *testing.T) {
	st := &dayStore{costStore: newCostStore()}
	jan := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	for d := jan(2); d.Before(testNow); d = d.AddDate(0, 0, 1) {
		st.usage(t, d, 0.25)
	}
	st.setProgress(testNow, 1) // closes every day before Mar 2
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a := newCostAPI(t, st, api.Config{CostPrewarm: true, Background: ctx, CostDayCachePrefill: 60 * 24 * time.Hour})
	// The default 30-day window reads Feb 1 - Mar 2 first, the lookback its open day (Mar 2); the
	// prefill then reads the 30 days before (Jan 2 - Jan 31), keeps them, and reads the open day.
	var all []time.Time
	march2 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	require.Eventually(t, func() bool {
		all = append(all, st.reads()...)
		i := slices.Index(all, jan(2))
		return i >= 0 && slices.Contains(all[i+1:], march2)
	}, 10*time.Second, time.Millisecond, "the prefill reads Jan 2 on, then the open day")
	require.Equal(t, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), all[0], "the default window first")
	b := a.get(t, fmt.Sprintf("/v1/vendors/compare?kind=vps&from=%s&to=%s", jan(5).Format(time.RFC3339), jan(20).Format(time.RFC3339)))
	require.Empty(t, st.reads(), "a window inside the prefilled span reads no day")
	plain := newCostAPI(t, st, api.Config{CostCacheTTL: -1, CostDayCacheRows: -1})
	require.Equal(t, plain.get(t, fmt.Sprintf("/v1/vendors/compare?kind=vps&from=%s&to=%s", jan(5).Format(time.RFC3339), jan(20).Format(time.RFC3339))), b)
}
