package cost

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

// resizedInLookback reports whether resource i changed plan or provider during the lookback
// (its utilization fractions would then be of different capacities).
func (r *recommender) resizedInLookback(i int) bool {
	last := r.m.res[i].last()
	for _, s := range r.m.res[i].spans {
		if overlap(s.From, s.To, r.lb.From, r.lb.To) > 0 && (s.Plan != last.Plan || s.Provider != last.Provider) {
			return true
		}
	}
	return false
}

// vpsLookback is a VPS's utilization over the lookback.
type vpsLookback struct {
	days, covered    int
	samples          uint64
	cpuMax, memMax   float64 // highest daily p95
	cpuAvg, memAvg   float64 // sample-weighted daily averages
	utilizedVCPUHour float64
}

func (r *recommender) vpsUtil(id string) vpsLookback {
	u := vpsLookback{days: r.d1 - r.d0}
	var cpu, mem float64
	for _, d := range r.m.vpsDays[id] {
		if d.day < r.d0 || d.day >= r.d1 || d.samples == 0 {
			continue
		}
		u.covered++
		u.samples += d.samples
		u.cpuMax, u.memMax = max(u.cpuMax, d.cpuP95), max(u.memMax, d.memP95)
		cpu += float64(d.samples) * d.cpuAvg
		mem += float64(d.samples) * d.memAvg
		u.utilizedVCPUHour += d.coreSeconds / 3600
	}
	if u.samples > 0 {
		u.cpuAvg, u.memAvg = cpu/float64(u.samples), mem/float64(u.samples)
	}
	return u
}

