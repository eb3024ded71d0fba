package cost

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

// Kind is the kind of a recommendation.
type Kind string

// Recommendation kinds (the journey's: consolidate underutilized instances, rebalance IP pools,
// adjust plans/commitments).
const (
	KindConsolidateVPS   Kind = "consolidate_vps"
	KindRebalanceIPPool  Kind = "rebalance_ip_pool"
	KindAdjustCommitment Kind = "adjust_commitment"
	KindAdjustTenantPlan Kind = "adjust_tenant_plan"
)

// Findings: what a recommendation found (finer than its kind).
const (
	FindingUnderutilized   = "underutilized_vps" // consolidate_vps
	FindingQuietIP         = "quiet_ip"          // rebalance_ip_pool, one IP
	FindingPoolCost        = "pool_cost"         // rebalance_ip_pool, a provider's pool costs more per 1,000 delivered
	FindingPoolQuality     = "pool_quality"      // rebalance_ip_pool, a provider's pool delivers worse
	FindingSteadyUsage     = "steady_usage"      // adjust_commitment
	FindingAbovePlan       = "above_plan_peers"  // adjust_tenant_plan
	FindingBelowPlan       = "below_plan_peers"  // adjust_tenant_plan
	FindingPoolCostQuality = "pool_cost_quality" // rebalance_ip_pool, both
)

// idSeparator joins the parts a recommendation id is hashed from.
const idSeparator = "\x00"

// RecommendConfig holds the thresholds and the lookback of Recommend. A zero field takes its
// default (DefaultRecommendConfig).
type RecommendConfig struct {
	// LookbackDays is the span, ending at the model window's end, that utilization, volume and
	// steadiness are judged over. The window must cover it, or the kinds that need it are skipped.
	LookbackDays int `json:"lookback_days"`
	// MinCoverage is the fraction of lookback days that must have VPS samples.
	MinCoverage float64 `json:"min_coverage"`
	// CPUP95Max and MemP95Max: a VPS whose highest daily p95 CPU and memory over the lookback are
	// both below these (fractions of the instance) is underutilized.
	CPUP95Max float64 `json:"cpu_p95_max"`
	MemP95Max float64 `json:"mem_p95_max"`
	// Headroom multiplies the p95 needs when looking for a smaller plan that still fits.
	Headroom float64 `json:"headroom"`
	// IPMinDailySent: a sending IP averaging fewer messages per day over the lookback is quiet.
	IPMinDailySent float64 `json:"ip_min_daily_sent"`
	// PoolMinSent is the volume over the lookback a pool needs before its rates are judged, or
	// before it serves as an alternative.
	PoolMinSent uint64 `json:"pool_min_sent"`
	// PoolCostRatio: a pool whose cost per 1,000 delivered exceeds this multiple of the best
	// alternative's (same pool, another provider) is costly.
	PoolCostRatio float64 `json:"pool_cost_ratio"`
	// A pool delivers poorly when its bounce rate is above BounceRateMax and QualityRatio times the
	// alternative's, or its complaint rate above ComplaintRateMax and QualityRatio times the
	// alternative's, or its delivery rate more than DeliveryGapMax below the alternative's.
	BounceRateMax    float64 `json:"bounce_rate_max"`
	ComplaintRateMax float64 `json:"complaint_rate_max"`
	QualityRatio     float64 `json:"quality_ratio"`
	DeliveryGapMax   float64 `json:"delivery_gap_max"`
	// A tenant whose attributed cost is above TenantHighFactor × (or below TenantLowFactor ×) the
	// median of the tenants on its plan, with at least MinPlanPeers tenants on the plan, is far
	// above (below) its plan.
	TenantHighFactor float64 `json:"tenant_high_factor"`
	TenantLowFactor  float64 `json:"tenant_low_factor"`
	MinPlanPeers     int     `json:"min_plan_peers"`
}

// DefaultRecommendConfig returns the defaults: a 14-day lookback with samples on 80 % of its
// days; p95 CPU under 10 % and p95 memory under 40 %, with 1.5× headroom for the smaller plan;
// IPs under 200 messages a day; pools judged from 10,000 messages, costly at 1.5× the best
// alternative, poor at a bounce rate over 2 % or a complaint rate over 0.1 % (and twice the
// alternative's) or a delivery rate 3 points below; tenants at 3× or ¼ of their plan's median
// with at least 3 tenants on the plan.
func DefaultRecommendConfig() RecommendConfig {
	return RecommendConfig{
		LookbackDays: 14, MinCoverage: 0.8, CPUP95Max: 0.10, MemP95Max: 0.40, Headroom: 1.5,
		IPMinDailySent: 200, PoolMinSent: 10_000, PoolCostRatio: 1.5,
		BounceRateMax: 0.02, ComplaintRateMax: 0.001, QualityRatio: 2, DeliveryGapMax: 0.03,
		TenantHighFactor: 3, TenantLowFactor: 0.25, MinPlanPeers: 3,
	}
}

