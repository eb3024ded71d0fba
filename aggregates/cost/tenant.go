package cost

import (
	"cmp"
	"slices"
)

// TenantCost is one tenant's view of the model: its attributed cost and the resources and email
// providers it comes from. It names no other tenant (a shared resource shows this tenant's share
// only), so it is safe to serve to a tenant-scoped role.
type TenantCost struct {
	TenantID         string `json:"tenant_id"`
	Window           Window `json:"window"`
	Total            Money  `json:"total"`
	EstimatedMonthly Money  `json:"estimated_monthly"` // Total scaled to a month like the model's (Totals.EstimatedMonthlyBasis)
	Currency         string `json:"currency"`          // of every amount here (the price list's)
	// Plan and Tier are the tenant's segments in force at the end of the window.
	Plan string `json:"plan"`
	Tier string `json:"tier"`
	// ByResourceType (vps, ip, email, always) and ByProvider carry no daily series; ByDay is the
	// tenant's cost per day.
	ByResourceType []Group          `json:"by_resource_type"`
	ByProvider     []Group          `json:"by_provider"`
	ByDay          DaySeries        `json:"by_day"`
	Resources      []TenantResource `json:"resources"`
	Email          []TenantEmail    `json:"email"`
	Labels         []string         `json:"labels"`
	HowCalculated  HowCalculated    `json:"how_calculated"`
}

// TenantResource is a resource some of whose cost goes to the tenant.
type TenantResource struct {
	ID       string  `json:"id"`
	Kind     string  `json:"kind"`
	Provider string  `json:"provider"`
	Plan     string  `json:"plan"`
	Region   string  `json:"region"`
	Shared   bool    `json:"shared"`
	Hours    float64 `json:"hours"` // hours the resource existed in the window
	TenantShare
}

// TenantEmail is the tenant's part of one email provider's volume and base fee.
type TenantEmail struct {
	Provider string `json:"provider"`
	TenantShare
}

// Tenant returns tenant id's view of the model (all zero but its window and labels when the
// tenant has no cost in it).
func (m *Model) Tenant(id string) TenantCost {
	end := m.Window.To.Add(-1)
	tc := TenantCost{
		TenantID: id, Window: m.Window, Currency: m.Currency, Labels: Labels(),
		Plan: m.segs.at(SegmentPlan, id, end), Tier: m.segs.at(SegmentTier, id, end),
		Resources: []TenantResource{}, Email: []TenantEmail{}, ByDay: DaySeries{},
	}
	byType := map[string]Money{}
	byProvider := map[string]Money{}
	var usage Money
	for _, f := range m.flows {
		if f.tenant != id || id == "" {
			continue
		}
		tc.Total += f.amount
		if f.usage {
			usage += f.amount
		}
		byType[f.typ] += f.amount
		byProvider[f.provider] += f.amount
	}
	tc.EstimatedMonthly, _ = m.Totals.EstimatedMonthlyBasis.monthly(tc.Total-usage, usage)
	for _, k := range []string{TypeVPS, TypeIP, TypeEmail} {
		tc.ByResourceType = append(tc.ByResourceType, Group{Key: k, Cost: byType[k], Share: moneyRatio(byType[k], tc.Total)})
	}
	tc.ByProvider = []Group{}
	for k, v := range byProvider {
		tc.ByProvider = append(tc.ByProvider, Group{Key: k, Cost: v, Share: moneyRatio(v, tc.Total)})
	}
	slices.SortFunc(tc.ByProvider, func(x, y Group) int { return cmp.Or(cmp.Compare(y.Cost, x.Cost), cmp.Compare(x.Key, y.Key)) })
	for _, g := range m.Totals.ByTenant {
		if g.Key == id && id != Unattributed {
			tc.ByDay = g.Days
		}
	}
	if len(tc.ByDay) == 0 {
		for _, d := range m.g.days() {
			tc.ByDay = append(tc.ByDay, DayCost{Day: d})
		}
	}
	for _, rc := range m.Resources {
		for _, s := range rc.Attribution {
			if s.TenantID == id {
				tc.Resources = append(tc.Resources, TenantResource{ID: rc.ID, Kind: string(rc.Kind), Provider: rc.Provider,
					Plan: rc.Plan, Region: rc.Region, Shared: rc.Shared, Hours: rc.Hours, TenantShare: s})
			}
		}
	}
	for _, ec := range m.Email {
		for _, s := range ec.Attribution {
			if s.TenantID == id {
				tc.Email = append(tc.Email, TenantEmail{Provider: ec.Provider, TenantShare: s})
			}
		}
	}
	tc.HowCalculated = HowCalculated{
		Method: "Sum of the tenant's attributed parts: dedicated resources in full, shared VPS by CPU core-seconds share, shared IPs " +
			"and email base fees by messages-sent share, email volume by its own messages (see each resource's how_calculated).",
		Inputs:           []string{"inventory events", "VPS usage (daily)", "email usage (daily)", "price list"},
		PriceListVersion: m.PriceListVersion, Window: m.Window,
	}
	return tc
}
