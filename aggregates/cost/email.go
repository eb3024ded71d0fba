package cost

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

// emailProviders returns the email providers the window has cost for, sorted: those with usage
// rows in the window, and those the price list prices email for that have a sending IP in
// existence in the window (their base fee runs even on a quiet day).
func (c *computer) emailProviders() []string {
	set := map[string]bool{}
	for _, u := range c.m.emailRows {
		set[u.provider] = true
	}
	for _, r := range c.res {
		if r.kind != pricelist.KindIP {
			continue
		}
		for _, s := range r.spans {
			if slices.Contains(c.providers.Email, s.Provider) {
				set[s.Provider] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// cell is one tenant's messages on one day within one price period.
type cell struct {
	tenant string
	day    int
}

// costEmail costs every email provider: volume and base fee.
//
// Volume: the messages sent on a day are priced with the entry in force at the start of that day
// (or at the window's start for its first day); all messages of one provider in one price period
// are priced in one VolumeCost call (per_thousand × messages / 1000, rounded half away from zero),
// and that amount is allocated to tenant-days by messages (largest remainder, exact).
//
// Base fee: the monthly base fee is amortized over the whole window like a resource (split at
// price changes) and split among tenants by their messages sent at the provider in the window; if
// nobody sent anything it is unattributed.
func (c *computer) costEmail() error {
	rowsBy := map[string][]int{}
	for i, u := range c.m.emailRows {
		rowsBy[u.provider] = append(rowsBy[u.provider], i)
	}
	for _, provider := range c.emailProviders() {
		ec, err := c.costEmailProvider(provider, rowsBy[provider])
		if err != nil {
			return fmt.Errorf("cost email provider %q: %w", provider, err)
		}
		c.m.Email = append(c.m.Email, ec)
	}
	return nil
}

func (c *computer) costEmailProvider(provider string, rows []int) (EmailProviderCost, error) {
	ec := EmailProviderCost{Provider: provider}
	periods := c.pl.EmailPricePeriods(provider, c.w.From, c.w.To)
	cells := make([]map[cell]uint64, len(periods))
	sentBy := map[string]uint64{}
	for _, ri := range rows {
		u := &c.m.emailRows[ri]
		ec.Sent += u.sent
		ec.Delivered += u.delivered
		ec.Bounced += u.bounced
		ec.Deferred += u.deferred
		ec.Complained += u.complained
		sentBy[u.tenant] += u.sent
		if u.sent == 0 {
			continue
		}
		i := u.day
		at, _ := c.g.bounds(i)
		k, _ := slices.BinarySearchFunc(periods, at, func(p pricelist.Period[pricelist.EmailPrice], t time.Time) int {
			if !p.To.After(t) {
				return -1
			}
			if p.From.After(t) {
				return 1
			}
			return 0
		})
		if cells[k] == nil {
			cells[k] = map[cell]uint64{}
		}
		cells[k][cell{u.tenant, i}] += u.sent
	}

	tenantDays := map[string][]Money{}
	daysOf := func(t string) []Money {
		d := tenantDays[t]
		if d == nil {
			d = make([]Money, c.g.n)
			tenantDays[t] = d
		}
		return d
	}
	inputs := []string{fmt.Sprintf("%d email usage row(s) of provider %q", len(rows), provider)}
	seenLine := map[int]bool{}
	noteLine := func(ref *PriceRef, e pricelist.EmailPrice) {
		if !seenLine[ref.Line] {
			seenLine[ref.Line] = true
			inputs = append(inputs, fmt.Sprintf("price list email_providers line %d (%s%s: %s per 1,000, base fee %s/month)",
				ref.Line, provider, effectiveNote(ref.EffectiveFrom), e.PerThousand, e.MonthlyBaseFee))
		}
	}
	unpricedReason := fmt.Sprintf("email_providers has no entry for provider %q", provider)
	if slices.Contains(c.providers.Email, provider) {
		unpricedReason = fmt.Sprintf("email_providers has provider %q only from a later effective_from", provider)
	}

	// Volume.
	for k, p := range periods {
		if len(cells[k]) == 0 {
			continue
		}
		keys := make([]cell, 0, len(cells[k]))
		var messages uint64
		for ce, n := range cells[k] {
			keys = append(keys, ce)
			messages += n
		}
		slices.SortFunc(keys, func(a, b cell) int { return cmp.Or(cmp.Compare(a.tenant, b.tenant), cmp.Compare(a.day, b.day)) })
		ch := EmailCharge{Type: ChargeVolume, From: p.From, To: p.To, Messages: messages}
		if !p.OK {
			ec.Unpriced = true
			ch.UnpricedReason, ch.Arithmetic = unpricedReason, "no price in force: 0"
			c.m.Unpriced = append(c.m.Unpriced, Unpriced{Kind: TypeEmail, Provider: provider, From: p.From, To: p.To,
				Messages: messages, Reason: unpricedReason})
			ec.Charges = append(ec.Charges, ch)
			continue
		}
		ch.Price = emailRef(p.Entry)
		noteLine(ch.Price, p.Entry)
		cost, err := p.Entry.VolumeCost(int64(messages))
		if err != nil {
			return ec, err
		}
		ch.Cost = cost
		ch.Arithmetic = fmt.Sprintf("%s × %s / 1,000 = %s", p.Entry.PerThousand, fmtInt(messages), cost)
		weights := make([]int64, len(keys))
		for i, ce := range keys {
			weights[i] = int64(cells[k][ce])
		}
		parts, _ := allocate(cost, weights)
		for i, ce := range keys {
			daysOf(ce.tenant)[ce.day] += parts[i]
		}
		ec.VolumeCost += cost
		ec.Charges = append(ec.Charges, ch)
	}

	// Base fee.
	baseDays := make([]Money, c.g.n)
	for _, p := range periods {
		ch := EmailCharge{Type: ChargeBaseFee, From: p.From, To: p.To, Hours: hours(p.Duration())}
		if !p.OK {
			ec.Unpriced = true
			ch.UnpricedReason, ch.Arithmetic = unpricedReason, "no price in force: 0"
			c.m.Unpriced = append(c.m.Unpriced, Unpriced{Kind: TypeEmail, Provider: provider, From: p.From, To: p.To,
				Hours: ch.Hours, Reason: unpricedReason + " (base fee)"})
			ec.Charges = append(ec.Charges, ch)
			continue
		}
		ch.Price = emailRef(p.Entry)
		noteLine(ch.Price, p.Entry)
		cost, err := c.g.amortizeDays(p.Entry.MonthlyBaseFee, p.From, p.To, baseDays)
		if err != nil {
			return ec, err
		}
		ch.Cost = cost
		ch.Arithmetic = fmt.Sprintf("%s × %s h / %d h = %s", p.Entry.MonthlyBaseFee, fmtHours(p.Duration()), pricelist.HoursPerMonth, cost)
		ec.BaseFee += cost
		ec.Charges = append(ec.Charges, ch)
	}
	ec.Cost = ec.VolumeCost + ec.BaseFee

	// Attribution: volume to the senders, base fee by messages sent.
	tenants := make([]string, 0, len(sentBy))
	for t := range sentBy {
		tenants = append(tenants, t)
	}
	slices.Sort(tenants)
	weights := make([]int64, len(tenants))
	for i, t := range tenants {
		weights[i] = int64(sentBy[t])
	}
	var reasons []string
	source := "email:" + provider
	baseOf := map[string][]Money{} // each tenant's part of the base fee, a flow of its own (time-driven, not usage-driven)
	if parts, ok := splitPool(baseDays, weights); ok {
		for i, days := range parts {
			baseOf[tenants[i]] = days
		}
	} else if sum(baseDays) > 0 {
		reasons = append(reasons, "no messages sent in the window: base fee shown as unattributed, not spread")
		c.agg.add(flow{source: source, typ: TypeEmail, provider: provider, days: baseDays})
		ec.Unattributed += sum(baseDays)
	}
	shares := map[string]*TenantShare{}
	names := make([]string, 0, len(tenantDays)+len(baseOf))
	for t := range tenantDays {
		names = append(names, t)
	}
	for t := range baseOf {
		if _, ok := tenantDays[t]; !ok {
			names = append(names, t)
		}
	}
	slices.Sort(names)
	for _, t := range names {
		vol, base := tenantDays[t], baseOf[t]
		amount := sum(vol) + sum(base)
		if vol != nil {
			c.agg.add(flow{source: source, typ: TypeEmail, provider: provider, tenant: t, days: vol, usage: true})
		}
		if base != nil {
			c.agg.add(flow{source: source, typ: TypeEmail, provider: provider, tenant: t, days: base})
		}
		if t == "" {
			ec.Unattributed += amount
			reasons = append(reasons, "usage rows without tenant")
			continue
		}
		shares[t] = &TenantShare{TenantID: t, Basis: BasisMessages, Cost: amount, MessagesSent: sentBy[t]}
	}
	for _, t := range tenants { // senders of 0 messages still show, with cost 0
		if _, ok := shares[t]; !ok && t != "" {
			shares[t] = &TenantShare{TenantID: t, Basis: BasisMessages, MessagesSent: sentBy[t]}
		}
	}
	usage := map[string]Fraction{}
	for t, s := range shares {
		usage[t] = ratio(s.MessagesSent, ec.Sent)
	}
	ec.Attribution = shareList(shares, ec.Cost, usage)
	ec.UnattributedReason = strings.Join(reasons, "; ")
	ec.HowCalculated = c.how("Volume: Σ per_thousand × messages sent / 1,000 per price period (a day's messages at the price in force at its start), "+
		"allocated to tenants by their messages. Base fee: monthly_base_fee × window hours / 730, split among tenants by messages sent "+
		"(unattributed when none). Each step rounded half away from zero to 0.000001; splits by largest remainder, exact.", inputs...)
	return ec, nil
}

func emailRef(e pricelist.EmailPrice) *PriceRef {
	per, fee := e.PerThousand, e.MonthlyBaseFee
	return &PriceRef{Section: "email_providers", Provider: e.Provider, PerThousand: &per, MonthlyBaseFee: &fee,
		EffectiveFrom: e.EffectiveFrom, Line: e.Line}
}
