package cost

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

func recPrices(t testing.TB) *pricelist.PriceList {
	return mustPriceList(t,
		`version: rec-1`, // 1
		`currency: USD`,  // 2
		`vps_plans:`,     // 3
		`  - {provider: hz, plan: small, vcpus: 1, memory_mb: 2048, monthly_price: "36.50"}`, // 4
		`  - {provider: hz, plan: medium, vcpus: 2, memory_mb: 4096, monthly_price: "73"}`,   // 5
		`  - {provider: hz, plan: big, vcpus: 4, memory_mb: 8192, monthly_price: "146"}`,     // 6
		`ip_prices:`, // 7
		`  - {provider: sg, monthly_price: "7.30"}`,                        // 8
		`  - {provider: mg, monthly_price: "14.60"}`,                       // 9
		`email_providers:`,                                                 // 10
		`  - {provider: sg, per_thousand: "0.50", monthly_base_fee: "73"}`, // 11
		`  - {provider: mg, per_thousand: "1.00", monthly_base_fee: "0"}`,  // 12
		`commitments:`, // 13
		`  - {provider: hz, resource_kind: vps, term_months: 12, discount: "0.10"}`, // 14
		`  - {provider: hz, resource_kind: vps, term_months: 24, discount: "0.20"}`, // 15
		`  - {provider: sg, resource_kind: ip, term_months: 12, discount: "0.05"}`,  // 16
	)
}

// recFleet is 14 days, [2026-03-01, 2026-03-15), every resource provisioned in February:
//
//	idle-1    hz big, daily p95 CPU 5 %, memory 20 %                → consolidate
//	near-cpu  hz big, like idle-1 but one day at p95 CPU 10 %        → not (threshold is "< 10 %")
//	near-cov  hz big, idle but samples on 11 of 14 days (78.6 %)     → not (coverage < 80 %)
//	busy      hz medium, p95 CPU 60 %
//	sg-quiet  sg marketing, 100 messages a day                       → quiet IP
//	sg-near   sg marketing, 200 a day                                → not (threshold is "< 200")
//	sg-busy   sg marketing, 10,000 a day, 98 % delivered, 1 % bounced
//	mg-1      mg marketing, 5,000 a day, 93 % delivered, 5 % bounced → pool mg/marketing
type recFleet struct {
	idleCPU, idleMem float64 // idle-1's daily p95
	mgBounced        uint64  // mg-1's bounces a day
	mgDelivered      uint64
}

func defaultRecFleet() recFleet {
	return recFleet{idleCPU: 0.05, idleMem: 0.2, mgBounced: 250, mgDelivered: 4650}
}

func (f recFleet) input(t testing.TB) Input {
	feb := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	in := Input{Window: Window{From: at(1, 0), To: at(15, 0)}, PriceList: recPrices(t)}
	for _, v := range []struct{ id, tenant, plan string }{
		{"idle-1", "t1", "big"}, {"near-cpu", "t1", "big"}, {"near-cov", "t2", "big"}, {"busy", "t2", "medium"},
	} {
		in.Inventory = append(in.Inventory, prov(v.id, v.tenant, pricelist.KindVPS, "hz", v.plan, false, feb))
	}
	for _, ip := range []struct{ id, tenant, provider string }{
		{"sg-quiet", "t1", "sg"}, {"sg-near", "t1", "sg"}, {"sg-busy", "t2", "sg"}, {"mg-1", "t3", "mg"},
	} {
		in.Inventory = append(in.Inventory, prov(ip.id, ip.tenant, pricelist.KindIP, ip.provider, "dedicated-ip", false, feb))
	}
	row := func(id, tenant string, d int, cpu, mem float64) VPSUsage {
		return VPSUsage{Day: at(d, 0), TenantID: tenant, ResourceID: id, Provider: "hz", Samples: 1440,
			CPUCoreSeconds: cpu / 2 * 4 * 86400, CPUAvg: cpu / 2, CPUP95: cpu, MemAvg: mem * 0.75, MemP95: mem}
	}
	for d := 1; d <= 14; d++ {
		in.VPSUsage = append(in.VPSUsage, row("idle-1", "t1", d, f.idleCPU, f.idleMem))
		cpu := 0.05
		if d == 7 {
			cpu = 0.10
		}
		in.VPSUsage = append(in.VPSUsage, row("near-cpu", "t1", d, cpu, 0.2))
		if d <= 11 {
			in.VPSUsage = append(in.VPSUsage, row("near-cov", "t2", d, 0.02, 0.1))
		}
		in.VPSUsage = append(in.VPSUsage, row("busy", "t2", d, 0.6, 0.5))
		in.EmailUsage = append(in.EmailUsage,
			EmailUsage{Day: at(d, 0), TenantID: "t1", IP: "sg-quiet", Pool: "marketing", Provider: "sg", Sent: 100, Delivered: 100},
			EmailUsage{Day: at(d, 0), TenantID: "t1", IP: "sg-near", Pool: "marketing", Provider: "sg", Sent: 200, Delivered: 200},
			EmailUsage{Day: at(d, 0), TenantID: "t2", IP: "sg-busy", Pool: "marketing", Provider: "sg", Sent: 10_000, Delivered: 9_800, Bounced: 100, Complained: 2},
			EmailUsage{Day: at(d, 0), TenantID: "t3", IP: "mg-1", Pool: "marketing", Provider: "mg", Sent: 5_000, Delivered: f.mgDelivered,
				Bounced: f.mgBounced, Complained: 2},
		)
	}
	return in
}

