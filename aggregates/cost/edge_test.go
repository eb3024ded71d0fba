package cost

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

func TestComputeRefusesUnusableInput(t *testing.T) {
	pl := goldenPrices(t)
	tests := map[string]Input{
		"no price list":   {Window: Window{From: at(1, 0), To: at(2, 0)}},
		"empty window":    {Window: Window{From: at(1, 0), To: at(1, 0)}, PriceList: pl},
		"reversed":        {Window: Window{From: at(2, 0), To: at(1, 0)}, PriceList: pl},
		"zero from":       {Window: Window{To: at(1, 0)}, PriceList: pl},
		"too long":        {Window: Window{From: at(1, 0), To: at(1, 0).Add(MaxWindow + time.Hour)}, PriceList: pl},
		"zero to":         {Window: Window{From: at(1, 0)}, PriceList: pl},
		"zero everything": {},
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Compute(in)
			require.ErrorIs(t, err, ErrInvalidInput)
		})
	}
}

func TestEmptyWindow(t *testing.T) {
	// No resources and no usage: everything 0, but the shape is complete.
	mo, err := Compute(Input{Window: Window{From: at(1, 0), To: at(2, 0)}, PriceList: goldenPrices(t)})
	require.NoError(t, err)
	requireReconciles(t, mo)
	require.Zero(t, mo.Totals.Total)
	require.Len(t, mo.Totals.ByResourceType, 3)
	require.Empty(t, mo.Totals.ByTenant)
	require.Len(t, mo.Totals.ByDay, 1)
	require.NotNil(t, mo.Vendors.Email)
	require.Empty(t, mo.Warnings)
	b, err := json.Marshal(mo)
	require.NoError(t, err)
	require.NotContains(t, string(b), "null", "empty lists are [], not null")
	recs, err := Recommend(mo, RecommendConfig{})
	require.NoError(t, err)
	b, err = json.Marshal(recs)
	require.NoError(t, err)
	require.NotContains(t, string(b), "null")
	b, err = json.Marshal(mo.Tenant("t1"))
	require.NoError(t, err)
	require.NotContains(t, string(b), "null")
}

