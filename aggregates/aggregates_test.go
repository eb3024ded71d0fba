package aggregates

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/schemas/events"
	"github.com/spendstream/spendstream/schemas/generate"
)

func TestBucketAndMicro(t *testing.T) {
	cases := map[string]struct {
		u      float64
		micro  uint32
		bucket int
	}{
		"zero":          {0, 0, 0},
		"just under 1%": {0.0099, 9900, 0},
		"exactly 1%":    {0.01, 10000, 1},
		"half":          {0.5, 500000, 50},
		"99.99%":        {0.9999, 999900, 99},
		"full":          {1, 1000000, 99},
		"rounding":      {0.1234567, 123457, 12},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, c.micro, Micro(c.u))
			require.Equal(t, c.bucket, Bucket(Micro(c.u)))
		})
	}
}

func TestPercentile(t *testing.T) {
	hist := func(pairs ...int) []uint64 {
		h := make([]uint64, HistBuckets)
		for i := 0; i < len(pairs); i += 2 {
			h[pairs[i]] = uint64(pairs[i+1])
		}
		return h
	}
	cases := map[string]struct {
		hist []uint64
		q    float64
		want float64
	}{
		"empty":               {hist(), 0.95, 0},
		"single sample":       {hist(3, 1), 0.95, 0.04},
		"95 low 5 high":       {hist(2, 95, 80, 5), 0.95, 0.03},
		"94 low 6 high":       {hist(2, 94, 80, 6), 0.95, 0.81},
		"last bucket":         {hist(99, 10), 0.95, 1},
		"trimmed input works": {[]uint64{0, 0, 5}, 0.5, 0.03},
		"median":              {hist(10, 50, 20, 50), 0.5, 0.11},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			require.InDelta(t, c.want, Percentile(c.hist, c.q), 1e-12)
		})
	}
}

func sample(cpu, mem float64, vcpus uint32) *events.VPSSample {
	return &events.VPSSample{ResourceID: "r1", Provider: "p", Region: "eu", Plan: "s", VCPUs: vcpus,
		MemoryMB: 2048, CPUUtil: cpu, MemUtil: mem, IntervalSeconds: 60}
}

// Merging partials in any grouping gives the same result as adding every sample to one partial.
func TestVPSPartialMergeIsAssociative(t *testing.T) {
	samples := []*events.VPSSample{sample(0.1, 0.2, 2), sample(0.95, 0.5, 2), sample(0.033, 0.7, 4), sample(1, 0, 2), sample(0, 1, 1)}
	var whole VPSPartial
	for _, s := range samples {
		whole.Add(s)
	}
	for split := 0; split <= len(samples); split++ {
		var a, b VPSPartial
		for _, s := range samples[:split] {
			a.Add(s)
		}
		for _, s := range samples[split:] {
			b.Add(s)
		}
		b.Merge(&a)
		require.Equal(t, whole, b, "split at %d", split)
	}
	require.Equal(t, uint64(5), whole.Samples)
	require.Equal(t, uint32(4), whole.VCPUs)
	require.Equal(t, uint64(100000+950000+33000+1000000+0), whole.CPUSum)
	require.Equal(t, uint32(1000000), whole.CPUMax)
	require.Equal(t, uint64(100000*2*60+950000*2*60+33000*4*60+1000000*2*60), whole.CPUCoreSeconds)
	require.Equal(t, uint32(1), whole.CPUHist[10])
	require.Equal(t, uint32(1), whole.CPUHist[95])
	require.Equal(t, uint32(1), whole.CPUHist[99])
}

func TestBatchAddEventAssignsEventTimeWindows(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	b := NewBatch()
	vps := func(ts string) *events.Event {
		return &events.Event{ID: ts, Type: events.TypeVPSSample, TenantID: "t1", Time: at(ts), VPS: sample(0.5, 0.5, 2)}
	}
	b.AddEvent(vps("2026-03-10T12:01:00Z"))
	b.AddEvent(vps("2026-03-10T12:05:00Z")) // covers 12:04–12:05: same window
	b.AddEvent(vps("2026-03-10T12:05:01Z")) // next window
	mail := &events.Event{ID: "m", Type: events.TypeEmailVolume, TenantID: "t1", Time: at("2026-03-10T13:00:00Z"),
		Email: &events.EmailVolume{IP: "192.0.2.1", Pool: "tx", Provider: "ses", Sent: 10, Delivered: 9, Bounced: 1}}
	b.AddEvent(mail)
	b.AddEvent(mail)
	inv := &events.Event{ID: "i", Type: events.TypeInventoryResource, TenantID: "t1", Time: at("2026-03-10T13:00:00Z"),
		Inventory: &events.InventoryResource{ResourceID: "r1", Kind: events.KindVPS, Provider: "p", Action: events.ActionProvisioned}}
	b.AddEvent(inv)

	require.Len(t, b.VPS, 2)
	k := VPSKey{WindowStart: at("2026-03-10T12:00:00Z"), TenantID: "t1", ResourceID: "r1", Provider: "p", Region: "eu", Plan: "s"}
	require.Equal(t, uint64(2), b.VPS[k].Samples)
	ek := EmailKey{WindowStart: at("2026-03-10T12:00:00Z"), TenantID: "t1", IP: "192.0.2.1", Pool: "tx", Provider: "ses"}
	require.Equal(t, EmailPartial{Sent: 20, Delivered: 18, Bounced: 2, Reports: 2}, *b.Email[ek])
	require.Len(t, b.Inventory, 1)
	require.Equal(t, 4, b.Rows())
}

