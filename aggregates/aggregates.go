// Package aggregates holds the roll-up value types and their pure merge rules. A Batch is what one
// consumer flush writes: mergeable partial aggregates per window and key, inventory records, and the
// stream position per partition that the batch completes. Nothing here does I/O.
package aggregates

import (
	"math"
	"strings"
	"time"
	"unsafe"

	"github.com/spendstream/spendstream/aggregates/window"
	"github.com/spendstream/spendstream/schemas/events"
)

// UtilScale is the fixed-point scale of stored utilization: sums are kept in millionths so that
// partial sums add up exactly, whatever the order of merging.
const UtilScale = 1_000_000

// HistBuckets is the number of utilization histogram buckets: bucket i counts samples with
// utilization in [i%, (i+1)%) (100% falls in the last bucket).
const HistBuckets = 100

// Steps of the fine roll-ups. Coarser steps are derived from the same partials in ClickHouse.
const (
	VPSStep       = window.Step5m
	EmailStep     = window.Step1h
	AnalyticsStep = window.Step1h
)

// Micro converts a utilization in [0,1] to millionths.
func Micro(u float64) uint32 { return uint32(math.Round(u * UtilScale)) }

// Bucket is the histogram bucket of a utilization in millionths.
func Bucket(micro uint32) int {
	b := int(micro / (UtilScale / HistBuckets))
	if b >= HistBuckets {
		b = HistBuckets - 1
	}
	return b
}

// VPSKey identifies a VPS utilization partial.
type VPSKey struct {
	WindowStart time.Time
	TenantID    string
	ResourceID  string
	Provider    string
	Region      string
	Plan        string
}

// VPSPartial is a mergeable partial aggregate of VPS samples.
type VPSPartial struct {
	Samples         uint64
	VCPUs           uint32 // max seen
	MemoryMB        uint32 // max seen
	IntervalSeconds uint64
	CPUSum          uint64 // millionths
	CPUMax          uint32 // millionths
	MemSum          uint64
	MemMax          uint32
	CPUCoreSeconds  uint64 // millionths of a core-second: cpu_util × vcpus × interval
	CPUHist         Hist
	MemHist         Hist
}

// Add folds one sample into p.
func (p *VPSPartial) Add(s *events.VPSSample) {
	cpu, mem := Micro(s.CPUUtil), Micro(s.MemUtil)
	p.Samples++
	p.VCPUs = max(p.VCPUs, s.VCPUs)
	p.MemoryMB = max(p.MemoryMB, s.MemoryMB)
	p.IntervalSeconds += uint64(s.IntervalSeconds)
	p.CPUSum += uint64(cpu)
	p.CPUMax = max(p.CPUMax, cpu)
	p.MemSum += uint64(mem)
	p.MemMax = max(p.MemMax, mem)
	p.CPUCoreSeconds += uint64(cpu) * uint64(s.VCPUs) * uint64(s.IntervalSeconds)
	p.CPUHist[Bucket(cpu)]++
	p.MemHist[Bucket(mem)]++
}

// Merge folds another partial into p. Merge is associative and commutative.
func (p *VPSPartial) Merge(o *VPSPartial) {
	p.Samples += o.Samples
	p.VCPUs = max(p.VCPUs, o.VCPUs)
	p.MemoryMB = max(p.MemoryMB, o.MemoryMB)
	p.IntervalSeconds += o.IntervalSeconds
	p.CPUSum += o.CPUSum
	p.CPUMax = max(p.CPUMax, o.CPUMax)
	p.MemSum += o.MemSum
	p.MemMax = max(p.MemMax, o.MemMax)
	p.CPUCoreSeconds += o.CPUCoreSeconds
	for i := range p.CPUHist {
		p.CPUHist[i] += o.CPUHist[i]
		p.MemHist[i] += o.MemHist[i]
	}
}

// EmailKey identifies an email volume partial.
type EmailKey struct {
	WindowStart time.Time
	TenantID    string
	IP          string
	Pool        string
	Provider    string
}

// EmailPartial is a mergeable partial sum of email volume counts. Reports is the number of volume
// reports summed, so a row of an IP that reported but sent nothing is kept.
type EmailPartial struct {
	Sent, Delivered, Bounced, Deferred, Complained uint64
	Reports                                        uint64
}

