package cost

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

// DayCost is the cost on one UTC day (Day is its midnight; the window's first and last days may
// be partial).
type DayCost struct {
	Day  time.Time `json:"day"`
	Cost Money     `json:"cost"`
}

// DaySeries is a series of daily costs. It encodes to the JSON encoding/json gives a []DayCost,
// in one pass: a 365-day series per group of a breakdown is most of such a response, and a
// marshaler call per value (Money's) made encoding it the slowest part of serving one.
type DaySeries []DayCost

// MarshalJSON encodes s as encoding/json encodes a []DayCost (null when nil).
func (s DaySeries) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("null"), nil
	}
	b := make([]byte, 0, 2+len(s)*48)
	b = append(b, '[')
	for i, d := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"day":"`...)
		b = d.Day.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","cost":`...)
		b = d.Cost.AppendJSON(b)
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// Group is one entry of a breakdown: its key, its cost over the window, its share of the total
// (rounded to millionths, for display) and its cost per day.
type Group struct {
	Key   string    `json:"key"`
	Cost  Money     `json:"cost"`
	Share Fraction  `json:"share"`
	Days  DaySeries `json:"days,omitempty"`
}

// Totals is the window's total and its breakdowns. Every breakdown partitions the same
// attributed amounts, so each one's costs add up to Total exactly, and so do ByDay's and each
// day's costs across the groups of a breakdown.
type Totals struct {
	Total Money `json:"total"`
	// EstimatedMonthly scales Total to a 730-hour month: see MonthlyBasis.
	EstimatedMonthly Money `json:"estimated_monthly"`
	// EstimatedMonthlyBasis is what EstimatedMonthly was scaled from.
	EstimatedMonthlyBasis MonthlyBasis `json:"estimated_monthly_basis"`
	// Unattributed is the part of Total no tenant could be given (also the "unattributed" entry
	// of ByTenant, ByPlan and ByTier).
	Unattributed Money `json:"unattributed"`
	// ByResourceType has the keys vps, ip and email, always, in that order.
	ByResourceType []Group `json:"by_resource_type"`
	// ByProvider, ByTenant, ByPlan and ByTier are sorted by cost (highest first), then key.
	ByProvider []Group `json:"by_provider"`
	ByTenant   []Group `json:"by_tenant"` // with an "unattributed" entry when there is such cost
	// ByPlan and ByTier group tenant cost by the tenant's segment in force (UnknownSegment when
	// none, Unattributed for unattributed cost). When a tenant's segment changes inside a day,
	// that day's cost is split by the time each value was in force within the day (the cost of a
	// day is taken as spread evenly over it).
	ByPlan                        []Group       `json:"by_plan"`
	ByTier                        []Group       `json:"by_tier"`
	ByDay                         DaySeries     `json:"by_day"`
	HowCalculated                 HowCalculated `json:"how_calculated"`
	EstimatedMonthlyHowCalculated HowCalculated `json:"estimated_monthly_how_calculated"`
}

// MonthlyBasis is how a window's cost is scaled to a month. Time-driven cost (resources, email
// base fees) and usage-driven cost (email volume) are scaled separately, each from the first UTC
// day of the window with such cost (the window's start when that is its first day, or when there
// is none) to the window's end: data younger than the window (a new install, a fleet or a usage
// feed that started inside it) is not averaged with days that had nothing to cost, and a usage
// feed younger than the inventory does not dilute the volume. Each part is
// amount × 730 h / span hours, rounded half away from zero to 0.000001; the estimate is their sum.
type MonthlyBasis struct {
	Time      Window `json:"time"`
	TimeCost  Money  `json:"time_cost"`
	Usage     Window `json:"usage"`
	UsageCost Money  `json:"usage_cost"`
}

// monthly scales a time-driven and a usage-driven amount to a month with b's spans.
func (b MonthlyBasis) monthly(timeCost, usageCost Money) (Money, error) {
	t, err := perMonth(timeCost, b.Time.Duration())
	if err != nil {
		return 0, err
	}
	u, err := perMonth(usageCost, b.Usage.Duration())
	if err != nil {
		return 0, err
	}
	if t > math.MaxInt64-u {
		return 0, fmt.Errorf("%w: monthly estimate %s + %s", pricelist.ErrOverflow, t, u)
	}
	return t + u, nil
}

