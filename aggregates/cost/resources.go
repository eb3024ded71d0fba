package cost

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

// pool is the per-day cost of one resource (or email base fee) to be split among tenants.
type pool struct {
	provider string
	days     []Money
}

// owned is the per-day cost of one resource that goes to one tenant directly.
type owned struct {
	tenant, provider string
	days             []Money
}

// costResource prices r's spans, attributes the cost and feeds the aggregator.
//
// Each span with one state and one price entry in force is amortized in one call (monthly price
// × hours / 730, rounded half away from zero to the micro-unit) and spread over the days by
// cumulative rounding (grid.amortizeDays). Dedicated spans go to the span's owner tenant; shared
// spans are pooled and split among tenants by usage (see splitPool).
func (c *computer) costResource(r *resource) (ResourceCost, error) {
	last := r.last()
	rc := ResourceCost{
		ID: r.id, Kind: r.kind, Provider: last.Provider, Plan: last.Plan, Region: last.Region,
		Shared: last.Shared, OwnerTenantID: last.TenantID,
	}
	var owneds []*owned
	var pools []*pool
	ownedFor := func(tenant, provider string) []Money {
		for _, o := range owneds {
			if o.tenant == tenant && o.provider == provider {
				return o.days
			}
		}
		o := &owned{tenant: tenant, provider: provider, days: make([]Money, c.g.n)}
		owneds = append(owneds, o)
		return o.days
	}
	poolFor := func(provider string) []Money {
		for _, p := range pools {
			if p.provider == provider {
				return p.days
			}
		}
		p := &pool{provider: provider, days: make([]Money, c.g.n)}
		pools = append(pools, p)
		return p.days
	}
	var sharedSpans []span
	var dur time.Duration
	inputs := []string{fmt.Sprintf("%d inventory event(s) of %s %q", r.events, r.kind, r.id)}
	seenLine := map[int]bool{}
	for _, s := range r.spans {
		dur += s.To.Sub(s.From)
		var into []Money
		if s.Shared {
			into = poolFor(s.Provider)
			sharedSpans = append(sharedSpans, s)
		} else {
			into = ownedFor(s.TenantID, s.Provider)
		}
		for _, p := range c.pricePeriods(r.kind, s) {
			ch := Charge{
				From: p.from, To: p.to, Hours: hours(p.to.Sub(p.from)), TenantID: s.TenantID,
				Provider: s.Provider, Plan: s.Plan, Region: s.Region, Shared: s.Shared, Price: p.ref,
			}
			if p.ref == nil {
				ch.UnpricedReason = p.reason
				ch.Arithmetic = "no price in force: 0"
				rc.Unpriced = true
				c.m.Unpriced = append(c.m.Unpriced, Unpriced{
					Kind: string(r.kind), ResourceID: r.id, Provider: s.Provider, Plan: s.Plan,
					From: p.from, To: p.to, Hours: ch.Hours, Reason: p.reason,
				})
			} else {
				cost, err := c.g.amortizeDays(p.monthly, p.from, p.to, into)
				if err != nil {
					return rc, err
				}
				ch.Cost = cost
				ch.Arithmetic = fmt.Sprintf("%s × %s h / %d h = %s", p.monthly, fmtHours(p.to.Sub(p.from)), pricelist.HoursPerMonth, cost)
				if !seenLine[p.ref.Line] {
					seenLine[p.ref.Line] = true
					inputs = append(inputs, fmt.Sprintf("price list %s line %d (%s %s%s: %s/month)", p.ref.Section, p.ref.Line,
						p.ref.Provider, p.ref.Plan, effectiveNote(p.ref.EffectiveFrom), p.monthly))
				}
			}
			rc.Cost += ch.Cost
			rc.Charges = append(rc.Charges, ch)
		}
	}
	rc.Hours = hours(dur)

	source := string(r.kind) + ":" + r.id
	typ := TypeVPS
	if r.kind == pricelist.KindIP {
		typ = TypeIP
	}
	shares := map[string]*TenantShare{}
	share := func(tenant, basis string) *TenantShare {
		ts := shares[tenant]
		if ts == nil {
			ts = &TenantShare{TenantID: tenant, Basis: basis}
			shares[tenant] = ts
		} else if ts.Basis != basis {
			ts.Basis = BasisMixed
		}
		return ts
	}
	var reasons []string
	for _, o := range owneds {
		amount := sum(o.days)
		if o.tenant == "" {
			rc.Unattributed += amount
			reasons = appendOnce(reasons, "no owner tenant in the inventory")
		} else {
			share(o.tenant, BasisDedicated).Cost += amount
		}
		c.agg.add(flow{source: source, resourceID: r.id, typ: typ, provider: o.provider, tenant: o.tenant, days: o.days})
	}
	if len(pools) > 0 {
		basis := BasisCPUSeconds
		if r.kind == pricelist.KindIP {
			basis = BasisMessages
		}
		tenants, weights, usage := c.resourceWeights(r, sharedSpans)
		for i, t := range tenants {
			ts := share(t, basis)
			if r.kind == pricelist.KindIP {
				ts.MessagesSent += uint64(weights[i])
			} else {
				ts.CPUCoreSeconds = round6(ts.CPUCoreSeconds + usage[i])
			}
		}
		for _, p := range pools {
			parts, ok := splitPool(p.days, weights)
			if !ok {
				if amount := sum(p.days); amount > 0 {
					rc.Unattributed += amount
					reasons = appendOnce(reasons, "shared resource with no usage in the window: shown as unattributed (idle), not spread")
				}
				c.agg.add(flow{source: source, resourceID: r.id, typ: typ, provider: p.provider, days: p.days})
				continue
			}
			for i, days := range parts {
				if tenants[i] == "" {
					rc.Unattributed += sum(days)
					reasons = appendOnce(reasons, "usage rows without tenant")
				} else {
					share(tenants[i], basis).Cost += sum(days)
				}
				c.agg.add(flow{source: source, resourceID: r.id, typ: typ, provider: p.provider, tenant: tenants[i], days: days})
			}
		}
		if r.kind == pricelist.KindVPS {
			inputs = append(inputs, fmt.Sprintf("%d VPS usage row(s) of %q (CPU core-seconds per tenant)", len(c.vpsRows[r.id]), r.id))
		} else {
			inputs = append(inputs, fmt.Sprintf("%d email usage row(s) through %q (messages sent per tenant)", len(c.emailByIP[r.id]), r.id))
		}
	}
	delete(shares, "")
	rc.Attribution = shareList(shares, rc.Cost, usageShares(shares, r.kind))
	rc.UnattributedReason = strings.Join(reasons, "; ")
	rc.HowCalculated = c.how(resourceMethod(r.kind, len(pools) > 0), inputs...)
	return rc, nil
}

