package cost

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

// PriceRef is the price-list entry a charge was computed with: enough to find it in the file
// (section, line) and to redo the arithmetic.
type PriceRef struct {
	Section        string    `json:"section"` // vps_plans | ip_prices | email_providers
	Provider       string    `json:"provider"`
	Plan           string    `json:"plan,omitempty"`
	VCPUs          int       `json:"vcpus,omitempty"`
	MemoryMB       int       `json:"memory_mb,omitempty"`
	MonthlyPrice   *Money    `json:"monthly_price,omitempty"`    // vps_plans, ip_prices
	PerThousand    *Money    `json:"per_thousand,omitempty"`     // email_providers
	MonthlyBaseFee *Money    `json:"monthly_base_fee,omitempty"` // email_providers
	EffectiveFrom  time.Time `json:"effective_from,omitzero"`    // zero: since forever
	Line           int       `json:"line"`
}

// Charge is one span of a resource's existence in the window with one state and one price entry
// in force, amortized in one step.
type Charge struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Hours    float64   `json:"hours"`
	TenantID string    `json:"tenant_id"` // owner per the inventory
	Provider string    `json:"provider"`
	Plan     string    `json:"plan"`
	Region   string    `json:"region"`
	Shared   bool      `json:"shared"`
	// Price is the entry in force; null when no price was in force (then Cost is 0 and
	// UnpricedReason says why).
	Price          *PriceRef `json:"price"`
	Cost           Money     `json:"cost"`
	Arithmetic     string    `json:"arithmetic"` // e.g. "73 × 36 h / 730 h = 3.6"
	UnpricedReason string    `json:"unpriced_reason,omitempty"`
}

// Attribution bases.
const (
	BasisDedicated  = "dedicated"     // the resource's owner tenant
	BasisCPUSeconds = "cpu_seconds"   // shared VPS: the tenants' CPU core-seconds
	BasisMessages   = "messages_sent" // shared IP, email: the tenants' messages sent
	BasisMixed      = "mixed"         // dedicated for part of the window, shared for another
)

// TenantShare is one tenant's part of a resource's or an email provider's cost.
type TenantShare struct {
	TenantID string `json:"tenant_id"`
	Basis    string `json:"basis"`
	// Share is Cost / the whole cost (rounded to millionths, for display: the shares of one
	// resource need not add up to exactly 1). When the whole cost is 0 (unpriced) it is the usage
	// share.
	Share          Fraction `json:"share"`
	Cost           Money    `json:"cost"`
	CPUCoreSeconds float64  `json:"cpu_core_seconds,omitempty"`
	MessagesSent   uint64   `json:"messages_sent,omitempty"`
}

// ResourceCost is the modeled cost of one VPS or sending IP over the window.
type ResourceCost struct {
	ID       string                 `json:"id"`
	Kind     pricelist.ResourceKind `json:"kind"`
	Provider string                 `json:"provider"` // the provider, plan, region, shared flag and owner at the
	Plan     string                 `json:"plan"`     // end of the resource's existence in the window; Charges
	Region   string                 `json:"region"`   // has each state it had
	Shared   bool                   `json:"shared"`
	// OwnerTenantID is the tenant the inventory gives the resource to.
	OwnerTenantID string  `json:"owner_tenant_id"`
	Hours         float64 `json:"hours"` // hours the resource existed inside the window
	Cost          Money   `json:"cost"`
	// Attribution lists every tenant the cost goes to, by tenant id; Unattributed is the rest.
	Attribution        []TenantShare `json:"attribution"`
	Unattributed       Money         `json:"unattributed"`
	UnattributedReason string        `json:"unattributed_reason,omitempty"`
	// Unpriced is true when some span had no price in force (costed 0; see Charges).
	Unpriced      bool          `json:"unpriced"`
	Charges       []Charge      `json:"charges"`
	HowCalculated HowCalculated `json:"how_calculated"`
}

// EmailCharge is one part of an email provider's cost: the volume of one price period, or the
// base fee over one price period.
type EmailCharge struct {
	Type           string    `json:"type"` // volume | base_fee
	From           time.Time `json:"from"`
	To             time.Time `json:"to"`
	Hours          float64   `json:"hours,omitempty"`    // base_fee
	Messages       uint64    `json:"messages,omitempty"` // volume: messages sent
	Price          *PriceRef `json:"price"`              // null when unpriced
	Cost           Money     `json:"cost"`
	Arithmetic     string    `json:"arithmetic"`
	UnpricedReason string    `json:"unpriced_reason,omitempty"`
}

