package clickhouse

import (
	"context"
	"fmt"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/window"
)

// Reads dedicated to the cost model. The model needs, per tenant, resource, provider, plan and
// day, the samples, core-seconds, averages and p95 of a VPS's utilization: not the histograms
// VPSUtilization reads to derive the p95 in Go. Here the p95 is derived in ClickHouse from the
// merged histogram, so no array crosses the wire (they were most of the bytes of a daily row and
// most of the api's CPU time: clickhouse-go decodes every element).

// p95Bucket is the SQL of the 1-based index of the histogram bucket holding the nearest-rank 95th
// percentile of the merged histogram h (a SQL expression), 0 for an empty one: exactly what
// aggregates.Percentile(h, 0.95) finds, which returns that index / HistBuckets. The rank is
// ceil(0.95 × n) computed in Float64 as Go does (at least 1), and the bucket is the first whose
// cumulative count reaches it. n ≥ 1 always finds one (the last bucket's cumulative count is n).
func p95Bucket(h string) string {
	return "toUInt32(arrayFirstIndex(c -> c >= greatest(toUInt64(ceil(0.95 * arraySum(" + h + "))), 1), arrayCumSum(" + h + ")))"
}

// vpsDailyMeasures merges each daily row's states; the histograms are merged once (aliases) and
// only the p95 bucket of each is returned.
var vpsDailyMeasures = "sumMerge(samples), sumMerge(cpu_sum), maxMerge(cpu_max), sumMerge(mem_sum), maxMerge(mem_max), sumMerge(cpu_core_seconds), " +
	p95Bucket("(sumForEachMerge(cpu_hist) AS cpu_h)") + ", " + p95Bucket("(sumForEachMerge(mem_hist) AS mem_h)")

// vpsDailyGroupBy is the grouping of VPSDailyUsage.
var vpsDailyGroupBy = []aggregates.Dimension{aggregates.DimTenantID, aggregates.DimResourceID, aggregates.DimProvider, aggregates.DimPlan}

// VPSDailyUsage reads the daily VPS utilization the cost model uses: one row per day, tenant,
// resource, provider and plan in [q.From, q.To) (q.Step and q.GroupBy are ignored: always 1d and
// that grouping; q.TenantID, q.Provider and q.Limit apply), in the order of VPSUtilization with that
// grouping. Every figure equals VPSUtilization's (same sums, same p95 semantics, see
// aggregates.VPSRow), without reading the histograms into this process.
func (s *Store) VPSDailyUsage(ctx context.Context, scope aggregates.Scope, q aggregates.RollupQuery) ([]aggregates.VPSRow, error) {
	var out []aggregates.VPSRow
	err := s.ScanVPSDailyUsage(ctx, scope, q, func(r *aggregates.VPSRow) { out = append(out, *r) })
	return out, err
}

// ScanVPSDailyUsage is VPSDailyUsage row by row: fn gets each row (valid during the call only)
// without the rows being collected, so a caller that converts them holds one copy, not two (a year
// of 20,000 VPS is 6.5M rows).
func (s *Store) ScanVPSDailyUsage(ctx context.Context, scope aggregates.Scope, q aggregates.RollupQuery, fn func(*aggregates.VPSRow)) error {
	if err := scope.Validate(); err != nil {
		return err
	}
	q.Step, q.GroupBy = window.Step1d, vpsDailyGroupBy
	if err := (aggregates.VPSQuery{RollupQuery: q}).Validate(); err != nil {
		return fmt.Errorf("vps daily usage query: %w", err)
	}
	sql, args, err := s.rollupSQL(vpsTables[window.Step1d], vpsColumns, scope, q, vpsDailyMeasures)
	if err != nil {
		return err
	}
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("query vps daily usage: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r aggregates.VPSRow
		var t vpsDailyTotals
		if err := rows.Scan(&r.WindowStart, &r.TenantID, &r.ResourceID, &r.Provider, &r.Plan,
			&t.samples, &t.cpuSum, &t.cpuMax, &t.memSum, &t.memMax, &t.coreSeconds, &t.cpuP95Bucket, &t.memP95Bucket); err != nil {
			return fmt.Errorf("scan vps daily usage: %w", err)
		}
		r.WindowStart = r.WindowStart.UTC()
		t.set(&r)
		fn(&r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read vps daily usage: %w", err)
	}
	return nil
}

// vpsDailyTotals is one row of VPSDailyUsage as read: merged sums and the p95 bucket indexes.
type vpsDailyTotals struct {
	samples, cpuSum, memSum, coreSeconds uint64
	cpuMax, memMax                       uint32
	cpuP95Bucket, memP95Bucket           uint32 // 1-based; 0: empty histogram
}

// set derives r's figures as aggregates.VPSRow.SetTotals does, the p95 from the bucket index
// instead of the histogram (the same float64 arithmetic, so the same values to the bit).
func (t vpsDailyTotals) set(r *aggregates.VPSRow) {
	r.SetTotals(aggregates.VPSTotals{Samples: t.samples, CPUCoreSeconds: t.coreSeconds, CPUSum: t.cpuSum, CPUMax: t.cpuMax,
		MemSum: t.memSum, MemMax: t.memMax})
	r.CPUP95 = min(bucketEdge(t.cpuP95Bucket), r.CPUMax)
	r.MemP95 = min(bucketEdge(t.memP95Bucket), r.MemMax)
}

// bucketEdge is the upper edge of 1-based bucket i as aggregates.Percentile returns it (0 for 0).
func bucketEdge(i uint32) float64 {
	if i == 0 {
		return 0
	}
	return float64(i) / aggregates.HistBuckets
}