// consolidate suggests consolidating or downsizing VPS whose highest daily p95 CPU and memory
// over the lookback are under the thresholds, with enough sample coverage.
//
// Savings: low = current monthly price − the price of the cheapest same-provider plan in force
// whose vCPUs and memory cover the p95 needs × headroom (0 if none is cheaper); high = the full
// monthly price (the instance is removed once its workload moves onto other capacity).
func (r *recommender) consolidate() {
	cfg := r.cfg
	catalogue := r.m.pl.VPSPlansAt(r.end)
	for i, rc := range r.m.Resources {
		if rc.Kind != pricelist.KindVPS || !r.steady(i) {
			continue
		}
		u := r.vpsUtil(rc.ID)
		coverage := float64(u.covered) / float64(u.days)
		if coverage < cfg.MinCoverage || u.cpuMax >= cfg.CPUP95Max || u.memMax >= cfg.MemP95Max {
			continue
		}
		if r.resizedInLookback(i) {
			r.note(fmt.Sprintf("VPS %q looks underutilized but changed plan or provider during the lookback: not judged until a full lookback on %s.",
				rc.ID, rc.Plan))
			continue
		}
		cur, ok := r.m.pl.VPSPlan(rc.Provider, rc.Plan, r.end)
		if !ok {
			r.note(fmt.Sprintf("VPS %q is underutilized but its plan %s/%s has no price in force: no savings estimate.", rc.ID, rc.Provider, rc.Plan))
			continue
		}
		needCPU := u.cpuMax * float64(cur.VCPUs) * cfg.Headroom
		needMem := u.memMax * float64(cur.MemoryMB) * cfg.Headroom
		var fit *pricelist.VPSPlan
		for j := range catalogue {
			p := &catalogue[j]
			if p.Provider != rc.Provider || float64(p.VCPUs) < needCPU || float64(p.MemoryMB) < needMem {
				continue
			}
			if fit == nil || cmp.Or(cmp.Compare(p.MonthlyPrice, fit.MonthlyPrice), cmp.Compare(p.VCPUs, fit.VCPUs),
				cmp.Compare(p.MemoryMB, fit.MemoryMB), cmp.Compare(p.Plan, fit.Plan)) < 0 {
				fit = p
			}
		}
		low := Money(0)
		lowText := fmt.Sprintf("low = 0 (no %s plan covering %.2f vCPU and %.0f MB is cheaper than %s)", rc.Provider, needCPU, needMem, cur.Plan)
		if fit != nil && fit.MonthlyPrice < cur.MonthlyPrice {
			low = cur.MonthlyPrice - fit.MonthlyPrice
			lowText = fmt.Sprintf("low = %s (%s) − %s (%s, the cheapest %s plan with ≥ %.2f vCPU and ≥ %.0f MB: %d vCPU, %d MB, line %d) = %s",
				cur.MonthlyPrice, cur.Plan, fit.MonthlyPrice, fit.Plan, rc.Provider, needCPU, needMem, fit.VCPUs, fit.MemoryMB, fit.Line, low)
		}
		risk := RatingMedium
		if u.cpuMax <= cfg.CPUP95Max/2 && u.memMax <= cfg.MemP95Max/2 {
			risk = RatingLow
		}
		r.flagged[rc.ID] = true
		assumptions := []string{
			fmt.Sprintf("The highest daily p95 CPU (%s) and memory (%s) over the lookback represent the workload's needs; "+
				"a smaller plan keeps %.1f× headroom over them.", fmtPct(u.cpuMax), fmtPct(u.memMax), cfg.Headroom),
			"The upper end assumes the workload can be consolidated onto other existing capacity and the instance removed.",
			fmt.Sprintf("On-demand monthly prices in force at the end of the window, %s (price list %s); no commitment discount applied.", fmtTime(r.m.Window.To), r.m.PriceListVersion),
		}
		if rc.Shared {
			assumptions = append(assumptions, "Shared instance: utilization is the sum of its tenants' reported workloads (p95s summed: an upper bound).")
		}
		if fit != nil && fit.MonthlyPrice < cur.MonthlyPrice {
			assumptions = append(assumptions, fmt.Sprintf("Downsizing to %s needs a resize (usually a restart).", fit.Plan))
		}
		r.add(Recommendation{
			ID: RecommendationID(KindConsolidateVPS, "vps:"+rc.ID), Kind: KindConsolidateVPS, Finding: FindingUnderutilized,
			Summary: fmt.Sprintf("VPS %s (%s %s) peaked at %s CPU and %s memory (daily p95) over %d days: consolidate or downsize it.",
				rc.ID, rc.Provider, rc.Plan, fmtPct(u.cpuMax), fmtPct(u.memMax), cfg.LookbackDays),
			Targets: Targets{ResourceIDs: []string{rc.ID}, TenantIDs: r.ownersOf(i), Providers: []string{rc.Provider}, Pools: []string{}},
			Evidence: []Metric{
				r.metric("cpu_p95_daily_max", round6(u.cpuMax), "fraction"),
				r.metric("mem_p95_daily_max", round6(u.memMax), "fraction"),
				r.metric("cpu_avg", round6(u.cpuAvg), "fraction"),
				r.metric("mem_avg", round6(u.memAvg), "fraction"),
				r.metric("days_with_samples", float64(u.covered), "days"),
				r.metric("lookback_days", float64(u.days), "days"),
				r.metric("samples", float64(u.samples), "samples"),
				r.money("monthly_price", cur.MonthlyPrice),
			},
			SavingsMonthly:  SavingsRange{Low: low, High: cur.MonthlyPrice},
			Assumptions:     assumptions,
			PerformanceRisk: risk,
			Effort:          RatingMedium,
			Confidence: fmt.Sprintf("Suggestion based on %d of %d days of utilization samples (%s); validate with the owners before acting.",
				u.covered, u.days, r.lb),
			HowCalculated: r.how(lowText+fmt.Sprintf("; high = %s, the full monthly price of %s. Underutilized: highest daily p95 CPU < %s and memory < %s "+
				"on ≥ %s of the lookback days.", cur.MonthlyPrice, cur.Plan, fmtPct(cfg.CPUP95Max), fmtPct(cfg.MemP95Max), fmtPct(cfg.MinCoverage)),
				fmt.Sprintf("VPS usage of %q, %d day(s)", rc.ID, u.covered),
				fmt.Sprintf("price list vps_plans line %d (%s %s: %s/month)", cur.Line, cur.Provider, cur.Plan, cur.MonthlyPrice)),
		})
	}
}

