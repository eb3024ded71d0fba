package cost

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

// randomInput builds a random but plausible input: resources appearing, changing plan, shared
// flag and owner, and disappearing at random times around the window, with usage and segment
// changes at random (including rows without tenant, unknown plans and providers).
func randomInput(t testing.TB, seed uint64, resources, days int) Input {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	from := at(1, 0).Add(time.Duration(r.IntN(24*60)) * time.Minute)
	to := from.Add(time.Duration(1+r.IntN(days*24*60)) * time.Minute)
	in := Input{Window: Window{From: from, To: to}, PriceList: goldenPrices(t)}
	span := to.Sub(from)
	randTime := func() time.Time {
		return from.Add(time.Duration(r.Int64N(int64(span)*2)) - span/2)
	}
	tenants := []string{"t1", "t2", "t3", "t4", ""}
	vpsPlans := [][2]string{{"hz", "small"}, {"hz", "big"}, {"do", "std"}, {"hz", "future"}, {"xx", "nope"}}
	ipProviders := []string{"sg", "mg", "zz"}
	for i := range resources {
		kind := pricelist.KindVPS
		if r.IntN(3) == 0 {
			kind = pricelist.KindIP
		}
		id := fmt.Sprintf("%s-%d", kind, i)
		for range 1 + r.IntN(4) {
			e := InventoryEvent{Time: randTime(), TenantID: tenants[r.IntN(len(tenants))], ResourceID: id, Kind: kind,
				Region: "r", Shared: r.IntN(3) == 0, Action: []Action{ActionProvisioned, ActionUpdated, ActionDecommissioned}[r.IntN(3)]}
			if kind == pricelist.KindVPS {
				p := vpsPlans[r.IntN(len(vpsPlans))]
				e.Provider, e.Plan = p[0], p[1]
			} else {
				e.Provider, e.Plan = ipProviders[r.IntN(len(ipProviders))], "dedicated-ip"
			}
			in.Inventory = append(in.Inventory, e)
		}
		for d := range days + 2 {
			if r.IntN(2) == 0 {
				continue
			}
			dd := day(from).Add(time.Duration(d-1) * Day)
			if kind == pricelist.KindVPS {
				in.VPSUsage = append(in.VPSUsage, VPSUsage{Day: dd, TenantID: tenants[r.IntN(len(tenants))], ResourceID: id,
					Samples: uint64(r.IntN(1441)), CPUCoreSeconds: r.Float64() * 1e5, CPUAvg: r.Float64() / 2, CPUP95: r.Float64(),
					MemAvg: r.Float64() / 2, MemP95: r.Float64()})
			} else {
				sent := uint64(r.IntN(100_000))
				del := sent - uint64(r.IntN(int(sent/10)+1))
				in.EmailUsage = append(in.EmailUsage, EmailUsage{Day: dd, TenantID: tenants[r.IntN(len(tenants))], IP: id,
					Pool: []string{"transactional", "marketing"}[r.IntN(2)], Provider: ipProviders[r.IntN(len(ipProviders))],
					Sent: sent, Delivered: del, Bounced: sent - del, Complained: uint64(r.IntN(10))})
			}
		}
	}
	for _, tn := range tenants[:4] {
		for range r.IntN(3) {
			in.Segments = append(in.Segments, SegmentChange{TenantID: tn, Property: []string{SegmentPlan, SegmentTier}[r.IntN(2)],
				Value: []string{"free", "pro", "enterprise"}[r.IntN(3)], EffectiveFrom: randTime()})
		}
	}
	return in
}

// checkModel computes in and checks every invariant.
func checkModel(t testing.TB, in Input) {
	mo, err := Compute(in)
	require.NoError(t, err)
	requireReconciles(t, mo)
	for _, rc := range mo.Resources {
		require.Positive(t, rc.Hours)
		for _, c := range rc.Charges {
			require.True(t, c.From.Before(c.To))
			require.False(t, c.From.Before(mo.Window.From))
			require.False(t, c.To.After(mo.Window.To))
		}
	}
	recs, err := Recommend(mo, RecommendConfig{LookbackDays: 1, MinCoverage: 0.5})
	require.NoError(t, err)
	var low, high Money
	for _, x := range recs.Items {
		require.GreaterOrEqual(t, x.SavingsMonthly.Low, Money(0))
		require.GreaterOrEqual(t, x.SavingsMonthly.High, x.SavingsMonthly.Low)
		low += x.SavingsMonthly.Low
		high += x.SavingsMonthly.High
	}
	require.Equal(t, SavingsRange{Low: low, High: high}, recs.SavingsMonthly)
	tc := mo.Tenant("t1")
	g, _ := group(mo.Totals.ByTenant, "t1")
	require.Equal(t, g.Cost, tc.Total)
}

func TestRandomFleetsReconcile(t *testing.T) {
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			checkModel(t, randomInput(t, seed, 12, 5))
		})
	}
}

func FuzzCompute(f *testing.F) {
	f.Add(uint64(1), uint8(5), uint8(3))
	f.Add(uint64(42), uint8(30), uint8(20))
	f.Fuzz(func(t *testing.T, seed uint64, resources, days uint8) {
		checkModel(t, randomInput(t, seed, int(resources%40), 1+int(days%30)))
	})
}

// BenchmarkCompute costs a synthetic fleet over 30 days (dedicated and shared VPS and IPs with
// daily usage). Compare runs with
//
//	go test -run '^$' -bench Compute -count 6 ./aggregates/cost/ > new.txt && benchstat old.txt new.txt
func BenchmarkCompute(b *testing.B) {
	for _, n := range []int{200, 2000} {
		b.Run(fmt.Sprintf("resources=%d/days=30", n), func(b *testing.B) {
			in := randomInput(b, 7, n, 30)
			in.Window = Window{From: at(1, 0), To: at(1, 0).Add(30 * Day)}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compute(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
