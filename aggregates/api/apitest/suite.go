package apitest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/window"
	"github.com/spendstream/spendstream/schemas/events"
)

// Reader is what the conformance suite exercises: the reads of api.Reader plus the write side that
// fills the store.
type Reader interface {
	WriteBatch(ctx context.Context, b *aggregates.Batch) error
	EmailVolume(ctx context.Context, scope aggregates.Scope, q aggregates.EmailQuery) ([]aggregates.EmailRow, error)
	VPSUtilization(ctx context.Context, scope aggregates.Scope, q aggregates.VPSQuery) ([]aggregates.VPSRow, error)
	LaneProgress(ctx context.Context, scope aggregates.Scope) ([]aggregates.Progress, error)
}

// FixtureStart is the first instant of the suite's fixture: four hours of samples and volumes from
// 2026-03-01 22:00 UTC, across midnight.
var FixtureStart = time.Date(2026, 3, 1, 22, 0, 0, 0, time.UTC)

// FixtureEnd is the end of the fixture's data.
var FixtureEnd = FixtureStart.Add(4 * time.Hour)

type resource struct{ tenant, id, provider, plan, region string }

type sendingIP struct{ tenant, ip, pool, provider string }

var (
	fixtureResources = []resource{
		{"t-a", "vps-1", "hetzner", "cx21", "fsn1"},
		{"t-a", "vps-2", "ovh", "b2-7", "gra"},
		{"t-b", "vps-3", "hetzner", "cx21", "fsn1"},
		{"t-b", "vps-4", "hetzner", "cx31", "nbg1"},
	}
	fixtureIPs = []sendingIP{
		{"t-a", "192.0.2.1", "pool-1", "sendgrid"},
		{"t-a", "192.0.2.2", "pool-2", "ses"},
		{"t-b", "198.51.100.7", "pool-1", "sendgrid"},
	}
)

// sample and volume are the raw facts the expectations are computed from, without the aggregates
// package's merge code.
type sample struct {
	end      time.Time
	res      resource
	cpu, mem uint64 // millionths
}

type volume struct {
	end                                            time.Time
	ip                                             sendingIP
	sent, delivered, bounced, deferred, complained uint64
}

// Fixture is the suite's data: the events, split over several batches so that every roll-up key is
// written by more than one insert (un-merged parts), and the positions the batches complete.
type Fixture struct {
	Batches []*aggregates.Batch
	samples []sample
	volumes []volume
}

// Every fixture VPS sample is of a 2-vCPU server over 60 s.
const (
	fixtureVCPUs    = 2
	fixtureInterval = 60
)

// NewFixture builds the fixture. Utilizations are multiples of 0.001, so they are exact in
// millionths.
func NewFixture() *Fixture {
	f := &Fixture{}
	for i := range 3 {
		b := aggregates.NewBatch()
		b.FlushedAt = FixtureStart.Add(time.Duration(i+1) * time.Hour).Add(time.Duration(i+1) * time.Second)
		f.Batches = append(f.Batches, b)
	}
	n := 0
	for k := 1; k <= 240; k++ { // one sample per minute and resource
		end := FixtureStart.Add(time.Duration(k) * time.Minute)
		for ri, r := range fixtureResources {
			cpu := uint64((k*7 + ri*13) % 1000)
			mem := uint64((k*3+ri*29)%500 + 250)
			if ri == 1 && k == 100 {
				cpu = 1000 // 100%: the last histogram bucket
			}
			f.samples = append(f.samples, sample{end: end, res: r, cpu: cpu * 1000, mem: mem * 1000})
			f.Batches[n%3].AddEvent(&events.Event{ID: fmt.Sprintf("s-%d-%d", k, ri), Type: events.TypeVPSSample,
				Time: end, TenantID: r.tenant, VPS: &events.VPSSample{ResourceID: r.id, Provider: r.provider,
					Region: r.region, Plan: r.plan, VCPUs: fixtureVCPUs, MemoryMB: 4096, CPUUtil: float64(cpu) / 1000,
					MemUtil: float64(mem) / 1000, IntervalSeconds: fixtureInterval}})
			n++
		}
	}
	for k := 1; k <= 24; k++ { // one report per 10 minutes and IP; k=12 ends exactly at midnight
		end := FixtureStart.Add(time.Duration(k) * 10 * time.Minute)
		for ii, ip := range fixtureIPs {
			sent := uint64(100 + 17*k + 40*ii)
			v := volume{end: end, ip: ip, sent: sent, bounced: uint64(k % 5), deferred: uint64((k + ii) % 3),
				complained: uint64(k % 2)}
			v.delivered = sent - v.bounced - v.deferred
			f.volumes = append(f.volumes, v)
			f.Batches[n%3].AddEvent(&events.Event{ID: fmt.Sprintf("e-%d-%d", k, ii), Type: events.TypeEmailVolume,
				Time: end, TenantID: ip.tenant, Email: &events.EmailVolume{IP: ip.ip, Pool: ip.pool, Provider: ip.provider,
					Sent: v.sent, Delivered: v.delivered, Bounced: v.bounced, Deferred: v.deferred,
					Complained: v.complained, IntervalSeconds: 600}})
			n++
		}
	}
	at := func(d time.Duration) time.Time { return FixtureStart.Add(d) }
	f.Batches[0].Positions = []aggregates.Position{
		{Lane: events.LaneLive, Partition: 0, StreamSeq: 10, AsOf: at(time.Hour), Events: 5},
	}
	f.Batches[1].Positions = []aggregates.Position{
		{Lane: events.LaneLive, Partition: 0, StreamSeq: 20, AsOf: at(2 * time.Hour), Events: 7},
		{Lane: events.LaneLive, Partition: 1, StreamSeq: 5, AsOf: at(90 * time.Minute), Events: 3},
	}
	f.Batches[2].Positions = []aggregates.Position{
		{Lane: events.LaneBackfill, Partition: 0, StreamSeq: 2, AsOf: at(30 * time.Minute), Events: 1},
	}
	return f
}

