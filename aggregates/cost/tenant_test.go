package cost

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

func TestTenantView(t *testing.T) {
	mo, err := Compute(goldenInput(t))
	require.NoError(t, err)

	t2 := mo.Tenant("t2")
	// t2: vps-b 1.2 + vps-s 3.2 + ip-2 0.36 + ip-3 0.96 + sg 3.9 + mg 0.5 = 10.12 (see TestGoldenTotals).
	require.Equal(t, m(t, "10.12"), t2.Total)
	// Time-driven (resources, base fees): 10.12 − email volume (sg 1.5 + mg 0.5 = 2) = 8.12;
	// 8.12 × 730 / 48 = 123.4916666… → 123.491667. Volume: 2 × 730 / 48 = 30.4166666… → 30.416667.
	// Both cost kinds start on the window's first day, so both spans are the window's 48 h.
	// 123.491667 + 30.416667 = 153.908334.
	require.Equal(t, m(t, "153.908334"), t2.EstimatedMonthly)
	require.Equal(t, "pro", t2.Plan)
	require.Equal(t, "USD", t2.Currency)
	require.Equal(t, UnknownSegment, t2.Tier)
	require.Equal(t, map[string]Money{"vps": m(t, "4.4"), "ip": m(t, "1.32"), "email": m(t, "4.4")}, costs(t2.ByResourceType))
	require.Equal(t, map[string]Money{"hz": m(t, "1.2"), "do": m(t, "3.2"), "sg": m(t, "4.26"), "mg": m(t, "1.46")}, costs(t2.ByProvider))
	require.Equal(t, DaySeries{{at(1, 0), m(t, "5.86")}, {at(2, 0), m(t, "4.26")}}, t2.ByDay)
	var ids []string
	for _, r := range t2.Resources {
		ids = append(ids, r.ID)
	}
	require.Equal(t, []string{"ip-2", "ip-3", "vps-b", "vps-s"}, ids)
	require.Equal(t, []TenantEmail{
		{Provider: "mg", TenantShare: TenantShare{TenantID: "t2", Basis: BasisMessages, Share: fr(t, "1"), Cost: m(t, "0.5"), MessagesSent: 500}},
		{Provider: "sg", TenantShare: TenantShare{TenantID: "t2", Basis: BasisMessages, Share: fr(t, "0.5"), Cost: m(t, "3.9"), MessagesSent: 3000}},
	}, t2.Email)

	// Tenant isolation: the view of t2 never names another tenant.
	b, err := json.Marshal(t2)
	require.NoError(t, err)
	require.NotContains(t, string(b), `"t1"`)
	require.NotContains(t, string(b), `"t3"`)

	// A tenant with nothing: zeros, a full day series, no error.
	none := mo.Tenant("t9")
	require.Zero(t, none.Total)
	require.Len(t, none.ByDay, 2)
	require.Empty(t, none.Resources)
	require.Equal(t, Labels(), none.Labels)
	// "unattributed" is not a tenant.
	require.Zero(t, mo.Tenant(Unattributed).Total)
	require.Zero(t, mo.Tenant("").Total)
}

