package pricelist

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"time"
)

// ResourceKind is the kind of resource a commitment discount applies to. Its values match the
// inventory event kinds (events.KindVPS, events.KindIP).
type ResourceKind string

// Resource kinds.
const (
	KindVPS ResourceKind = "vps"
	KindIP  ResourceKind = "ip"
)

// ParseResourceKind returns the ResourceKind spelled s ("vps" or "ip").
func ParseResourceKind(s string) (ResourceKind, error) {
	switch k := ResourceKind(s); k {
	case KindVPS, KindIP:
		return k, nil
	}
	return "", fmt.Errorf("unknown resource kind %q (want vps or ip)", s)
}

// VPSPlan is the price of one provider's VPS plan from EffectiveFrom on.
type VPSPlan struct {
	Provider     string `json:"provider"`
	Plan         string `json:"plan"`
	VCPUs        int    `json:"vcpus"`
	MemoryMB     int    `json:"memory_mb"`
	MonthlyPrice Money  `json:"monthly_price"`
	// EffectiveFrom is the first instant (UTC) the entry is in force; zero means since forever.
	EffectiveFrom time.Time `json:"effective_from,omitzero"`
	// Line is the line of the entry in the price list file.
	Line int `json:"line"`
}

// IPPrice is the monthly price of one dedicated sending IP at a provider from EffectiveFrom on.
type IPPrice struct {
	Provider      string    `json:"provider"`
	MonthlyPrice  Money     `json:"monthly_price"`
	EffectiveFrom time.Time `json:"effective_from,omitzero"` // zero: since forever
	Line          int       `json:"line"`
}

// EmailPrice is the price of an email provider from EffectiveFrom on: PerThousand for every
// 1,000 messages sent, plus MonthlyBaseFee, a fixed monthly fee amortized like a resource.
type EmailPrice struct {
	Provider       string    `json:"provider"`
	PerThousand    Money     `json:"per_thousand"`
	MonthlyBaseFee Money     `json:"monthly_base_fee"`
	EffectiveFrom  time.Time `json:"effective_from,omitzero"` // zero: since forever
	Line           int       `json:"line"`
}

// VolumeCost returns the volume part of the cost of sending messages: PerThousand × messages /
// 1000, rounded half away from zero to the micro-unit.
func (e EmailPrice) VolumeCost(messages int64) (Money, error) {
	return e.PerThousand.MulDiv(messages, 1000)
}

// Commitment is a commitment (reserved) discount: committing to a provider's resources of one
// kind for TermMonths takes Discount off the on-demand monthly price, from EffectiveFrom on.
type Commitment struct {
	Provider      string       `json:"provider"`
	ResourceKind  ResourceKind `json:"resource_kind"`
	TermMonths    int          `json:"term_months"`
	Discount      Fraction     `json:"discount"` // in [0, 1)
	EffectiveFrom time.Time    `json:"effective_from,omitzero"`
	Line          int          `json:"line"`
}

// Apply returns the committed monthly price: price × (1 − Discount), rounded half away from zero.
// It cannot overflow, since the factor is at most 1.
func (c Commitment) Apply(price Money) Money {
	v, err := price.MulDiv(FractionOne-int64(c.Discount), FractionOne)
	if err != nil { // unreachable for a discount in [0, 1)
		return price
	}
	return v
}

// Period is a span [From, To) during which one entry of a key is in force. OK is false for a span
// before the key's first EffectiveFrom (no price then); Entry is the zero value in that case.
type Period[T any] struct {
	From, To time.Time
	Entry    T
	OK       bool
}

// Duration returns To − From.
func (p Period[T]) Duration() time.Duration { return p.To.Sub(p.From) }

// ProviderSet lists the providers a price list prices, sorted, by what they are priced for.
type ProviderSet struct {
	VPS   []string `json:"vps"`   // providers with at least one VPS plan
	IP    []string `json:"ip"`    // providers with a sending-IP price
	Email []string `json:"email"` // email providers
}

// PriceList is a parsed, validated price list. It is immutable and safe for concurrent use; every
// lookup returns copies.
type PriceList struct {
	// Version is the price list's version, to be reported with every cost computed from it.
	Version string
	// Currency is the ISO-4217-like code (3 upper-case letters) of every amount in the list.
	Currency string
	// Source is the file the list was loaded from (empty for Parse).
	Source string

	vps         map[vpsKey][]VPSPlan // each slice sorted by EffectiveFrom
	ips         map[string][]IPPrice
	email       map[string][]EmailPrice
	commitments map[commitmentKey][]Commitment
}

type vpsKey struct{ provider, plan string }

type commitmentKey struct {
	provider string
	kind     ResourceKind
	term     int
}

// dated is an entry with an effective date and a source line.
type dated interface {
	effective() time.Time
	line() int
}