// WantProgress is the progress the fixture's batches commit, sorted by lane and partition.
func (f *Fixture) WantProgress() []aggregates.Progress {
	flushed := func(i int) time.Time { return f.Batches[i].FlushedAt }
	at := func(d time.Duration) time.Time { return FixtureStart.Add(d) }
	return []aggregates.Progress{
		{Position: aggregates.Position{Lane: events.LaneBackfill, Partition: 0, StreamSeq: 2, AsOf: at(30 * time.Minute), Events: 1}, FlushedAt: flushed(2)},
		{Position: aggregates.Position{Lane: events.LaneLive, Partition: 0, StreamSeq: 20, AsOf: at(2 * time.Hour), Events: 12}, FlushedAt: flushed(1)},
		{Position: aggregates.Position{Lane: events.LaneLive, Partition: 1, StreamSeq: 5, AsOf: at(90 * time.Minute), Events: 3}, FlushedAt: flushed(1)},
	}
}

// windowOf is the window of a measurement ending at end (whole seconds): the one holding end − 1s.
func windowOf(end time.Time, step time.Duration) time.Time {
	s := int64(step / time.Second)
	return time.Unix((end.Unix()-1)/s*s, 0).UTC()
}

func visibleRaw(scope aggregates.Scope, q aggregates.RollupQuery, start time.Time, tenant, provider string) bool {
	if start.Before(q.From) || !start.Before(q.To) {
		return false
	}
	if !scope.All && tenant != scope.TenantID {
		return false
	}
	return (q.TenantID == "" || tenant == q.TenantID) && (q.Provider == "" || provider == q.Provider)
}

// WantVPS computes the rows a VPS read must return, straight from the raw samples.
func (f *Fixture) WantVPS(scope aggregates.Scope, q aggregates.VPSQuery) []aggregates.VPSRow {
	type acc struct {
		row      aggregates.VPSRow
		cpu, mem []uint64
		core     uint64 // millionths of a core-second
	}
	groups := map[string]*acc{}
	for _, s := range f.samples {
		start := windowOf(s.end, q.Step)
		if !visibleRaw(scope, q.RollupQuery, start, s.res.tenant, s.res.provider) {
			continue
		}
		src := aggregates.VPSRow{TenantID: s.res.tenant, ResourceID: s.res.id, Provider: s.res.provider,
			Plan: s.res.plan, Region: s.res.region}
		key := start.String()
		for _, d := range q.GroupBy {
			key += "\x00" + src.Dim(d)
		}
		a := groups[key]
		if a == nil {
			a = &acc{row: aggregates.VPSRow{WindowStart: start}}
			for _, d := range q.GroupBy {
				a.row.SetDim(d, src.Dim(d))
			}
			groups[key] = a
		}
		a.cpu = append(a.cpu, s.cpu)
		a.mem = append(a.mem, s.mem)
		a.core += s.cpu * fixtureVCPUs * fixtureInterval
	}
	out := make([]aggregates.VPSRow, 0, len(groups))
	for _, a := range groups {
		r := a.row
		r.Samples = uint64(len(a.cpu))
		r.CPUCoreSeconds = float64(a.core) / 1e6
		r.CPUAvg, r.CPUMax, r.CPUP95 = stats(a.cpu)
		r.MemAvg, r.MemMax, r.MemP95 = stats(a.mem)
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b aggregates.VPSRow) int {
		return compareRows(a.WindowStart, b.WindowStart, q.GroupBy, a.Dim, b.Dim)
	})
	return limit(out, q.Limit)
}

