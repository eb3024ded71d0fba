package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/window"
	"github.com/spendstream/spendstream/schemas/events"
)

// The read side. Every read takes an aggregates.Scope and applies it in the WHERE clause, so tenant
// isolation is enforced by the query itself. SQL text is built only from the fixed names below
// (tables, whitelisted columns); every value the caller supplies is a bound parameter.

var emailTables = map[time.Duration]string{
	window.Step1h: "email_volume_1h",
	window.Step1d: "email_volume_1d",
}

var vpsTables = map[time.Duration]string{
	window.Step5m: "vps_util_5m",
	window.Step1h: "vps_util_1h",
	window.Step1d: "vps_util_1d",
}

var eventTables = map[time.Duration]string{
	window.Step1h: "analytics_events_1h",
	window.Step1d: "analytics_events_1d",
}

// Grouping columns by dimension: the only way a dimension reaches SQL text.
var (
	emailColumns = map[aggregates.Dimension]string{
		aggregates.DimTenantID: "tenant_id",
		aggregates.DimIP:       "ip",
		aggregates.DimPool:     "pool",
		aggregates.DimProvider: "provider",
	}
	vpsColumns = map[aggregates.Dimension]string{
		aggregates.DimTenantID:   "tenant_id",
		aggregates.DimResourceID: "resource_id",
		aggregates.DimProvider:   "provider",
		aggregates.DimPlan:       "plan",
		aggregates.DimRegion:     "region",
	}
	eventColumns = map[aggregates.Dimension]string{
		aggregates.DimTenantID: "tenant_id",
		aggregates.DimEvent:    "event",
	}
)

// EmailVolume reads email volume per window and grouped dimensions, summing the SummingMergeTree
// rows (un-merged parts may hold several rows per key).
func (s *Store) EmailVolume(ctx context.Context, scope aggregates.Scope, q aggregates.EmailQuery) ([]aggregates.EmailRow, error) {
	if err := scope.Validate(); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("email query: %w", err)
	}
	sql, args, err := s.rollupSQL(emailTables[q.Step], emailColumns, scope, q.RollupQuery,
		"sum(sent), sum(delivered), sum(bounced), sum(deferred), sum(complained), sum(reports)")
	if err != nil {
		return nil, err
	}
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("query email volume: %w", err)
	}
	defer rows.Close()
	var out []aggregates.EmailRow
	dims := make([]string, len(q.GroupBy))
	for rows.Next() {
		var r aggregates.EmailRow
		dest := make([]any, 0, len(dims)+6)
		dest = append(dest, &r.WindowStart)
		for i := range dims {
			dest = append(dest, &dims[i])
		}
		dest = append(dest, &r.Sent, &r.Delivered, &r.Bounced, &r.Deferred, &r.Complained, &r.Reports)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("scan email volume: %w", err)
		}
		r.WindowStart = r.WindowStart.UTC()
		for i, d := range q.GroupBy {
			r.SetDim(d, dims[i])
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read email volume: %w", err)
	}
	return out, nil
}

// VPSUtilization reads VPS utilization per window and grouped dimensions, merging the aggregate
// states; averages and p95 are derived in Go from the merged sums and histograms.
func (s *Store) VPSUtilization(ctx context.Context, scope aggregates.Scope, q aggregates.VPSQuery) ([]aggregates.VPSRow, error) {
	if err := scope.Validate(); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("vps query: %w", err)
	}
	sql, args, err := s.rollupSQL(vpsTables[q.Step], vpsColumns, scope, q.RollupQuery,
		"sumMerge(samples), sumMerge(cpu_sum), maxMerge(cpu_max), sumMerge(mem_sum), maxMerge(mem_max),"+
			" sumForEachMerge(cpu_hist), sumForEachMerge(mem_hist), sumMerge(cpu_core_seconds)")
	if err != nil {
		return nil, err
	}
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("query vps utilization: %w", err)
	}
	defer rows.Close()
	var out []aggregates.VPSRow
	dims := make([]string, len(q.GroupBy))
	for rows.Next() {
		var r aggregates.VPSRow
		var t aggregates.VPSTotals
		dest := make([]any, 0, len(dims)+8)
		dest = append(dest, &r.WindowStart)
		for i := range dims {
			dest = append(dest, &dims[i])
		}
		dest = append(dest, &t.Samples, &t.CPUSum, &t.CPUMax, &t.MemSum, &t.MemMax, &t.CPUHist, &t.MemHist, &t.CPUCoreSeconds)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("scan vps utilization: %w", err)
		}
		r.WindowStart = r.WindowStart.UTC()
		for i, d := range q.GroupBy {
			r.SetDim(d, dims[i])
		}
		r.SetTotals(t)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read vps utilization: %w", err)
	}
	return out, nil
}