func (e VPSPlan) effective() time.Time    { return e.EffectiveFrom }
func (e IPPrice) effective() time.Time    { return e.EffectiveFrom }
func (e EmailPrice) effective() time.Time { return e.EffectiveFrom }
func (e Commitment) effective() time.Time { return e.EffectiveFrom }
func (e VPSPlan) line() int               { return e.Line }
func (e IPPrice) line() int               { return e.Line }
func (e EmailPrice) line() int            { return e.Line }
func (e Commitment) line() int            { return e.Line }

// inForce returns the entry of s (sorted by EffectiveFrom) in force at at: the last one whose
// EffectiveFrom is not after at.
func inForce[T dated](s []T, at time.Time) (T, bool) {
	i := sort.Search(len(s), func(i int) bool { return s[i].effective().After(at) })
	if i == 0 {
		var zero T
		return zero, false
	}
	return s[i-1], true
}

// periods splits [from, to) at the effective dates of s (sorted by EffectiveFrom).
func periods[T dated](s []T, from, to time.Time) []Period[T] {
	from, to = from.UTC(), to.UTC()
	if !from.Before(to) {
		return nil
	}
	var out []Period[T]
	start := from
	e, ok := inForce(s, from)
	for _, next := range s {
		at := next.effective()
		if !at.After(start) {
			continue
		}
		if !at.Before(to) {
			break
		}
		out = append(out, Period[T]{From: start, To: at, Entry: e, OK: ok})
		start, e, ok = at, next, true
	}
	return append(out, Period[T]{From: start, To: to, Entry: e, OK: ok})
}

// VPSPlan returns the price of provider's plan in force at at.
func (p *PriceList) VPSPlan(provider, plan string, at time.Time) (VPSPlan, bool) {
	return inForce(p.vps[vpsKey{provider, plan}], at)
}

// VPSPlanPeriods splits [from, to) at the price changes of provider's plan; each Period carries
// the entry in force over it.
func (p *PriceList) VPSPlanPeriods(provider, plan string, from, to time.Time) []Period[VPSPlan] {
	return periods(p.vps[vpsKey{provider, plan}], from, to)
}

// VPSPlansAt returns every VPS plan in force at at, sorted by provider then plan: the catalogue
// to compare vendors or find an equivalent plan with.
func (p *PriceList) VPSPlansAt(at time.Time) []VPSPlan {
	var out []VPSPlan
	for _, s := range p.vps {
		if e, ok := inForce(s, at); ok {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b VPSPlan) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Plan, b.Plan))
	})
	return out
}

// IPPrice returns the monthly price of a dedicated sending IP at provider in force at at.
func (p *PriceList) IPPrice(provider string, at time.Time) (IPPrice, bool) {
	return inForce(p.ips[provider], at)
}

// IPPricePeriods splits [from, to) at the IP price changes of provider.
func (p *PriceList) IPPricePeriods(provider string, from, to time.Time) []Period[IPPrice] {
	return periods(p.ips[provider], from, to)
}

// EmailPrice returns the email provider's price in force at at.
func (p *PriceList) EmailPrice(provider string, at time.Time) (EmailPrice, bool) {
	return inForce(p.email[provider], at)
}

// EmailPricePeriods splits [from, to) at the email provider's price changes.
func (p *PriceList) EmailPricePeriods(provider string, from, to time.Time) []Period[EmailPrice] {
	return periods(p.email[provider], from, to)
}

// Commitments returns the commitment discounts for provider's resources of kind in force at at,
// one per term, sorted by term.
func (p *PriceList) Commitments(provider string, kind ResourceKind, at time.Time) []Commitment {
	var out []Commitment
	for k, s := range p.commitments {
		if k.provider != provider || k.kind != kind {
			continue
		}
		if e, ok := inForce(s, at); ok {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b Commitment) int { return cmp.Compare(a.TermMonths, b.TermMonths) })
	return out
}

// Commitment returns the best commitment discount for provider's resources of kind in force at
// at: the largest discount, and of equal discounts the shortest term.
func (p *PriceList) Commitment(provider string, kind ResourceKind, at time.Time) (Commitment, bool) {
	var best Commitment
	found := false
	for _, c := range p.Commitments(provider, kind, at) { // sorted by term: ties keep the shortest
		if !found || c.Discount > best.Discount {
			best, found = c, true
		}
	}
	return best, found
}

// Providers returns the providers the list prices, sorted, by kind of price.
func (p *PriceList) Providers() ProviderSet {
	var s ProviderSet
	for k := range p.vps {
		s.VPS = append(s.VPS, k.provider)
	}
	for k := range p.ips {
		s.IP = append(s.IP, k)
	}
	for k := range p.email {
		s.Email = append(s.Email, k)
	}
	slices.Sort(s.VPS)
	s.VPS = slices.Compact(s.VPS)
	slices.Sort(s.IP)
	slices.Sort(s.Email)
	return s
}

// VPSPlanNames returns the names of provider's VPS plans (in force at any time), sorted.
func (p *PriceList) VPSPlanNames(provider string) []string {
	var out []string
	for k := range p.vps {
		if k.provider == provider {
			out = append(out, k.plan)
		}
	}
	slices.Sort(out)
	return out
}
