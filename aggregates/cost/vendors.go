package cost

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

// UnknownPool is the pool of a sending IP with no email usage in the window.
const UnknownPool = "unknown"

// VendorComparison compares providers on performance against cost over a window.
type VendorComparison struct {
	Email         []EmailVendor `json:"email"`
	EmailPools    []EmailPool   `json:"email_pools"`
	VPS           []VPSVendor   `json:"vps"`
	Currency      string        `json:"currency"` // of every cost here (the price list's)
	HowCalculated HowCalculated `json:"how_calculated"`
}

// EmailVendor is one email provider's volume, delivery quality and cost. Cost is everything paid
// to it in the model: volume, base fee and its dedicated sending IPs.
type EmailVendor struct {
	Provider   string `json:"provider"`
	Sent       uint64 `json:"sent"`
	Delivered  uint64 `json:"delivered"`
	Bounced    uint64 `json:"bounced"`
	Deferred   uint64 `json:"deferred"`
	Complained uint64 `json:"complained"`
	// DeliveryRate and BounceRate are of messages sent, ComplaintRate of messages delivered
	// (rounded to millionths).
	DeliveryRate  Fraction `json:"delivery_rate"`
	BounceRate    Fraction `json:"bounce_rate"`
	ComplaintRate Fraction `json:"complaint_rate"`
	IPs           int      `json:"ips"` // sending IPs of the provider in existence in the window
	VolumeCost    Money    `json:"volume_cost"`
	BaseFee       Money    `json:"base_fee"`
	IPCost        Money    `json:"ip_cost"`
	Cost          Money    `json:"cost"`
	// CostPerThousandDelivered is Cost × 1000 / Delivered, rounded half away from zero; null when
	// nothing was delivered.
	CostPerThousandDelivered *Money `json:"cost_per_thousand_delivered"`
}

// EmailPool is one provider's pool (transactional, marketing, …): its volume, quality and the
// cost of its messages and sending IPs (the provider's base fee is not split into pools).
type EmailPool struct {
	Provider                 string   `json:"provider"`
	Pool                     string   `json:"pool"`
	Sent                     uint64   `json:"sent"`
	Delivered                uint64   `json:"delivered"`
	Bounced                  uint64   `json:"bounced"`
	Complained               uint64   `json:"complained"`
	DeliveryRate             Fraction `json:"delivery_rate"`
	BounceRate               Fraction `json:"bounce_rate"`
	ComplaintRate            Fraction `json:"complaint_rate"`
	IPs                      []string `json:"ips"` // sending IPs whose messages went mostly through this pool
	VolumeCost               Money    `json:"volume_cost"`
	IPCost                   Money    `json:"ip_cost"`
	Cost                     Money    `json:"cost"`
	CostPerThousandDelivered *Money   `json:"cost_per_thousand_delivered"`
}

// VPSVendor is one VPS provider's cost against the capacity provisioned and used.
type VPSVendor struct {
	Provider  string `json:"provider"`
	Instances int    `json:"instances"`
	Cost      Money  `json:"cost"`
	// VCPUHoursProvisioned is Σ plan vCPUs × hours in existence (plans without a price, whose
	// vCPUs the list does not give, count 0 and their hours are in UnpricedHours).
	VCPUHoursProvisioned float64 `json:"vcpu_hours_provisioned"`
	UnpricedHours        float64 `json:"unpriced_hours"`
	// VCPUHoursUtilized is Σ CPU core-seconds / 3600 of the usage rows.
	VCPUHoursUtilized float64 `json:"vcpu_hours_utilized"`
	// Utilization is VCPUHoursUtilized / VCPUHoursProvisioned.
	Utilization float64 `json:"utilization"`
	// CostPerUtilizedVCPUHour is Cost / VCPUHoursUtilized (utilized hours taken to 0.001 h),
	// rounded half away from zero; null with no utilization.
	CostPerUtilizedVCPUHour *Money `json:"cost_per_utilized_vcpu_hour"`
	// CPUAvg, CPUP95, MemAvg and MemP95 are sample-weighted averages of the daily values of each
	// instance (tenants of a shared instance summed). The p95 figures are an average of daily
	// p95s, not a p95 over the window.
	CPUAvg  float64 `json:"cpu_avg"`
	CPUP95  float64 `json:"cpu_p95"`
	MemAvg  float64 `json:"mem_avg"`
	MemP95  float64 `json:"mem_p95"`
	Samples uint64  `json:"samples"`
}