func resourceMethod(kind pricelist.ResourceKind, shared bool) string {
	what := "VPS plan"
	basis := "CPU core-seconds"
	if kind == pricelist.KindIP {
		what, basis = "sending-IP", "messages sent"
	}
	m := "Monthly " + what + " price amortized over the hours the resource existed in the window: Σ monthly_price × hours / 730 " +
		"over the spans with one state and one price in force (each rounded half away from zero to 0.000001)."
	if shared {
		m += " Shared spans are split among tenants by their " + basis + " in the window (largest remainder, exact); " +
			"with no usage the cost is unattributed."
	} else {
		m += " Dedicated: attributed to the owner tenant."
	}
	return m
}

func effectiveNote(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return ", effective " + fmtTime(t)
}

// splitPool splits a pool's per-day cost among tenants by weights: the whole is allocated by
// weight (largest remainder), then each tenant's part spread over the days (see spread). ok is
// false when every weight is 0.
func splitPool(days []Money, weights []int64) ([][]Money, bool) {
	parts, ok := allocate(sum(days), weights)
	if !ok {
		return nil, false
	}
	return spread(days, parts), true
}

// resourceWeights returns the tenants (sorted) with usage of r on the days overlapping its shared
// spans, their integer weights (VPS: CPU core-seconds in thousandths, rounded; IP: messages sent)
// and, for VPS, the core-seconds.
func (c *computer) resourceWeights(r *resource, shared []span) ([]string, []int64, []float64) {
	onShared := func(d time.Time) bool {
		for _, s := range shared {
			if overlap(s.From, s.To, d, d.Add(Day)) > 0 {
				return true
			}
		}
		return false
	}
	byTenant := map[string]float64{}
	msgs := map[string]uint64{}
	if r.kind == pricelist.KindVPS {
		for _, row := range c.vpsRows[r.id] {
			if onShared(c.g.dayStart(row.day)) {
				u := &c.vps[row.i]
				byTenant[u.TenantID] += u.CPUCoreSeconds
			}
		}
	} else {
		for _, ri := range c.emailByIP[r.id] {
			u := &c.m.emailRows[ri]
			if onShared(c.g.dayStart(u.day)) {
				msgs[u.tenant] += u.sent
				byTenant[u.tenant] += 0
			}
		}
	}
	tenants := make([]string, 0, len(byTenant))
	for t := range byTenant {
		tenants = append(tenants, t)
	}
	slices.Sort(tenants)
	weights := make([]int64, len(tenants))
	usage := make([]float64, len(tenants))
	for i, t := range tenants {
		if r.kind == pricelist.KindVPS {
			usage[i] = byTenant[t]
			weights[i] = int64(math.Round(byTenant[t] * 1000))
		} else {
			weights[i] = int64(msgs[t])
		}
	}
	return tenants, weights, usage
}