func recommend(t testing.TB, in Input, cfg RecommendConfig) Recommendations {
	t.Helper()
	mo, err := Compute(in)
	require.NoError(t, err)
	requireReconciles(t, mo)
	recs, err := Recommend(mo, cfg)
	require.NoError(t, err)
	for _, r := range recs.Items {
		require.GreaterOrEqual(t, r.SavingsMonthly.Low, Money(0), r.ID)
		require.GreaterOrEqual(t, r.SavingsMonthly.High, r.SavingsMonthly.Low, r.ID)
		require.NotEmpty(t, r.Summary)
		require.NotEmpty(t, r.Assumptions)
		require.NotEmpty(t, r.Evidence)
		require.NotEmpty(t, r.HowCalculated.Method)
		require.Equal(t, mo.PriceListVersion, r.HowCalculated.PriceListVersion)
		require.Contains(t, []Rating{RatingLow, RatingMedium, RatingHigh}, r.PerformanceRisk)
		require.Contains(t, []Rating{RatingLow, RatingMedium, RatingHigh}, r.Effort)
		require.NotRegexp(t, `(?i)\b(will save|guarantee|certain)`, r.Confidence+r.Summary)
		require.Regexp(t, `(?i)validate|check|test`, r.Confidence)
	}
	return recs
}