// chargeIn returns the cost and duration of ch inside [a, b): its monthly price amortized over
// the overlap (one rounding), 0 when unpriced.
func chargeIn(ch Charge, a, b time.Time) (Money, time.Duration) {
	d := overlap(ch.From, ch.To, a, b)
	if d == 0 || ch.Price == nil || ch.Price.MonthlyPrice == nil {
		return 0, d
	}
	if d == ch.To.Sub(ch.From) {
		return ch.Cost, d
	}
	m, err := ch.Price.MonthlyPrice.Amortize(d)
	if err != nil {
		return 0, d
	}
	return m, d
}

// vendors compares providers over the days [d0, d1) of the window (clipped to the window).
// Over the whole window the costs are the model's exactly.
func (m *Model) vendors(d0, d1 int) VendorComparison {
	a, _ := m.g.bounds(d0)
	_, b := m.g.bounds(d1 - 1)
	vc := VendorComparison{
		Email: []EmailVendor{}, EmailPools: []EmailPool{}, VPS: []VPSVendor{}, Currency: m.Currency,
		HowCalculated: HowCalculated{
			Method: "Email: counts from the daily email usage; rates = delivered / sent, bounced / sent, complained / delivered; " +
				"cost = volume + base fee + dedicated IPs; cost per 1,000 delivered = cost × 1000 / delivered. VPS: cost of the " +
				"provider's instances; vCPU-hours provisioned = Σ plan vCPUs × hours; utilized = Σ CPU core-seconds / 3600; cost " +
				"per utilized vCPU-hour = cost / utilized; CPU and memory figures are sample-weighted averages of daily values " +
				"(p95: average of daily p95s, not a window p95). Pools: volume cost priced per pool and price period, IPs by the " +
				"pool most of their messages went through; the base fee is not split into pools.",
			Inputs:           []string{"inventory events", "VPS usage (daily)", "email usage (daily)", "price list"},
			PriceListVersion: m.PriceListVersion,
			Window:           Window{From: a, To: b},
		},
	}
	vps := map[string]*VPSVendor{}
	type weighted struct{ cpuAvg, cpuP95, memAvg, memP95 float64 }
	sums := map[string]*weighted{}
	email := map[string]*EmailVendor{}
	emailOf := func(p string) *EmailVendor {
		e := email[p]
		if e == nil {
			e = &EmailVendor{Provider: p}
			email[p] = e
		}
		return e
	}
	pools := map[[2]string]*EmailPool{}
	poolOf := func(p, pool string) *EmailPool {
		k := [2]string{p, pool}
		x := pools[k]
		if x == nil {
			x = &EmailPool{Provider: p, Pool: pool, IPs: []string{}}
			pools[k] = x
		}
		return x
	}

	for i, rc := range m.Resources {
		r := m.res[i]
		if r.existed(a, b) == 0 {
			continue
		}
		var cost Money
		for _, ch := range rc.Charges {
			c, d := chargeIn(ch, a, b)
			cost += c
			if rc.Kind == pricelist.KindVPS {
				v := vps[rc.Provider]
				if v == nil {
					v = &VPSVendor{Provider: rc.Provider}
					vps[rc.Provider] = v
					sums[rc.Provider] = &weighted{}
				}
				if ch.Price == nil {
					v.UnpricedHours += hours(d)
				} else {
					v.VCPUHoursProvisioned += hours(d) * float64(ch.Price.VCPUs)
				}
			}
		}
		if rc.Kind == pricelist.KindVPS {
			v, s := vps[rc.Provider], sums[rc.Provider]
			v.Instances++
			v.Cost += cost
			for _, u := range m.vpsDays[rc.ID] {
				if u.day < d0 || u.day >= d1 {
					continue
				}
				v.VCPUHoursUtilized += u.coreSeconds / 3600
				v.Samples += u.samples
				w := float64(u.samples)
				s.cpuAvg += w * u.cpuAvg
				s.cpuP95 += w * u.cpuP95
				s.memAvg += w * u.memAvg
				s.memP95 += w * u.memP95
			}
			continue
		}
		e := emailOf(rc.Provider)
		e.IPs++
		e.IPCost += cost
		pool := m.ipPool[rc.ID]
		if pool == "" {
			pool = UnknownPool
		}
		p := poolOf(rc.Provider, pool)
		p.IPs = append(p.IPs, rc.ID)
		p.IPCost += cost
	}

	// Email volume, per provider and per pool, priced per price period (see costEmail).
	type periodKey struct {
		provider, pool string
		period         int
	}
	msgs := map[periodKey]uint64{}
	periods := map[string][]pricelist.Period[pricelist.EmailPrice]{}
	for _, u := range m.emailRows {
		i := u.day
		if i < d0 || i >= d1 {
			continue
		}
		e := emailOf(u.provider)
		e.Sent += u.sent
		e.Delivered += u.delivered
		e.Bounced += u.bounced
		e.Deferred += u.deferred
		e.Complained += u.complained
		p := poolOf(u.provider, u.pool)
		p.Sent += u.sent
		p.Delivered += u.delivered
		p.Bounced += u.bounced
		p.Complained += u.complained
		ps, ok := periods[u.provider]
		if !ok {
			ps = m.pl.EmailPricePeriods(u.provider, m.Window.From, m.Window.To)
			periods[u.provider] = ps
		}
		at, _ := m.g.bounds(i)
		k := slices.IndexFunc(ps, func(p pricelist.Period[pricelist.EmailPrice]) bool { return !at.Before(p.From) && at.Before(p.To) })
		msgs[periodKey{u.provider, "", k}] += u.sent
		msgs[periodKey{u.provider, u.pool, k}] += u.sent
	}
	for k, n := range msgs {
		p := periods[k.provider][k.period]
		if !p.OK {
			continue
		}
		c, err := p.Entry.VolumeCost(int64(n))
		if err != nil {
			continue
		}
		if k.pool == "" {
			emailOf(k.provider).VolumeCost += c
		} else {
			poolOf(k.provider, k.pool).VolumeCost += c
		}
	}
	for _, e := range email {
		for _, p := range m.pl.EmailPricePeriods(e.Provider, a, b) {
			if !p.OK || !m.hasEmailProvider(e.Provider) {
				continue
			}
			if c, err := p.Entry.MonthlyBaseFee.Amortize(p.Duration()); err == nil {
				e.BaseFee += c
			}
		}
		e.Cost = e.VolumeCost + e.BaseFee + e.IPCost
		e.DeliveryRate, e.BounceRate, e.ComplaintRate = ratio(e.Delivered, e.Sent), ratio(e.Bounced, e.Sent), ratio(e.Complained, e.Delivered)
		e.CostPerThousandDelivered = perThousand(e.Cost, e.Delivered)
		vc.Email = append(vc.Email, *e)
	}
	for _, p := range pools {
		p.Cost = p.VolumeCost + p.IPCost
		p.DeliveryRate, p.BounceRate, p.ComplaintRate = ratio(p.Delivered, p.Sent), ratio(p.Bounced, p.Sent), ratio(p.Complained, p.Delivered)
		p.CostPerThousandDelivered = perThousand(p.Cost, p.Delivered)
		slices.Sort(p.IPs)
		vc.EmailPools = append(vc.EmailPools, *p)
	}
	for prov, v := range vps {
		s := sums[prov]
		if v.Samples > 0 {
			n := float64(v.Samples)
			v.CPUAvg, v.CPUP95, v.MemAvg, v.MemP95 = round6(s.cpuAvg/n), round6(s.cpuP95/n), round6(s.memAvg/n), round6(s.memP95/n)
		}
		if v.VCPUHoursProvisioned > 0 {
			v.Utilization = round6(v.VCPUHoursUtilized / v.VCPUHoursProvisioned)
		}
		if milli := int64(math.Round(v.VCPUHoursUtilized * 1000)); milli > 0 {
			if c, err := v.Cost.MulDiv(1000, milli); err == nil {
				v.CostPerUtilizedVCPUHour = &c
			}
		}
		v.VCPUHoursProvisioned = round6(v.VCPUHoursProvisioned)
		v.VCPUHoursUtilized = round6(v.VCPUHoursUtilized)
		v.UnpricedHours = round6(v.UnpricedHours)
		vc.VPS = append(vc.VPS, *v)
	}
	slices.SortFunc(vc.Email, func(x, y EmailVendor) int { return cmp.Compare(x.Provider, y.Provider) })
	slices.SortFunc(vc.EmailPools, func(x, y EmailPool) int {
		return cmp.Or(cmp.Compare(x.Provider, y.Provider), cmp.Compare(x.Pool, y.Pool))
	})
	slices.SortFunc(vc.VPS, func(x, y VPSVendor) int { return cmp.Compare(x.Provider, y.Provider) })
	return vc
}

// hasEmailProvider reports whether the model costs provider as an email provider (base fee).
func (m *Model) hasEmailProvider(provider string) bool {
	return slices.ContainsFunc(m.Email, func(e EmailProviderCost) bool { return e.Provider == provider })
}

// perThousand returns cost × 1000 / n, or nil when n is 0.
func perThousand(cost Money, n uint64) *Money {
	if n == 0 {
		return nil
	}
	c, err := cost.MulDiv(1000, int64(n))
	if err != nil {
		return nil
	}
	return &c
}

// String describes a Window for messages: "2026-10-01T00:00:00Z to 2026-10-15T00:00:00Z".
func (w Window) String() string { return fmt.Sprintf("%s to %s", fmtTime(w.From), fmtTime(w.To)) }
