package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/schemas/events"
)

const insertColumns = `kind, window_start, tenant_id, resource_id, provider, region, plan, ip, pool,
 samples, vcpus, memory_mb, interval_seconds, cpu_sum, cpu_max, mem_sum, mem_max, cpu_core_seconds, cpu_hist, mem_hist,
 sent, delivered, bounced, deferred, complained, reports,
 event_id, event_time, resource_kind, action, shared,
 lane, partition, stream_seq, as_of, events, flushed_at`

var epoch = time.Unix(0, 0).UTC()

// WriteBatch writes b as ONE insert block into rollup_in: the partial aggregates and the positions
// they complete are committed together or not at all. Materialized views spread the block over the
// roll-up and progress tables.
func (s *Store) WriteBatch(ctx context.Context, b *aggregates.Batch) error {
	if b.Empty() && len(b.Positions) == 0 {
		return nil
	}
	ctx = ch.Context(ctx, ch.WithQueryID(s.flushQueryID()))
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+".rollup_in ("+insertColumns+")")
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	defer func() { _ = batch.Abort() }()
	var none []uint64
	flushed := b.FlushedAt.UTC()
	for k, p := range b.VPS {
		err := batch.Append("vps", k.WindowStart.UTC(), k.TenantID, k.ResourceID, k.Provider, k.Region, k.Plan, "", "",
			p.Samples, p.VCPUs, p.MemoryMB, p.IntervalSeconds, p.CPUSum, p.CPUMax, p.MemSum, p.MemMax, p.CPUCoreSeconds,
			aggregates.TrimHist(p.CPUHist[:]), aggregates.TrimHist(p.MemHist[:]),
			uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0),
			"", epoch, "", "", uint8(0),
			"", uint16(0), uint64(0), epoch, uint64(0), flushed)
		if err != nil {
			return fmt.Errorf("append vps row: %w", err)
		}
	}
	for k, p := range b.Email {
		err := batch.Append("email", k.WindowStart.UTC(), k.TenantID, "", k.Provider, "", "", k.IP, k.Pool,
			uint64(0), uint32(0), uint32(0), uint64(0), uint64(0), uint32(0), uint64(0), uint32(0), uint64(0), none, none,
			p.Sent, p.Delivered, p.Bounced, p.Deferred, p.Complained, p.Reports,
			"", epoch, "", "", uint8(0),
			"", uint16(0), uint64(0), epoch, uint64(0), flushed)
		if err != nil {
			return fmt.Errorf("append email row: %w", err)
		}
	}
	for _, r := range b.Inventory {
		err := batch.Append("inventory", epoch, r.TenantID, r.ResourceID, r.Provider, r.Region, r.Plan, "", "",
			uint64(0), uint32(0), uint32(0), uint64(0), uint64(0), uint32(0), uint64(0), uint32(0), uint64(0), none, none,
			uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0),
			r.EventID, r.EventTime.UTC(), string(r.Kind), string(r.Action), boolByte(r.Shared),
			"", uint16(0), uint64(0), epoch, uint64(0), flushed)
		if err != nil {
			return fmt.Errorf("append inventory row: %w", err)
		}
	}
	for _, p := range b.Positions {
		err := batch.Append("progress", epoch, "", "", "", "", "", "", "",
			uint64(0), uint32(0), uint32(0), uint64(0), uint64(0), uint32(0), uint64(0), uint32(0), uint64(0), none, none,
			uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0),
			"", epoch, "", "", uint8(0),
			string(p.Lane), p.Partition, p.StreamSeq, p.AsOf.UTC(), p.Events, flushed)
		if err != nil {
			return fmt.Errorf("append progress row: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("send insert: %w", err)
	}
	return nil
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

// Progress is the committed progress of one lane partition.
type Progress struct {
	Lane      events.Lane
	Partition uint16
	StreamSeq uint64
	AsOf      time.Time
	Events    uint64
	FlushedAt time.Time
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
			out[p.Partition] = aggregates.Position{Lane: p.Lane, Partition: p.Partition, StreamSeq: p.StreamSeq, AsOf: p.AsOf, Events: p.Events}
		}
	}
	return out, nil
}

// Progress returns the committed progress of every lane partition.
func (s *Store) Progress(ctx context.Context) ([]Progress, error) {
	rows, err := s.conn.Query(ctx, `SELECT lane, partition, maxMerge(stream_seq), maxMerge(as_of), sumMerge(events), maxMerge(flushed_at)
 FROM `+s.db+`.consumer_progress GROUP BY lane, partition ORDER BY lane, partition`)
	if err != nil {
		return nil, fmt.Errorf("query progress: %w", err)
	}
	defer rows.Close()
	var out []Progress
	for rows.Next() {
		var p Progress
		var lane string
		if err := rows.Scan(&lane, &p.Partition, &p.StreamSeq, &p.AsOf, &p.Events, &p.FlushedAt); err != nil {
			return nil, fmt.Errorf("scan progress: %w", err)
		}
		p.Lane = events.Lane(lane)
		out = append(out, p)
	}
	return out, rows.Err()
}
