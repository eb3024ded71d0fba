package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/schemas/events"
)

const insertColumns = `kind, window_start, tenant_id, resource_id, provider, region, plan, ip, pool,
 samples, vcpus, memory_mb, interval_seconds, cpu_sum, cpu_max, mem_sum, mem_max, cpu_core_seconds, cpu_hist, mem_hist,
 sent, delivered, bounced, deferred, complained, reports,
 event_id, event_time, resource_kind, action, shared,
 lane, partition, stream_seq, as_of, events, flushed_at`

var epoch = time.Unix(0, 0).UTC()

// rollupColumns holds one insert block of rollup_in column by column, in insertColumns order. Rows
// of one kind leave the other kinds' columns at their zero values.
type rollupColumns struct {
	kind                                           []string
	windowStart                                    []time.Time
	tenant, resource, provider, region, plan       []string
	ip, pool                                       []string
	samples                                        []uint64
	vcpus, memoryMB                                []uint32
	interval, cpuSum                               []uint64
	cpuMax                                         []uint32
	memSum                                         []uint64
	memMax                                         []uint32
	coreSeconds                                    []uint64
	cpuHist, memHist                               [][]uint64
	histFlat                                       []uint64 // backs cpuHist and memHist
	sent, delivered, bounced, deferred, complained []uint64
	reports                                        []uint64
	eventID                                        []string
	eventTime                                      []time.Time
	resourceKind, action                           []string
	shared                                         []uint8
	lane                                           []string
	partition                                      []uint16
	streamSeq                                      []uint64
	asOf                                           []time.Time
	events                                         []uint64
	flushedAt                                      []time.Time
}

// row is one rollup_in row; unset fields are zero (times: the epoch).
type row struct {
	kind                                     string
	windowStart                              time.Time
	tenant, resource, provider, region, plan string
	ip, pool                                 string
	vps                                      *aggregates.VPSPartial
	email                                    *aggregates.EmailPartial
	inv                                      *aggregates.InventoryRecord
	pos                                      *aggregates.Position
	flushedAt                                time.Time
}

func orEpoch(t time.Time) time.Time {
	if t.IsZero() {
		return epoch
	}
	return t.UTC()
}

// newRollupColumns sizes every column for rows rows, so that filling them does not grow slices.
func newRollupColumns(rows int) *rollupColumns {
	return &rollupColumns{
		kind: make([]string, 0, rows), windowStart: make([]time.Time, 0, rows),
		tenant: make([]string, 0, rows), resource: make([]string, 0, rows), provider: make([]string, 0, rows),
		region: make([]string, 0, rows), plan: make([]string, 0, rows), ip: make([]string, 0, rows), pool: make([]string, 0, rows),
		samples: make([]uint64, 0, rows), vcpus: make([]uint32, 0, rows), memoryMB: make([]uint32, 0, rows),
		interval: make([]uint64, 0, rows), cpuSum: make([]uint64, 0, rows), cpuMax: make([]uint32, 0, rows),
		memSum: make([]uint64, 0, rows), memMax: make([]uint32, 0, rows), coreSeconds: make([]uint64, 0, rows),
		cpuHist: make([][]uint64, 0, rows), memHist: make([][]uint64, 0, rows),
		sent: make([]uint64, 0, rows), delivered: make([]uint64, 0, rows), bounced: make([]uint64, 0, rows),
		deferred: make([]uint64, 0, rows), complained: make([]uint64, 0, rows), reports: make([]uint64, 0, rows),
		eventID: make([]string, 0, rows), eventTime: make([]time.Time, 0, rows),
		resourceKind: make([]string, 0, rows), action: make([]string, 0, rows), shared: make([]uint8, 0, rows),
		lane: make([]string, 0, rows), partition: make([]uint16, 0, rows), streamSeq: make([]uint64, 0, rows),
		asOf: make([]time.Time, 0, rows), events: make([]uint64, 0, rows), flushedAt: make([]time.Time, 0, rows),
	}
}

var emptyVPS aggregates.VPSPartial

// appendHist appends h without its trailing zero buckets to the shared backing array and returns
// the row's view of it. A view taken before the backing array grows keeps the old array, which
// still holds its values, so views stay valid.
func (c *rollupColumns) appendHist(h *aggregates.Hist) []uint64 {
	n := len(c.histFlat)
	c.histFlat = h.AppendUint64s(c.histFlat)
	return c.histFlat[n:len(c.histFlat):len(c.histFlat)]
}