// Events reads PostHog event counts and distinct users per window and grouped dimensions.
func (s *Store) Events(ctx context.Context, scope aggregates.Scope, q aggregates.EventQuery) ([]aggregates.EventRow, error) {
	if err := scope.Validate(); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("event query: %w", err)
	}
	sql, args, err := s.rollupSQL(eventTables[q.Step], eventColumns, scope, q.RollupQuery, "sumMerge(count), uniqMerge(users)")
	if err != nil {
		return nil, err
	}
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("query events: %w", err)
	}
	defer rows.Close()
	var out []aggregates.EventRow
	dims := make([]string, len(q.GroupBy))
	for rows.Next() {
		var r aggregates.EventRow
		dest := make([]any, 0, len(dims)+3)
		dest = append(dest, &r.WindowStart)
		for i := range dims {
			dest = append(dest, &dims[i])
		}
		dest = append(dest, &r.Count, &r.DistinctUsers)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("scan events: %w", err)
		}
		r.WindowStart = r.WindowStart.UTC()
		for i, d := range q.GroupBy {
			r.SetDim(d, dims[i])
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

// Segments reads the plan and tier of each tenant in force at q.At: the latest update at or before
// it (ties broken by event uuid, so every reader agrees).
func (s *Store) Segments(ctx context.Context, scope aggregates.Scope, q aggregates.SegmentQuery) ([]aggregates.SegmentRow, error) {
	if err := scope.Validate(); err != nil {
		return nil, err
	}
	where := []string{"effective_from_ns <= ?"}
	args := []any{uint64(max(q.At.UnixNano(), 0))}
	where, args = tenantFilter(where, args, scope, q.TenantID)
	// ReplacingMergeTree may still hold duplicate rows of one update before a merge: argMax over
	// (time, uuid) picks the same row whichever copy it sees.
	sql := `SELECT tenant_id, property, argMax(value, (effective_from_ns, event_uuid)), max(effective_from_ns),
 argMax(source, (effective_from_ns, event_uuid))
 FROM ` + s.db + `.tenant_segments WHERE ` + strings.Join(where, " AND ") + `
 GROUP BY tenant_id, property ORDER BY tenant_id, property`
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("query segments: %w", err)
	}
	defer rows.Close()
	var out []aggregates.SegmentRow
	for rows.Next() {
		var tenant, prop, value, source string
		var ns uint64
		if err := rows.Scan(&tenant, &prop, &value, &ns, &source); err != nil {
			return nil, fmt.Errorf("scan segments: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].TenantID != tenant {
			if q.Limit > 0 && len(out) == q.Limit {
				break
			}
			out = append(out, aggregates.SegmentRow{TenantID: tenant})
		}
		seg := &aggregates.Segment{Value: value, Since: time.Unix(0, int64(ns)).UTC(), Source: source}
		switch prop {
		case "plan":
			out[len(out)-1].Plan = seg
		case "tier":
			out[len(out)-1].Tier = seg
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read segments: %w", err)
	}
	return out, nil
}

// Inventory reads every resource lifecycle event before q.Until, in time order, de-duplicated by
// event id (ReplacingMergeTree may hold copies before a merge).
func (s *Store) Inventory(ctx context.Context, scope aggregates.Scope, q aggregates.InventoryQuery) ([]aggregates.InventoryRecord, error) {
	if err := scope.Validate(); err != nil {
		return nil, err
	}
	where := []string{"event_time < toDateTime(?)"}
	args := []any{q.Until.Unix()}
	where, args = tenantFilter(where, args, scope, q.TenantID)
	sql := `SELECT event_time, event_id, tenant_id, resource_id, any(resource_kind), any(provider), any(region), any(plan),
 any(action), any(shared) FROM ` + s.db + `.inventory_events WHERE ` + strings.Join(where, " AND ") + `
 GROUP BY tenant_id, resource_id, event_time, event_id ORDER BY event_time, resource_id, event_id`
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("query inventory: %w", err)
	}
	defer rows.Close()
	var out []aggregates.InventoryRecord
	for rows.Next() {
		var r aggregates.InventoryRecord
		var kind, action string
		var shared uint8
		if err := rows.Scan(&r.EventTime, &r.EventID, &r.TenantID, &r.ResourceID, &kind, &r.Provider, &r.Region, &r.Plan, &action, &shared); err != nil {
			return nil, fmt.Errorf("scan inventory: %w", err)
		}
		r.EventTime, r.Kind, r.Action, r.Shared = r.EventTime.UTC(), events.ResourceKind(kind), events.Action(action), shared != 0
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	return out, nil
}

// SegmentHistory reads every tenant segment update before q.Until, in effective order.
func (s *Store) SegmentHistory(ctx context.Context, scope aggregates.Scope, q aggregates.SegmentHistoryQuery) ([]aggregates.SegmentRecord, error) {
	if err := scope.Validate(); err != nil {
		return nil, err
	}
	where := []string{"effective_from_ns < ?"}
	args := []any{uint64(max(q.Until.UnixNano(), 0))}
	where, args = tenantFilter(where, args, scope, q.TenantID)
	sql := `SELECT tenant_id, property, any(value), effective_from_ns, event_uuid, any(source)
 FROM ` + s.db + `.tenant_segments WHERE ` + strings.Join(where, " AND ") + `
 GROUP BY tenant_id, property, effective_from_ns, event_uuid ORDER BY effective_from_ns, event_uuid, property`
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("query segment history: %w", err)
	}
	defer rows.Close()
	var out []aggregates.SegmentRecord
	for rows.Next() {
		var r aggregates.SegmentRecord
		var ns uint64
		if err := rows.Scan(&r.TenantID, &r.Property, &r.Value, &ns, &r.EventUUID, &r.Source); err != nil {
			return nil, fmt.Errorf("scan segment history: %w", err)
		}
		r.EffectiveFrom = time.Unix(0, int64(ns)).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read segment history: %w", err)
	}
	return out, nil
}

// tenantFilter adds the scope's tenant and an optional tenant filter to a WHERE list.
func tenantFilter(where []string, args []any, scope aggregates.Scope, tenant string) ([]string, []any) {
	if !scope.All {
		where = append(where, "tenant_id = ?")
		args = append(args, scope.TenantID)
	}
	if tenant != "" {
		where = append(where, "tenant_id = ?")
		args = append(args, tenant)
	}
	return where, args
}

// rollupSQL builds the SELECT of a roll-up read. table and columns come from the fixed maps above;
// scope, filters and the time range are bound parameters.
func (s *Store) rollupSQL(table string, columns map[aggregates.Dimension]string, scope aggregates.Scope,
	q aggregates.RollupQuery, measures string) (string, []any, error) {
	if table == "" {
		return "", nil, fmt.Errorf("no roll-up table for step %s", q.Step)
	}
	keys := []string{"window_start"}
	for _, d := range q.GroupBy {
		c, ok := columns[d]
		if !ok {
			return "", nil, fmt.Errorf("dimension %q cannot be grouped by", d)
		}
		keys = append(keys, c)
	}
	key := strings.Join(keys, ", ")
	// Times are bound as Unix seconds so the comparison does not depend on the server's timezone.
	where := []string{"window_start >= toDateTime(?)", "window_start < toDateTime(?)"}
	args := []any{q.From.Unix(), q.To.Unix()}
	where, args = tenantFilter(where, args, scope, q.TenantID)
	if q.Provider != "" {
		where = append(where, "provider = ?")
		args = append(args, q.Provider)
	}
	if q.Event != "" {
		where = append(where, "event = ?")
		args = append(args, q.Event)
	}
	sql := "SELECT " + key + ", " + measures + " FROM " + s.db + "." + table +
		" WHERE " + strings.Join(where, " AND ") + " GROUP BY " + key + " ORDER BY " + key
	if q.Limit > 0 {
		sql += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	return sql, args, nil
}

// LaneProgress returns the committed progress of every lane partition that has ever flushed. Stream
// sequences and event counts are volumes across all tenants, so a tenant-scoped read gets them zeroed.
func (s *Store) LaneProgress(ctx context.Context, scope aggregates.Scope) ([]aggregates.Progress, error) {
	if err := scope.Validate(); err != nil {
		return nil, err
	}
	all, err := s.Progress(ctx)
	if err != nil {
		return nil, err
	}
	if !scope.All {
		for i := range all {
			all[i].StreamSeq, all[i].Events = 0, 0
		}
	}
	return all, nil
}

// LowPriority marks ctx's queries as background work for the server: ClickHouse's query priority
// 10 (a query of a lower number, such as a request's, runs first while both want the CPU) and one
// thread. api.Config.LowPriority uses it for cost model refreshes, which may take a minute of
// ClickHouse's time for a year of a large fleet while requests are served from the stale model.
func LowPriority(ctx context.Context) context.Context {
	return ch.Context(ctx, ch.WithSettings(ch.Settings{"priority": 10, "max_threads": 1}))
}