// flow is an amount per day from one source (a resource or an email provider) to one tenant
// ("" for unattributed).
type flow struct {
	source     string // "vps:<id>", "ip:<id>", "email:<provider>"
	resourceID string // "" for email
	typ        string
	provider   string
	tenant     string
	days       []Money
	// usage marks an amount driven by usage volume (email messages) rather than by time (resources
	// and base fees): the monthly estimate scales the two from their own spans of data.
	usage bool
}

// flowTotal is a flow's amount over the window.
type flowTotal struct {
	source, resourceID, typ, provider, tenant string
	amount                                    Money
	usage                                     bool
}

type series struct {
	total Money
	days  []Money
}

// aggregator sums flows into every breakdown.
type aggregator struct {
	g                                            grid
	segs                                         segments
	total                                        Money
	days                                         []Money
	byType, byProvider, byTenant, byPlan, byTier map[string]*series
	flows                                        []flowTotal
	usageDays                                    []Money                   // the part of days that is usage-driven
	constSeg                                     map[[2]string]string      // (property, tenant) → value when constant over the window
	varSeg                                       map[[2]string][][]segPart // (property, tenant) → values per day, when they change inside the window
}

func newAggregator(g grid, segs segments) *aggregator {
	return &aggregator{
		g: g, segs: segs, days: make([]Money, g.n), usageDays: make([]Money, g.n),
		byType: map[string]*series{}, byProvider: map[string]*series{}, byTenant: map[string]*series{},
		byPlan: map[string]*series{}, byTier: map[string]*series{},
		constSeg: map[[2]string]string{}, varSeg: map[[2]string][][]segPart{},
	}
}

func (a *aggregator) series(m map[string]*series, key string) *series {
	s := m[key]
	if s == nil {
		s = &series{days: make([]Money, a.g.n)}
		m[key] = s
	}
	return s
}

func (a *aggregator) addAll(m map[string]*series, key string, days []Money) {
	s := a.series(m, key)
	for i, x := range days {
		s.days[i] += x
		s.total += x
	}
}

// add folds one flow into the totals and every breakdown.
func (a *aggregator) add(f flow) {
	var amount Money
	for i, x := range f.days {
		a.days[i] += x
		amount += x
	}
	if amount == 0 {
		return
	}
	a.total += amount
	if f.usage {
		for i, x := range f.days {
			a.usageDays[i] += x
		}
	}
	a.flows = append(a.flows, flowTotal{source: f.source, resourceID: f.resourceID, typ: f.typ, provider: f.provider, tenant: f.tenant,
		amount: amount, usage: f.usage})
	a.addAll(a.byType, f.typ, f.days)
	a.addAll(a.byProvider, f.provider, f.days)
	tenant := f.tenant
	if tenant == "" {
		tenant = Unattributed
	}
	a.addAll(a.byTenant, tenant, f.days)
	a.addSegment(a.byPlan, SegmentPlan, f.tenant, f.days)
	a.addSegment(a.byTier, SegmentTier, f.tenant, f.days)
}

// addSegment adds a tenant's flow to the breakdown by its segment prop.
func (a *aggregator) addSegment(m map[string]*series, prop, tenant string, days []Money) {
	if tenant == "" {
		a.addAll(m, Unattributed, days)
		return
	}
	k := [2]string{prop, tenant}
	if v, ok := a.constSeg[k]; ok {
		a.addAll(m, v, days)
		return
	}
	plan, ok := a.varSeg[k]
	if !ok {
		if !a.segs.changesWithin(prop, tenant, a.g.w.From, a.g.w.To) {
			v := a.segs.at(prop, tenant, a.g.w.From)
			a.constSeg[k] = v
			a.addAll(m, v, days)
			return
		}
		plan = make([][]segPart, a.g.n)
		for i := range plan {
			from, to := a.g.bounds(i)
			plan[i] = a.segs.parts(prop, tenant, from, to)
		}
		a.varSeg[k] = plan
	}
	for i, x := range days {
		if x == 0 {
			continue
		}
		parts := plan[i]
		if len(parts) == 1 {
			s := a.series(m, parts[0].value)
			s.days[i] += x
			s.total += x
			continue
		}
		weights := make([]int64, len(parts))
		for j, p := range parts {
			weights[j] = int64(p.weight)
		}
		split, _ := allocate(x, weights)
		for j, p := range parts {
			s := a.series(m, p.value)
			s.days[i] += split[j]
			s.total += split[j]
		}
	}
}

