package cost

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

// ipSent returns the messages sent through each IP over the lookback.
func (r *recommender) ipSent() map[string]uint64 {
	out := map[string]uint64{}
	for _, u := range r.m.emailRows {
		if u.day >= r.d0 && u.day < r.d1 {
			out[u.ip] += u.sent
		}
	}
	return out
}

// quietIPsRecs suggests retiring sending IPs that average fewer than IPMinDailySent messages a
// day over the lookback.
//
// Savings: high = the IP's monthly price; low = the same when it sent nothing or another
// (not quiet) IP of its provider and pool can take its volume, else 0 (its volume needs a new
// home the model does not price).
func (r *recommender) quietIPsRecs() {
	cfg := r.cfg
	lbDays := r.lb.Duration().Hours() / 24
	type ipInfo struct {
		i    int
		sent uint64
	}
	var quiet []ipInfo
	busyInPool := map[[2]string]int{}
	sentBy := r.ipSent()
	for i, rc := range r.m.Resources {
		if rc.Kind != pricelist.KindIP || !r.steady(i) {
			continue
		}
		sent := sentBy[rc.ID]
		if float64(sent)/lbDays < cfg.IPMinDailySent {
			quiet = append(quiet, ipInfo{i, sent})
			r.quietIPs[rc.ID] = true
		} else {
			busyInPool[[2]string{rc.Provider, r.m.ipPool[rc.ID]}]++
		}
	}
	for _, q := range quiet {
		rc := r.m.Resources[q.i]
		price, ok := r.m.pl.IPPrice(rc.Provider, r.end)
		if !ok {
			r.note(fmt.Sprintf("Sending IP %q is quiet but %s has no IP price in force: no savings estimate.", rc.ID, rc.Provider))
			continue
		}
		pool := r.m.ipPool[rc.ID]
		low := Money(0)
		lowText := fmt.Sprintf("low = 0 (no other busy %s IP in pool %q to take its %s messages)", rc.Provider, pool, fmtInt(q.sent))
		switch {
		case q.sent == 0:
			low, lowText = price.MonthlyPrice, fmt.Sprintf("low = %s (it sent nothing: nothing to move)", price.MonthlyPrice)
		case busyInPool[[2]string{rc.Provider, pool}] > 0:
			low, lowText = price.MonthlyPrice, fmt.Sprintf("low = %s (%d other %s IP(s) in pool %q can take its volume at the same per-1,000 price)",
				price.MonthlyPrice, busyInPool[[2]string{rc.Provider, pool}], rc.Provider, pool)
		}
		r.flagged[rc.ID] = true
		risk := RatingMedium
		if q.sent == 0 {
			risk = RatingLow
		}
		avg := float64(q.sent) / lbDays
		poolTarget := []string{}
		if pool != "" {
			poolTarget = []string{rc.Provider + "/" + pool}
		}
		r.add(Recommendation{
			ID: RecommendationID(KindRebalanceIPPool, "ip:"+rc.ID), Kind: KindRebalanceIPPool, Finding: FindingQuietIP,
			Summary: fmt.Sprintf("Sending IP %s (%s) averaged %.0f messages a day over %d days: retire it and move its volume to another IP.",
				rc.ID, rc.Provider, avg, cfg.LookbackDays),
			Targets: Targets{ResourceIDs: []string{rc.ID}, TenantIDs: r.ownersOf(q.i), Providers: []string{rc.Provider}, Pools: poolTarget},
			Evidence: []Metric{
				r.metric("messages_sent", float64(q.sent), "messages"),
				r.metric("messages_per_day", round6(avg), "messages/day"),
				r.money("monthly_price", price.MonthlyPrice),
			},
			SavingsMonthly: SavingsRange{Low: low, High: price.MonthlyPrice},
			Assumptions: []string{
				"Moving the volume to another IP of the same provider keeps the per-1,000 price.",
				"The IP is not kept on purpose (warm-up, a reserved reputation, a contract).",
				fmt.Sprintf("Monthly IP price in force at the end of the window, %s (price list %s).", fmtTime(r.m.Window.To), r.m.PriceListVersion),
			},
			PerformanceRisk: risk, Effort: RatingLow,
			Confidence: fmt.Sprintf("Suggestion based on %d days of email volume (%s); check deliverability plans before retiring the IP.",
				cfg.LookbackDays, r.lb),
			HowCalculated: r.how(lowText+fmt.Sprintf("; high = %s, the IP's monthly price. Quiet: < %.0f messages a day on average over the lookback.",
				price.MonthlyPrice, cfg.IPMinDailySent),
				fmt.Sprintf("email usage through %q", rc.ID),
				fmt.Sprintf("price list ip_prices line %d (%s: %s/month)", price.Line, rc.Provider, price.MonthlyPrice)),
		})
	}
}