func (c *rollupColumns) add(r row) {
	c.kind = append(c.kind, r.kind)
	c.windowStart = append(c.windowStart, orEpoch(r.windowStart))
	c.tenant = append(c.tenant, r.tenant)
	c.resource = append(c.resource, r.resource)
	c.provider = append(c.provider, r.provider)
	c.region = append(c.region, r.region)
	c.plan = append(c.plan, r.plan)
	c.ip = append(c.ip, r.ip)
	c.pool = append(c.pool, r.pool)
	v := r.vps
	if v == nil {
		v = &emptyVPS
	}
	c.samples = append(c.samples, v.Samples)
	c.vcpus = append(c.vcpus, v.VCPUs)
	c.memoryMB = append(c.memoryMB, v.MemoryMB)
	c.interval = append(c.interval, v.IntervalSeconds)
	c.cpuSum = append(c.cpuSum, v.CPUSum)
	c.cpuMax = append(c.cpuMax, v.CPUMax)
	c.memSum = append(c.memSum, v.MemSum)
	c.memMax = append(c.memMax, v.MemMax)
	c.coreSeconds = append(c.coreSeconds, v.CPUCoreSeconds)
	c.cpuHist = append(c.cpuHist, c.appendHist(&v.CPUHist))
	c.memHist = append(c.memHist, c.appendHist(&v.MemHist))
	e := r.email
	if e == nil {
		e = &aggregates.EmailPartial{}
	}
	c.sent = append(c.sent, e.Sent)
	c.delivered = append(c.delivered, e.Delivered)
	c.bounced = append(c.bounced, e.Bounced)
	c.deferred = append(c.deferred, e.Deferred)
	c.complained = append(c.complained, e.Complained)
	c.reports = append(c.reports, e.Reports)
	in := r.inv
	if in == nil {
		in = &aggregates.InventoryRecord{}
	}
	c.eventID = append(c.eventID, in.EventID)
	c.eventTime = append(c.eventTime, orEpoch(in.EventTime))
	c.resourceKind = append(c.resourceKind, string(in.Kind))
	c.action = append(c.action, string(in.Action))
	c.shared = append(c.shared, boolByte(in.Shared))
	p := r.pos
	if p == nil {
		p = &aggregates.Position{}
	}
	c.lane = append(c.lane, string(p.Lane))
	c.partition = append(c.partition, p.Partition)
	c.streamSeq = append(c.streamSeq, p.StreamSeq)
	c.asOf = append(c.asOf, orEpoch(p.AsOf))
	c.events = append(c.events, p.Events)
	c.flushedAt = append(c.flushedAt, orEpoch(r.flushedAt))
}

func (c *rollupColumns) columns() []any {
	return []any{c.kind, c.windowStart, c.tenant, c.resource, c.provider, c.region, c.plan, c.ip, c.pool,
		c.samples, c.vcpus, c.memoryMB, c.interval, c.cpuSum, c.cpuMax, c.memSum, c.memMax, c.coreSeconds, c.cpuHist, c.memHist,
		c.sent, c.delivered, c.bounced, c.deferred, c.complained, c.reports,
		c.eventID, c.eventTime, c.resourceKind, c.action, c.shared,
		c.lane, c.partition, c.streamSeq, c.asOf, c.events, c.flushedAt}
}

// WriteBatch writes b as ONE insert block into rollup_in (posthog_in for the posthog lane): the partial aggregates and the positions
// they complete are committed together or not at all. Materialized views spread the block over the
// roll-up and progress tables (the progress view last).
func (s *Store) WriteBatch(ctx context.Context, b *aggregates.Batch) error {
	if b.Empty() && len(b.Positions) == 0 {
		return nil
	}
	if ph, err := isPostHog(b); err != nil {
		return err
	} else if ph {
		return s.writePostHog(ctx, b)
	}
	c := newRollupColumns(b.Rows() + len(b.Positions))
	hists := 0
	for _, p := range b.VPS {
		hists += p.CPUHist.Len() + p.MemHist.Len()
	}
	c.histFlat = make([]uint64, 0, hists)
	flushed := b.FlushedAt
	for k, p := range b.VPS {
		c.add(row{kind: "vps", windowStart: k.WindowStart, tenant: k.TenantID, resource: k.ResourceID,
			provider: k.Provider, region: k.Region, plan: k.Plan, vps: p, flushedAt: flushed})
	}
	for k, p := range b.Email {
		c.add(row{kind: "email", windowStart: k.WindowStart, tenant: k.TenantID, provider: k.Provider,
			ip: k.IP, pool: k.Pool, email: p, flushedAt: flushed})
	}
	for i := range b.Inventory {
		r := &b.Inventory[i]
		c.add(row{kind: "inventory", tenant: r.TenantID, resource: r.ResourceID, provider: r.Provider,
			region: r.Region, plan: r.Plan, inv: r, flushedAt: flushed})
	}
	for i := range b.Positions {
		c.add(row{kind: "progress", pos: &b.Positions[i], flushedAt: flushed})
	}
	return s.insertBlock(ctx, "rollup_in", insertColumns, c.columns())
}