// Add folds one volume report into p.
func (p *EmailPartial) Add(v *events.EmailVolume) {
	p.Sent += v.Sent
	p.Delivered += v.Delivered
	p.Bounced += v.Bounced
	p.Deferred += v.Deferred
	p.Complained += v.Complained
	p.Reports++
}

// Merge folds another partial into p.
func (p *EmailPartial) Merge(o *EmailPartial) {
	p.Sent += o.Sent
	p.Delivered += o.Delivered
	p.Bounced += o.Bounced
	p.Deferred += o.Deferred
	p.Complained += o.Complained
	p.Reports += o.Reports
}

// InventoryRecord is one resource lifecycle event, kept as a dimension row.
type InventoryRecord struct {
	EventTime  time.Time
	EventID    string
	TenantID   string
	ResourceID string
	Kind       events.ResourceKind
	Provider   string
	Region     string
	Plan       string
	Action     events.Action
	Shared     bool
}

// AnalyticsKey identifies a PostHog event count partial. The distinct id is part of the key so that
// ClickHouse can keep a mergeable distinct-users state per window, tenant and event.
type AnalyticsKey struct {
	WindowStart time.Time
	TenantID    string
	Event       string
	DistinctID  string
}

// SegmentRecord is one tenant dimension update (plan or tier), effective from EffectiveFrom.
type SegmentRecord struct {
	EffectiveFrom time.Time
	EventUUID     string
	TenantID      string
	Property      string
	Value         string
	Source        string
}

// Position is the progress of one lane partition that a batch completes: every message of the
// partition up to StreamSeq has had its effect, and every message accepted into the stream at or
// before AsOf is among them.
type Position struct {
	Lane      events.Lane
	Partition uint16
	StreamSeq uint64
	AsOf      time.Time
	Events    uint64 // events counted by this batch for the partition
}

// Batch is the unit of one atomic write.
type Batch struct {
	VPS       map[VPSKey]*VPSPartial
	Email     map[EmailKey]*EmailPartial
	Inventory []InventoryRecord
	Analytics map[AnalyticsKey]uint64 // event counts
	Segments  []SegmentRecord
	Positions []Position
	FlushedAt time.Time
}

// NewBatch returns an empty batch.
func NewBatch() *Batch {
	return &Batch{VPS: map[VPSKey]*VPSPartial{}, Email: map[EmailKey]*EmailPartial{}, Analytics: map[AnalyticsKey]uint64{}}
}

// Empty reports whether the batch carries no data (it may still carry positions).
func (b *Batch) Empty() bool { return b.Rows() == 0 }

// Rows is the number of data rows the batch writes.
func (b *Batch) Rows() int {
	return len(b.VPS) + len(b.Email) + len(b.Inventory) + len(b.Analytics) + len(b.Segments)
}

// AddEvent folds a validated event into the batch, assigning its window by event time. It copies the
// strings it keeps (the key of a new partial, records), so ev may alias a buffer that is reused once
// AddEvent returns (events.DecodeBorrowed).
func (b *Batch) AddEvent(ev *events.Event) {
	w, _ := WindowOf(ev)
	switch ev.Type {
	case events.TypeVPSSample:
		s := ev.VPS
		k := VPSKey{WindowStart: w, TenantID: ev.TenantID,
			ResourceID: s.ResourceID, Provider: s.Provider, Region: s.Region, Plan: s.Plan}
		p := b.VPS[k]
		if p == nil {
			p = &VPSPartial{}
			cloneStrings(&k.TenantID, &k.ResourceID, &k.Provider, &k.Region, &k.Plan)
			b.VPS[k] = p
		}
		p.Add(s)
	case events.TypeEmailVolume:
		v := ev.Email
		k := EmailKey{WindowStart: w, TenantID: ev.TenantID,
			IP: v.IP, Pool: v.Pool, Provider: v.Provider}
		p := b.Email[k]
		if p == nil {
			p = &EmailPartial{}
			cloneStrings(&k.TenantID, &k.IP, &k.Pool, &k.Provider)
			b.Email[k] = p
		}
		p.Add(v)
	case events.TypeInventoryResource:
		r := ev.Inventory
		rec := InventoryRecord{EventTime: ev.Time.UTC(), EventID: ev.ID,
			TenantID: ev.TenantID, ResourceID: r.ResourceID, Kind: r.Kind, Provider: r.Provider,
			Region: r.Region, Plan: r.Plan, Action: r.Action, Shared: r.Shared}
		cloneStrings(&rec.EventID, &rec.TenantID, &rec.ResourceID, &rec.Provider, &rec.Region, &rec.Plan)
		rec.Kind, rec.Action = events.ResourceKind(strings.Clone(string(rec.Kind))), events.Action(strings.Clone(string(rec.Action)))
		b.Inventory = append(b.Inventory, rec)
	case events.TypeAnalytics:
		a := ev.Analytics
		k := AnalyticsKey{WindowStart: w, TenantID: ev.TenantID, Event: a.Event, DistinctID: a.DistinctID}
		if n, ok := b.Analytics[k]; ok {
			b.Analytics[k] = n + 1
		} else {
			cloneStrings(&k.TenantID, &k.Event, &k.DistinctID)
			b.Analytics[k] = 1
		}
		for _, s := range a.Segments {
			rec := SegmentRecord{EffectiveFrom: ev.Time.UTC(), EventUUID: ev.ID,
				TenantID: ev.TenantID, Property: s.Property, Value: s.Value, Source: s.Source}
			cloneStrings(&rec.EventUUID, &rec.TenantID, &rec.Property, &rec.Value, &rec.Source)
			b.Segments = append(b.Segments, rec)
		}
	}
}

