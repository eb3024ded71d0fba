package cost

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

// goldenPrices is chosen so that hourly rates are round: 73/month is 0.1 an hour (73 / 730),
// 36.50 is 0.05, 146 is 0.2, 7.30 is 0.01, 14.60 is 0.02.
func goldenPrices(t testing.TB) *pricelist.PriceList {
	return mustPriceList(t,
		`version: golden-1`, // 1
		`currency: USD`,     // 2
		`vps_plans:`,        // 3
		`  - {provider: hz, plan: small, vcpus: 1, memory_mb: 2048, monthly_price: "36.50"}`,                                        // 4
		`  - {provider: hz, plan: big, vcpus: 4, memory_mb: 8192, monthly_price: "73.00"}`,                                          // 5
		`  - {provider: hz, plan: big, vcpus: 4, memory_mb: 8192, monthly_price: "146.00", effective_from: "2026-03-02T12:00:00Z"}`, // 6
		`  - {provider: hz, plan: future, vcpus: 2, memory_mb: 4096, monthly_price: "10", effective_from: 2030-01-01}`,              // 7
		`  - {provider: do, plan: std, vcpus: 2, memory_mb: 4096, monthly_price: "73"}`,                                             // 8
		`ip_prices:`, // 9
		`  - {provider: sg, monthly_price: "7.30"}`,                        // 10
		`  - {provider: mg, monthly_price: "14.60"}`,                       // 11
		`email_providers:`,                                                 // 12
		`  - {provider: sg, per_thousand: "0.50", monthly_base_fee: "73"}`, // 13
		`  - {provider: mg, per_thousand: "1.00", monthly_base_fee: "0"}`,  // 14
	)
}