// insertBlock sends columns as one insert block into table, named with a flush query id.
func (s *Store) insertBlock(ctx context.Context, table, columns string, cols []any) error {
	ctx = ch.Context(ctx, ch.WithQueryID(s.flushQueryID()))
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+"."+table+" ("+columns+")")
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	defer func() { _ = batch.Abort() }()
	for i, col := range cols {
		if err := appendColumn(batch.Column(i), col); err != nil {
			return fmt.Errorf("append column %d: %w", i, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("send insert: %w", err)
	}
	return nil
}

// appendColumn appends a whole column. Array columns go row by row: the driver appends a typed row
// ([]uint64) without reflection, where a whole [][]uint64 would be walked by reflection, boxing every
// element.
func appendColumn(bc driver.BatchColumn, col any) error {
	if rows, ok := col.([][]uint64); ok {
		for _, r := range rows {
			if err := bc.AppendRow(r); err != nil {
				return err
			}
		}
		return nil
	}
	return bc.Append(col)
}

// flushQueryID names a batch insert so that a successor can find it in system.processes.
func (s *Store) flushQueryID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return flushQueryPrefix + s.db + "-" + hex.EncodeToString(b[:])
}

const flushQueryPrefix = "spendstream-flush-"

// AwaitInflightWrites waits until every batch insert into this database that the server is running
// now has finished. A consumer calls it before reading the committed positions: an insert sent by
// a predecessor that died mid-flush can still commit after the process is gone, and positions read
// before it commits would make the successor count that batch again.
func (s *Store) AwaitInflightWrites(ctx context.Context) error {
	running := func() (map[string]bool, error) {
		rows, err := s.conn.Query(ctx, "SELECT query_id FROM system.processes WHERE startsWith(query_id, ?)", flushQueryPrefix+s.db+"-")
		if err != nil {
			return nil, fmt.Errorf("list running inserts: %w", err)
		}
		defer rows.Close()
		out := map[string]bool{}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return nil, err
			}
			out[id] = true
		}
		return out, rows.Err()
	}
	waiting, err := running()
	if err != nil {
		return err
	}
	for len(waiting) > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		now, err := running()
		if err != nil {
			return err
		}
		for id := range waiting {
			if !now[id] {
				delete(waiting, id)
			}
		}
	}
	return nil
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// Positions returns the committed position of every partition of lane that has ever flushed.
func (s *Store) Positions(ctx context.Context, lane events.Lane) (map[uint16]aggregates.Position, error) {
	all, err := s.Progress(ctx)
	if err != nil {
		return nil, err
	}
	out := map[uint16]aggregates.Position{}
	for _, p := range all {
		if p.Lane == lane {
			out[p.Partition] = p.Position
		}
	}
	return out, nil
}

// Progress returns the committed progress of every lane partition that has ever flushed.
func (s *Store) Progress(ctx context.Context) ([]aggregates.Progress, error) {
	rows, err := s.conn.Query(ctx, `SELECT lane, partition, maxMerge(stream_seq), maxMerge(as_of), sumMerge(events), maxMerge(flushed_at)
 FROM `+s.db+`.consumer_progress GROUP BY lane, partition ORDER BY lane, partition`)
	if err != nil {
		return nil, fmt.Errorf("query progress: %w", err)
	}
	defer rows.Close()
	var out []aggregates.Progress
	for rows.Next() {
		var p aggregates.Progress
		var lane string
		if err := rows.Scan(&lane, &p.Partition, &p.StreamSeq, &p.AsOf, &p.Events, &p.FlushedAt); err != nil {
			return nil, fmt.Errorf("scan progress: %w", err)
		}
		p.Lane, p.AsOf, p.FlushedAt = events.Lane(lane), p.AsOf.UTC(), p.FlushedAt.UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}