// cloneStrings replaces the strings with copies that share one new allocation.
func cloneStrings(ss ...*string) {
	n := 0
	for _, s := range ss {
		n += len(*s)
	}
	if n == 0 {
		return
	}
	buf := make([]byte, 0, n)
	for _, s := range ss {
		buf = append(buf, *s...)
	}
	all := unsafe.String(unsafe.SliceData(buf), n)
	for _, s := range ss {
		l := len(*s)
		*s, all = all[:l], all[l:]
	}
}

// WindowOf returns the window start and step an event is rolled up into (inventory: its own time, no step).
func WindowOf(ev *events.Event) (time.Time, time.Duration) {
	switch ev.Type {
	case events.TypeVPSSample:
		return window.AssignInterval(ev.Time, VPSStep), VPSStep
	case events.TypeEmailVolume:
		return window.AssignInterval(ev.Time, EmailStep), EmailStep
	case events.TypeAnalytics:
		return window.Assign(ev.Time, AnalyticsStep), AnalyticsStep
	}
	return ev.Time, 0
}

// Percentile returns the q-quantile (0<q≤1) of a utilization histogram by nearest rank, as the upper
// edge of the bucket holding that rank (so at 1-point resolution, never under-stated). It returns 0
// for an empty histogram.
func Percentile(hist []uint64, q float64) float64 {
	var n uint64
	for _, c := range hist {
		n += c
	}
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank == 0 {
		rank = 1
	}
	var cum uint64
	for i, c := range hist {
		cum += c
		if cum >= rank {
			return float64(i+1) / HistBuckets
		}
	}
	return 1
}

// Hist is a utilization histogram of one partial. Counts are 32-bit (a partial covers one batch of
// one window and key), which halves the memory a batch holds per key; stored sums are 64-bit.
type Hist [HistBuckets]uint32

// Uint64s returns the histogram without its trailing zero buckets, widened for storage. ClickHouse
// sums arrays element-wise, so shorter arrays merge correctly and cost less to send.
func (h *Hist) Uint64s() []uint64 { return h.AppendUint64s(nil) }

// Len is the length of h without its trailing zero buckets.
func (h *Hist) Len() int {
	n := len(h)
	// Four buckets at a time first (HistBuckets is a multiple of four): the trailing zeros of a
	// partial are most of its buckets.
	for n >= 4 && h[n-1]|h[n-2]|h[n-3]|h[n-4] == 0 {
		n -= 4
	}
	for n > 0 && h[n-1] == 0 {
		n--
	}
	return n
}

// AppendUint64s appends what Uint64s returns to dst.
func (h *Hist) AppendUint64s(dst []uint64) []uint64 {
	n := h.Len()
	if dst == nil {
		dst = make([]uint64, 0, n)
	}
	for _, c := range h[:n] {
		dst = append(dst, uint64(c))
	}
	return dst
}