func TestRealizedSavings(t *testing.T) {
	pl := goldenPrices(t)
	feb := at(1, 0).AddDate(0, -1, 0)
	// vps-x (do std, 73/month = 0.1 an hour) is consolidated away at 03-03 00:00; vps-y stays.
	x := prov("vps-x", "t1", pricelist.KindVPS, "do", "std", false, feb)
	y := prov("vps-y", "t1", pricelist.KindVPS, "do", "std", false, feb)
	inv := []InventoryEvent{x, y, decom(x, at(3, 0))}
	before, err := Compute(Input{Window: Window{From: at(1, 0), To: at(3, 0)}, PriceList: pl, Inventory: inv})
	require.NoError(t, err)
	after, err := Compute(Input{Window: Window{From: at(3, 0), To: at(5, 0)}, PriceList: pl, Inventory: inv})
	require.NoError(t, err)

	rec := Recommendation{Kind: KindConsolidateVPS, Targets: Targets{ResourceIDs: []string{"vps-x"}, Providers: []string{"do"}}}
	scope := ScopeOf(rec)
	require.Equal(t, Scope{ResourceIDs: []string{"vps-x"}, EmailProviders: []string{}}, scope)
	re, err := RealizedSavings(before, after, scope)
	require.NoError(t, err)
	// Before: 48 h × 0.1 = 4.8; after: gone, 0. Saved 4.8; monthly 4.8 × 730 / 48 = 73.
	require.Equal(t, m(t, "4.8"), re.Before.Cost)
	require.Equal(t, []ItemCost{{Key: "vps:vps-x", Cost: m(t, "4.8")}}, re.Before.Items)
	require.Equal(t, []ItemCost{{Key: "resource:vps-x"}}, re.After.Items)
	require.Zero(t, re.After.Cost)
	require.Equal(t, m(t, "4.8"), re.Saved)
	require.Equal(t, m(t, "73"), re.SavedMonthly)
	require.Equal(t, "USD", re.Currency)

	// Spans costed in different currencies are not compared.
	eur := *after
	eur.Currency = "EUR"
	_, err = RealizedSavings(before, &eur, scope)
	require.ErrorIs(t, err, ErrSpanMismatch)
	require.Contains(t, re.HowCalculated.Method, "before (4.8) − after (0) = 4.8")
	require.Equal(t, Window{From: at(1, 0), To: at(5, 0)}, re.HowCalculated.Window)
	require.Equal(t, Labels(), re.Labels)

	// The other way round, a cost that rose is a negative saving.
	re, err = RealizedSavings(before, after, Scope{ResourceIDs: []string{"vps-y", "vps-y"}})
	require.NoError(t, err)
	require.Zero(t, re.Saved)
	require.Equal(t, []string{"vps-y"}, re.Scope.ResourceIDs)

	// Email providers in scope.
	golden, err := Compute(goldenInput(t))
	require.NoError(t, err)
	re, err = RealizedSavings(golden, after, ScopeOf(Recommendation{Kind: KindRebalanceIPPool, Finding: FindingPoolCost,
		Targets: Targets{ResourceIDs: []string{"ip-3"}, Providers: []string{"mg", "sg"}}}))
	require.NoError(t, err)
	// Before: ip-3 0.96 + mg 0.5 + sg 7.8 = 9.26; after: nothing.
	require.Equal(t, m(t, "9.26"), re.Saved)

	tests := map[string]struct {
		before, after *Model
	}{
		"different lengths": {before: golden, after: mustCompute(t, Input{Window: Window{From: at(3, 0), To: at(4, 0)}, PriceList: pl})},
		"after first":       {before: after, after: before},
		"overlapping":       {before: golden, after: mustCompute(t, Input{Window: Window{From: at(2, 0), To: at(4, 0)}, PriceList: pl})},
		"missing":           {before: nil, after: after},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := RealizedSavings(tc.before, tc.after, Scope{})
			require.ErrorIs(t, err, ErrSpanMismatch)
		})
	}

	// Scopes of each kind.
	require.Equal(t, Scope{ResourceIDs: []string{}, EmailProviders: []string{}}, ScopeOf(Recommendation{Kind: KindAdjustTenantPlan,
		Targets: Targets{TenantIDs: []string{"t1"}}}))
	require.Equal(t, Scope{ResourceIDs: []string{"ip-1"}, EmailProviders: []string{}}, ScopeOf(Recommendation{Kind: KindRebalanceIPPool,
		Finding: FindingQuietIP, Targets: Targets{ResourceIDs: []string{"ip-1"}, Providers: []string{"sg"}}}))
	re, err = RealizedSavings(before, after, Scope{})
	require.NoError(t, err)
	require.Contains(t, re.Notes[0], "Empty scope")

	// Different price-list versions are noted.
	other := mustCompute(t, Input{Window: Window{From: at(3, 0), To: at(5, 0)}, PriceList: recPrices(t), Inventory: inv})
	re, err = RealizedSavings(before, other, Scope{ResourceIDs: []string{"vps-x"}})
	require.NoError(t, err)
	require.Contains(t, re.Notes[0], `"golden-1" and "rec-1"`)
}

func mustCompute(t testing.TB, in Input) *Model {
	t.Helper()
	mo, err := Compute(in)
	require.NoError(t, err)
	return mo
}