// pools suggests moving a provider's pool to the best alternative (the same pool at another
// provider, with enough volume and acceptable rates, cheapest per 1,000 delivered) when it costs
// PoolCostRatio times more per 1,000 delivered or delivers poorly.
//
// Savings (monthly, prices in force at the end): volume = (per_thousand − alternative's) ×
// messages sent in the lookback / 1000, scaled × 730 h / lookback hours; IPs = the pool's busy IPs
// × (IP price − alternative's IP price); low = max(0, volume + IPs); high = low + the provider's
// base fee when this pool is all its volume (the account could close).
func (r *recommender) pools() {
	cfg := r.cfg
	vc := r.m.vendors(r.d0, r.d1)
	eligible := func(p EmailPool) bool {
		return p.Pool != UnknownPool && p.Sent >= cfg.PoolMinSent
	}
	poolsOf := map[string]int{}
	for _, p := range vc.EmailPools {
		if p.Sent > 0 {
			poolsOf[p.Provider]++
		}
	}
	for _, p := range vc.EmailPools {
		if !eligible(p) {
			continue
		}
		var best *EmailPool
		for j := range vc.EmailPools {
			q := &vc.EmailPools[j]
			if q.Provider == p.Provider || q.Pool != p.Pool || !eligible(*q) || q.CostPerThousandDelivered == nil ||
				rate(q.BounceRate) > cfg.BounceRateMax || rate(q.ComplaintRate) > cfg.ComplaintRateMax {
				continue
			}
			if best == nil || cmp.Or(cmp.Compare(*q.CostPerThousandDelivered, *best.CostPerThousandDelivered), cmp.Compare(q.Provider, best.Provider)) < 0 {
				best = q
			}
		}
		if best == nil {
			continue
		}
		var reasons []string
		costly := p.CostPerThousandDelivered != nil && float64(*p.CostPerThousandDelivered) > cfg.PoolCostRatio*float64(*best.CostPerThousandDelivered)
		if costly {
			reasons = append(reasons, fmt.Sprintf("costs %s %s per 1,000 delivered against %s at %s (more than %.2f×)",
				*p.CostPerThousandDelivered, r.m.Currency, *best.CostPerThousandDelivered, best.Provider, cfg.PoolCostRatio))
		}
		var poor []string
		if br, bb := rate(p.BounceRate), rate(best.BounceRate); br > cfg.BounceRateMax && br > cfg.QualityRatio*bb {
			poor = append(poor, fmt.Sprintf("bounce rate %s against %s", fmtPct(br), fmtPct(bb)))
		}
		if cr, cb := rate(p.ComplaintRate), rate(best.ComplaintRate); cr > cfg.ComplaintRateMax && cr > cfg.QualityRatio*cb {
			poor = append(poor, fmt.Sprintf("complaint rate %s against %s", fmtPct(cr), fmtPct(cb)))
		}
		if dr, db := rate(p.DeliveryRate), rate(best.DeliveryRate); db-dr > cfg.DeliveryGapMax {
			poor = append(poor, fmt.Sprintf("delivery rate %s against %s", fmtPct(dr), fmtPct(db)))
		}
		if !costly && len(poor) == 0 {
			continue
		}
		finding := FindingPoolCost
		switch {
		case costly && len(poor) > 0:
			finding = FindingPoolCostQuality
		case len(poor) > 0:
			finding = FindingPoolQuality
		}
		reasons = append(reasons, poor...)

		// Savings from the prices in force at the end.
		var busy []string
		tenants := map[string]bool{}
		for _, ip := range p.IPs {
			if !r.quietIPs[ip] && r.existsAtEnd(ip) {
				busy = append(busy, ip)
			}
		}
		for _, u := range r.m.emailRows {
			if u.provider == p.Provider && u.pool == p.Pool && u.day >= r.d0 && u.day < r.d1 && u.tenant != "" {
				tenants[u.tenant] = true
			}
		}
		ep, okP := r.m.pl.EmailPrice(p.Provider, r.end)
		eq, okQ := r.m.pl.EmailPrice(best.Provider, r.end)
		var low, high Money
		method := "no savings estimate: an email price is missing at the end of the window"
		if okP && okQ {
			diff := ep.PerThousand - eq.PerThousand
			vol, err1 := diff.MulDiv(int64(p.Sent), 1000)
			volMonthly, err2 := perMonth(vol, r.lb.Duration())
			ipP, _ := r.m.pl.IPPrice(p.Provider, r.end)
			ipQ, _ := r.m.pl.IPPrice(best.Provider, r.end)
			ipDiff := Money(len(busy)) * (ipP.MonthlyPrice - ipQ.MonthlyPrice)
			if err1 == nil && err2 == nil {
				low = max(0, volMonthly+ipDiff)
				high = low
				method = fmt.Sprintf("volume: (%s − %s) × %s / 1,000 = %s over %s h, × 730 / %s = %s per month; IPs: %d × (%s − %s) = %s; "+
					"low = max(0, %s + %s) = %s", ep.PerThousand, eq.PerThousand, fmtInt(p.Sent), vol, fmtHours(r.lb.Duration()),
					fmtHours(r.lb.Duration()), volMonthly, len(busy), ipP.MonthlyPrice, ipQ.MonthlyPrice, ipDiff, volMonthly, ipDiff, low)
				if poolsOf[p.Provider] == 1 {
					high = low + ep.MonthlyBaseFee
					method += fmt.Sprintf("; high = low + %s (%s's base fee: this pool is all its volume) = %s", ep.MonthlyBaseFee, p.Provider, high)
				} else {
					method += "; high = low (the provider keeps other pools, so its base fee stays)"
				}
			}
		}
		for _, ip := range busy {
			r.flagged[ip] = true
		}
		tenantIDs := make([]string, 0, len(tenants))
		for t := range tenants {
			tenantIDs = append(tenantIDs, t)
		}
		slices.Sort(tenantIDs)
		name := p.Provider + "/" + p.Pool
		assumptions := []string{
			fmt.Sprintf("The %s volume moves to %s at %s's per-1,000 and IP prices in force at the end of the window, %s (price list %s).",
				p.Pool, best.Provider, best.Provider, fmtTime(r.m.Window.To), r.m.PriceListVersion),
			fmt.Sprintf("%s keeps its observed delivery quality at the added volume.", best.Provider),
			"New IPs need warm-up; deliverability may dip during the move.",
		}
		if finding == FindingPoolQuality {
			assumptions = append(assumptions, "Suggested for delivery quality: the saving may be 0 or the move may cost more.")
		}
		r.add(Recommendation{
			ID: RecommendationID(KindRebalanceIPPool, "pool:"+name), Kind: KindRebalanceIPPool, Finding: finding,
			Summary: fmt.Sprintf("Pool %s %s: consider moving it to %s.", name, strings.Join(reasons, "; "), best.Provider),
			Targets: Targets{ResourceIDs: busy, TenantIDs: tenantIDs, Providers: []string{p.Provider, best.Provider}, Pools: []string{name}},
			Evidence: []Metric{
				r.metric("messages_sent", float64(p.Sent), "messages"),
				r.metric("delivery_rate", rate(p.DeliveryRate), "fraction"),
				r.metric("bounce_rate", rate(p.BounceRate), "fraction"),
				r.metric("complaint_rate", rate(p.ComplaintRate), "fraction"),
				r.metric("cost_per_thousand_delivered", moneyFloat(derefMoney(p.CostPerThousandDelivered)), r.m.Currency),
				r.metric("alternative_messages_sent", float64(best.Sent), "messages"),
				r.metric("alternative_delivery_rate", rate(best.DeliveryRate), "fraction"),
				r.metric("alternative_bounce_rate", rate(best.BounceRate), "fraction"),
				r.metric("alternative_complaint_rate", rate(best.ComplaintRate), "fraction"),
				r.metric("alternative_cost_per_thousand_delivered", moneyFloat(*best.CostPerThousandDelivered), r.m.Currency),
			},
			SavingsMonthly:  SavingsRange{Low: low, High: high},
			Assumptions:     assumptions,
			PerformanceRisk: RatingHigh, Effort: RatingHigh,
			Confidence: fmt.Sprintf("Suggestion based on %s messages over %d days (%s) against %s messages at %s; test with a share of the traffic first.",
				fmtInt(p.Sent), r.cfg.LookbackDays, r.lb, fmtInt(best.Sent), best.Provider),
			HowCalculated: r.how(method+". Cost per 1,000 delivered = (volume + IP cost of the pool) × 1000 / delivered, over the lookback.",
				fmt.Sprintf("email usage of pool %s and %s/%s", name, best.Provider, best.Pool), "price list email_providers and ip_prices"),
		})
	}
}

// existsAtEnd reports whether the IP id is in existence at the end of the window.
func (r *recommender) existsAtEnd(id string) bool {
	if r.ipAtEnd == nil {
		r.ipAtEnd = map[string]bool{}
		for i, rc := range r.m.Resources {
			if rc.Kind == pricelist.KindIP && r.m.res[i].last().To.Equal(r.m.Window.To) {
				r.ipAtEnd[rc.ID] = true
			}
		}
	}
	return r.ipAtEnd[id]
}

func rate(f Fraction) float64 { return float64(f) / pricelist.FractionOne }

func derefMoney(m *Money) Money {
	if m == nil {
		return 0
	}
	return *m
}
