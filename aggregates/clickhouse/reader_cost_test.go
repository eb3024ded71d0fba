package clickhouse

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/api"
	"github.com/spendstream/spendstream/aggregates/window"
	"github.com/spendstream/spendstream/schemas/events"
)

// The cost endpoints read the daily VPS usage through these when the reader has them.
var (
	_ api.VPSDailyReader  = (*Store)(nil)
	_ api.VPSDailyScanner = (*Store)(nil)
)

// TestVPSDailyUsageMatchesVPSUtilization checks, on a real server, that VPSDailyUsage (p95 derived
// in ClickHouse) returns exactly the rows VPSUtilization (p95 derived in Go from the histograms)
// returns with the cost model's grouping: generated usage plus edge cases, several batches per key
// (un-merged aggregate states), regions merged by the grouping, rows outside the window, filters
// and a tenant scope.
func TestVPSDailyUsageMatchesVPSUtilization(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	day0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	const days = 6

	type edge struct {
		name string
		p    aggregates.VPSPartial
	}
	// hist builds a histogram from bucket → count.
	hist := func(counts map[int]uint32) (h aggregates.Hist) {
		for b, n := range counts {
			h[b] = n
		}
		return h
	}
	edges := []edge{
		// Samples but an empty memory histogram (a producer without memory figures): p95 0.
		{"no-memory", aggregates.VPSPartial{Samples: 3, CPUSum: 1_500_000, CPUMax: 700_000, CPUCoreSeconds: 9_000_000,
			CPUHist: hist(map[int]uint32{40: 1, 50: 1, 70: 1})}},
		// No samples at all (only a core-seconds correction, say): every derived figure 0.
		{"no-samples", aggregates.VPSPartial{CPUCoreSeconds: 5}},
		// The nearest rank falls exactly on a bucket's cumulative count: 19 of 20 in bucket 0.
		{"rank-on-edge", aggregates.VPSPartial{Samples: 20, CPUSum: 19*5_000 + 900_000, CPUMax: 900_000, MemSum: 20 * 10_000, MemMax: 10_000,
			CPUHist: hist(map[int]uint32{0: 19, 90: 1}), MemHist: hist(map[int]uint32{1: 20})}},
		// One more sample moves the rank past it: 19 of 21 in bucket 0.
		{"rank-past-edge", aggregates.VPSPartial{Samples: 21, CPUSum: 19*5_000 + 2*900_000, CPUMax: 900_000, MemSum: 21 * 10_000, MemMax: 10_000,
			CPUHist: hist(map[int]uint32{0: 19, 90: 2}), MemHist: hist(map[int]uint32{1: 21})}},
		// Maximum below the p95 bucket's upper edge: capped at the maximum.
		{"capped-by-max", aggregates.VPSPartial{Samples: 2, CPUSum: 2 * 123_456, CPUMax: 123_456, MemSum: 2 * 999_999, MemMax: 999_999,
			CPUHist: hist(map[int]uint32{12: 2}), MemHist: hist(map[int]uint32{99: 2})}},
	}
	// Samples at bucket edges and extremes, folded in as the consumer does.
	edgeValues := []float64{0, 0.01, 0.0099999, 0.010001, 0.5, 0.94, 0.95, 0.9500001, 0.99, 0.999999, 1}
	sample := func(cpu, mem float64) *events.VPSSample {
		return &events.VPSSample{CPUUtil: cpu, MemUtil: mem, VCPUs: 4, MemoryMB: 8192, IntervalSeconds: 60}
	}
	rng := rand.New(rand.NewPCG(4, 2))
	batch := func() *aggregates.Batch { return aggregates.NewBatch() }
	put := func(b *aggregates.Batch, k aggregates.VPSKey, p *aggregates.VPSPartial) {
		if cur := b.VPS[k]; cur != nil {
			cur.Merge(p)
			return
		}
		cp := *p
		b.VPS[k] = &cp
	}
	key := func(d int, tenant, res, provider, region, plan string) aggregates.VPSKey {
		return aggregates.VPSKey{WindowStart: day0.Add(time.Duration(d) * window.Step1d), TenantID: tenant, ResourceID: res,
			Provider: provider, Region: region, Plan: plan}
	}
	batches := []*aggregates.Batch{batch(), batch(), batch()}
	for d := -1; d <= days; d++ { // the days before and after the window must not be read
		for _, e := range edges {
			put(batches[0], key(d, "t-edge", "vps-"+e.name, "hetzner", "fsn1", "cx22"), &e.p)
		}
		// A single sample.
		one := &aggregates.VPSPartial{}
		one.Add(sample(edgeValues[(d+11)%len(edgeValues)], edgeValues[(d+5)%len(edgeValues)]))
		put(batches[1], key(d, "t-edge", "vps-single", "ovh", "GRA11", "d2-4"), one)
		// Every edge value, once each, in one partial.
		all := &aggregates.VPSPartial{}
		for i, v := range edgeValues {
			all.Add(sample(v, edgeValues[len(edgeValues)-1-i]))
		}
		put(batches[2], key(d, "t-edge", "vps-edges", "ovh", "GRA11", "d2-4"), all)
		// Generated usage: resources of several tenants, shared ones used by two, some samples in a
		// second region of the same key (merged by the grouping) and a plan change mid-window (a
		// second row), spread over the three batches.
		for r := range 12 {
			tenants := []string{fmt.Sprintf("t-%02d", r%4)}
			if r%5 == 0 {
				tenants = append(tenants, fmt.Sprintf("t-%02d", (r+1)%4))
			}
			plan := "cx32"
			if r%3 == 0 && d >= days/2 {
				plan = "cx42"
			}
			for _, tenant := range tenants {
				for i := range 1 + rng.IntN(300) {
					cpu := rng.Float64()
					if rng.IntN(4) == 0 {
						cpu = edgeValues[rng.IntN(len(edgeValues))]
					}
					mem := rng.Float64() * rng.Float64()
					region := "fsn1"
					if i%7 == 3 {
						region = "nbg1"
					}
					p := &aggregates.VPSPartial{}
					p.Add(sample(cpu, mem))
					put(batches[i%3], key(d, tenant, fmt.Sprintf("vps-%02d", r), "hetzner", region, plan), p)
				}
			}
		}
	}
	for _, b := range batches {
		b.FlushedAt = day0
		require.NoError(t, s.WriteBatch(ctx, b))
	}

	from, to := day0, day0.Add(days*window.Step1d)
	compare := func(name string, scope aggregates.Scope, q aggregates.RollupQuery) {
		t.Helper()
		q.From, q.To, q.Step = from, to, window.Step1d
		vq := aggregates.VPSQuery{RollupQuery: q}
		vq.GroupBy = []aggregates.Dimension{aggregates.DimTenantID, aggregates.DimResourceID, aggregates.DimProvider, aggregates.DimPlan}
		want, err := s.VPSUtilization(ctx, scope, vq)
		require.NoError(t, err, name)
		require.NotEmpty(t, want, name)
		got, err := s.VPSDailyUsage(ctx, scope, q)
		require.NoError(t, err, name)
		require.Equal(t, want, got, name) // float64 figures compared exactly
	}
	compare("all", aggregates.Scope{All: true}, aggregates.RollupQuery{})
	compare("tenant scope", aggregates.Scope{TenantID: "t-edge"}, aggregates.RollupQuery{})
	compare("tenant and provider filters", aggregates.Scope{All: true}, aggregates.RollupQuery{TenantID: "t-01", Provider: "hetzner"})

	// The edge cases came out as intended (not only equal to the Go derivation).
	got, err := s.VPSDailyUsage(ctx, aggregates.Scope{TenantID: "t-edge"}, aggregates.RollupQuery{From: from, To: from.Add(window.Step1d)})
	require.NoError(t, err)
	byID := map[string]aggregates.VPSRow{}
	for _, r := range got {
		require.Equal(t, from, r.WindowStart)
		byID[r.ResourceID] = r
	}
	require.Len(t, byID, len(edges)+2)
	require.Equal(t, 0.0, byID["vps-no-memory"].MemP95)
	require.Equal(t, 0.7, byID["vps-no-memory"].CPUP95) // bucket 70: 0.71, capped by the maximum
	require.Equal(t, aggregates.VPSRow{WindowStart: from, TenantID: "t-edge", ResourceID: "vps-no-samples", Provider: "hetzner",
		Plan: "cx22", CPUCoreSeconds: 5e-6}, byID["vps-no-samples"])
	require.Equal(t, 0.01, byID["vps-rank-on-edge"].CPUP95)
	require.Equal(t, 0.9, byID["vps-rank-past-edge"].CPUP95)
	require.Equal(t, 0.123456, byID["vps-capped-by-max"].CPUP95)
	require.Equal(t, 0.999999, byID["vps-capped-by-max"].MemP95)
	require.Equal(t, 1.0, byID["vps-edges"].CPUP95)

	// Queries VPSUtilization refuses are refused here too.
	_, err = s.VPSDailyUsage(ctx, aggregates.Scope{}, aggregates.RollupQuery{From: from, To: to})
	require.ErrorIs(t, err, aggregates.ErrNoScope)
	_, err = s.VPSDailyUsage(ctx, aggregates.Scope{All: true}, aggregates.RollupQuery{From: from, To: from.Add(time.Hour)})
	require.Error(t, err)
}

// TestLowPriorityReads: the server accepts the settings LowPriority sets (18.16 and current
// servers know both), and a read under them answers what a normal read does.
func TestLowPriorityReads(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	day := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	b := aggregates.NewBatch()
	b.VPS[aggregates.VPSKey{WindowStart: day, TenantID: "t-low", ResourceID: "vps-low", Provider: "acme", Plan: "small"}] =
		&aggregates.VPSPartial{Samples: 2, CPUSum: 1_000_000, CPUMax: 600_000, CPUCoreSeconds: 60}
	b.FlushedAt = day
	require.NoError(t, s.WriteBatch(ctx, b))
	q := aggregates.RollupQuery{From: day, To: day.Add(window.Step1d), Step: window.Step1d}
	want, err := s.VPSDailyUsage(ctx, aggregates.Scope{All: true}, q)
	require.NoError(t, err)
	require.Len(t, want, 1)
	got, err := s.VPSDailyUsage(LowPriority(ctx), aggregates.Scope{All: true}, q)
	require.NoError(t, err)
	require.Equal(t, want, got)
}