// stats returns the mean and maximum of utilizations in millionths as fractions, and the p95: the
// nearest-rank value's 1%-bucket upper edge (100% falls in the last bucket), at most the maximum.
func stats(v []uint64) (avg, maxV, p95 float64) {
	var sum uint64
	sorted := slices.Clone(v)
	slices.Sort(sorted)
	for _, x := range v {
		sum += x
	}
	rank := (95*len(sorted) + 99) / 100
	bucket := min(sorted[rank-1]/10_000, 99)
	maxV = float64(sorted[len(sorted)-1]) / 1e6
	return float64(sum) / float64(len(v)) / 1e6, maxV, min(float64(bucket+1)/100, maxV)
}

// WantEmail computes the rows an email read must return, straight from the raw volumes.
func (f *Fixture) WantEmail(scope aggregates.Scope, q aggregates.EmailQuery) []aggregates.EmailRow {
	groups := map[string]*aggregates.EmailRow{}
	for _, v := range f.volumes {
		start := windowOf(v.end, q.Step)
		if !visibleRaw(scope, q.RollupQuery, start, v.ip.tenant, v.ip.provider) {
			continue
		}
		src := aggregates.EmailRow{TenantID: v.ip.tenant, IP: v.ip.ip, Pool: v.ip.pool, Provider: v.ip.provider}
		key := start.String()
		for _, d := range q.GroupBy {
			key += "\x00" + src.Dim(d)
		}
		r := groups[key]
		if r == nil {
			r = &aggregates.EmailRow{WindowStart: start}
			for _, d := range q.GroupBy {
				r.SetDim(d, src.Dim(d))
			}
			groups[key] = r
		}
		r.Sent += v.sent
		r.Delivered += v.delivered
		r.Bounced += v.bounced
		r.Deferred += v.deferred
		r.Complained += v.complained
		r.Reports++
	}
	out := make([]aggregates.EmailRow, 0, len(groups))
	for _, r := range groups {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b aggregates.EmailRow) int {
		return compareRows(a.WindowStart, b.WindowStart, q.GroupBy, a.Dim, b.Dim)
	})
	return limit(out, q.Limit)
}

func rollup(from, to time.Time, step time.Duration, groupBy ...aggregates.Dimension) aggregates.RollupQuery {
	return aggregates.RollupQuery{From: from, To: to, Step: step, GroupBy: groupBy}
}

var (
	all = aggregates.Scope{All: true}
	tA  = aggregates.Scope{TenantID: "t-a"}
	tB  = aggregates.Scope{TenantID: "t-b"}
)