func byKind(recs Recommendations, kind Kind) []Recommendation {
	var out []Recommendation
	for _, r := range recs.Items {
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

func TestRecommendations(t *testing.T) {
	recs := recommend(t, defaultRecFleet().input(t), RecommendConfig{})
	lookback := Window{From: at(1, 0), To: at(15, 0)}

	type want struct {
		kind      Kind
		finding   string
		resources []string
		low, high string
		risk      Rating
		effort    Rating
	}
	// Highest possible saving first.
	wants := []want{
		// idle-1 needs 0.05 × 4 vCPU × 1.5 = 0.3 vCPU and 0.2 × 8,192 MB × 1.5 = 2,457.6 MB: the
		// cheapest hz plan that fits is medium (2 vCPU, 4,096 MB; small has 2,048 MB).
		// low = 146 − 73 = 73; high = 146 (removed). Peaks at half the thresholds: low risk.
		{KindConsolidateVPS, FindingUnderutilized, []string{"idle-1"}, "73", "146", RatingLow, RatingMedium},
		// mg/marketing against sg/marketing (over 14 days = 336 h):
		//   sg: 144,200 sent, 141,400 delivered; cost 0.5 × 144.2 = 72.1 + 3 IPs × 7.30 × 336/730
		//       (3.36 each) = 82.18 → 0.581188 per 1,000 delivered; bounce 1,400 / 144,200 = 0.97 %.
		//   mg: 70,000 sent, 65,100 delivered; 1 × 70 + 14.60 × 336/730 (6.72) = 76.72 → 1.178495
		//       per 1,000 (2.03×: costly); bounce 5 % (poor); delivery 93 % vs 98.06 % (poor).
		// Savings: (1.00 − 0.50) × 70,000 / 1,000 = 35 per 336 h → 35 × 730 / 336 = 76.041667 a
		// month; IPs 1 × (14.60 − 7.30) = 7.30; low = 83.341667; mg has no other pool and no base
		// fee: high = low + 0.
		{KindRebalanceIPPool, FindingPoolCostQuality, []string{"mg-1"}, "83.341667", "83.341667", RatingHigh, RatingHigh},
		// hz VPS present all 14 days and not flagged: near-cpu 146 + near-cov 146 + busy 73 = 365;
		// 12 months at 10 % = 36.5, 24 months at 20 % = 73.
		{KindAdjustCommitment, FindingSteadyUsage, []string{"busy", "near-cov", "near-cpu"}, "36.5", "73", RatingLow, RatingLow},
		// sg-quiet: 1,400 / 14 = 100 a day < 200; two busy sg marketing IPs can take it: 7.30.
		{KindRebalanceIPPool, FindingQuietIP, []string{"sg-quiet"}, "7.3", "7.3", RatingMedium, RatingLow},
		// sg IPs steady and not flagged: sg-near + sg-busy = 14.60 × 5 % = 0.73.
		{KindAdjustCommitment, FindingSteadyUsage, []string{"sg-busy", "sg-near"}, "0.73", "0.73", RatingLow, RatingLow},
	}
	require.Len(t, recs.Items, len(wants), "%+v", recs.Items)
	for i, w := range wants {
		r := recs.Items[i]
		require.Equal(t, w.kind, r.Kind, i)
		require.Equal(t, w.finding, r.Finding, i)
		require.Equal(t, w.resources, r.Targets.ResourceIDs, i)
		require.Equal(t, m(t, w.low), r.SavingsMonthly.Low, "%d %s", i, r.HowCalculated.Method)
		require.Equal(t, m(t, w.high), r.SavingsMonthly.High, "%d %s", i, r.HowCalculated.Method)
		require.Equal(t, w.risk, r.PerformanceRisk, i)
		require.Equal(t, w.effort, r.Effort, i)
		require.Equal(t, "USD", r.Currency, i)
		require.Equal(t, lookback, r.HowCalculated.Window)
		require.Equal(t, lookback, r.Evidence[0].Window)
	}
	// 73 + 83.341667 + 36.5 + 7.3 + 0.73 = 200.871667; 146 + 83.341667 + 73 + 7.3 + 0.73 = 310.371667.
	require.Equal(t, SavingsRange{Low: m(t, "200.871667"), High: m(t, "310.371667")}, recs.SavingsMonthly)
	require.Empty(t, recs.Notes)
	require.Equal(t, DefaultRecommendConfig(), recs.Config)
	require.Equal(t, Labels(), recs.Labels)

	c := recs.Items[0]
	require.Equal(t, RecommendationID(KindConsolidateVPS, "vps:idle-1"), c.ID)
	require.Equal(t, "Suggestion based on 14 of 14 days of utilization samples (2026-03-01T00:00:00Z to 2026-03-15T00:00:00Z); "+
		"validate with the owners before acting.", c.Confidence)
	require.Contains(t, c.HowCalculated.Method, "low = 146 (big) − 73 (medium, the cheapest hz plan with ≥ 0.30 vCPU and ≥ 2458 MB: 2 vCPU, 4096 MB, line 5) = 73")
	require.Equal(t, []string{"t1"}, c.Targets.TenantIDs)
	require.Equal(t, Metric{Name: "cpu_p95_daily_max", Value: 0.05, Unit: "fraction", Window: lookback}, c.Evidence[0])

	p := recs.Items[1]
	require.Equal(t, RecommendationID(KindRebalanceIPPool, "pool:mg/marketing"), p.ID)
	require.Equal(t, []string{"mg/marketing"}, p.Targets.Pools)
	require.Equal(t, []string{"mg", "sg"}, p.Targets.Providers)
	require.Equal(t, []string{"t3"}, p.Targets.TenantIDs)
	require.Contains(t, p.Summary, "bounce rate 5.0% against 1.0%")
	require.Contains(t, p.HowCalculated.Method, "volume: (1 − 0.5) × 70,000 / 1,000 = 35 over 336 h, × 730 / 336 = 76.041667 per month")

	cm := recs.Items[2]
	require.Equal(t, RecommendationID(KindAdjustCommitment, "provider:hz", "kind:vps"), cm.ID)
	require.Contains(t, cm.HowCalculated.Method, "12-month term: 365 × 0.1 = 36.5 (line 14); 24-month term: 365 × 0.2 = 73 (line 15)")
	require.Equal(t, []string{"t1", "t2"}, cm.Targets.TenantIDs)

	q := recs.Items[3]
	require.Equal(t, RecommendationID(KindRebalanceIPPool, "ip:sg-quiet"), q.ID)
	require.Equal(t, []string{"sg/marketing"}, q.Targets.Pools)

	b, err := json.Marshal(recs)
	require.NoError(t, err)
	require.Contains(t, string(b), `"savings_monthly":{"low":73,"high":146}`)
	require.Contains(t, string(b), `"performance_risk":"low"`)
}

func TestRecommendationNearMisses(t *testing.T) {
	tests := map[string]struct {
		fleet   func(*recFleet)
		cfg     RecommendConfig
		kind    Kind
		targets [][]string // resource ids of the kind's recommendations
		finding []string
	}{
		"idle at the CPU threshold": {
			fleet: func(f *recFleet) { f.idleCPU = 0.10 }, kind: KindConsolidateVPS, targets: nil,
		},
		"idle at the memory threshold": {
			fleet: func(f *recFleet) { f.idleMem = 0.40 }, kind: KindConsolidateVPS, targets: nil,
		},
		"idle just under the thresholds: medium risk": {
			fleet: func(f *recFleet) { f.idleCPU, f.idleMem = 0.099, 0.399 }, kind: KindConsolidateVPS,
			targets: [][]string{{"idle-1"}}, finding: []string{FindingUnderutilized},
		},
		// near-cov fits small (0.12 vCPU, 1,229 MB): low 146 − 36.5 = 109.5 sorts it first.
		"lower coverage threshold lets near-cov in": {
			cfg: RecommendConfig{MinCoverage: 0.75}, kind: KindConsolidateVPS,
			targets: [][]string{{"near-cov"}, {"idle-1"}}, finding: []string{FindingUnderutilized, FindingUnderutilized},
		},
		"quiet threshold at 100 a day: nothing is below it": {
			cfg: RecommendConfig{IPMinDailySent: 100}, kind: KindRebalanceIPPool,
			targets: [][]string{{"mg-1"}}, finding: []string{FindingPoolCostQuality},
		},
		"quiet threshold just above 200: sg-near too": {
			cfg: RecommendConfig{IPMinDailySent: 200.5}, kind: KindRebalanceIPPool,
			targets: [][]string{{"mg-1"}, {"sg-quiet"}, {"sg-near"}}, finding: []string{FindingPoolCostQuality, FindingQuietIP, FindingQuietIP},
		},
		"mg delivers well and the cost ratio is allowed": {
			fleet: func(f *recFleet) { f.mgBounced, f.mgDelivered = 50, 4_900 },
			cfg:   RecommendConfig{PoolCostRatio: 2.1}, kind: KindRebalanceIPPool,
			targets: [][]string{{"sg-quiet"}}, finding: []string{FindingQuietIP},
		},
		"mg delivers well but costs 2×: cost finding": {
			fleet: func(f *recFleet) { f.mgBounced, f.mgDelivered = 50, 4_900 }, kind: KindRebalanceIPPool,
			targets: [][]string{{"mg-1"}, {"sg-quiet"}}, finding: []string{FindingPoolCost, FindingQuietIP},
		},
		"mg bounces but cost is allowed: quality finding": {
			cfg: RecommendConfig{PoolCostRatio: 2.1}, kind: KindRebalanceIPPool,
			targets: [][]string{{"mg-1"}, {"sg-quiet"}}, finding: []string{FindingPoolQuality, FindingQuietIP},
		},
		"pools need volume": {
			cfg: RecommendConfig{PoolMinSent: 1_000_000}, kind: KindRebalanceIPPool,
			targets: [][]string{{"sg-quiet"}}, finding: []string{FindingQuietIP},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := defaultRecFleet()
			if tc.fleet != nil {
				tc.fleet(&f)
			}
			recs := byKind(recommend(t, f.input(t), tc.cfg), tc.kind)
			var got [][]string
			var findings []string
			for _, r := range recs {
				got = append(got, r.Targets.ResourceIDs)
				findings = append(findings, r.Finding)
			}
			require.Equal(t, tc.targets, got)
			require.Equal(t, tc.finding, findings)
			if name == "idle just under the thresholds: medium risk" {
				require.Equal(t, RatingMedium, recs[0].PerformanceRisk)
			}
		})
	}
}

func TestRecommendationIDsAreStable(t *testing.T) {
	first := recommend(t, defaultRecFleet().input(t), RecommendConfig{})
	again := recommend(t, defaultRecFleet().input(t), RecommendConfig{})
	require.Equal(t, first, again, "same input, same recommendations")

	// Other figures, same findings: same ids.
	f := defaultRecFleet()
	f.idleCPU, f.idleMem, f.mgBounced = 0.02, 0.1, 400
	changed := recommend(t, f.input(t), RecommendConfig{})
	ids := func(r Recommendations) map[string]Kind {
		out := map[string]Kind{}
		for _, x := range r.Items {
			out[x.ID] = x.Kind
		}
		return out
	}
	require.Equal(t, ids(first), ids(changed))
	require.NotEqual(t, first.Items[0].SavingsMonthly, changed.Items[0].SavingsMonthly, "idle-1 now fits small: another low end")

	require.Equal(t, RecommendationID(KindAdjustCommitment, "a", "b"), RecommendationID(KindAdjustCommitment, "b", "a"))
	require.NotEqual(t, RecommendationID(KindAdjustCommitment, "a"), RecommendationID(KindConsolidateVPS, "a"))
	require.Regexp(t, `^rec_[0-9a-f]{16}$`, RecommendationID(KindConsolidateVPS, "vps:x"))
}

func TestRecommendShortWindow(t *testing.T) {
	in := defaultRecFleet().input(t)
	in.Window.From = at(8, 0) // 7 days < 14-day lookback
	recs := recommend(t, in, RecommendConfig{})
	require.Empty(t, recs.Items)
	require.Len(t, recs.Notes, 1)
	require.Contains(t, recs.Notes[0], "shorter than the 14-day lookback")

	// A 7-day lookback fits.
	recs = recommend(t, in, RecommendConfig{LookbackDays: 7})
	require.NotEmpty(t, byKind(recs, KindConsolidateVPS))
}

func TestRecommendUnpricedPlanNoted(t *testing.T) {
	in := defaultRecFleet().input(t)
	in.Inventory = append(in.Inventory, prov("odd", "t1", pricelist.KindVPS, "hz", "gone", false, at(1, 0).AddDate(0, 0, -3)))
	for d := 1; d <= 14; d++ {
		in.VPSUsage = append(in.VPSUsage, VPSUsage{Day: at(d, 0), TenantID: "t1", ResourceID: "odd", Samples: 10, CPUP95: 0.01, MemP95: 0.01})
	}
	recs := recommend(t, in, RecommendConfig{})
	require.Len(t, byKind(recs, KindConsolidateVPS), 1)
	require.Equal(t, []string{`VPS "odd" is underutilized but its plan hz/gone has no price in force: no savings estimate.`}, recs.Notes)
}

func TestTenantPlanRecommendations(t *testing.T) {
	feb := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	build := func(t4plan string) Input {
		in := Input{Window: Window{From: at(1, 0), To: at(15, 0)}, PriceList: recPrices(t)}
		for _, v := range []struct{ tenant, plan, seg string }{
			{"t1", "small", "starter"}, {"t2", "small", "starter"}, {"t3", "small", "starter"}, {"t4", t4plan, "starter"},
			{"t5", "big", "enterprise"}, {"t6", "big", "enterprise"},
			{"t8", "big", "pro"}, {"t9", "small", "pro"}, // only 2 on pro: not compared
		} {
			in.Inventory = append(in.Inventory, prov("vps-"+v.tenant, v.tenant, pricelist.KindVPS, "hz", v.plan, false, feb))
			in.Segments = append(in.Segments, SegmentChange{TenantID: v.tenant, Property: SegmentPlan, Value: v.seg, EffectiveFrom: feb})
		}
		// t7, enterprise, has only a sending IP.
		in.Inventory = append(in.Inventory, prov("ip-t7", "t7", pricelist.KindIP, "sg", "dedicated-ip", false, feb))
		in.Segments = append(in.Segments, SegmentChange{TenantID: "t7", Property: SegmentPlan, Value: "enterprise", EffectiveFrom: feb})
		return in
	}
	// Over 336 h: small 36.50 → 16.8, medium 73 → 33.6, big 146 → 67.2, IP 7.30 → 3.36.
	// starter: 16.8, 16.8, 16.8 and t4; enterprise: 67.2, 67.2, 3.36 (median 67.2).
	tests := map[string]struct {
		t4plan  string
		want    []string // tenant:finding
		ratio45 float64
	}{
		// t4 big: 67.2 / median 16.8 = 4 > 3 → above. t7: 3.36 / 67.2 = 0.05 < 0.25 → below.
		"far above and far below": {t4plan: "big", want: []string{"t4:" + FindingAbovePlan, "t7:" + FindingBelowPlan}},
		// t4 medium: 33.6 / 16.8 = 2 ≤ 3 → not flagged.
		"near miss": {t4plan: "medium", want: []string{"t7:" + FindingBelowPlan}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			recs := byKind(recommend(t, build(tc.t4plan), RecommendConfig{}), KindAdjustTenantPlan)
			var got []string
			for _, r := range recs {
				got = append(got, r.Targets.TenantIDs[0]+":"+r.Finding)
				require.Equal(t, SavingsRange{}, r.SavingsMonthly, "pricing, not cost: 0")
				require.Contains(t, r.Assumptions[0], "not an infrastructure change")
				require.Equal(t, RecommendationID(KindAdjustTenantPlan, "tenant:"+r.Targets.TenantIDs[0]), r.ID)
			}
			require.Equal(t, tc.want, got)
		})
	}
	recs := byKind(recommend(t, build("big"), RecommendConfig{}), KindAdjustTenantPlan)
	ev := map[string]float64{}
	for _, e := range recs[0].Evidence {
		ev[e.Name] = e.Value
	}
	// 67.2 × 730 / 336 = 146.
	require.Equal(t, map[string]float64{"attributed_cost": 67.2, "estimated_monthly_cost": 146, "plan_median_cost": 16.8,
		"plan_median_monthly_cost": 36.5, "ratio_to_median": 4, "tenants_on_plan": 4}, ev)
}