// goldenInput is a small fleet over the 48 h window [2026-03-01, 2026-03-03):
//
//	vps-a    hz big, t1, dedicated, since February; big goes 73 → 146 at 03-02 12:00
//	vps-b    hz small, t2, dedicated, 03-01 06:00 → decommissioned 03-02 06:00
//	vps-c    hz small, t1, resized to big at 03-01 12:00
//	vps-s    do std, shared (owner t1): t2 7,200 and t3 3,600 CPU core-seconds (2:1)
//	vps-idle do std, shared (owner t1), no usage
//	vps-u    hz future: no price before 2030 (unpriced)
//	ip-1     sg, t1, dedicated (transactional)
//	ip-2     sg, shared (owner t1): t2 3,000 and t3 1,000 messages (3:1) (marketing)
//	ip-3     mg, t2, dedicated (transactional)
//
// Segments: t1 plan pro, tier silver then gold from 03-01 12:00 (inside a day); t2 plan starter
// then pro from 03-02 00:00; t3 none.
func goldenInput(t testing.TB) Input {
	feb := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	a := prov("vps-a", "t1", pricelist.KindVPS, "hz", "big", false, feb)
	b := prov("vps-b", "t2", pricelist.KindVPS, "hz", "small", false, at(1, 6))
	c := prov("vps-c", "t1", pricelist.KindVPS, "hz", "small", false, feb)
	s := prov("vps-s", "t1", pricelist.KindVPS, "do", "std", true, feb)
	idle := prov("vps-idle", "t1", pricelist.KindVPS, "do", "std", true, feb)
	u := prov("vps-u", "t3", pricelist.KindVPS, "hz", "future", false, feb)
	ip1 := prov("ip-1", "t1", pricelist.KindIP, "sg", "dedicated-ip", false, feb)
	ip2 := prov("ip-2", "t1", pricelist.KindIP, "sg", "dedicated-ip", true, feb)
	ip3 := prov("ip-3", "t2", pricelist.KindIP, "mg", "dedicated-ip", false, feb)
	return Input{
		Window:    Window{From: at(1, 0), To: at(3, 0)},
		PriceList: goldenPrices(t),
		Inventory: []InventoryEvent{
			ip3, decom(b, at(2, 6)), a, b, c, upd(c, at(1, 12), "big"), s, idle, u, ip1, ip2,
			prov("vps-later", "t1", pricelist.KindVPS, "hz", "big", false, at(3, 0)), // after the window: not costed
		},
		VPSUsage: []VPSUsage{
			{Day: at(1, 0), TenantID: "t1", ResourceID: "vps-a", Provider: "hz", Plan: "big", Samples: 1440,
				CPUCoreSeconds: 36_000, CPUAvg: 0.1, CPUP95: 0.2, MemAvg: 0.3, MemP95: 0.4},
			{Day: at(2, 0), TenantID: "t1", ResourceID: "vps-a", Provider: "hz", Plan: "big", Samples: 1440,
				CPUCoreSeconds: 72_000, CPUAvg: 0.2, CPUP95: 0.4, MemAvg: 0.3, MemP95: 0.5},
			{Day: at(1, 0), TenantID: "t2", ResourceID: "vps-s", Provider: "do", Plan: "std", Samples: 1440,
				CPUCoreSeconds: 7_200, CPUAvg: 0.04, CPUP95: 0.05, MemAvg: 0.1, MemP95: 0.15},
			{Day: at(1, 0), TenantID: "t3", ResourceID: "vps-s", Provider: "do", Plan: "std", Samples: 1440,
				CPUCoreSeconds: 3_600, CPUAvg: 0.02, CPUP95: 0.03, MemAvg: 0.05, MemP95: 0.05},
			// Outside the window: ignored.
			{Day: at(3, 0), TenantID: "t1", ResourceID: "vps-a", Samples: 10, CPUCoreSeconds: 1e6},
		},
		EmailUsage: []EmailUsage{
			{Day: at(1, 0), TenantID: "t1", IP: "ip-1", Pool: "transactional", Provider: "sg", Sent: 2000, Delivered: 1980, Bounced: 20, Complained: 2},
			{Day: at(1, 0), TenantID: "t2", IP: "ip-2", Pool: "marketing", Provider: "sg", Sent: 3000, Delivered: 2900, Bounced: 100, Deferred: 10, Complained: 3},
			{Day: at(2, 0), TenantID: "t3", IP: "ip-2", Pool: "marketing", Provider: "sg", Sent: 1000, Delivered: 1000, Complained: 1},
			{Day: at(2, 0), TenantID: "t2", IP: "ip-3", Pool: "transactional", Provider: "mg", Sent: 500, Delivered: 450, Bounced: 50},
		},
		Segments: []SegmentChange{
			{TenantID: "t1", Property: SegmentPlan, Value: "pro", EffectiveFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
			{TenantID: "t1", Property: SegmentTier, Value: "silver", EffectiveFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
			{TenantID: "t1", Property: SegmentTier, Value: "gold", EffectiveFrom: at(1, 12)},
			{TenantID: "t2", Property: SegmentPlan, Value: "starter", EffectiveFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
			{TenantID: "t2", Property: SegmentPlan, Value: "pro", EffectiveFrom: at(2, 0)},
		},
	}
}

func TestGoldenResources(t *testing.T) {
	mo, err := Compute(goldenInput(t))
	require.NoError(t, err)
	requireReconciles(t, mo)

	type share struct {
		tenant string
		cost   string
	}
	tests := map[string]struct {
		hours        float64
		cost         string
		arithmetic   []string
		lines        []int
		attribution  []share
		unattributed string
		unpriced     bool
		plan         string
	}{
		// Price change inside the window: 36 h at 73 (0.1/h) and 12 h at 146 (0.2/h).
		"vps-a": {hours: 48, cost: "6", lines: []int{5, 6}, plan: "big",
			arithmetic:  []string{"73 × 36 h / 730 h = 3.6", "146 × 12 h / 730 h = 2.4"},
			attribution: []share{{"t1", "6"}}, unattributed: "0"},
		// Decommissioned inside the window (and provisioned inside it): 24 h × 0.05 = 1.2.
		"vps-b": {hours: 24, cost: "1.2", lines: []int{4}, plan: "small",
			arithmetic:  []string{"36.5 × 24 h / 730 h = 1.2"},
			attribution: []share{{"t2", "1.2"}}, unattributed: "0"},
		// Resize inside the window: small 12 h × 0.05 = 0.6, big 24 h × 0.1 = 2.4, big after the
		// price change 12 h × 0.2 = 2.4; 0.6 + 2.4 + 2.4 = 5.4.
		"vps-c": {hours: 48, cost: "5.4", lines: []int{4, 5, 6}, plan: "big",
			arithmetic:  []string{"36.5 × 12 h / 730 h = 0.6", "73 × 24 h / 730 h = 2.4", "146 × 12 h / 730 h = 2.4"},
			attribution: []share{{"t1", "5.4"}}, unattributed: "0"},
		// Shared, split 2:1 by CPU core-seconds (7,200 : 3,600): 48 h × 0.1 = 4.8 → 3.2 and 1.6.
		"vps-s": {hours: 48, cost: "4.8", lines: []int{8}, plan: "std",
			arithmetic:  []string{"73 × 48 h / 730 h = 4.8"},
			attribution: []share{{"t2", "3.2"}, {"t3", "1.6"}}, unattributed: "0"},
		// Shared with no usage: all 4.8 unattributed.
		"vps-idle": {hours: 48, cost: "4.8", lines: []int{8}, plan: "std",
			arithmetic:  []string{"73 × 48 h / 730 h = 4.8"},
			attribution: []share{}, unattributed: "4.8"},
		// No price in force (the plan is priced from 2030): 0, flagged.
		"vps-u": {hours: 48, cost: "0", lines: []int{0}, plan: "future", unpriced: true,
			arithmetic:  []string{"no price in force: 0"},
			attribution: []share{{"t3", "0"}}, unattributed: "0"},
		// IP 7.30/month: 48 h × 0.01 = 0.48.
		"ip-1": {hours: 48, cost: "0.48", lines: []int{10}, plan: "dedicated-ip",
			arithmetic:  []string{"7.3 × 48 h / 730 h = 0.48"},
			attribution: []share{{"t1", "0.48"}}, unattributed: "0"},
		// Shared IP, split 3:1 by messages (3,000 : 1,000): 0.36 and 0.12.
		"ip-2": {hours: 48, cost: "0.48", lines: []int{10}, plan: "dedicated-ip",
			arithmetic:  []string{"7.3 × 48 h / 730 h = 0.48"},
			attribution: []share{{"t2", "0.36"}, {"t3", "0.12"}}, unattributed: "0"},
		// 14.60/month: 48 h × 0.02 = 0.96.
		"ip-3": {hours: 48, cost: "0.96", lines: []int{11}, plan: "dedicated-ip",
			arithmetic:  []string{"14.6 × 48 h / 730 h = 0.96"},
			attribution: []share{{"t2", "0.96"}}, unattributed: "0"},
	}
	require.Len(t, mo.Resources, len(tests), "vps-later is provisioned at the window's end: not costed")
	for id, tc := range tests {
		t.Run(id, func(t *testing.T) {
			rc := resourceByID(mo, id)
			require.Equal(t, id, rc.ID)
			require.InDelta(t, tc.hours, rc.Hours, 1e-9)
			require.Equal(t, m(t, tc.cost), rc.Cost)
			require.Equal(t, tc.plan, rc.Plan)
			require.Equal(t, tc.unpriced, rc.Unpriced)
			require.Equal(t, m(t, tc.unattributed), rc.Unattributed)
			var arith []string
			var lines []int
			for _, c := range rc.Charges {
				arith = append(arith, c.Arithmetic)
				if c.Price != nil {
					lines = append(lines, c.Price.Line)
				} else {
					lines = append(lines, 0)
					require.NotEmpty(t, c.UnpricedReason)
				}
			}
			require.Equal(t, tc.arithmetic, arith)
			require.Equal(t, tc.lines, lines)
			var got []share
			for _, a := range rc.Attribution {
				got = append(got, share{a.TenantID, a.Cost.String()})
			}
			if got == nil {
				got = []share{}
			}
			require.Equal(t, tc.attribution, got)
			require.Equal(t, "golden-1", rc.HowCalculated.PriceListVersion)
			require.Equal(t, mo.Window, rc.HowCalculated.Window)
			require.NotEmpty(t, rc.HowCalculated.Method)
			require.NotEmpty(t, rc.HowCalculated.Inputs)
		})
	}

	s := resourceByID(mo, "vps-s")
	require.Equal(t, []TenantShare{
		{TenantID: "t2", Basis: BasisCPUSeconds, Share: fr(t, "0.666667"), Cost: m(t, "3.2"), CPUCoreSeconds: 7200},
		{TenantID: "t3", Basis: BasisCPUSeconds, Share: fr(t, "0.333333"), Cost: m(t, "1.6"), CPUCoreSeconds: 3600},
	}, s.Attribution)
	require.Contains(t, resourceByID(mo, "vps-idle").UnattributedReason, "no usage")
	ip2 := resourceByID(mo, "ip-2")
	require.Equal(t, TenantShare{TenantID: "t2", Basis: BasisMessages, Share: fr(t, "0.75"), Cost: m(t, "0.36"), MessagesSent: 3000}, ip2.Attribution[0])
	// The resize shows in the charges: small then big.
	c := resourceByID(mo, "vps-c")
	require.Equal(t, "small", c.Charges[0].Plan)
	require.Equal(t, at(1, 12), c.Charges[0].To)
	require.Equal(t, 4, c.Charges[1].Price.VCPUs)
	require.Equal(t, at(2, 12), c.Charges[2].Price.EffectiveFrom)
	// An unpriced resource keeps its usage share (1 for dedicated).
	require.Equal(t, Fraction(pricelist.FractionOne), resourceByID(mo, "vps-u").Attribution[0].Share)
	require.Equal(t, []Unpriced{{Kind: "vps", ResourceID: "vps-u", Provider: "hz", Plan: "future", From: at(1, 0), To: at(3, 0), Hours: 48,
		Reason: `vps_plans has provider "hz" plan "future" only from a later effective_from`}}, mo.Unpriced)
}

func TestGoldenEmail(t *testing.T) {
	mo, err := Compute(goldenInput(t))
	require.NoError(t, err)
	require.Len(t, mo.Email, 2)

	sg := emailByProvider(mo, "sg")
	// Volume: 0.50 × 6,000 / 1,000 = 3. Base fee: 73 × 48 h / 730 h = 4.8. Total 7.8.
	require.Equal(t, uint64(6000), sg.Sent)
	require.Equal(t, m(t, "3"), sg.VolumeCost)
	require.Equal(t, m(t, "4.8"), sg.BaseFee)
	require.Equal(t, m(t, "7.8"), sg.Cost)
	require.Equal(t, []string{"0.5 × 6,000 / 1,000 = 3", "73 × 48 h / 730 h = 4.8"},
		[]string{sg.Charges[0].Arithmetic, sg.Charges[1].Arithmetic})
	require.Equal(t, 13, sg.Charges[0].Price.Line)
	// Attribution: volume by own messages (2,000 / 3,000 / 1,000 → 1 / 1.5 / 0.5) plus the base fee
	// by messages share (4.8 × 2/6, 3/6, 1/6 → 1.6 / 2.4 / 0.8):
	//   t1 = 1 + 1.6 = 2.6, t2 = 1.5 + 2.4 = 3.9, t3 = 0.5 + 0.8 = 1.3; 2.6 + 3.9 + 1.3 = 7.8.
	require.Equal(t, []TenantShare{
		{TenantID: "t1", Basis: BasisMessages, Share: fr(t, "0.333333"), Cost: m(t, "2.6"), MessagesSent: 2000},
		{TenantID: "t2", Basis: BasisMessages, Share: fr(t, "0.5"), Cost: m(t, "3.9"), MessagesSent: 3000},
		{TenantID: "t3", Basis: BasisMessages, Share: fr(t, "0.166667"), Cost: m(t, "1.3"), MessagesSent: 1000},
	}, sg.Attribution)
	require.Zero(t, sg.Unattributed)

	mg := emailByProvider(mo, "mg")
	// 1.00 × 500 / 1,000 = 0.5; base fee 0.
	require.Equal(t, m(t, "0.5"), mg.Cost)
	require.Equal(t, m(t, "0"), mg.BaseFee)
	require.Equal(t, "0 × 48 h / 730 h = 0", mg.Charges[1].Arithmetic)
}

func TestGoldenTotals(t *testing.T) {
	mo, err := Compute(goldenInput(t))
	require.NoError(t, err)
	requireReconciles(t, mo)
	tot := mo.Totals

	// VPS: 6 + 1.2 + 5.4 + 4.8 + 4.8 + 0 = 22.2; IPs: 0.48 + 0.48 + 0.96 = 1.92;
	// email: 7.8 + 0.5 = 8.3. Total 22.2 + 1.92 + 8.3 = 32.42.
	require.Equal(t, m(t, "32.42"), tot.Total)
	// 32.42 × 730 / 48 = 493.0541666… → 493.054167.
	require.Equal(t, m(t, "493.054167"), tot.EstimatedMonthly)
	require.Equal(t, m(t, "4.8"), tot.Unattributed)
	require.Equal(t, []string{"vps", "ip", "email"}, []string{tot.ByResourceType[0].Key, tot.ByResourceType[1].Key, tot.ByResourceType[2].Key})
	require.Equal(t, map[string]Money{"vps": m(t, "22.2"), "ip": m(t, "1.92"), "email": m(t, "8.3")}, costs(tot.ByResourceType))
	// hz: 6 + 1.2 + 5.4 = 12.6; do: 4.8 + 4.8 = 9.6; sg: IPs 0.96 + email 7.8 = 8.76; mg: 0.96 + 0.5 = 1.46.
	require.Equal(t, map[string]Money{"hz": m(t, "12.6"), "do": m(t, "9.6"), "sg": m(t, "8.76"), "mg": m(t, "1.46")}, costs(tot.ByProvider))
	require.Equal(t, []string{"hz", "do", "sg", "mg"}, []string{tot.ByProvider[0].Key, tot.ByProvider[1].Key, tot.ByProvider[2].Key, tot.ByProvider[3].Key})
	// t1: vps-a 6 + vps-c 5.4 + ip-1 0.48 + sg 2.6 = 14.48
	// t2: vps-b 1.2 + vps-s 3.2 + ip-2 0.36 + ip-3 0.96 + sg 3.9 + mg 0.5 = 10.12
	// t3: vps-s 1.6 + ip-2 0.12 + sg 1.3 = 3.02; unattributed: vps-idle 4.8. Sum 32.42.
	require.Equal(t, map[string]Money{"t1": m(t, "14.48"), "t2": m(t, "10.12"), "t3": m(t, "3.02"), Unattributed: m(t, "4.8")}, costs(tot.ByTenant))
	require.Equal(t, fr(t, "0.446638"), tot.ByTenant[0].Share) // 14.48 / 32.42 = 0.4466378…

	// By day. Day 1: vps-a 24 h × 0.1 = 2.4; vps-b 18 h × 0.05 = 0.9; vps-c 12 h × 0.05 + 12 h × 0.1
	// = 1.8; vps-s 2.4; vps-idle 2.4; IPs 0.24 + 0.24 + 0.48; sg volume (2,000 + 3,000) × 0.0005
	// = 2.5; sg base fee 2.4 → 15.76. Day 2: vps-a 12 h × 0.1 + 12 h × 0.2 = 3.6; vps-b 6 h × 0.05
	// = 0.3; vps-c 3.6; vps-s 2.4; vps-idle 2.4; IPs 0.96; sg volume 0.5; base fee 2.4; mg 0.5
	// → 16.66. 15.76 + 16.66 = 32.42.
	require.Equal(t, DaySeries{{Day: at(1, 0), Cost: m(t, "15.76")}, {Day: at(2, 0), Cost: m(t, "16.66")}}, tot.ByDay)

	// By plan: t2 is starter on day 1 and pro on day 2.
	// t2 day 1: vps-b 0.9 + vps-s 1.6 (its 3.2 spread over the two 2.4 days by the tenants'
	// remaining amounts: 2.4 × 3.2/4.8) + ip-2 0.18 + ip-3 0.48 + sg volume 1.5 + sg base fee 1.2
	// (2.4 × 2.4/4.8) = 5.86; day 2: 0.3 + 1.6 + 0.18 + 0.48 + 0 + 1.2 + mg 0.5 = 4.26.
	// pro = t1 14.48 + 4.26 = 18.74; starter = 5.86; unknown = t3 3.02; unattributed 4.8.
	require.Equal(t, map[string]Money{"pro": m(t, "18.74"), "starter": m(t, "5.86"), UnknownSegment: m(t, "3.02"), Unattributed: m(t, "4.8")},
		costs(tot.ByPlan))
	require.Equal(t, []Money{m(t, "14.48") - m(t, "8.24"), m(t, "8.24") + m(t, "4.26")}, dayCosts(tot.ByPlan, "pro"))
	// By tier: t1 changes silver → gold at noon of day 1. t1 day 1 = vps-a 2.4 + vps-c 1.8 + ip-1
	// 0.24 + sg volume 1 + sg base fee 0.8 = 6.24, split 12 h : 12 h → silver 3.12, gold 3.12;
	// day 2 all gold: 3.6 + 3.6 + 0.24 + 0.8 = 8.24. gold = 11.36, silver = 3.12,
	// unknown = t2 + t3 = 13.14, unattributed 4.8.
	require.Equal(t, map[string]Money{"gold": m(t, "11.36"), "silver": m(t, "3.12"), UnknownSegment: m(t, "13.14"), Unattributed: m(t, "4.8")},
		costs(tot.ByTier))
	require.Equal(t, []Money{m(t, "3.12"), m(t, "8.24")}, dayCosts(tot.ByTier, "gold"))

	require.Equal(t, []string{LabelModeled, LabelNotInvoice}, mo.Labels)
	require.Equal(t, "golden-1", tot.HowCalculated.PriceListVersion)
	require.Contains(t, tot.EstimatedMonthlyHowCalculated.Method, "48 h")
}

func TestGoldenVendors(t *testing.T) {
	mo, err := Compute(goldenInput(t))
	require.NoError(t, err)
	v := mo.Vendors

	require.Equal(t, []EmailVendor{
		{
			// sent 6,000, delivered 1,980 + 2,900 + 1,000 = 5,880, bounced 120, complained 6.
			// delivery 5,880/6,000 = 0.98; bounce 120/6,000 = 0.02; complaint 6/5,880 =
			// 0.0010204… → 0.00102. Cost = volume 3 + base fee 4.8 + IPs 0.96 = 8.76;
			// per 1,000 delivered 8.76 × 1000 / 5,880 = 1.4897959… → 1.489796.
			Provider: "mg", Sent: 500, Delivered: 450, Bounced: 50, DeliveryRate: fr(t, "0.9"), BounceRate: fr(t, "0.1"),
			IPs: 1, VolumeCost: m(t, "0.5"), IPCost: m(t, "0.96"), Cost: m(t, "1.46"),
			CostPerThousandDelivered: mp(t, "3.244444"), // 1.46 × 1000 / 450 = 3.2444…
		},
		{
			Provider: "sg", Sent: 6000, Delivered: 5880, Bounced: 120, Deferred: 10, Complained: 6,
			DeliveryRate: fr(t, "0.98"), BounceRate: fr(t, "0.02"), ComplaintRate: fr(t, "0.00102"),
			IPs: 2, VolumeCost: m(t, "3"), BaseFee: m(t, "4.8"), IPCost: m(t, "0.96"), Cost: m(t, "8.76"),
			CostPerThousandDelivered: mp(t, "1.489796"),
		},
	}, v.Email)

	require.Equal(t, []EmailPool{
		{Provider: "mg", Pool: "transactional", Sent: 500, Delivered: 450, Bounced: 50, DeliveryRate: fr(t, "0.9"), BounceRate: fr(t, "0.1"),
			IPs: []string{"ip-3"}, VolumeCost: m(t, "0.5"), IPCost: m(t, "0.96"), Cost: m(t, "1.46"), CostPerThousandDelivered: mp(t, "3.244444")},
		// marketing: 4,000 sent × 0.0005 = 2 + ip-2 0.48 = 2.48; 2.48 × 1000 / 3,900 = 0.6358974… → 0.635897.
		{Provider: "sg", Pool: "marketing", Sent: 4000, Delivered: 3900, Bounced: 100, Complained: 4,
			DeliveryRate: fr(t, "0.975"), BounceRate: fr(t, "0.025"), ComplaintRate: fr(t, "0.001026"), // 4 / 3,900 = 0.0010256…
			IPs: []string{"ip-2"}, VolumeCost: m(t, "2"), IPCost: m(t, "0.48"), Cost: m(t, "2.48"), CostPerThousandDelivered: mp(t, "0.635897")},
		// transactional: 2,000 × 0.0005 = 1 + ip-1 0.48 = 1.48; 1.48 × 1000 / 1,980 = 0.7474747… → 0.747475.
		{Provider: "sg", Pool: "transactional", Sent: 2000, Delivered: 1980, Bounced: 20, Complained: 2,
			DeliveryRate: fr(t, "0.99"), BounceRate: fr(t, "0.01"), ComplaintRate: fr(t, "0.00101"), // 2 / 1,980 = 0.0010101…
			IPs: []string{"ip-1"}, VolumeCost: m(t, "1"), IPCost: m(t, "0.48"), Cost: m(t, "1.48"), CostPerThousandDelivered: mp(t, "0.747475")},
	}, v.EmailPools)

	require.Equal(t, []VPSVendor{
		{
			// do: vps-s and vps-idle, 9.6; 2 vCPU × 48 h × 2 = 192 vCPU-h; utilized (7,200 + 3,600) /
			// 3,600 = 3; 3 / 192 = 0.015625; 9.6 / 3 = 3.2. Daily values of vps-s summed over its
			// tenants: cpu avg 0.04 + 0.02, p95 0.05 + 0.03, mem 0.1 + 0.05, 0.15 + 0.05.
			Provider: "do", Instances: 2, Cost: m(t, "9.6"), VCPUHoursProvisioned: 192, VCPUHoursUtilized: 3, Utilization: 0.015625,
			CostPerUtilizedVCPUHour: mp(t, "3.2"), CPUAvg: 0.06, CPUP95: 0.08, MemAvg: 0.15, MemP95: 0.2, Samples: 1440,
		},
		{
			// hz: vps-a, -b, -c, -u, 12.6; vCPU-hours: a 4 × 48 = 192, b 1 × 24 = 24, c 1 × 12 + 4 × 36
			// = 156, u unpriced (48 h): 372; utilized (36,000 + 72,000) / 3,600 = 30; 30 / 372 =
			// 0.0806451… → 0.080645; 12.6 / 30 = 0.42. Sample-weighted: cpu avg (0.1 + 0.2) / 2 = 0.15,
			// p95 (0.2 + 0.4) / 2 = 0.3, mem avg 0.3, mem p95 (0.4 + 0.5) / 2 = 0.45.
			Provider: "hz", Instances: 4, Cost: m(t, "12.6"), VCPUHoursProvisioned: 372, UnpricedHours: 48, VCPUHoursUtilized: 30,
			Utilization: 0.080645, CostPerUtilizedVCPUHour: mp(t, "0.42"), CPUAvg: 0.15, CPUP95: 0.3, MemAvg: 0.3, MemP95: 0.45, Samples: 2880,
		},
	}, v.VPS)
	require.Equal(t, mo.Window, v.HowCalculated.Window)
}

func TestGoldenJSONShape(t *testing.T) {
	mo, err := Compute(goldenInput(t))
	require.NoError(t, err)
	b, err := json.Marshal(mo)
	require.NoError(t, err)
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &top))
	for _, k := range []string{"window", "price_list_version", "currency", "labels", "resources", "email", "totals", "vendors", "unpriced", "warnings"} {
		require.Contains(t, top, k)
	}
	require.JSONEq(t, `{"from":"2026-03-01T00:00:00Z","to":"2026-03-03T00:00:00Z"}`, string(top["window"]))
	var res []map[string]any
	require.NoError(t, json.Unmarshal(top["resources"], &res))
	require.Equal(t, "ip-1", res[0]["id"], "sorted by kind, then id")
	require.Equal(t, 0.48, res[0]["cost"], "money is a JSON number")
	var tot map[string]any
	require.NoError(t, json.Unmarshal(top["totals"], &tot))
	require.Equal(t, 32.42, tot["total"])
	require.Equal(t, 493.054167, tot["estimated_monthly"])
}