func (c RecommendConfig) withDefaults() RecommendConfig {
	d := DefaultRecommendConfig()
	setDefault(&c.LookbackDays, d.LookbackDays)
	setDefault(&c.MinCoverage, d.MinCoverage)
	setDefault(&c.CPUP95Max, d.CPUP95Max)
	setDefault(&c.MemP95Max, d.MemP95Max)
	setDefault(&c.Headroom, d.Headroom)
	setDefault(&c.IPMinDailySent, d.IPMinDailySent)
	setDefault(&c.PoolMinSent, d.PoolMinSent)
	setDefault(&c.PoolCostRatio, d.PoolCostRatio)
	setDefault(&c.BounceRateMax, d.BounceRateMax)
	setDefault(&c.ComplaintRateMax, d.ComplaintRateMax)
	setDefault(&c.QualityRatio, d.QualityRatio)
	setDefault(&c.DeliveryGapMax, d.DeliveryGapMax)
	setDefault(&c.TenantHighFactor, d.TenantHighFactor)
	setDefault(&c.TenantLowFactor, d.TenantLowFactor)
	setDefault(&c.MinPlanPeers, d.MinPlanPeers)
	return c
}

func setDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// Validate reports a configuration (after defaults) that cannot be used.
func (c RecommendConfig) Validate() error {
	c = c.withDefaults()
	var bad []string
	check := func(ok bool, msg string) {
		if !ok {
			bad = append(bad, msg)
		}
	}
	check(c.LookbackDays > 0 && c.LookbackDays <= int(MaxWindow/Day), "lookback_days must be 1..1098")
	for name, f := range map[string]float64{
		"min_coverage": c.MinCoverage, "cpu_p95_max": c.CPUP95Max, "mem_p95_max": c.MemP95Max,
		"bounce_rate_max": c.BounceRateMax, "complaint_rate_max": c.ComplaintRateMax, "delivery_gap_max": c.DeliveryGapMax,
		"tenant_low_factor": c.TenantLowFactor,
	} {
		check(f > 0 && f <= 1, name+" must be in (0, 1]")
	}
	check(c.Headroom >= 1 && c.Headroom <= 100, "headroom must be in [1, 100]")
	check(c.IPMinDailySent > 0 && c.IPMinDailySent < 1e12, "ip_min_daily_sent must be positive")
	check(c.PoolCostRatio > 1 && c.PoolCostRatio < 1e6, "pool_cost_ratio must be above 1")
	check(c.QualityRatio >= 1 && c.QualityRatio < 1e6, "quality_ratio must be at least 1")
	check(c.TenantHighFactor > 1 && c.TenantHighFactor < 1e6, "tenant_high_factor must be above 1")
	check(c.MinPlanPeers >= 2 && c.MinPlanPeers < 1e6, "min_plan_peers must be at least 2")
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("%w: recommendation config: %s", ErrInvalidInput, strings.Join(bad, "; "))
	}
	return nil
}

// Targets are what a recommendation is about.
type Targets struct {
	ResourceIDs []string `json:"resource_ids"`
	TenantIDs   []string `json:"tenant_ids"` // tenants concerned (owners, senders, the tenant itself)
	Providers   []string `json:"providers"`
	Pools       []string `json:"pools"` // "provider/pool"
}

// Metric is one piece of evidence: a measured or priced figure over a window.
type Metric struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"` // fraction, days, messages, messages/day, <currency>/month, …
	Window Window  `json:"window"`
}

// SavingsRange is an estimated saving per month, low ≤ high, both ≥ 0: a range, not a promise.
type SavingsRange struct {
	Low  Money `json:"low"`
	High Money `json:"high"`
}

// Recommendation is one suggestion with its rationale. ID is stable for the same finding: a hash
// of the kind and the finding's identity (the resource for per-resource findings, the provider and
// pool, the provider and resource kind of a commitment, the tenant), never of figures.
type Recommendation struct {
	ID              string        `json:"id"`
	Kind            Kind          `json:"kind"`
	Finding         string        `json:"finding"`
	Summary         string        `json:"summary"`
	Targets         Targets       `json:"targets"`
	Evidence        []Metric      `json:"evidence"`
	SavingsMonthly  SavingsRange  `json:"savings_monthly"`
	Currency        string        `json:"currency"` // of the savings (the price list's)
	Assumptions     []string      `json:"assumptions"`
	PerformanceRisk Rating        `json:"performance_risk"`
	Effort          Rating        `json:"effort"`
	Confidence      string        `json:"confidence"`
	HowCalculated   HowCalculated `json:"how_calculated"`
}