func TestEmailRules(t *testing.T) {
	pl := mustPriceList(t,
		`version: email-1`,
		`currency: USD`,
		`ip_prices:`,
		`  - {provider: sg, monthly_price: "7.30"}`, // 4
		`email_providers:`,
		`  - {provider: sg, per_thousand: "0.50", monthly_base_fee: "73"}`,                                           // 6
		`  - {provider: ses, per_thousand: "0.10"}`,                                                                  // 7
		`  - {provider: ses, per_thousand: "0.12", effective_from: 2026-03-02}`,                                      // 8
		`  - {provider: ses, per_thousand: "0.20", monthly_base_fee: "730", effective_from: "2026-03-03T12:00:00Z"}`, // 9
	)
	w := Window{From: at(1, 0), To: at(5, 0)} // 96 h

	t.Run("price change at midnight and at noon", func(t *testing.T) {
		mo, err := Compute(Input{Window: w, PriceList: pl, EmailUsage: []EmailUsage{
			{Day: at(1, 0), TenantID: "t1", IP: "x", Pool: "p", Provider: "ses", Sent: 1000},
			{Day: at(2, 0), TenantID: "t1", IP: "x", Pool: "p", Provider: "ses", Sent: 1000},
			{Day: at(3, 0), TenantID: "t1", IP: "x", Pool: "p", Provider: "ses", Sent: 1000},
			{Day: at(4, 0), TenantID: "t2", IP: "x", Pool: "p", Provider: "ses", Sent: 1000},
		}})
		require.NoError(t, err)
		requireReconciles(t, mo)
		ses := emailByProvider(mo, "ses")
		// Day 1 at 0.10: 0.1. Days 2 and 3 start under 0.12 (the noon change applies from day 4):
		// 0.12 × 2,000 / 1,000 = 0.24. Day 4 at 0.20: 0.2. Volume 0.54.
		// Base fee 730/month from 03-03 12:00: 36 h × 1 = 36, split by messages 3,000 : 1,000 → 27 / 9.
		require.Equal(t, m(t, "0.54"), ses.VolumeCost)
		require.Equal(t, m(t, "36"), ses.BaseFee)
		var arith []string
		for _, c := range ses.Charges {
			arith = append(arith, c.Type+": "+c.Arithmetic)
		}
		require.Equal(t, []string{
			"volume: 0.1 × 1,000 / 1,000 = 0.1",
			"volume: 0.12 × 2,000 / 1,000 = 0.24",
			"volume: 0.2 × 1,000 / 1,000 = 0.2",
			"base_fee: 0 × 24 h / 730 h = 0",
			"base_fee: 0 × 36 h / 730 h = 0",
			"base_fee: 730 × 36 h / 730 h = 36",
		}, arith)
		// t1: 0.1 + 0.24 + 27 = 27.34; t2: 0.2 + 9 = 9.2.
		require.Equal(t, map[string]Money{"t1": m(t, "27.34"), "t2": m(t, "9.2")}, costs(mo.Totals.ByTenant))
		// Days: 0.1; 0.12; 0.12 + 12 h × 1 = 12.12; 0.2 + 24 = 24.2.
		require.Equal(t, DaySeries{{at(1, 0), m(t, "0.1")}, {at(2, 0), m(t, "0.12")}, {at(3, 0), m(t, "12.12")}, {at(4, 0), m(t, "24.2")}},
			mo.Totals.ByDay)
	})

	t.Run("base fee with no messages is unattributed", func(t *testing.T) {
		ip := prov("ip-1", "t1", pricelist.KindIP, "sg", "dedicated-ip", false, at(1, 0))
		mo, err := Compute(Input{Window: w, PriceList: pl, Inventory: []InventoryEvent{ip}})
		require.NoError(t, err)
		requireReconciles(t, mo)
		sg := emailByProvider(mo, "sg")
		// 73 × 96 / 730 = 9.6, nobody sent anything.
		require.Equal(t, m(t, "9.6"), sg.BaseFee)
		require.Equal(t, m(t, "9.6"), sg.Unattributed)
		require.Contains(t, sg.UnattributedReason, "no messages")
		// IP 7.30 × 96 / 730 = 0.96 to t1.
		require.Equal(t, map[string]Money{"t1": m(t, "0.96"), Unattributed: m(t, "9.6")}, costs(mo.Totals.ByTenant))
	})

	t.Run("unpriced email provider", func(t *testing.T) {
		mo, err := Compute(Input{Window: w, PriceList: pl, EmailUsage: []EmailUsage{
			{Day: at(1, 0), TenantID: "t1", IP: "x", Pool: "p", Provider: "postmark", Sent: 1000},
		}})
		require.NoError(t, err)
		requireReconciles(t, mo)
		pm := emailByProvider(mo, "postmark")
		require.True(t, pm.Unpriced)
		require.Zero(t, pm.Cost)
		require.Equal(t, uint64(1000), pm.Sent)
		require.Len(t, mo.Unpriced, 2) // volume and base fee
		require.Equal(t, uint64(1000), mo.Unpriced[0].Messages+mo.Unpriced[1].Messages)
		require.Contains(t, mo.Unpriced[0].Reason, `no entry for provider "postmark"`)
	})

	t.Run("rows without tenant are unattributed", func(t *testing.T) {
		mo, err := Compute(Input{Window: w, PriceList: pl, EmailUsage: []EmailUsage{
			{Day: at(1, 0), IP: "x", Pool: "p", Provider: "sg", Sent: 1000},
			{Day: at(1, 0), TenantID: "t1", IP: "x", Pool: "p", Provider: "sg", Sent: 1000},
		}})
		require.NoError(t, err)
		requireReconciles(t, mo)
		sg := emailByProvider(mo, "sg")
		// Volume 0.5 × 2 = 1, base fee 9.6: half each (by messages) → 0.5 + 4.8 = 5.3 each.
		require.Equal(t, m(t, "5.3"), sg.Unattributed)
		require.Contains(t, sg.UnattributedReason, "without tenant")
		require.Equal(t, "email usage row without tenant: its cost is unattributed", mo.Warnings[0].Reason)
	})

	t.Run("bad rows are skipped and counted", func(t *testing.T) {
		mo, err := Compute(Input{Window: w, PriceList: pl, EmailUsage: []EmailUsage{
			{Day: at(1, 0), TenantID: "t1", IP: "x", Pool: "p", Sent: 1000},
			{Day: at(1, 0), TenantID: "t1", IP: "x", Pool: "p", Provider: "sg", Sent: math.MaxUint64},
			{Day: at(9, 0), TenantID: "t1", IP: "x", Pool: "p", Provider: "sg", Sent: 5}, // outside: not a warning
		}})
		require.NoError(t, err)
		require.Zero(t, mo.Totals.Total)
		require.Len(t, mo.Warnings, 2)
	})
}

