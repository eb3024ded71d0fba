package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	phgo "github.com/posthog/posthog-go"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/schemas/events"
)

// TestCostGolden puts a small fixed fleet and its usage through the real pipeline (POST /v1/events
// on the backfill lane, PostHog group identify for the tenants' plans) and checks the cost
// endpoints against figures computed by hand from testdata/pricelist.golden.yaml:
//
// Window: the two days [D, D+2d), D = three days ago at midnight UTC (48 h). A month is 730 h.
//
//	vps-1  acme small  73.00/month  dedicated, t-a, provisioned D−1d  → 73 × 48/730   = 4.80
//	vps-2  acme big   146.00/month  shared (owner t-b), provisioned D+12h → 146 × 36/730 = 7.20
//	       split by CPU core-seconds on day D+1: t-a 10 samples × (0.1 × 4 vCPU × 60 s) = 240,
//	       t-b 20 samples × 24 = 480 → t-a 7.20 × 1/3 = 2.40, t-b 7.20 × 2/3 = 4.80
//	ip 10.0.0.1  mailco 7.30/month  dedicated, t-a, provisioned D−1d → 7.30 × 48/730 = 0.48
//	email mailco: t-a 1,000 messages on day D, t-b 3,000 on day D+1 through 10.0.0.1
//	       volume 4,000 × 0.50/1,000 = 2.00 (t-a 0.50, t-b 1.50)
//	       base fee 73 × 48/730 = 4.80, split by messages: t-a 1.20, t-b 3.60
//
//	by resource type: vps 4.80 + 7.20 = 12.00, ip 0.48, email 2.00 + 4.80 = 6.80; total 19.28
//	by tenant: t-a 4.80 + 2.40 + 0.48 + 0.50 + 1.20 = 9.38; t-b 4.80 + 1.50 + 3.60 = 9.90
//	by provider: acme 12.00, mailco 6.80 + 0.48 = 7.28; by plan: pro (t-a) 9.38, free (t-b) 9.90
//	estimated monthly: 19.28 × 730/48 = 293.2166666… → 293.216667
func TestCostGolden(t *testing.T) {
	stack := newE2E(t, "e2e_cost")
	base := stack.base
	stack.run(t,
		"--price-list", "testdata/pricelist.golden.yaml", "--posthog-projects", "phc_a=t-a,phc_b=t-b", "--log-level", "warn")

	d := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
	n := 0
	ev := func(typ events.Type, tenant string, at time.Time, data any) map[string]any {
		n++
		return historicalEvent(fmt.Sprintf("golden-%d", n), typ, tenant, at, data)
	}
	inv := func(tenant, id, kind, provider, plan string, shared bool, at time.Time) map[string]any {
		return ev(events.TypeInventoryResource, tenant, at, map[string]any{"resource_id": id, "kind": kind,
			"provider": provider, "region": "eu-1", "plan": plan, "action": "provisioned", "shared": shared})
	}
	var batch []map[string]any
	batch = append(batch,
		inv("t-a", "vps-1", "vps", "acme", "small", false, d.Add(-24*time.Hour)),
		inv("t-b", "vps-2", "vps", "acme", "big", true, d.Add(12*time.Hour)),
		inv("t-a", "10.0.0.1", "ip", "mailco", "dedicated-ip", false, d.Add(-24*time.Hour)))
	sample := func(tenant string, at time.Time) map[string]any {
		return ev(events.TypeVPSSample, tenant, at, map[string]any{"resource_id": "vps-2", "provider": "acme",
			"region": "eu-1", "plan": "big", "vcpus": 4, "memory_mb": 8192, "cpu_util": 0.1, "mem_util": 0.5,
			"interval_seconds": 60})
	}
	day1 := d.Add(24 * time.Hour)
	for i := range 10 {
		batch = append(batch, sample("t-a", day1.Add(time.Duration(i+1)*time.Minute)))
	}
	for i := range 20 {
		batch = append(batch, sample("t-b", day1.Add(time.Duration(i+1)*time.Minute)))
	}
	email := func(tenant string, at time.Time, sent int) map[string]any {
		return ev(events.TypeEmailVolume, tenant, at, map[string]any{"ip": "10.0.0.1", "pool": "transactional",
			"provider": "mailco", "sent": sent, "delivered": sent - sent/100, "bounced": sent / 100, "deferred": 0,
			"complained": 0, "interval_seconds": 3600})
	}
	batch = append(batch, email("t-a", d.Add(10*time.Hour), 1000), email("t-b", day1.Add(10*time.Hour), 3000))
	postEvents(t, base, batch)

	// Plans through the PostHog capture endpoint, effective before the window.
	for key, plan := range map[string]string{"phc_a": "pro", "phc_b": "free"} {
		c, err := phgo.NewWithConfig(key, phgo.Config{Endpoint: base})
		require.NoError(t, err)
		require.NoError(t, c.Enqueue(phgo.GroupIdentify{Type: "company", Key: key, Timestamp: d.Add(-48 * time.Hour),
			Properties: phgo.NewProperties().Set("plan", plan)}))
		require.NoError(t, c.Close())
	}
	sent := time.Now().UTC()
	waitAggregated(t, base, sent, 60*time.Second)
	require.Eventually(t, func() bool {
		var env envelope[json.RawMessage]
		if getJSON(t, base+"/v1/rollups/events", &env) != http.StatusOK || env.AggregatedAsOf == nil {
			return false
		}
		return !env.AggregatedAsOf.Before(sent)
	}, 60*time.Second, 200*time.Millisecond)

	window := url.Values{"from": {d.Format(time.RFC3339)}, "to": {d.Add(48 * time.Hour).Format(time.RFC3339)}}.Encode()
	type group struct {
		Key  string  `json:"key"`
		Cost float64 `json:"cost"`
	}
	groups := func(gs []group) map[string]float64 {
		out := map[string]float64{}
		for _, g := range gs {
			out[g.Key] = g.Cost
		}
		return out
	}

	var ov envelope[struct {
		Monthly struct {
			Amount   float64 `json:"amount"`
			Currency string  `json:"currency"`
		} `json:"estimated_monthly_spend"`
		Total struct {
			Amount float64 `json:"amount"`
		} `json:"window_total"`
		Unattributed   float64 `json:"unattributed"`
		TopTenants     []group `json:"top_tenants"`
		TopVendors     []group `json:"top_vendors"`
		ByResourceType []group `json:"by_resource_type"`
		Version        string  `json:"price_list_version"`
		Unpriced       []any   `json:"unpriced"`
	}]
	require.Equal(t, http.StatusOK, getJSON(t, base+"/v1/costs/overview?"+window, &ov))
	require.Equal(t, 19.28, ov.Data.Total.Amount)
	require.Equal(t, 293.216667, ov.Data.Monthly.Amount)
	require.Equal(t, "USD", ov.Data.Monthly.Currency)
	require.Equal(t, 0.0, ov.Data.Unattributed)
	require.Equal(t, "golden-1", ov.Data.Version)
	require.Empty(t, ov.Data.Unpriced)
	require.Equal(t, map[string]float64{"vps": 12.00, "ip": 0.48, "email": 6.80}, groups(ov.Data.ByResourceType))
	require.Equal(t, map[string]float64{"t-a": 9.38, "t-b": 9.90}, groups(ov.Data.TopTenants))
	require.Equal(t, map[string]float64{"acme": 12.00, "mailco": 7.28}, groups(ov.Data.TopVendors))

	breakdown := func(by string) map[string]float64 {
		var env envelope[struct {
			Total  float64 `json:"total"`
			Groups []group `json:"groups"`
		}]
		require.Equal(t, http.StatusOK, getJSON(t, base+"/v1/costs/breakdown?step=total&by="+by+"&"+window, &env))
		require.Equal(t, 19.28, env.Data.Total)
		return groups(env.Data.Groups)
	}
	require.Equal(t, map[string]float64{"t-a": 9.38, "t-b": 9.90}, breakdown("tenant"))
	require.Equal(t, map[string]float64{"acme": 12.00, "mailco": 7.28}, breakdown("provider"))
	require.Equal(t, map[string]float64{"pro": 9.38, "free": 9.90}, breakdown("plan"))
	require.Equal(t, map[string]float64{"vps": 12.00, "ip": 0.48, "email": 6.80}, breakdown("resource_type"))

	// Daily series: day D holds vps-1 (2.40), ip (0.24), t-a's email volume (0.50), half the base
	// fee (2.40) and vps-2's first 12 h (146 × 12/730 = 2.40) = 7.94; day D+1 the rest: 11.34.
	var daily envelope[struct {
		ByDay []struct {
			Day  time.Time `json:"day"`
			Cost float64   `json:"cost"`
		} `json:"by_day"`
	}]
	require.Equal(t, http.StatusOK, getJSON(t, base+"/v1/costs/breakdown?by=resource_type&"+window, &daily))
	require.Len(t, daily.Data.ByDay, 2)
	require.Equal(t, 19.28, round2(daily.Data.ByDay[0].Cost+daily.Data.ByDay[1].Cost))

	// Tenant attribution of t-a: its resources and shares.
	var ta envelope[struct {
		Total     float64 `json:"total"`
		Plan      string  `json:"plan"`
		Resources []struct {
			ID     string  `json:"id"`
			Shared bool    `json:"shared"`
			Cost   float64 `json:"cost"`
			Basis  string  `json:"basis"`
		} `json:"resources"`
		Email []struct {
			Provider string  `json:"provider"`
			Cost     float64 `json:"cost"`
		} `json:"email"`
	}]
	require.Equal(t, http.StatusOK, getJSON(t, base+"/v1/tenants/t-a/costs?"+window, &ta))
	require.Equal(t, 9.38, ta.Data.Total)
	require.Equal(t, "pro", ta.Data.Plan)
	res := map[string]float64{}
	for _, r := range ta.Data.Resources {
		res[r.ID] = r.Cost
	}
	require.Equal(t, map[string]float64{"vps-1": 4.80, "vps-2": 2.40, "10.0.0.1": 0.48}, res)
	require.Len(t, ta.Data.Email, 1)
	require.Equal(t, 1.70, ta.Data.Email[0].Cost) // 0.50 volume + 1.20 base fee

	// Vendor comparison, email: mailco sent 4,000, delivered 3,960 (1 % bounced), cost 6.80 +
	// the IP 0.48 → per 1,000 delivered 7.28 × 1000/3960 = 1.838384 (rounded to 0.000001).
	var vend envelope[struct {
		Email []struct {
			Provider    string   `json:"provider"`
			Sent        uint64   `json:"sent"`
			Delivered   uint64   `json:"delivered"`
			BounceRate  float64  `json:"bounce_rate"`
			Cost        float64  `json:"cost"`
			PerThousand *float64 `json:"cost_per_thousand_delivered"`
		} `json:"email"`
	}]
	require.Equal(t, http.StatusOK, getJSON(t, base+"/v1/vendors/compare?kind=email&"+window, &vend))
	require.Len(t, vend.Data.Email, 1)
	mc := vend.Data.Email[0]
	require.Equal(t, "mailco", mc.Provider)
	require.Equal(t, uint64(4000), mc.Sent)
	require.Equal(t, uint64(3960), mc.Delivered)
	require.Equal(t, 0.01, mc.BounceRate)
	require.Equal(t, 7.28, mc.Cost)
	require.NotNil(t, mc.PerThousand)
	require.Equal(t, 1.838384, *mc.PerThousand)

	// VPS vendor: acme 12.00 over vps-1 (2 vCPU × 48 h) and vps-2 (4 vCPU × 36 h) = 240 vCPU-hours
	// provisioned; utilized: (240 + 480) core-seconds / 3600 = 0.2 vCPU-hours.
	var vps envelope[struct {
		VPS []struct {
			Provider    string  `json:"provider"`
			Cost        float64 `json:"cost"`
			Provisioned float64 `json:"vcpu_hours_provisioned"`
			Utilized    float64 `json:"vcpu_hours_utilized"`
		} `json:"vps"`
	}]
	require.Equal(t, http.StatusOK, getJSON(t, base+"/v1/vendors/compare?kind=vps&"+window, &vps))
	require.Len(t, vps.Data.VPS, 1)
	require.Equal(t, "acme", vps.Data.VPS[0].Provider)
	require.Equal(t, 12.00, vps.Data.VPS[0].Cost)
	require.Equal(t, 240.0, vps.Data.VPS[0].Provisioned)
	require.InDelta(t, 0.2, vps.Data.VPS[0].Utilized, 1e-9)
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
