package generate

import (
	"testing"
	"time"
)

// BenchmarkWindow measures generation throughput (encoded events per second) for one-hour windows.
func BenchmarkWindow(b *testing.B) {
	tests := map[string]struct {
		opts Options
	}{
		"default fleet":        {opts: Options{Seed: 1}},
		"default fleet faults": {opts: Options{Seed: 1, DuplicateRate: 0.01, OutOfOrderRate: 0.01, LateRate: 0.01, MalformedRate: 0.01}},
		"large fleet":          {opts: Options{Seed: 1, Tenants: 200, VPSPerTenant: 10, IPsPerTenant: 4}},
	}
	for name, tc := range tests {
		b.Run(name, func(b *testing.B) {
			g := New(tc.opts)
			from := testFrom
			var n, bytes int
			b.ReportAllocs()
			for b.Loop() {
				items := g.Window(from, from.Add(time.Hour))
				from = from.Add(time.Hour)
				n += len(items)
				for _, it := range items {
					bytes += len(it.Raw)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(bytes)/float64(n), "bytes/event")
		})
	}
}
