package cost

import (
	"cmp"
	"fmt"
	"slices"
)

// tenantPlans flags tenants whose attributed cost is far above or below the median of the
// tenants on the same plan (the plan in force at the end of the window). Savings are 0: it is a
// question of what the tenant pays, not of infrastructure cost.
func (r *recommender) tenantPlans() {
	cfg := r.cfg
	type tenant struct {
		id   string
		cost Money
	}
	byPlan := map[string][]tenant{}
	for _, g := range r.m.Totals.ByTenant {
		if g.Key == Unattributed {
			continue
		}
		plan := r.m.segs.at(SegmentPlan, g.Key, r.end)
		if plan == UnknownSegment {
			continue
		}
		byPlan[plan] = append(byPlan[plan], tenant{g.Key, g.Cost})
	}
	plans := make([]string, 0, len(byPlan))
	for p := range byPlan {
		plans = append(plans, p)
	}
	slices.Sort(plans)
	w := r.m.Window
	for _, plan := range plans {
		ts := byPlan[plan]
		if len(ts) < cfg.MinPlanPeers {
			continue
		}
		costs := make([]Money, len(ts))
		for i, t := range ts {
			costs[i] = t.cost
		}
		med := median(costs)
		if med <= 0 {
			continue
		}
		slices.SortFunc(ts, func(a, b tenant) int { return cmp.Compare(a.id, b.id) })
		for _, t := range ts {
			x := float64(t.cost) / float64(med)
			var finding, summary string
			switch {
			case x > cfg.TenantHighFactor:
				finding = FindingAbovePlan
				summary = fmt.Sprintf("Tenant %s on plan %s costs %.1f× the plan's median: review whether its plan fits its usage.", t.id, plan, x)
			case x < cfg.TenantLowFactor:
				finding = FindingBelowPlan
				summary = fmt.Sprintf("Tenant %s on plan %s costs %.2f× the plan's median: it uses far less than its peers; review its plan.", t.id, plan, x)
			default:
				continue
			}
			monthly, _ := perMonth(t.cost, w.Duration())
			medMonthly, _ := perMonth(med, w.Duration())
			r.add(Recommendation{
				ID: RecommendationID(KindAdjustTenantPlan, "tenant:"+t.id), Kind: KindAdjustTenantPlan, Finding: finding,
				Summary: summary,
				Targets: Targets{ResourceIDs: []string{}, TenantIDs: []string{t.id}, Providers: []string{}, Pools: []string{}},
				Evidence: []Metric{
					{Name: "attributed_cost", Value: moneyFloat(t.cost), Unit: r.m.Currency, Window: w},
					{Name: "estimated_monthly_cost", Value: moneyFloat(monthly), Unit: r.m.Currency + "/month", Window: w},
					{Name: "plan_median_cost", Value: moneyFloat(med), Unit: r.m.Currency, Window: w},
					{Name: "plan_median_monthly_cost", Value: moneyFloat(medMonthly), Unit: r.m.Currency + "/month", Window: w},
					{Name: "ratio_to_median", Value: round6(x), Unit: "ratio", Window: w},
					{Name: "tenants_on_plan", Value: float64(len(ts)), Unit: "tenants", Window: w},
				},
				SavingsMonthly: SavingsRange{},
				Assumptions: []string{
					"This is a pricing question (what the tenant pays for its plan), not an infrastructure change: no saving is claimed (0).",
					"Tenants on one plan are expected to cost about the same to serve.",
				},
				PerformanceRisk: RatingLow, Effort: RatingMedium,
				Confidence: fmt.Sprintf("Comparison of modeled cost with %d tenants on plan %s over %s; validate with account management before any plan change.",
					len(ts), plan, w),
				HowCalculated: HowCalculated{
					Method: fmt.Sprintf("ratio = attributed cost %s / median of plan %s %s = %.4f; flagged above %.2f× or below %.2f×",
						t.cost, plan, med, x, cfg.TenantHighFactor, cfg.TenantLowFactor),
					Inputs:           []string{"tenant attribution over the window", "tenant segments (plan)"},
					PriceListVersion: r.m.PriceListVersion, Window: w,
				},
			})
		}
	}
}

// median returns the median of a (the mean of the middle two, rounded half away from zero, for
// an even count).
func median(a []Money) Money {
	s := slices.Clone(a)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	m, _ := (s[n/2-1] + s[n/2]).MulDiv(1, 2)
	return m
}