// Recommendations is the result of Recommend: the suggestions (highest possible saving first),
// their summed savings range (the suggestions never count one resource's price twice), what was
// skipped and why, and the configuration used.
type Recommendations struct {
	Items          []Recommendation `json:"items"`
	SavingsMonthly SavingsRange     `json:"savings_monthly"`
	Notes          []string         `json:"notes"`
	Config         RecommendConfig  `json:"config"`
	Labels         []string         `json:"labels"`
}

// RecommendationID returns the stable id of a finding: "rec_" and 16 hex digits of SHA-256 over
// the kind and the sorted identity keys.
func RecommendationID(kind Kind, keys ...string) string {
	k := slices.Clone(keys)
	slices.Sort(k)
	h := sha256.Sum256([]byte(string(kind) + idSeparator + strings.Join(k, idSeparator)))
	return "rec_" + hex.EncodeToString(h[:8])
}

// recommender holds one Recommend call's state.
type recommender struct {
	m        *Model
	cfg      RecommendConfig
	lb       Window // lookback
	d0, d1   int    // lookback days
	end      time.Time
	out      Recommendations
	flagged  map[string]bool // resource ids already in a recommendation that removes or moves them
	quietIPs map[string]bool
	ipAtEnd  map[string]bool // IPs in existence at the end of the window (lazily)
}

// Recommend derives suggestions from m with cfg. It is pure; the same model and configuration
// give the same recommendations, with the same ids.
func Recommend(m *Model, cfg RecommendConfig) (Recommendations, error) {
	if err := cfg.Validate(); err != nil {
		return Recommendations{}, err
	}
	cfg = cfg.withDefaults()
	r := &recommender{m: m, cfg: cfg, flagged: map[string]bool{}, quietIPs: map[string]bool{}}
	r.out = Recommendations{Items: []Recommendation{}, Notes: []string{}, Config: cfg, Labels: Labels()}
	r.end = m.Window.To.Add(-time.Nanosecond)
	r.lb = Window{From: m.Window.To.Add(-time.Duration(cfg.LookbackDays) * Day), To: m.Window.To}
	if r.lb.From.Before(m.Window.From) {
		r.note(fmt.Sprintf("The window (%s) is shorter than the %d-day lookback: utilization, volume and commitment "+
			"suggestions are not made; widen the window to get them.", m.Window, cfg.LookbackDays))
	} else {
		r.d0, _ = m.g.index(r.lb.From)
		r.d1 = m.g.n
		r.consolidate()
		r.quietIPsRecs()
		r.pools()
		r.commitments()
	}
	r.tenantPlans()
	slices.SortStableFunc(r.out.Items, func(a, b Recommendation) int {
		return cmp.Or(cmp.Compare(b.SavingsMonthly.High, a.SavingsMonthly.High),
			cmp.Compare(b.SavingsMonthly.Low, a.SavingsMonthly.Low), cmp.Compare(a.ID, b.ID))
	})
	for _, it := range r.out.Items {
		r.out.SavingsMonthly.Low += it.SavingsMonthly.Low
		r.out.SavingsMonthly.High += it.SavingsMonthly.High
	}
	return r.out, nil
}

func (r *recommender) note(s string) { r.out.Notes = append(r.out.Notes, s) }

func (r *recommender) how(method string, inputs ...string) HowCalculated {
	return HowCalculated{Method: method, Inputs: inputs, PriceListVersion: r.m.PriceListVersion, Window: r.lb}
}

func (r *recommender) metric(name string, v float64, unit string) Metric {
	return Metric{Name: name, Value: v, Unit: unit, Window: r.lb}
}

func (r *recommender) money(name string, m Money) Metric {
	return r.metric(name, moneyFloat(m), r.m.Currency+"/month")
}

func moneyFloat(m Money) float64 { return float64(m) / pricelist.MicrosPerUnit }

// steady reports whether resource i existed over the whole lookback.
func (r *recommender) steady(i int) bool {
	return r.m.res[i].existed(r.lb.From, r.lb.To) == r.lb.Duration()
}

func (r *recommender) add(rec Recommendation) {
	rec.Currency = r.m.Currency
	for _, s := range []*[]string{&rec.Targets.ResourceIDs, &rec.Targets.TenantIDs, &rec.Targets.Providers, &rec.Targets.Pools} {
		if *s == nil {
			*s = []string{}
		}
	}
	if rec.SavingsMonthly.Low < 0 {
		rec.SavingsMonthly.Low = 0
	}
	if rec.SavingsMonthly.High < rec.SavingsMonthly.Low {
		rec.SavingsMonthly.High = rec.SavingsMonthly.Low
	}
	r.out.Items = append(r.out.Items, rec)
}

// ownersOf returns the tenants a resource's cost went to in the model (its owner if none).
func (r *recommender) ownersOf(i int) []string {
	rc := r.m.Resources[i]
	var out []string
	for _, s := range rc.Attribution {
		out = append(out, s.TenantID)
	}
	if len(out) == 0 && rc.OwnerTenantID != "" {
		out = []string{rc.OwnerTenantID}
	}
	return out
}