// usageShares returns each tenant's usage share (for display when the cost is 0).
func usageShares(shares map[string]*TenantShare, kind pricelist.ResourceKind) map[string]Fraction {
	out := map[string]Fraction{}
	var total float64
	var totalMsgs uint64
	for _, s := range shares {
		total += s.CPUCoreSeconds
		totalMsgs += s.MessagesSent
	}
	for t, s := range shares {
		switch {
		case s.Basis == BasisDedicated:
			out[t] = pricelist.FractionOne
		case kind == pricelist.KindIP:
			out[t] = ratio(s.MessagesSent, totalMsgs)
		case total > 0:
			out[t] = Fraction(math.Round(s.CPUCoreSeconds / total * pricelist.FractionOne))
		}
	}
	return out
}

// shareList returns the shares sorted by tenant, with Share = cost / whole (or the usage share
// when whole is 0).
func shareList(shares map[string]*TenantShare, whole Money, usage map[string]Fraction) []TenantShare {
	out := make([]TenantShare, 0, len(shares))
	for t, s := range shares {
		if whole > 0 {
			s.Share = moneyRatio(s.Cost, whole)
		} else {
			s.Share = usage[t]
		}
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b TenantShare) int { return cmp.Compare(a.TenantID, b.TenantID) })
	return out
}

func appendOnce(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func sum(days []Money) Money {
	var t Money
	for _, d := range days {
		t += d
	}
	return t
}

// pricedPeriod is a span with one price entry in force (ref nil: unpriced, with reason).
type pricedPeriod struct {
	from, to time.Time
	ref      *PriceRef
	monthly  Money
	vcpus    int
	memoryMB int
	reason   string
}

// pricePeriods splits span s of a resource of kind at the price changes of its plan (VPS) or its
// provider's IP price.
func (c *computer) pricePeriods(kind pricelist.ResourceKind, s span) []pricedPeriod {
	var out []pricedPeriod
	if kind == pricelist.KindVPS {
		for _, p := range c.pl.VPSPlanPeriods(s.Provider, s.Plan, s.From, s.To) {
			pp := pricedPeriod{from: p.From, to: p.To}
			if p.OK {
				e := p.Entry
				price := e.MonthlyPrice
				pp.ref = &PriceRef{Section: "vps_plans", Provider: e.Provider, Plan: e.Plan, VCPUs: e.VCPUs, MemoryMB: e.MemoryMB,
					MonthlyPrice: &price, EffectiveFrom: e.EffectiveFrom, Line: e.Line}
				pp.monthly, pp.vcpus, pp.memoryMB = price, e.VCPUs, e.MemoryMB
			} else {
				pp.reason = c.vpsUnpricedReason(s.Provider, s.Plan)
			}
			out = append(out, pp)
		}
		return out
	}
	for _, p := range c.pl.IPPricePeriods(s.Provider, s.From, s.To) {
		pp := pricedPeriod{from: p.From, to: p.To}
		if p.OK {
			e := p.Entry
			price := e.MonthlyPrice
			pp.ref = &PriceRef{Section: "ip_prices", Provider: e.Provider, MonthlyPrice: &price, EffectiveFrom: e.EffectiveFrom, Line: e.Line}
			pp.monthly = price
		} else if slices.Contains(c.providers.IP, s.Provider) {
			pp.reason = fmt.Sprintf("ip_prices has provider %q only from a later effective_from", s.Provider)
		} else {
			pp.reason = fmt.Sprintf("ip_prices has no entry for provider %q", s.Provider)
		}
		out = append(out, pp)
	}
	return out
}

func (c *computer) vpsUnpricedReason(provider, plan string) string {
	plans, ok := c.vpsPlans[provider]
	if !ok {
		plans = map[string]bool{}
		for _, p := range c.pl.VPSPlanNames(provider) {
			plans[p] = true
		}
		c.vpsPlans[provider] = plans
	}
	if plans[plan] {
		return fmt.Sprintf("vps_plans has provider %q plan %q only from a later effective_from", provider, plan)
	}
	return fmt.Sprintf("vps_plans has no entry for provider %q plan %q", provider, plan)
}
