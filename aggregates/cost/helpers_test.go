package cost

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

// yamlDoc joins lines into a YAML document (line i of the slice is line i+1 of the file).
func yamlDoc(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

func mustPriceList(t testing.TB, lines ...string) *pricelist.PriceList {
	t.Helper()
	p, err := pricelist.Parse(yamlDoc(lines...))
	require.NoError(t, err)
	return p
}

// at returns 2026-03-<d> <h>:00 UTC.
func at(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, time.UTC) }

// m parses a decimal into Money (test shorthand).
func m(t testing.TB, s string) Money {
	t.Helper()
	v, err := pricelist.ParseMoney(s)
	require.NoError(t, err)
	return v
}

// mp returns a pointer to the Money s.
func mp(t testing.TB, s string) *Money {
	v := m(t, s)
	return &v
}

// fr parses a decimal into a Fraction.
func fr(t testing.TB, s string) Fraction {
	t.Helper()
	v, err := pricelist.ParseFraction(s)
	require.NoError(t, err)
	return v
}

func prov(id, tenant string, kind pricelist.ResourceKind, provider, plan string, shared bool, when time.Time) InventoryEvent {
	return InventoryEvent{Time: when, TenantID: tenant, ResourceID: id, Kind: kind, Provider: provider, Region: "r1",
		Plan: plan, Action: ActionProvisioned, Shared: shared}
}

func upd(e InventoryEvent, when time.Time, plan string) InventoryEvent {
	e.Time, e.Action, e.Plan = when, ActionUpdated, plan
	return e
}

func decom(e InventoryEvent, when time.Time) InventoryEvent {
	e.Time, e.Action = when, ActionDecommissioned
	return e
}

// requireReconciles checks every invariant of a model's money: each breakdown (and each day of
// it) adds up to the total (and that day's total), each group's days add up to the group, every
// resource's and provider's attribution plus unattributed is its cost, and the resources and
// email providers add up to the total.
func requireReconciles(t testing.TB, mo *Model) {
	t.Helper()
	tot := mo.Totals
	var byDay Money
	for _, d := range tot.ByDay {
		byDay += d.Cost
	}
	require.Equal(t, tot.Total, byDay, "by day")
	for name, groups := range map[string][]Group{
		"resource type": tot.ByResourceType, "provider": tot.ByProvider, "tenant": tot.ByTenant,
		"plan": tot.ByPlan, "tier": tot.ByTier,
	} {
		var sum Money
		perDay := make([]Money, len(tot.ByDay))
		for _, g := range groups {
			sum += g.Cost
			var days Money
			require.Len(t, g.Days, len(tot.ByDay), "%s %s", name, g.Key)
			for i, d := range g.Days {
				require.Equal(t, tot.ByDay[i].Day, d.Day)
				days += d.Cost
				perDay[i] += d.Cost
				require.GreaterOrEqual(t, d.Cost, Money(0))
			}
			require.Equal(t, g.Cost, days, "%s %s: days", name, g.Key)
		}
		require.Equal(t, tot.Total, sum, "by %s", name)
		for i := range perDay {
			require.Equal(t, tot.ByDay[i].Cost, perDay[i], "by %s, day %d", name, i)
		}
	}
	var all, unattributed Money
	for _, rc := range mo.Resources {
		var s, charges Money
		for _, a := range rc.Attribution {
			s += a.Cost
		}
		for _, c := range rc.Charges {
			charges += c.Cost
		}
		require.Equal(t, rc.Cost, s+rc.Unattributed, "resource %s attribution", rc.ID)
		require.Equal(t, rc.Cost, charges, "resource %s charges", rc.ID)
		all += rc.Cost
		unattributed += rc.Unattributed
	}
	for _, ec := range mo.Email {
		var s Money
		for _, a := range ec.Attribution {
			s += a.Cost
		}
		require.Equal(t, ec.Cost, s+ec.Unattributed, "email %s attribution", ec.Provider)
		require.Equal(t, ec.Cost, ec.VolumeCost+ec.BaseFee)
		all += ec.Cost
		unattributed += ec.Unattributed
	}
	require.Equal(t, tot.Total, all, "resources + email")
	require.Equal(t, tot.Unattributed, unattributed, "unattributed")
	// The monthly estimate: time-driven cost (everything but email volume) and usage-driven cost
	// (email volume) each scaled from its own span, which ends with the window.
	b := tot.EstimatedMonthlyBasis
	var volume Money
	for _, ec := range mo.Email {
		volume += ec.VolumeCost
	}
	require.Equal(t, volume, b.UsageCost, "usage-driven cost is the email volume cost")
	require.Equal(t, tot.Total, b.TimeCost+b.UsageCost)
	for _, s := range []Window{b.Time, b.Usage} {
		require.True(t, s.To.Equal(mo.Window.To) && !s.From.Before(mo.Window.From), "basis %s inside %s, ending with it", s, mo.Window)
	}
	mt, err := perMonth(b.TimeCost, b.Time.Duration())
	require.NoError(t, err)
	mu, err := perMonth(b.UsageCost, b.Usage.Duration())
	require.NoError(t, err)
	monthly := mt + mu
	require.Equal(t, monthly, tot.EstimatedMonthly)
}

func group(groups []Group, key string) (Group, bool) {
	for _, g := range groups {
		if g.Key == key {
			return g, true
		}
	}
	return Group{}, false
}

// costs maps each group's key to its cost.
func costs(groups []Group) map[string]Money {
	out := map[string]Money{}
	for _, g := range groups {
		out[g.Key] = g.Cost
	}
	return out
}

func dayCosts(groups []Group, key string) []Money {
	g, _ := group(groups, key)
	out := make([]Money, len(g.Days))
	for i, d := range g.Days {
		out[i] = d.Cost
	}
	return out
}

func resourceByID(mo *Model, id string) ResourceCost {
	for _, rc := range mo.Resources {
		if rc.ID == id {
			return rc
		}
	}
	return ResourceCost{}
}

func emailByProvider(mo *Model, p string) EmailProviderCost {
	for _, ec := range mo.Email {
		if ec.Provider == p {
			return ec
		}
	}
	return EmailProviderCost{}
}
