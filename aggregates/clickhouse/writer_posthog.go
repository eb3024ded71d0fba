package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/schemas/events"
)

const posthogColumns = `kind, window_start, tenant_id, event, distinct_id, count, property, value, source,
 event_uuid, effective_from, effective_from_ns, lane, partition, stream_seq, as_of, events, flushed_at`

// posthogBlock holds one insert block of posthog_in column by column, in posthogColumns order.
type posthogBlock struct {
	kind                               []string
	windowStart                        []time.Time
	tenant, event, distinctID          []string
	count                              []uint64
	property, value, source, eventUUID []string
	effectiveFrom                      []time.Time
	effectiveNanos                     []uint64
	lane                               []string
	partition                          []uint16
	streamSeq                          []uint64
	asOf                               []time.Time
	events                             []uint64
	flushedAt                          []time.Time
}

type posthogRow struct {
	kind                      string
	windowStart               time.Time
	tenant, event, distinctID string
	count                     uint64
	seg                       *aggregates.SegmentRecord
	pos                       *aggregates.Position
	flushedAt                 time.Time
}

func (c *posthogBlock) add(r posthogRow) {
	c.kind = append(c.kind, r.kind)
	c.windowStart = append(c.windowStart, orEpoch(r.windowStart))
	c.tenant = append(c.tenant, r.tenant)
	c.event = append(c.event, r.event)
	c.distinctID = append(c.distinctID, r.distinctID)
	c.count = append(c.count, r.count)
	s := r.seg
	if s == nil {
		s = &aggregates.SegmentRecord{}
	}
	c.property = append(c.property, s.Property)
	c.value = append(c.value, s.Value)
	c.source = append(c.source, s.Source)
	c.eventUUID = append(c.eventUUID, s.EventUUID)
	c.effectiveFrom = append(c.effectiveFrom, orEpoch(s.EffectiveFrom))
	var ns uint64
	if !s.EffectiveFrom.IsZero() && s.EffectiveFrom.UnixNano() > 0 {
		ns = uint64(s.EffectiveFrom.UnixNano())
	}
	c.effectiveNanos = append(c.effectiveNanos, ns)
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

func (c *posthogBlock) columns() []any {
	return []any{c.kind, c.windowStart, c.tenant, c.event, c.distinctID, c.count, c.property, c.value, c.source,
		c.eventUUID, c.effectiveFrom, c.effectiveNanos, c.lane, c.partition, c.streamSeq, c.asOf, c.events, c.flushedAt}
}

// isPostHog reports whether b belongs to the posthog lane (its rows and positions go to posthog_in).
// A batch holds the events of one lane; mixing is a programming error.
func isPostHog(b *aggregates.Batch) (bool, error) {
	ph := len(b.Analytics) > 0 || len(b.Segments) > 0
	usage := len(b.VPS) > 0 || len(b.Email) > 0 || len(b.Inventory) > 0
	for _, p := range b.Positions {
		if p.Lane == events.LanePostHog {
			ph = true
		} else {
			usage = true
		}
	}
	if ph && usage {
		return false, fmt.Errorf("batch mixes posthog and usage lanes")
	}
	return ph, nil
}

// writePostHog writes a posthog-lane batch as ONE insert block into posthog_in.
func (s *Store) writePostHog(ctx context.Context, b *aggregates.Batch) error {
	var c posthogBlock
	flushed := b.FlushedAt
	for k, n := range b.Analytics {
		c.add(posthogRow{kind: "event", windowStart: k.WindowStart, tenant: k.TenantID, event: k.Event,
			distinctID: k.DistinctID, count: n, flushedAt: flushed})
	}
	for i := range b.Segments {
		r := &b.Segments[i]
		c.add(posthogRow{kind: "segment", tenant: r.TenantID, seg: r, flushedAt: flushed})
	}
	for i := range b.Positions {
		c.add(posthogRow{kind: "progress", pos: &b.Positions[i], flushedAt: flushed})
	}
	return s.insertBlock(ctx, "posthog_in", posthogColumns, c.columns())
}