func TestSharedResourceRules(t *testing.T) {
	pl := goldenPrices(t)
	w := Window{From: at(1, 0), To: at(3, 0)}
	s := prov("vps-s", "t1", pricelist.KindVPS, "do", "std", true, at(1, 0))

	t.Run("shared then dedicated", func(t *testing.T) {
		d := s
		d.Time, d.Action, d.Shared = at(2, 0), ActionUpdated, false
		mo, err := Compute(Input{Window: w, PriceList: pl, Inventory: []InventoryEvent{s, d}, VPSUsage: []VPSUsage{
			{Day: at(1, 0), TenantID: "t2", ResourceID: "vps-s", Samples: 1, CPUCoreSeconds: 10},
			{Day: at(2, 0), TenantID: "t3", ResourceID: "vps-s", Samples: 1, CPUCoreSeconds: 10}, // day 2 is dedicated: not counted
		}})
		require.NoError(t, err)
		requireReconciles(t, mo)
		rc := resourceByID(mo, "vps-s")
		// Day 1 shared (2.4) all to t2, the only user that day; day 2 dedicated (2.4) to t1.
		require.Equal(t, []TenantShare{
			{TenantID: "t1", Basis: BasisDedicated, Share: fr(t, "0.5"), Cost: m(t, "2.4")},
			{TenantID: "t2", Basis: BasisCPUSeconds, Share: fr(t, "0.5"), Cost: m(t, "2.4"), CPUCoreSeconds: 10},
		}, rc.Attribution)
	})

	t.Run("owner also a user: mixed basis", func(t *testing.T) {
		d := s
		d.Time, d.Action, d.Shared = at(2, 0), ActionUpdated, false
		mo, err := Compute(Input{Window: w, PriceList: pl, Inventory: []InventoryEvent{s, d}, VPSUsage: []VPSUsage{
			{Day: at(1, 0), TenantID: "t1", ResourceID: "vps-s", Samples: 1, CPUCoreSeconds: 10},
		}})
		require.NoError(t, err)
		rc := resourceByID(mo, "vps-s")
		require.Equal(t, BasisMixed, rc.Attribution[0].Basis)
		require.Equal(t, m(t, "4.8"), rc.Attribution[0].Cost)
	})

	t.Run("usage without tenant on a shared VPS", func(t *testing.T) {
		mo, err := Compute(Input{Window: w, PriceList: pl, Inventory: []InventoryEvent{s}, VPSUsage: []VPSUsage{
			{Day: at(1, 0), ResourceID: "vps-s", Samples: 1, CPUCoreSeconds: 10},
			{Day: at(1, 0), TenantID: "t2", ResourceID: "vps-s", Samples: 1, CPUCoreSeconds: 30},
		}})
		require.NoError(t, err)
		requireReconciles(t, mo)
		rc := resourceByID(mo, "vps-s")
		// 4.8 split 1:3 → 1.2 unattributed, 3.6 to t2.
		require.Equal(t, m(t, "1.2"), rc.Unattributed)
		require.Equal(t, m(t, "3.6"), rc.Attribution[0].Cost)
		require.Equal(t, "usage rows without tenant", rc.UnattributedReason)
	})

	t.Run("dedicated without owner", func(t *testing.T) {
		d := prov("vps-x", "", pricelist.KindVPS, "do", "std", false, at(1, 0))
		mo, err := Compute(Input{Window: w, PriceList: pl, Inventory: []InventoryEvent{d}})
		require.NoError(t, err)
		requireReconciles(t, mo)
		rc := resourceByID(mo, "vps-x")
		require.Equal(t, m(t, "4.8"), rc.Unattributed)
		require.Empty(t, rc.Attribution)
		require.Equal(t, "no owner tenant in the inventory", rc.UnattributedReason)
	})

	t.Run("unpriced shared: usage share shown", func(t *testing.T) {
		u := prov("vps-u", "t1", pricelist.KindVPS, "do", "nope", true, at(1, 0))
		ip := prov("ip-u", "t1", pricelist.KindIP, "nowhere", "dedicated-ip", true, at(1, 0))
		mo, err := Compute(Input{Window: w, PriceList: pl, Inventory: []InventoryEvent{u, ip},
			VPSUsage: []VPSUsage{
				{Day: at(1, 0), TenantID: "t2", ResourceID: "vps-u", Samples: 1, CPUCoreSeconds: 30},
				{Day: at(1, 0), TenantID: "t3", ResourceID: "vps-u", Samples: 1, CPUCoreSeconds: 10},
			},
			EmailUsage: []EmailUsage{{Day: at(1, 0), TenantID: "t2", IP: "ip-u", Provider: "nowhere", Sent: 10}},
		})
		require.NoError(t, err)
		requireReconciles(t, mo)
		rc := resourceByID(mo, "vps-u")
		require.True(t, rc.Unpriced)
		require.Equal(t, fr(t, "0.75"), rc.Attribution[0].Share)
		require.Equal(t, fr(t, "0.25"), rc.Attribution[1].Share)
		require.Equal(t, `vps_plans has no entry for provider "do" plan "nope"`, rc.Charges[0].UnpricedReason)
		ipc := resourceByID(mo, "ip-u")
		require.Equal(t, `ip_prices has no entry for provider "nowhere"`, ipc.Charges[0].UnpricedReason)
		require.Equal(t, fr(t, "1"), ipc.Attribution[0].Share)
	})
}

