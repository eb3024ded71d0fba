package cost

import (
	"errors"
	"fmt"
	"time"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

// The two sentences every cost figure is labeled with (design.md, contract.md).
const (
	LabelModeled    = "Modeled internal approximation based on provider invoices and usage patterns."
	LabelNotInvoice = "Not an invoice. Always validate with finance systems."
)

// Labels returns the two label sentences, in order, as a fresh slice.
func Labels() []string { return []string{LabelModeled, LabelNotInvoice} }

// Keys used in breakdowns for cost no tenant or segment can be given.
const (
	// Unattributed is the tenant (and segment) key of cost that cannot be attributed to a tenant:
	// a shared resource with no usage in the window, a resource with no owner, an email provider's
	// base fee with no messages.
	Unattributed = "unattributed"
	// UnknownSegment is the segment value of a tenant with no segment change in force.
	UnknownSegment = "unknown"
)

// Resource types of the by-resource-type breakdown.
const (
	TypeVPS   = "vps"
	TypeIP    = "ip"
	TypeEmail = "email"
)

// Segment properties (SegmentChange.Property).
const (
	SegmentPlan = "plan"
	SegmentTier = "tier"
)

// Day is the step of every time series the model produces.
const Day = 24 * time.Hour

// MaxWindow is the longest window Compute accepts (about three years); daily series are
// allocated per window day.
const MaxWindow = 3 * 366 * Day

// Errors of Compute and RealizedSavings.
var (
	// ErrInvalidInput is wrapped by every error Compute returns for an input it cannot cost.
	ErrInvalidInput = errors.New("invalid cost model input")
	// ErrSpanMismatch is returned by RealizedSavings for spans of different lengths or out of
	// order.
	ErrSpanMismatch = errors.New("spans do not match")
)

// Window is a half-open time range [From, To), in UTC.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Duration returns To − From.
func (w Window) Duration() time.Duration { return w.To.Sub(w.From) }

// Validate reports whether w is a non-empty window no longer than MaxWindow.
func (w Window) Validate() error {
	switch {
	case w.From.IsZero() || w.To.IsZero():
		return fmt.Errorf("%w: window needs both from and to", ErrInvalidInput)
	case !w.From.Before(w.To):
		return fmt.Errorf("%w: window from %s is not before to %s", ErrInvalidInput,
			w.From.UTC().Format(time.RFC3339), w.To.UTC().Format(time.RFC3339))
	case w.Duration() > MaxWindow:
		return fmt.Errorf("%w: window of %s is longer than %d days", ErrInvalidInput, w.Duration(), MaxWindow/Day)
	}
	return nil
}

func (w Window) utc() Window { return Window{From: w.From.UTC(), To: w.To.UTC()} }

// HowCalculated explains one figure: the method, the inputs it was computed from, the price-list
// version and the window (design property 8).
type HowCalculated struct {
	Method           string   `json:"method"`
	Inputs           []string `json:"inputs"`
	PriceListVersion string   `json:"price_list_version"`
	Window           Window   `json:"window"`
}

// Action is an inventory lifecycle action (the values of the inventory.resource event).
type Action string

// Inventory actions.
const (
	ActionProvisioned    Action = "provisioned"
	ActionUpdated        Action = "updated"
	ActionDecommissioned Action = "decommissioned"
)

// ParseAction returns the Action spelled s.
func ParseAction(s string) (Action, error) {
	switch a := Action(s); a {
	case ActionProvisioned, ActionUpdated, ActionDecommissioned:
		return a, nil
	}
	return "", fmt.Errorf("unknown inventory action %q (want provisioned, updated or decommissioned)", s)
}

// InventoryEvent is one lifecycle event of a resource. Pass every event of every resource up to
// the end of the window, including those before its start, so that a resource provisioned
// earlier is known. From an event on, the resource has the event's tenant, provider, region,
// plan and shared flag, until the next event of the same resource (Kind + ResourceID).
type InventoryEvent struct {
	Time       time.Time              `json:"time"`
	TenantID   string                 `json:"tenant_id"` // owner; the tenant a dedicated resource is attributed to
	ResourceID string                 `json:"resource_id"`
	Kind       pricelist.ResourceKind `json:"kind"`
	Provider   string                 `json:"provider"`
	Region     string                 `json:"region"`
	Plan       string                 `json:"plan"`
	Action     Action                 `json:"action"`
	Shared     bool                   `json:"shared"`
}

// VPSUsage is one tenant's usage of one VPS on one UTC day. A shared VPS may have rows from
// several tenants, each reporting the usage of its own workload on it; the fractions are of the
// whole VPS (so the tenants' values add up).
type VPSUsage struct {
	Day        time.Time `json:"day"` // UTC midnight (other times are truncated to their UTC day)
	TenantID   string    `json:"tenant_id"`
	ResourceID string    `json:"resource_id"`
	Provider   string    `json:"provider"`
	Plan       string    `json:"plan"`
	Samples    uint64    `json:"samples"`
	// CPUCoreSeconds is Σ cpu_util × vCPUs × interval_seconds over the day's samples.
	CPUCoreSeconds float64 `json:"cpu_core_seconds"`
	CPUAvg         float64 `json:"cpu_avg"` // fractions 0..1
	CPUP95         float64 `json:"cpu_p95"`
	MemAvg         float64 `json:"mem_avg"`
	MemP95         float64 `json:"mem_p95"`
}

// EmailUsage is one tenant's email volume through one sending IP on one UTC day.
type EmailUsage struct {
	Day        time.Time `json:"day"` // UTC midnight (other times are truncated to their UTC day)
	TenantID   string    `json:"tenant_id"`
	IP         string    `json:"ip"`
	Pool       string    `json:"pool"`
	Provider   string    `json:"provider"`
	Sent       uint64    `json:"sent"`
	Delivered  uint64    `json:"delivered"`
	Bounced    uint64    `json:"bounced"`
	Deferred   uint64    `json:"deferred"`
	Complained uint64    `json:"complained"`
}

// SegmentChange sets a tenant's segment Property (SegmentPlan or SegmentTier) to Value from
// EffectiveFrom on, until the tenant's next change of the same property.
type SegmentChange struct {
	TenantID      string    `json:"tenant_id"`
	Property      string    `json:"property"`
	Value         string    `json:"value"`
	EffectiveFrom time.Time `json:"effective_from"`
}

// Input is everything the model costs a window from. The slices may be in any order; rows of
// VPSUsage and EmailUsage whose day does not overlap the window are ignored.
type Input struct {
	Window     Window               `json:"window"`
	PriceList  *pricelist.PriceList `json:"-"`
	Inventory  []InventoryEvent     `json:"inventory"`
	VPSUsage   []VPSUsage           `json:"vps_usage"`
	EmailUsage []EmailUsage         `json:"email_usage"`
	Segments   []SegmentChange      `json:"segments"`
}

// Rating is a low|medium|high rating of a recommendation's performance risk or effort, in the
// spirit of AWS Compute Optimizer's.
type Rating string

// Ratings.
const (
	RatingLow    Rating = "low"
	RatingMedium Rating = "medium"
	RatingHigh   Rating = "high"
)

// Warning is one kind of input problem the model worked around, with how often it occurred and
// the first example. Nothing is dropped silently: every skipped or reinterpreted input row is
// counted here.
type Warning struct {
	Reason  string `json:"reason"`
	Count   int    `json:"count"`
	Example string `json:"example"`
}
