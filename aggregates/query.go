package aggregates

import (
	"errors"
	"fmt"
	"time"

	"github.com/spendstream/spendstream/aggregates/window"
)

// Read-side value types: what the query API asks the roll-up store for and what it gets back. They
// live here, beside the write-side types, so that the API and the store share them without importing
// each other.

// ErrNoScope is returned for a read without a valid Scope: tenant isolation fails closed.
var ErrNoScope = errors.New("read scope: want All or a tenant id")

// Scope limits what a read may see. All is the cross-tenant (executive) view; otherwise only the rows
// of TenantID are visible. The zero Scope sees nothing: every read rejects it with ErrNoScope.
type Scope struct {
	TenantID string
	All      bool
}

// Validate reports ErrNoScope unless s is either All or names exactly one tenant.
func (s Scope) Validate() error {
	if s.All == (s.TenantID != "") {
		return ErrNoScope
	}
	return nil
}

// Dimension is a column rows can be grouped and filtered by.
type Dimension string

// Dimensions of the roll-ups.
const (
	DimTenantID   Dimension = "tenant_id"
	DimResourceID Dimension = "resource_id"
	DimProvider   Dimension = "provider"
	DimPlan       Dimension = "plan"
	DimRegion     Dimension = "region"
	DimIP         Dimension = "ip"
	DimPool       Dimension = "pool"
	DimEvent      Dimension = "event"
)

// EmailDimensions are the dimensions of the email-volume roll-ups, in canonical (sort) order.
var EmailDimensions = []Dimension{DimTenantID, DimIP, DimPool, DimProvider}

// VPSDimensions are the dimensions of the VPS-utilization roll-ups, in canonical (sort) order.
var VPSDimensions = []Dimension{DimTenantID, DimResourceID, DimProvider, DimPlan, DimRegion}

// EventDimensions are the dimensions of the PostHog event roll-ups, in canonical (sort) order.
var EventDimensions = []Dimension{DimTenantID, DimEvent}

// EmailSteps, VPSSteps and EventSteps are the window lengths each roll-up is kept at.
var (
	EmailSteps = []time.Duration{window.Step1h, window.Step1d}
	VPSSteps   = []time.Duration{window.Step5m, window.Step1h, window.Step1d}
	EventSteps = []time.Duration{window.Step1h, window.Step1d}
)

// RollupQuery is what the two roll-up reads share: windows [From, To) of Step, both aligned to Step;
// exact-match filters (empty means any); and the dimensions rows are grouped by, in the order rows
// are sorted by after window_start. An empty GroupBy sums all rows of a window into one.
type RollupQuery struct {
	From, To time.Time
	Step     time.Duration
	TenantID string
	Provider string // email and VPS roll-ups only
	Event    string // event roll-ups only
	GroupBy  []Dimension
	// Limit caps the rows returned (0: no cap). The API asks for one more than it serves to detect
	// an oversized result.
	Limit int
}

// EmailQuery asks for email volume.
type EmailQuery struct{ RollupQuery }

// VPSQuery asks for VPS utilization.
type VPSQuery struct{ RollupQuery }

// EventQuery asks for PostHog event counts.
type EventQuery struct{ RollupQuery }

// Validate checks q against the event roll-ups.
func (q EventQuery) Validate() error {
	if q.Provider != "" {
		return errors.New("event roll-ups have no provider")
	}
	return q.validate(EventSteps, EventDimensions)
}

// Validate checks q against the email roll-ups.
func (q EmailQuery) Validate() error {
	if q.Event != "" {
		return errors.New("email roll-ups have no event")
	}
	return q.validate(EmailSteps, EmailDimensions)
}

// Validate checks q against the VPS roll-ups.
func (q VPSQuery) Validate() error {
	if q.Event != "" {
		return errors.New("vps roll-ups have no event")
	}
	return q.validate(VPSSteps, VPSDimensions)
}