// totals returns the Totals of everything added.
func (a *aggregator) totals(w Window, version string) (Totals, error) {
	timeDays := make([]Money, len(a.days))
	var usageCost Money
	for i, x := range a.days {
		timeDays[i] = x - a.usageDays[i]
		usageCost += a.usageDays[i]
	}
	basis := MonthlyBasis{Time: a.g.since(w, timeDays), TimeCost: a.total - usageCost, Usage: a.g.since(w, a.usageDays), UsageCost: usageCost}
	monthly, err := basis.monthly(basis.TimeCost, basis.UsageCost)
	if err != nil {
		return Totals{}, err
	}
	how := "total × 730 h / window hours (" + fmtHours(w.Duration()) + " h), rounded half away from zero to 0.000001"
	if basis.Time != w || basis.Usage != w {
		how = "resources and base fees (" + basis.TimeCost.String() + ") × 730 h / " + sinceText(basis.Time, w) +
			" + email volume (" + basis.UsageCost.String() + ") × 730 h / " + sinceText(basis.Usage, w) +
			", each rounded half away from zero to 0.000001: days of the window before a kind of cost first appears " +
			"(data younger than the window) are not averaged in"
	}
	t := Totals{
		Total:                 a.total,
		EstimatedMonthly:      monthly,
		EstimatedMonthlyBasis: basis,
		ByResourceType:        a.groups(a.byType, []string{TypeVPS, TypeIP, TypeEmail}),
		ByProvider:            a.groups(a.byProvider, nil),
		ByTenant:              a.groups(a.byTenant, nil),
		ByPlan:                a.groups(a.byPlan, nil),
		ByTier:                a.groups(a.byTier, nil),
		ByDay:                 a.dayCosts(a.days),
		HowCalculated: HowCalculated{
			Method: "Sum of every resource's amortized cost and every email provider's volume and base-fee cost in the window " +
				"(see each resource's and provider's how_calculated). Breakdowns partition the same attributed amounts, so each " +
				"adds up to the total exactly.",
			Inputs:           []string{"inventory events", "VPS usage (daily)", "email usage (daily)", "tenant segments", "price list"},
			PriceListVersion: version, Window: w,
		},
		EstimatedMonthlyHowCalculated: HowCalculated{
			Method:           how,
			Inputs:           []string{"total (" + a.total.String() + ")", "cost per day"},
			PriceListVersion: version, Window: w,
		},
	}
	if s := a.byTenant[Unattributed]; s != nil {
		t.Unattributed = s.total
	}
	return t, nil
}

// since is the span from the first day of days with cost (or w's start) to w's end.
func (g grid) since(w Window, days []Money) Window {
	for i, x := range days {
		if x != 0 {
			if from := g.dayStart(i); from.After(w.From) {
				return Window{From: from, To: w.To}
			}
			break
		}
	}
	return w
}

// sinceText describes a basis span: "720 h (the window)" or "72 h (from 2026-03-03)".
func sinceText(b, w Window) string {
	if b == w {
		return fmtHours(b.Duration()) + " h (the window)"
	}
	return fmtHours(b.Duration()) + " h (from " + b.From.Format(time.DateOnly) + ", its first day in the window)"
}

func (a *aggregator) dayCosts(days []Money) DaySeries {
	out := make(DaySeries, len(days))
	for i, x := range days {
		out[i] = DayCost{Day: a.g.dayStart(i), Cost: x}
	}
	return out
}

// groups returns the breakdown of m: the fixed keys first, in order (zero if absent), or else all
// keys by cost descending then key.
func (a *aggregator) groups(m map[string]*series, fixed []string) []Group {
	out := []Group{}
	if fixed != nil {
		for _, k := range fixed {
			s := m[k]
			if s == nil {
				s = &series{days: make([]Money, a.g.n)}
			}
			out = append(out, Group{Key: k, Cost: s.total, Share: moneyRatio(s.total, a.total), Days: a.dayCosts(s.days)})
		}
		return out
	}
	for k, s := range m {
		out = append(out, Group{Key: k, Cost: s.total, Share: moneyRatio(s.total, a.total), Days: a.dayCosts(s.days)})
	}
	slices.SortFunc(out, func(x, y Group) int { return cmp.Or(cmp.Compare(y.Cost, x.Cost), cmp.Compare(x.Key, y.Key)) })
	return out
}
