package cost

import (
	"fmt"
	"slices"
	"strings"
)

// Scope is what realized savings are measured on: resources (VPS or IPs, by id, whatever tenant
// their cost goes to) and email providers (their volume and base fee).
type Scope struct {
	ResourceIDs    []string `json:"resource_ids"`
	EmailProviders []string `json:"email_providers"`
}

// ScopeOf returns the scope a recommendation's realized savings are measured on: its resources,
// and for a pool rebalance also both email providers (the volume moves from one to the other, so
// the pair's cost is compared). A tenant-plan recommendation has an empty scope (it is about
// pricing, which the model does not cost).
func ScopeOf(rec Recommendation) Scope {
	s := Scope{ResourceIDs: []string{}, EmailProviders: []string{}}
	switch rec.Kind {
	case KindConsolidateVPS, KindAdjustCommitment:
		s.ResourceIDs = slices.Clone(rec.Targets.ResourceIDs)
	case KindRebalanceIPPool:
		s.ResourceIDs = slices.Clone(rec.Targets.ResourceIDs)
		if rec.Finding != FindingQuietIP {
			s.EmailProviders = slices.Clone(rec.Targets.Providers)
		}
	}
	return s
}

// ItemCost is the modeled cost of one scope item in one span ("vps:<id>", "ip:<id>",
// "email:<provider>").
type ItemCost struct {
	Key  string `json:"key"`
	Cost Money  `json:"cost"`
}

// SpanCost is the modeled cost of a scope over one span.
type SpanCost struct {
	Window           Window     `json:"window"`
	PriceListVersion string     `json:"price_list_version"`
	Cost             Money      `json:"cost"`
	Items            []ItemCost `json:"items"`
}

// Realized is the realized saving of an initiative: the modeled cost of its scope over a span
// after the change against the same-length span before it, both costed by the same model.
type Realized struct {
	Scope  Scope    `json:"scope"`
	Before SpanCost `json:"before"`
	After  SpanCost `json:"after"`
	// Saved is Before.Cost − After.Cost: positive when the cost went down, negative when it rose.
	Saved Money `json:"saved"`
	// SavedMonthly is Saved × 730 h / span hours, rounded half away from zero.
	SavedMonthly  Money         `json:"saved_monthly"`
	Currency      string        `json:"currency"` // of every amount here (the models')
	Notes         []string      `json:"notes"`
	Labels        []string      `json:"labels"`
	HowCalculated HowCalculated `json:"how_calculated"`
}

// RealizedSavings compares the modeled cost of scope in before and after, two Models of spans of
// the same length, before ending no later than after starts (typically the spans just before and
// just after the change date). A resource absent from a span (decommissioned, not yet
// provisioned) costs 0 there.
func RealizedSavings(before, after *Model, scope Scope) (Realized, error) {
	if before == nil || after == nil {
		return Realized{}, fmt.Errorf("%w: both spans need a model", ErrSpanMismatch)
	}
	bw, aw := before.Window, after.Window
	if bw.Duration() != aw.Duration() {
		return Realized{}, fmt.Errorf("%w: before is %s h long, after %s h", ErrSpanMismatch, fmtHours(bw.Duration()), fmtHours(aw.Duration()))
	}
	if bw.To.After(aw.From) {
		return Realized{}, fmt.Errorf("%w: before (%s) must end by the start of after (%s)", ErrSpanMismatch, bw, aw)
	}
	if before.Currency != after.Currency {
		return Realized{}, fmt.Errorf("%w: before is costed in %s, after in %s", ErrSpanMismatch, before.Currency, after.Currency)
	}
	scope.ResourceIDs = sortedSet(scope.ResourceIDs)
	scope.EmailProviders = sortedSet(scope.EmailProviders)
	re := Realized{Scope: scope, Before: before.spanCost(scope), After: after.spanCost(scope), Currency: after.Currency,
		Labels: Labels(), Notes: []string{}}
	re.Saved = re.Before.Cost - re.After.Cost
	var err error
	if re.SavedMonthly, err = perMonth(re.Saved, bw.Duration()); err != nil {
		return Realized{}, err
	}
	if before.PriceListVersion != after.PriceListVersion {
		re.Notes = append(re.Notes, fmt.Sprintf("The spans were costed with price list versions %q and %q; price changes count in the difference.",
			before.PriceListVersion, after.PriceListVersion))
	}
	if len(scope.ResourceIDs) == 0 && len(scope.EmailProviders) == 0 {
		re.Notes = append(re.Notes, "Empty scope: nothing the cost model prices (a pricing change, for instance) is measured.")
	}
	re.Notes = append(re.Notes, "Commitment discounts are not applied to modeled costs, so a commitment's saving does not show here.")
	re.HowCalculated = HowCalculated{
		Method: fmt.Sprintf("saved = modeled cost of the scope before (%s) − after (%s) = %s; monthly = saved × 730 h / %s h = %s. "+
			"Resources: their whole cost (any tenant); email providers: volume and base fee.",
			re.Before.Cost, re.After.Cost, re.Saved, fmtHours(bw.Duration()), re.SavedMonthly),
		Inputs:           []string{"before: " + bw.String(), "after: " + aw.String(), "scope: " + strings.Join(append(slices.Clone(scope.ResourceIDs), scope.EmailProviders...), ", ")},
		PriceListVersion: after.PriceListVersion,
		Window:           Window{From: bw.From, To: aw.To},
	}
	return re, nil
}

// spanCost returns the cost of scope in m, one item per scope entry (0 when absent). A resource
// id shared by a VPS and an IP counts both.
func (m *Model) spanCost(s Scope) SpanCost {
	sc := SpanCost{Window: m.Window, PriceListVersion: m.PriceListVersion, Items: []ItemCost{}}
	for _, id := range s.ResourceIDs {
		found := false
		for _, rc := range m.Resources {
			if rc.ID == id {
				sc.Items = append(sc.Items, ItemCost{Key: string(rc.Kind) + ":" + id, Cost: rc.Cost})
				sc.Cost += rc.Cost
				found = true
			}
		}
		if !found {
			sc.Items = append(sc.Items, ItemCost{Key: "resource:" + id})
		}
	}
	for _, p := range s.EmailProviders {
		item := ItemCost{Key: "email:" + p}
		for _, ec := range m.Email {
			if ec.Provider == p {
				item.Cost = ec.Cost
			}
		}
		sc.Items = append(sc.Items, item)
		sc.Cost += item.Cost
	}
	return sc
}

func sortedSet(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}