func TestUsageRowValidation(t *testing.T) {
	pl := goldenPrices(t)
	w := Window{From: at(1, 0), To: at(2, 0)}
	v := prov("vps-1", "t1", pricelist.KindVPS, "do", "std", false, at(1, 0))
	mo, err := Compute(Input{Window: w, PriceList: pl, Inventory: []InventoryEvent{v}, VPSUsage: []VPSUsage{
		{Day: at(1, 0), TenantID: "t1", ResourceID: "vps-1", Samples: 1, CPUCoreSeconds: math.NaN()},
		{Day: at(1, 0), TenantID: "t1", ResourceID: "vps-1", Samples: 1, CPUCoreSeconds: -1},
		{Day: at(1, 0), TenantID: "t1", ResourceID: "vps-1", Samples: 1, CPUP95: 1.5},
		{Day: at(1, 0), TenantID: "t1", ResourceID: "vps-1", Samples: 1, MemAvg: math.Inf(1)},
		{Day: at(1, 0), TenantID: "t1", ResourceID: "ghost", Samples: 1},
		{Day: at(1, 7), TenantID: "t1", ResourceID: "vps-1", Samples: 5, CPUCoreSeconds: 3600}, // a time inside the day: truncated
	}})
	require.NoError(t, err)
	counts := map[string]int{}
	for _, w := range mo.Warnings {
		counts[w.Reason] = w.Count
	}
	require.Equal(t, map[string]int{
		"VPS usage row with cpu_core_seconds negative, not a number or out of range ignored": 2,
		"VPS usage row with a utilization outside 0..1 ignored":                              2,
		"VPS usage row of a resource the inventory does not show in the window ignored":      1,
	}, counts)
	require.Equal(t, float64(1), mo.Vendors.VPS[0].VCPUHoursUtilized)
	require.Equal(t, uint64(5), mo.Vendors.VPS[0].Samples)
}

func TestUnalignedWindow(t *testing.T) {
	// 2026-03-01 18:00 to 03-03 06:00 (36 h): three partial days; a VPS at 73/month (0.1 an
	// hour) costs 3.6, days 6 h → 0.6, 24 h → 2.4, 6 h → 0.6.
	in := Input{Window: Window{From: at(1, 18), To: at(3, 6)}, PriceList: goldenPrices(t),
		Inventory: []InventoryEvent{prov("v", "t1", pricelist.KindVPS, "do", "std", false, at(1, 0))}}
	mo, err := Compute(in)
	require.NoError(t, err)
	requireReconciles(t, mo)
	require.Equal(t, m(t, "3.6"), mo.Totals.Total)
	require.Equal(t, DaySeries{{at(1, 0), m(t, "0.6")}, {at(2, 0), m(t, "2.4")}, {at(3, 0), m(t, "0.6")}}, mo.Totals.ByDay)
	require.Equal(t, m(t, "73"), mo.Totals.EstimatedMonthly) // 3.6 × 730 / 36

	// Non-UTC input times are held in UTC.
	cet := time.FixedZone("CET", 3600)
	in.Window = Window{From: at(1, 18).In(cet), To: at(3, 6).In(cet)}
	mo2, err := Compute(in)
	require.NoError(t, err)
	require.Equal(t, mo.Totals, mo2.Totals)
	require.Equal(t, time.UTC, mo2.Window.From.Location())
}

func TestOverflowIsAnError(t *testing.T) {
	pl := mustPriceList(t,
		`version: big`,
		`currency: USD`,
		`vps_plans:`,
		`  - {provider: hz, plan: gold, vcpus: 1, memory_mb: 1, monthly_price: "1000000000"}`,
	)
	var inv []InventoryEvent
	for i := range 200 {
		inv = append(inv, prov(string(rune('a'+i%26))+string(rune('a'+i/26)), "t1", pricelist.KindVPS, "hz", "gold", false, at(1, 0)))
	}
	// 200 × 1e9 × (3 years / 730 h) ≈ 7.2e12 units = 7.2e18 micro-units: still fits int64, and the
	// estimate stays within range too.
	mo, err := Compute(Input{Window: Window{From: at(1, 0), To: at(1, 0).Add(MaxWindow)}, PriceList: pl, Inventory: inv})
	require.NoError(t, err)
	require.Positive(t, mo.Totals.Total)
	// A tiny window with that total would overflow the monthly estimate: refused, not wrapped.
	_, err = perMonth(mo.Totals.Total, time.Nanosecond)
	require.True(t, errors.Is(err, pricelist.ErrOverflow))
}