// RunReaderSuite writes the fixture into a fresh store from open and checks every read against
// values computed independently from the raw events: each step (5m, 1h, 1d), groupings, filters,
// scope isolation, row limits and progress.
func RunReaderSuite(t *testing.T, open func(t *testing.T) Reader) {
	ctx := context.Background()
	r := open(t)
	f := NewFixture()
	for _, b := range f.Batches {
		require.NoError(t, r.WriteBatch(ctx, b))
	}
	from, to := FixtureStart, FixtureEnd
	day0, day2 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
	m5, h1, d1 := window.Step5m, window.Step1h, window.Step1d
	const (
		tenant   = aggregates.DimTenantID
		resource = aggregates.DimResourceID
		provider = aggregates.DimProvider
		plan     = aggregates.DimPlan
		region   = aggregates.DimRegion
		ip       = aggregates.DimIP
		pool     = aggregates.DimPool
	)
	filtered := func(q aggregates.RollupQuery, tenantID, prov string) aggregates.RollupQuery {
		q.TenantID, q.Provider = tenantID, prov
		return q
	}
	limited := func(q aggregates.RollupQuery, n int) aggregates.RollupQuery {
		q.Limit = n
		return q
	}

	vpsCases := map[string]struct {
		scope    aggregates.Scope
		q        aggregates.RollupQuery
		wantRows int // sanity check of the expectation itself
	}{
		"5m by resource":                 {all, rollup(from, to, m5, tenant, resource), 48 * 4},
		"1h by resource":                 {all, rollup(from, to, h1, tenant, resource), 4 * 4},
		"1d by resource":                 {all, rollup(day0, day2, d1, tenant, resource), 2 * 4},
		"1h by tenant":                   {all, rollup(from, to, h1, tenant), 4 * 2},
		"1h by provider and plan":        {all, rollup(from, to, h1, provider, plan), 4 * 3},
		"1h by region":                   {all, rollup(from, to, h1, region), 4 * 3},
		"1h totals":                      {all, rollup(from, to, h1), 4},
		"1d totals":                      {all, rollup(day0, day2, d1), 2},
		"5m partial range, tenant a":     {all, filtered(rollup(from.Add(30*time.Minute), from.Add(90*time.Minute), m5, tenant, resource), "t-a", ""), 12 * 2},
		"1h provider hetzner":            {all, filtered(rollup(from, to, h1, tenant, resource), "", "hetzner"), 4 * 3},
		"1h tenant b and provider ovh":   {all, filtered(rollup(from, to, h1, resource), "t-b", "ovh"), 0},
		"scope b sees only b":            {tB, rollup(from, to, h1, tenant, resource), 4 * 2},
		"scope b totals are b's":         {tB, rollup(from, to, h1), 4},
		"scope b filtering tenant a":     {tB, filtered(rollup(from, to, h1, tenant), "t-a", ""), 0},
		"scope a by provider":            {tA, rollup(day0, day2, d1, provider), 2 * 2},
		"quoted filter is a plain value": {all, filtered(rollup(from, to, h1, tenant), "t-a' OR '1'='1", ""), 0},
		"range without data":             {all, rollup(from.Add(-48*time.Hour), from.Add(-24*time.Hour), h1, tenant), 0},
		"limit":                          {all, limited(rollup(from, to, m5, tenant, resource), 5), 5},
	}
	for name, tc := range vpsCases {
		t.Run("vps/"+name, func(t *testing.T) {
			q := aggregates.VPSQuery{RollupQuery: tc.q}
			want := f.WantVPS(tc.scope, q)
			require.Len(t, want, tc.wantRows, "expectation")
			got, err := r.VPSUtilization(ctx, tc.scope, q)
			require.NoError(t, err)
			requireRows(t, want, got)
			if !tc.scope.All {
				for _, row := range got {
					if slices.Contains(q.GroupBy, tenant) {
						require.Equal(t, tc.scope.TenantID, row.TenantID)
					}
				}
			}
		})
	}

	emailCases := map[string]struct {
		scope    aggregates.Scope
		q        aggregates.RollupQuery
		wantRows int
	}{
		"1h by tenant and provider": {all, rollup(from, to, h1, tenant, provider), 4 * 3},
		"1h by every dimension":     {all, rollup(from, to, h1, tenant, ip, pool, provider), 4 * 3},
		"1d by tenant":              {all, rollup(day0, day2, d1, tenant), 2 * 2},
		"1d by pool":                {all, rollup(day0, day2, d1, pool), 2 * 2},
		"1h totals":                 {all, rollup(from, to, h1), 4},
		"scope a, sendgrid":         {tA, filtered(rollup(from, to, h1, tenant, ip), "", "sendgrid"), 4},
		"scope a by pool":           {tA, rollup(from, to, h1, pool), 4 * 2},
		"scope b filtering a":       {tB, filtered(rollup(from, to, h1, ip), "t-a", ""), 0},
		"partial range":             {all, rollup(from.Add(time.Hour), from.Add(2*time.Hour), h1, ip), 3},
		"limit":                     {all, limited(rollup(from, to, h1, ip), 2), 2},
	}
	for name, tc := range emailCases {
		t.Run("email/"+name, func(t *testing.T) {
			q := aggregates.EmailQuery{RollupQuery: tc.q}
			want := f.WantEmail(tc.scope, q)
			require.Len(t, want, tc.wantRows, "expectation")
			got, err := r.EmailVolume(ctx, tc.scope, q)
			require.NoError(t, err)
			requireRows(t, want, got)
		})
	}

	t.Run("vps steps agree", func(t *testing.T) {
		get := func(q aggregates.RollupQuery) []aggregates.VPSRow {
			rows, err := r.VPSUtilization(ctx, all, aggregates.VPSQuery{RollupQuery: q})
			require.NoError(t, err)
			return rows
		}
		fine := get(rollup(day0, day2, m5, resource))
		for _, step := range []time.Duration{h1, d1} {
			coarse := get(rollup(day0, day2, step, resource))
			type key struct {
				start time.Time
				res   string
			}
			samples, cpuMax := map[key]uint64{}, map[key]float64{}
			for _, row := range fine {
				k := key{window.Assign(row.WindowStart, step), row.ResourceID}
				samples[k] += row.Samples
				cpuMax[k] = max(cpuMax[k], row.CPUMax)
			}
			require.Len(t, coarse, len(samples), "%s", step)
			for _, row := range coarse {
				k := key{row.WindowStart, row.ResourceID}
				require.Equal(t, samples[k], row.Samples, "%s %v", step, k)
				require.InDelta(t, cpuMax[k], row.CPUMax, 1e-12, "%s %v", step, k)
			}
		}
	})

	t.Run("email steps agree", func(t *testing.T) {
		hourly, err := r.EmailVolume(ctx, all, aggregates.EmailQuery{RollupQuery: rollup(day0, day2, h1, ip)})
		require.NoError(t, err)
		daily, err := r.EmailVolume(ctx, all, aggregates.EmailQuery{RollupQuery: rollup(day0, day2, d1, ip)})
		require.NoError(t, err)
		sums := map[string]aggregates.EmailPartial{}
		for _, row := range hourly {
			k := window.Assign(row.WindowStart, d1).String() + row.IP
			s := sums[k]
			s.Merge(&row.EmailPartial)
			sums[k] = s
		}
		require.Len(t, daily, len(sums))
		for _, row := range daily {
			require.Equal(t, sums[row.WindowStart.String()+row.IP], row.EmailPartial)
		}
	})

	t.Run("progress", func(t *testing.T) {
		got, err := r.LaneProgress(ctx, all)
		require.NoError(t, err)
		sortProgress(got)
		require.Equal(t, f.WantProgress(), normalizeProgress(got))

		got, err = r.LaneProgress(ctx, tA)
		require.NoError(t, err)
		sortProgress(got)
		want := f.WantProgress()
		for i := range want {
			want[i].StreamSeq, want[i].Events = 0, 0 // volumes across tenants are hidden from a tenant
		}
		require.Equal(t, want, normalizeProgress(got))
	})

	t.Run("zero scope is refused", func(t *testing.T) {
		_, err := r.VPSUtilization(ctx, aggregates.Scope{}, aggregates.VPSQuery{RollupQuery: rollup(from, to, h1)})
		require.ErrorIs(t, err, aggregates.ErrNoScope)
		_, err = r.EmailVolume(ctx, aggregates.Scope{}, aggregates.EmailQuery{RollupQuery: rollup(from, to, h1)})
		require.ErrorIs(t, err, aggregates.ErrNoScope)
		_, err = r.LaneProgress(ctx, aggregates.Scope{})
		require.ErrorIs(t, err, aggregates.ErrNoScope)
		_, err = r.LaneProgress(ctx, aggregates.Scope{All: true, TenantID: "t-a"})
		require.ErrorIs(t, err, aggregates.ErrNoScope)
	})

	t.Run("invalid queries are refused", func(t *testing.T) {
		_, err := r.EmailVolume(ctx, all, aggregates.EmailQuery{RollupQuery: rollup(from, to, m5)})
		require.Error(t, err)
		_, err = r.EmailVolume(ctx, all, aggregates.EmailQuery{RollupQuery: rollup(from, to, h1, resource)})
		require.Error(t, err)
		_, err = r.VPSUtilization(ctx, all, aggregates.VPSQuery{RollupQuery: rollup(from, to, h1, ip)})
		require.Error(t, err)
		_, err = r.VPSUtilization(ctx, all, aggregates.VPSQuery{RollupQuery: rollup(from.Add(time.Minute), to, h1)})
		require.Error(t, err)
		_, err = r.VPSUtilization(ctx, all, aggregates.VPSQuery{RollupQuery: rollup(to, from, h1)})
		require.Error(t, err)
	})
}

func requireRows[T any](t *testing.T, want, got []T) {
	t.Helper()
	if len(want) == 0 {
		require.Empty(t, got)
		return
	}
	require.Equal(t, want, got)
}

func sortProgress(p []aggregates.Progress) {
	slices.SortFunc(p, func(a, b aggregates.Progress) int {
		return cmp.Or(strings.Compare(string(a.Lane), string(b.Lane)), cmp.Compare(a.Partition, b.Partition))
	})
}

func normalizeProgress(p []aggregates.Progress) []aggregates.Progress {
	for i := range p {
		p[i].AsOf, p[i].FlushedAt = p[i].AsOf.UTC(), p[i].FlushedAt.UTC()
	}
	return p
}