func TestRecommendConfigValidation(t *testing.T) {
	require.NoError(t, DefaultRecommendConfig().Validate())
	require.NoError(t, RecommendConfig{}.Validate(), "zero fields take the defaults")
	require.Equal(t, DefaultRecommendConfig(), RecommendConfig{}.withDefaults())
	bad := map[string]RecommendConfig{
		"lookback":     {LookbackDays: -1},
		"coverage":     {MinCoverage: 1.5},
		"cpu":          {CPUP95Max: -0.1},
		"headroom":     {Headroom: 0.5},
		"ip":           {IPMinDailySent: -1},
		"cost ratio":   {PoolCostRatio: 1},
		"quality":      {QualityRatio: 0.5},
		"tenant high":  {TenantHighFactor: 0.5},
		"tenant low":   {TenantLowFactor: 2},
		"peers":        {MinPlanPeers: 1},
		"delivery gap": {DeliveryGapMax: 2},
	}
	for name, c := range bad {
		t.Run(name, func(t *testing.T) {
			err := c.Validate()
			require.ErrorIs(t, err, ErrInvalidInput)
			mo, cerr := Compute(Input{Window: Window{From: at(1, 0), To: at(2, 0)}, PriceList: recPrices(t)})
			require.NoError(t, cerr)
			_, err = Recommend(mo, c)
			require.ErrorIs(t, err, ErrInvalidInput)
		})
	}
}