func TestMonthlyEstimateFromTheDaysWithCost(t *testing.T) {
	// A 4-day window (03-01 to 03-05) whose fleet starts on day 3 at noon: a VPS at 73/month (0.1 an
	// hour) costs 1.2 on day 3 and 2.4 on day 4, 3.6 in all. The estimate scales from day 3's
	// start, not from the window's: 3.6 × 730 / 48 = 54.75 (not 3.6 × 730 / 96 = 27.375, which
	// would average the new fleet with two days that had nothing to cost). The tenant's estimate
	// uses the same basis.
	in := Input{Window: Window{From: at(1, 0), To: at(5, 0)}, PriceList: goldenPrices(t),
		Inventory: []InventoryEvent{prov("v", "t1", pricelist.KindVPS, "do", "std", false, at(3, 12))}}
	mo, err := Compute(in)
	require.NoError(t, err)
	requireReconciles(t, mo)
	require.Equal(t, m(t, "3.6"), mo.Totals.Total)
	require.Equal(t, MonthlyBasis{Time: Window{From: at(3, 0), To: at(5, 0)}, TimeCost: m(t, "3.6"), Usage: in.Window},
		mo.Totals.EstimatedMonthlyBasis)
	require.Equal(t, m(t, "54.75"), mo.Totals.EstimatedMonthly)
	require.Contains(t, mo.Totals.EstimatedMonthlyHowCalculated.Method, "48 h (from 2026-03-03")
	require.Equal(t, m(t, "54.75"), mo.Tenant("t1").EstimatedMonthly)

	// Cost from the first day (84 h × 0.1 = 8.4 from 03-01 12:00): the basis is the window,
	// 8.4 × 730 / 96 = 63.875.
	in.Inventory = []InventoryEvent{prov("v", "t1", pricelist.KindVPS, "do", "std", false, at(1, 12))}
	mo, err = Compute(in)
	require.NoError(t, err)
	require.Equal(t, MonthlyBasis{Time: in.Window, TimeCost: m(t, "8.4"), Usage: in.Window}, mo.Totals.EstimatedMonthlyBasis)
	require.Equal(t, m(t, "63.875"), mo.Totals.EstimatedMonthly)
	require.Contains(t, mo.Totals.EstimatedMonthlyHowCalculated.Method, "96 h")

	// A usage feed younger than the inventory: the same VPS all window (9.6), and email through a
	// provider without base fee ("mg", 1.00 per 1,000) only on day 4: 2,000 messages = 2. The VPS
	// scales over the window, the volume over its one day:
	// 9.6 × 730 / 96 = 73; 2 × 730 / 24 = 60.8333333… → 60.833333; 73 + 60.833333 = 133.833333.
	// (The whole-window average, 11.6 × 730 / 96 = 88.208333, would understate the volume 4×.)
	in.Inventory = []InventoryEvent{prov("v", "t1", pricelist.KindVPS, "do", "std", false, at(1, 0))}
	in.EmailUsage = []EmailUsage{{Day: at(4, 0), TenantID: "t1", IP: "", Pool: "p", Provider: "mg", Sent: 2000, Delivered: 2000}}
	mo, err = Compute(in)
	require.NoError(t, err)
	requireReconciles(t, mo)
	require.Equal(t, MonthlyBasis{Time: in.Window, TimeCost: m(t, "9.6"), Usage: Window{From: at(4, 0), To: at(5, 0)}, UsageCost: m(t, "2")},
		mo.Totals.EstimatedMonthlyBasis)
	require.Equal(t, m(t, "133.833333"), mo.Totals.EstimatedMonthly)
	require.Equal(t, m(t, "133.833333"), mo.Tenant("t1").EstimatedMonthly)

	// No cost at all: both spans are the window and the estimate 0.
	in.Inventory, in.EmailUsage = nil, nil
	mo, err = Compute(in)
	require.NoError(t, err)
	require.Equal(t, MonthlyBasis{Time: in.Window, Usage: in.Window}, mo.Totals.EstimatedMonthlyBasis)
	require.Zero(t, mo.Totals.EstimatedMonthly)
}