func TestHistUint64s(t *testing.T) {
	var h Hist
	require.Empty(t, h.Uint64s())
	h[1], h[3] = 3, 1<<31
	require.Equal(t, []uint64{0, 3, 0, 1 << 31}, h.Uint64s())
	// Len skips trailing zeros four buckets at a time, then one by one: the last non-zero bucket at
	// every position of a four-bucket group, at both ends.
	for _, last := range []int{0, 1, 2, 3, 4, 5, 7, 8, 42, 95, 96, 97, 98, 99} {
		var h Hist
		h[0], h[last] = 1, 2
		require.Equal(t, last+1, h.Len(), "last non-zero bucket %d", last)
		require.Len(t, h.Uint64s(), last+1)
	}
}

func BenchmarkMerge(b *testing.B) {
	s := sample(0.42, 0.6, 4)
	var p, q VPSPartial
	q.Add(s)
	b.ReportAllocs()
	for b.Loop() {
		p.Add(s)
		p.Merge(&q)
	}
}

func TestBatchAddAnalytics(t *testing.T) {
	b := NewBatch()
	at := time.Date(2026, 3, 1, 10, 59, 59, 999_999_999, time.UTC) // the last instant of 10:00-11:00
	add := func(id, user, event string, t time.Time, segs ...events.SegmentUpdate) {
		b.AddEvent(&events.Event{ID: id, Type: events.TypeAnalytics, TenantID: "t-1", Time: t,
			Analytics: &events.Analytics{DistinctID: user, Event: event, Segments: segs}})
	}
	add("1", "u1", "$pageview", at)
	add("2", "u1", "$pageview", time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)) // a window's first instant
	add("3", "u2", "$pageview", at)
	add("4", "u1", "$pageview", at.Add(time.Nanosecond), events.SegmentUpdate{Property: "plan", Value: "pro", Source: "$set:u1"})
	w10, w11 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	require.Equal(t, map[AnalyticsKey]uint64{
		{WindowStart: w10, TenantID: "t-1", Event: "$pageview", DistinctID: "u1"}: 2,
		{WindowStart: w10, TenantID: "t-1", Event: "$pageview", DistinctID: "u2"}: 1,
		{WindowStart: w11, TenantID: "t-1", Event: "$pageview", DistinctID: "u1"}: 1,
	}, b.Analytics)
	require.Equal(t, []SegmentRecord{{EffectiveFrom: at.Add(time.Nanosecond), EventUUID: "4", TenantID: "t-1",
		Property: "plan", Value: "pro", Source: "$set:u1"}}, b.Segments)
	require.Equal(t, 4, b.Rows())
	require.False(t, b.Empty())
}

// BenchmarkAddEventBatchSize folds the pipeline benchmark's fleet (1,600 VPS, 400 sending IPs,
// events in time order) into batches of N events, a fresh batch every N: how the batch size the
// consumer flushes at changes the cost of folding (a larger batch holds more partials).
func BenchmarkAddEventBatchSize(b *testing.B) {
	g := generate.New(generate.Options{Seed: 99, Tenants: 200, VPSPerTenant: 8, IPsPerTenant: 2,
		SampleEvery: 30 * time.Second, EmailEvery: time.Minute})
	const n = 400_000
	var evs []*events.Event
	end := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for start := end.Add(-time.Minute); len(evs) < n; start = start.Add(-time.Minute) {
		for _, it := range g.Window(start, start.Add(time.Minute)) {
			evs = append(evs, it.Event)
		}
	}
	for _, size := range []int{50_000, 200_000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			folded := 0
			for b.Loop() {
				for i := 0; i < len(evs); i += size {
					bt := NewBatch()
					for _, ev := range evs[i:min(i+size, len(evs))] {
						bt.AddEvent(ev)
					}
				}
				folded += len(evs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(folded), "ns/event")
		})
	}
}