// Email charge types.
const (
	ChargeVolume  = "volume"
	ChargeBaseFee = "base_fee"
)

// EmailProviderCost is the modeled cost of one email provider's volume and base fee over the
// window (its dedicated IPs are resources, in Model.Resources).
type EmailProviderCost struct {
	Provider   string `json:"provider"`
	Sent       uint64 `json:"sent"`
	Delivered  uint64 `json:"delivered"`
	Bounced    uint64 `json:"bounced"`
	Deferred   uint64 `json:"deferred"`
	Complained uint64 `json:"complained"`
	VolumeCost Money  `json:"volume_cost"`
	BaseFee    Money  `json:"base_fee"`
	Cost       Money  `json:"cost"` // VolumeCost + BaseFee

	Attribution        []TenantShare `json:"attribution"`
	Unattributed       Money         `json:"unattributed"`
	UnattributedReason string        `json:"unattributed_reason,omitempty"`
	Unpriced           bool          `json:"unpriced"`
	Charges            []EmailCharge `json:"charges"`
	HowCalculated      HowCalculated `json:"how_calculated"`
}

// Unpriced is a span (or volume) the price list has no price for: costed 0 and listed here so
// that it is never silently dropped.
type Unpriced struct {
	Kind       string    `json:"kind"` // vps | ip | email
	ResourceID string    `json:"resource_id,omitempty"`
	Provider   string    `json:"provider"`
	Plan       string    `json:"plan,omitempty"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Hours      float64   `json:"hours,omitempty"`
	Messages   uint64    `json:"messages,omitempty"`
	Reason     string    `json:"reason"`
}

// Model is the modeled cost of one window: per resource and email provider, totals and
// breakdowns that reconcile exactly, and the vendor comparison. Build it with Compute; derive
// recommendations with Recommend, a tenant's view with Tenant and realized savings with
// RealizedSavings. A Model is immutable and safe for concurrent reads.
type Model struct {
	Window           Window              `json:"window"`
	PriceListVersion string              `json:"price_list_version"`
	Currency         string              `json:"currency"`
	Labels           []string            `json:"labels"`
	Resources        []ResourceCost      `json:"resources"`
	Email            []EmailProviderCost `json:"email"`
	Totals           Totals              `json:"totals"`
	Vendors          VendorComparison    `json:"vendors"`
	Unpriced         []Unpriced          `json:"unpriced"`
	Warnings         []Warning           `json:"warnings"`

	pl        *pricelist.PriceList
	g         grid
	segs      segments
	res       []*resource // parallel to Resources
	flows     []flowTotal
	vpsDays   map[string][]vpsDay // VPS resource id → combined usage per day, in day order
	emailRows []emailRow          // valid rows inside the window's days
	ipPool    map[string]string   // IP → the pool most of its messages went through
}

// Compute costs the window in.Window from in. It is pure: no I/O, no clock. It fails only for an
// input it cannot cost at all (no price list, an invalid window) or an arithmetic overflow;
// problem rows are skipped or reinterpreted and counted in Model.Warnings.
func Compute(in Input) (*Model, error) {
	if in.PriceList == nil {
		return nil, fmt.Errorf("%w: no price list", ErrInvalidInput)
	}
	if err := in.Window.Validate(); err != nil {
		return nil, err
	}
	w := in.Window.utc()
	c := &computer{pl: in.PriceList, w: w, g: newGrid(w), vpsPlans: map[string]map[string]bool{}}
	c.providers = c.pl.Providers()
	c.segs = newSegments(in.Segments, &c.warn)
	c.agg = newAggregator(c.g, c.segs)
	c.m = &Model{
		Window: w, PriceListVersion: c.pl.Version, Currency: c.pl.Currency, Labels: Labels(),
		Resources: []ResourceCost{}, Email: []EmailProviderCost{}, Unpriced: []Unpriced{},
		pl: c.pl, g: c.g, segs: c.segs, vpsDays: map[string][]vpsDay{}, ipPool: map[string]string{},
	}
	c.res = resources(w, in.Inventory, &c.warn)
	c.indexUsage(in.VPSUsage, in.EmailUsage)
	for _, r := range c.res {
		rc, err := c.costResource(r)
		if err != nil {
			return nil, fmt.Errorf("cost %s %q: %w", r.kind, r.id, err)
		}
		c.m.Resources = append(c.m.Resources, rc)
	}
	c.m.res = c.res
	if err := c.costEmail(); err != nil {
		return nil, err
	}
	if err := c.finish(); err != nil {
		return nil, err
	}
	return c.m, nil
}

// computer holds the state of one Compute call.
type computer struct {
	pl        *pricelist.PriceList
	w         Window
	g         grid
	warn      warnings
	segs      segments
	agg       *aggregator
	m         *Model
	res       []*resource
	providers pricelist.ProviderSet
	vpsPlans  map[string]map[string]bool // provider → plans the list has (at any time)

	vps       []VPSUsage          // the input rows
	vpsRows   map[string][]vpsRow // VPS id → valid rows inside the window's days
	emailByIP map[string][]int    // IP → indices of its rows in Model.emailRows
}

// maxCount bounds the message counts of one usage row (2^53: exact in float64 and far beyond any
// real day); maxCoreSeconds bounds CPU core-seconds of one row (a 10-million-core day).
const (
	maxCount       = 1 << 53
	maxCoreSeconds = 1e7 * 86400
)

// Examples of usage-row warnings.
const (
	vpsExample   = "resource %q tenant %q day %s"
	emailExample = "ip %q tenant %q day %s"
)

// dayArg formats a day as 2006-01-02 when (and only when) printed.
type dayArg time.Time

func (d dayArg) String() string { return fmtDay(time.Time(d)) }

func validFraction(f float64) bool { return f >= 0 && f <= 1 } // false for NaN

// emailRow is a valid email usage row inside the window's days; day is its grid index.
type emailRow struct {
	day                                            int
	tenant, ip, pool, provider                     string
	sent, delivered, bounced, deferred, complained uint64
}

// vpsRow is a valid VPS usage row inside the window's days: its index in the input and its day.
type vpsRow struct {
	i, day int
}

// indexUsage keeps the usage rows inside the window's days that are valid, by resource.
func (c *computer) indexUsage(vps []VPSUsage, email []EmailUsage) {
	// One map lookup per row (a year of a large fleet has millions): the VPS ids the inventory
	// shows, each with its slot in rows.
	known := map[string]int{}
	for _, r := range c.res {
		if _, dup := known[r.id]; r.kind == pricelist.KindVPS && !dup {
			known[r.id] = len(known)
		}
	}
	rows := make([][]vpsRow, len(known))
	c.vps = vps
	c.vpsRows = map[string][]vpsRow{}
	var (
		lastDay      time.Time // rows come day by day: the grid index of the previous row's day
		lastD        int
		lastOK, seen bool
	)
	for i := range vps {
		u := &vps[i]
		if !seen || !u.Day.Equal(lastDay) {
			lastDay, seen = u.Day, true
			lastD, lastOK = c.g.index(day(u.Day))
		}
		d, ok := lastD, lastOK
		if !ok {
			continue // outside the window: not this model's business
		}
		slot, isKnown := known[u.ResourceID]
		switch {
		case !(u.CPUCoreSeconds >= 0 && u.CPUCoreSeconds <= maxCoreSeconds): // false for NaN too
			c.warn.addf("VPS usage row with cpu_core_seconds negative, not a number or out of range ignored", vpsExample, u.ResourceID, u.TenantID, dayArg(u.Day))
			continue
		case !validFraction(u.CPUAvg) || !validFraction(u.CPUP95) || !validFraction(u.MemAvg) || !validFraction(u.MemP95):
			c.warn.addf("VPS usage row with a utilization outside 0..1 ignored", vpsExample, u.ResourceID, u.TenantID, dayArg(u.Day))
			continue
		case !isKnown:
			c.warn.addf("VPS usage row of a resource the inventory does not show in the window ignored", vpsExample, u.ResourceID, u.TenantID, dayArg(u.Day))
			continue
		}
		if u.TenantID == "" {
			c.warn.addf("VPS usage row without tenant: its share of a shared VPS is unattributed", vpsExample, u.ResourceID, u.TenantID, dayArg(u.Day))
		}
		rows[slot] = append(rows[slot], vpsRow{i: i, day: d})
	}
	for id, slot := range known {
		if len(rows[slot]) > 0 {
			c.vpsRows[id] = rows[slot]
		}
	}
	c.emailByIP = map[string][]int{}
	c.m.emailRows = make([]emailRow, 0, len(email))
	for i := range email {
		u := &email[i]
		d, ok := c.g.index(day(u.Day))
		if !ok {
			continue
		}
		switch {
		case u.Provider == "":
			c.warn.addf("email usage row without provider ignored", emailExample, u.IP, u.TenantID, dayArg(u.Day))
			continue
		case u.Sent > maxCount || u.Delivered > maxCount || u.Bounced > maxCount || u.Deferred > maxCount || u.Complained > maxCount:
			c.warn.addf("email usage row with an out-of-range count ignored", emailExample, u.IP, u.TenantID, dayArg(u.Day))
			continue
		}
		if u.TenantID == "" {
			c.warn.addf("email usage row without tenant: its cost is unattributed", emailExample, u.IP, u.TenantID, dayArg(u.Day))
		}
		c.emailByIP[u.IP] = append(c.emailByIP[u.IP], len(c.m.emailRows))
		c.m.emailRows = append(c.m.emailRows, emailRow{day: d, tenant: u.TenantID, ip: u.IP, pool: u.Pool, provider: u.Provider,
			sent: u.Sent, delivered: u.Delivered, bounced: u.Bounced, deferred: u.Deferred, complained: u.Complained})
	}
	// The rows stay in input order: every use of them is a sum or a map, so the results do not
	// depend on it.
	// The pool of each IP: the one most of its messages went through (ties: the first by name).
	sent := map[[2]string]uint64{}
	for _, u := range c.m.emailRows {
		sent[[2]string{u.ip, u.pool}] += u.sent
	}
	for k, n := range sent {
		ip, pool := k[0], k[1]
		cur, ok := c.m.ipPool[ip]
		if !ok || n > sent[[2]string{ip, cur}] || (n == sent[[2]string{ip, cur}] && pool < cur) {
			c.m.ipPool[ip] = pool
		}
	}
	c.indexVPSDays()
}

// vpsDay is one VPS's usage on one day, all tenants combined: the averages and core-seconds add
// up (each tenant reports its workload's share of the whole VPS); the p95 values are summed too,
// an upper bound of the combined p95; samples is the largest tenant row's.
type vpsDay struct {
	day            int // grid index
	samples        uint64
	coreSeconds    float64
	cpuAvg, cpuP95 float64
	memAvg, memP95 float64
}

func (c *computer) indexVPSDays() {
	for id, rows := range c.vpsRows {
		// Sorted by day, then tenant and values, so that float sums do not depend on input order.
		// (Day first, then tenant, each only when the previous keys tie: cmp.Or would compare every
		// key of every pair, tenant strings included.)
		slices.SortFunc(rows, func(a, b vpsRow) int {
			if o := cmp.Compare(a.day, b.day); o != 0 {
				return o
			}
			x, y := &c.vps[a.i], &c.vps[b.i]
			if o := cmp.Compare(x.TenantID, y.TenantID); o != 0 {
				return o
			}
			return cmp.Or(cmp.Compare(x.CPUCoreSeconds, y.CPUCoreSeconds), cmp.Compare(x.CPUP95, y.CPUP95), cmp.Compare(x.MemP95, y.MemP95),
				cmp.Compare(x.CPUAvg, y.CPUAvg), cmp.Compare(x.MemAvg, y.MemAvg), cmp.Compare(x.Samples, y.Samples))
		})
		days := make([]vpsDay, 0, len(rows))
		for _, r := range rows {
			u := &c.vps[r.i]
			if n := len(days); n == 0 || days[n-1].day != r.day {
				days = append(days, vpsDay{day: r.day})
			}
			d := &days[len(days)-1]
			d.samples = max(d.samples, u.Samples)
			d.coreSeconds += u.CPUCoreSeconds
			d.cpuAvg += u.CPUAvg
			d.cpuP95 += u.CPUP95
			d.memAvg += u.MemAvg
			d.memP95 += u.MemP95
		}
		c.m.vpsDays[id] = slices.Clip(days)
	}
}

// finish fills the totals, the vendor comparison and the sorted lists.
func (c *computer) finish() error {
	t, err := c.agg.totals(c.w, c.pl.Version)
	if err != nil {
		return err
	}
	c.m.Totals = t
	c.m.flows = c.agg.flows
	c.m.Vendors = c.m.vendors(0, c.g.n)
	slices.SortStableFunc(c.m.Unpriced, func(a, b Unpriced) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ResourceID, b.ResourceID),
			cmp.Compare(a.Provider, b.Provider), a.From.Compare(b.From))
	})
	c.m.Warnings = c.warn.list()
	return nil
}

// how returns a HowCalculated for the model's window.
func (c *computer) how(method string, inputs ...string) HowCalculated {
	return HowCalculated{Method: method, Inputs: inputs, PriceListVersion: c.pl.Version, Window: c.w}
}