// commitments suggests a commitment for each provider and resource kind with resources present
// over the whole lookback (and not suggested for removal), when the provider offers one.
//
// Savings: Σ monthly on-demand prices in force at the end × discount; low = the smallest discount
// offered (usually the shortest term), high = the largest.
func (r *recommender) commitments() {
	type key struct {
		provider string
		kind     pricelist.ResourceKind
	}
	type group struct {
		ids     []string
		tenants map[string]bool
		total   Money
		lines   []string
	}
	groups := map[key]*group{}
	var keys []key
	for i, rc := range r.m.Resources {
		if !r.steady(i) || r.flagged[rc.ID] {
			continue
		}
		var price Money
		var line string
		if rc.Kind == pricelist.KindVPS {
			e, ok := r.m.pl.VPSPlan(rc.Provider, rc.Plan, r.end)
			if !ok {
				continue
			}
			price, line = e.MonthlyPrice, fmt.Sprintf("%s %s (%s, line %d)", rc.ID, rc.Plan, e.MonthlyPrice, e.Line)
		} else {
			e, ok := r.m.pl.IPPrice(rc.Provider, r.end)
			if !ok {
				continue
			}
			price, line = e.MonthlyPrice, fmt.Sprintf("%s (%s, line %d)", rc.ID, e.MonthlyPrice, e.Line)
		}
		k := key{rc.Provider, rc.Kind}
		g := groups[k]
		if g == nil {
			g = &group{tenants: map[string]bool{}}
			groups[k] = g
			keys = append(keys, k)
		}
		g.ids = append(g.ids, rc.ID)
		g.total += price
		g.lines = append(g.lines, line)
		for _, t := range r.ownersOf(i) {
			g.tenants[t] = true
		}
	}
	for _, k := range keys {
		g := groups[k]
		offers := r.m.pl.Commitments(k.provider, k.kind, r.end)
		if len(offers) == 0 {
			continue
		}
		var low, high Money
		var parts []string
		for i, c := range offers {
			s, err := g.total.MulFraction(c.Discount)
			if err != nil {
				continue
			}
			if i == 0 || s < low {
				low = s
			}
			high = max(high, s)
			parts = append(parts, fmt.Sprintf("%d-month term: %s × %s = %s (line %d)", c.TermMonths, g.total, c.Discount, s, c.Line))
		}
		tenants := make([]string, 0, len(g.tenants))
		for t := range g.tenants {
			tenants = append(tenants, t)
		}
		slices.Sort(tenants)
		r.add(Recommendation{
			ID:      RecommendationID(KindAdjustCommitment, "provider:"+k.provider, "kind:"+string(k.kind)),
			Kind:    KindAdjustCommitment,
			Finding: FindingSteadyUsage,
			Summary: fmt.Sprintf("%d %s resource(s) at %s were present for all %d days: a commitment discount could lower their price.",
				len(g.ids), k.kind, k.provider, r.cfg.LookbackDays),
			Targets: Targets{ResourceIDs: g.ids, TenantIDs: tenants, Providers: []string{k.provider}, Pools: []string{}},
			Evidence: []Metric{
				r.metric("steady_resources", float64(len(g.ids)), "resources"),
				r.money("on_demand_monthly_total", g.total),
			},
			SavingsMonthly: SavingsRange{Low: low, High: high},
			Assumptions: []string{
				"The resources stay for the whole commitment term; presence over the lookback does not prove it.",
				"None of them is already under a commitment (the inventory does not record commitments).",
				fmt.Sprintf("Discounts apply to the on-demand monthly prices in force at the end of the window, %s (price list %s).", fmtTime(r.m.Window.To), r.m.PriceListVersion),
				"Resources suggested for consolidation or retirement are left out.",
			},
			PerformanceRisk: RatingLow, Effort: RatingLow,
			Confidence: fmt.Sprintf("Suggestion based on inventory showing %d resource(s) present for the whole %d-day lookback (%s); "+
				"a commitment is a financial decision: validate with finance before committing.", len(g.ids), r.cfg.LookbackDays, r.lb),
			HowCalculated: r.how(fmt.Sprintf("Σ on-demand monthly prices = %s; %s; low = %s, high = %s",
				g.total, strings.Join(parts, "; "), low, high), g.lines...),
		})
	}
}