func (q RollupQuery) validate(steps []time.Duration, dims []Dimension) error {
	if !contains(steps, q.Step) {
		return fmt.Errorf("step %s is not kept", q.Step)
	}
	if !q.From.Before(q.To) {
		return errors.New("from must be before to")
	}
	if !window.Assign(q.From, q.Step).Equal(q.From) || !window.Assign(q.To, q.Step).Equal(q.To) {
		return errors.New("from and to must be aligned to the step")
	}
	if q.Limit < 0 {
		return errors.New("negative limit")
	}
	seen := map[Dimension]bool{}
	for _, d := range q.GroupBy {
		if !contains(dims, d) {
			return fmt.Errorf("dimension %q is not kept", d)
		}
		if seen[d] {
			return fmt.Errorf("dimension %q given twice", d)
		}
		seen[d] = true
	}
	return nil
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// EmailRow is one window of email volume. Only the dimensions the query grouped by are set.
type EmailRow struct {
	WindowStart time.Time
	TenantID    string
	IP          string
	Pool        string
	Provider    string
	EmailPartial
}

// Dim returns the value of dimension d ("" for one the row does not have).
func (r *EmailRow) Dim(d Dimension) string {
	if p := r.dimRef(d); p != nil {
		return *p
	}
	return ""
}

// SetDim sets dimension d; it reports false for a dimension email rows do not have.
func (r *EmailRow) SetDim(d Dimension, v string) bool {
	p := r.dimRef(d)
	if p != nil {
		*p = v
	}
	return p != nil
}

func (r *EmailRow) dimRef(d Dimension) *string {
	switch d {
	case DimTenantID:
		return &r.TenantID
	case DimIP:
		return &r.IP
	case DimPool:
		return &r.Pool
	case DimProvider:
		return &r.Provider
	}
	return nil
}

// VPSTotals are the merged sums of a group of VPS partials, as the store reads them back: utilization
// in millionths (UtilScale) and histograms that may be shorter than HistBuckets (trailing zeros
// trimmed).
type VPSTotals struct {
	Samples uint64
	// CPUCoreSeconds is the sum of utilization × vCPUs × interval, in millionths of a core-second.
	CPUCoreSeconds uint64
	CPUSum         uint64
	CPUMax         uint32
	MemSum         uint64
	MemMax         uint32
	CPUHist        []uint64
	MemHist        []uint64
}

// VPSRow is one window of VPS utilization. Only the dimensions the query grouped by are set.
// Utilization figures are fractions in [0,1]: averages are sample-weighted over the group, maxima the
// largest sample, p95 the nearest-rank percentile of the merged histogram (see Percentile), capped
// at the maximum.
type VPSRow struct {
	WindowStart time.Time
	TenantID    string
	ResourceID  string
	Provider    string
	Plan        string
	Region      string
	Samples     uint64
	CPUAvg      float64
	CPUMax      float64
	CPUP95      float64
	MemAvg      float64
	MemMax      float64
	MemP95      float64
	// CPUCoreSeconds is the CPU used, in core-seconds (utilization × vCPUs × sample interval).
	CPUCoreSeconds float64
}

// SetTotals derives r's figures from merged totals.
func (r *VPSRow) SetTotals(t VPSTotals) {
	r.Samples = t.Samples
	r.CPUCoreSeconds = float64(t.CPUCoreSeconds) / UtilScale
	r.CPUAvg, r.MemAvg = 0, 0
	if t.Samples > 0 {
		r.CPUAvg = float64(t.CPUSum) / float64(t.Samples) / UtilScale
		r.MemAvg = float64(t.MemSum) / float64(t.Samples) / UtilScale
	}
	r.CPUMax = float64(t.CPUMax) / UtilScale
	r.MemMax = float64(t.MemMax) / UtilScale
	// The histogram gives the p95 as its bucket's upper edge; no sample exceeds the maximum, so
	// the maximum bounds it (still never under-stated, and never above cpu_max on a dashboard).
	r.CPUP95 = min(Percentile(t.CPUHist, 0.95), r.CPUMax)
	r.MemP95 = min(Percentile(t.MemHist, 0.95), r.MemMax)
}

// Dim returns the value of dimension d ("" for one the row does not have).
func (r *VPSRow) Dim(d Dimension) string {
	if p := r.dimRef(d); p != nil {
		return *p
	}
	return ""
}

// SetDim sets dimension d; it reports false for a dimension VPS rows do not have.
func (r *VPSRow) SetDim(d Dimension, v string) bool {
	p := r.dimRef(d)
	if p != nil {
		*p = v
	}
	return p != nil
}

func (r *VPSRow) dimRef(d Dimension) *string {
	switch d {
	case DimTenantID:
		return &r.TenantID
	case DimResourceID:
		return &r.ResourceID
	case DimProvider:
		return &r.Provider
	case DimPlan:
		return &r.Plan
	case DimRegion:
		return &r.Region
	}
	return nil
}

// EventRow is one window of PostHog event counts. Only the dimensions the query grouped by are set.
// DistinctUsers counts the distinct distinct_ids over the row's group (ClickHouse uniq: exact up to
// 65,536 per row, an estimate beyond).
type EventRow struct {
	WindowStart   time.Time
	TenantID      string
	Event         string
	Count         uint64
	DistinctUsers uint64
}

// Dim returns the value of dimension d ("" for one the row does not have).
func (r *EventRow) Dim(d Dimension) string {
	if p := r.dimRef(d); p != nil {
		return *p
	}
	return ""
}

// SetDim sets dimension d; it reports false for a dimension event rows do not have.
func (r *EventRow) SetDim(d Dimension, v string) bool {
	p := r.dimRef(d)
	if p != nil {
		*p = v
	}
	return p != nil
}

func (r *EventRow) dimRef(d Dimension) *string {
	switch d {
	case DimTenantID:
		return &r.TenantID
	case DimEvent:
		return &r.Event
	}
	return nil
}

// InventoryQuery asks for every resource lifecycle event before Until (all of a resource's history
// is needed to know whether it existed in a window), optionally for one tenant.
type InventoryQuery struct {
	Until    time.Time
	TenantID string
}

// SegmentHistoryQuery asks for every tenant segment update before Until.
type SegmentHistoryQuery struct {
	Until    time.Time
	TenantID string
}

// SegmentQuery asks for the tenant segments (plan, tier) in force at At, optionally for one tenant.
type SegmentQuery struct {
	At       time.Time
	TenantID string
	Limit    int
}

// Segment is one tenant dimension in force: its value, since when, and the update that set it.
type Segment struct {
	Value  string
	Since  time.Time
	Source string
}

// SegmentRow is the segments of one tenant in force at a time; a dimension never set is nil.
type SegmentRow struct {
	TenantID string
	Plan     *Segment
	Tier     *Segment
}

// Progress is the committed progress of one lane partition as the read side sees it: its Position
// (StreamSeq and Events are zero for a tenant-scoped read: they are volumes across all tenants) and
// when it was last flushed.
type Progress struct {
	Position
	FlushedAt time.Time
}