func TestMedian(t *testing.T) {
	require.Equal(t, Money(2), median([]Money{3, 1, 2}))
	require.Equal(t, Money(3), median([]Money{1, 4, 2, 9})) // (2 + 4) / 2
	require.Equal(t, Money(2), median([]Money{1, 2}))       // 1.5 → 2 (half away from zero)
}

func TestRecommendSkipsResizedVPS(t *testing.T) {
	in := defaultRecFleet().input(t)
	// idle-1 was medium until day 3 of the lookback: its fractions mix two capacities.
	for i, e := range in.Inventory {
		if e.ResourceID == "idle-1" {
			in.Inventory[i].Plan = "medium"
			in.Inventory = append(in.Inventory, upd(in.Inventory[i], at(3, 0), "big"))
			break
		}
	}
	recs := recommend(t, in, RecommendConfig{})
	require.Empty(t, byKind(recs, KindConsolidateVPS))
	require.Equal(t, []string{`VPS "idle-1" looks underutilized but changed plan or provider during the lookback: not judged until a full lookback on big.`},
		recs.Notes)
}

func TestModelIsSafeForConcurrentReads(t *testing.T) {
	mo, err := Compute(defaultRecFleet().input(t))
	require.NoError(t, err)
	want, err := Recommend(mo, RecommendConfig{})
	require.NoError(t, err)
	done := make(chan Recommendations)
	for range 4 {
		go func() {
			r, _ := Recommend(mo, RecommendConfig{})
			_ = mo.Tenant("t1")
			done <- r
		}()
	}
	for range 4 {
		require.Equal(t, want, <-done)
	}
}
