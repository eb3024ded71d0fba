package cost

import (
	"cmp"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
	"github.com/spendstream/spendstream/schemas/events"
	"github.com/spendstream/spendstream/schemas/generate"
)

// demoInput turns the demo generator's fleet and 14 days of its events (hourly samples, to stay
// small) into the model's input the way the roll-ups would: daily per tenant and resource.
func demoInput(t testing.TB, seed int64) Input { return demoInputN(t, seed, 0) }

// demoInputN is demoInput with a number of tenants (0: the generator's default).
func demoInputN(t testing.TB, seed int64, tenants int) Input {
	t.Helper()
	pl, err := pricelist.Load("../../deploy/pricelist.example.yaml")
	require.NoError(t, err)
	o := generate.DefaultOptions()
	o.Seed = seed
	if tenants > 0 {
		o.Tenants = tenants
	}
	o.SampleEvery, o.EmailEvery = time.Hour, time.Hour
	g := generate.New(o)
	from := time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC)
	to := from.Add(14 * Day)
	in := Input{Window: Window{From: from, To: to}, PriceList: pl}
	for _, it := range g.Inventory(from.AddDate(0, -1, 0)) {
		e := it.Event
		in.Inventory = append(in.Inventory, InventoryEvent{Time: e.Time, TenantID: e.TenantID, ResourceID: e.Inventory.ResourceID,
			Kind: pricelist.ResourceKind(e.Inventory.Kind), Provider: e.Inventory.Provider, Region: e.Inventory.Region,
			Plan: e.Inventory.Plan, Action: Action(e.Inventory.Action), Shared: e.Inventory.Shared})
	}
	for _, tn := range g.Fleet().Tenants {
		in.Segments = append(in.Segments, SegmentChange{TenantID: tn.ID, Property: SegmentPlan, Value: tn.Plan, EffectiveFrom: from.AddDate(-1, 0, 0)})
	}
	type vkey struct {
		day              time.Time
		tenant, resource string
	}
	type vacc struct {
		u        VPSUsage
		cpu, mem []float64
	}
	vps := map[vkey]*vacc{}
	email := map[EmailUsage]*EmailUsage{}
	for _, it := range g.Window(from, to) {
		e := it.Event
		d := day(e.Time.Add(-time.Nanosecond)) // a sample covers [time − interval, time)
		switch {
		case e.VPS != nil:
			s := e.VPS
			k := vkey{d, e.TenantID, s.ResourceID}
			a := vps[k]
			if a == nil {
				a = &vacc{u: VPSUsage{Day: d, TenantID: e.TenantID, ResourceID: s.ResourceID, Provider: s.Provider, Plan: s.Plan}}
				vps[k] = a
			}
			a.u.Samples++
			a.u.CPUCoreSeconds += s.CPUUtil * float64(s.VCPUs) * float64(s.IntervalSeconds)
			a.cpu = append(a.cpu, s.CPUUtil)
			a.mem = append(a.mem, s.MemUtil)
		case e.Email != nil:
			v := e.Email
			k := EmailUsage{Day: d, TenantID: e.TenantID, IP: v.IP, Pool: v.Pool, Provider: v.Provider}
			a := email[k]
			if a == nil {
				c := k
				a = &c
				email[k] = a
			}
			a.Sent += v.Sent
			a.Delivered += v.Delivered
			a.Bounced += v.Bounced
			a.Deferred += v.Deferred
			a.Complained += v.Complained
		default:
			require.Equal(t, events.TypeInventoryResource, e.Type)
		}
	}
	for _, a := range vps {
		a.u.CPUAvg, a.u.CPUP95 = meanP95(a.cpu)
		a.u.MemAvg, a.u.MemP95 = meanP95(a.mem)
		in.VPSUsage = append(in.VPSUsage, a.u)
	}
	for _, a := range email {
		in.EmailUsage = append(in.EmailUsage, *a)
	}
	slices.SortFunc(in.VPSUsage, func(a, b VPSUsage) int {
		return cmp.Or(a.Day.Compare(b.Day), cmp.Compare(a.ResourceID, b.ResourceID), cmp.Compare(a.TenantID, b.TenantID))
	})
	return in
}

// meanP95 returns the mean and the nearest-rank 95th percentile of v.
func meanP95(v []float64) (float64, float64) {
	s := slices.Clone(v)
	slices.Sort(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	return sum / float64(len(s)), s[int(math.Ceil(0.95*float64(len(s))))-1]
}

// TestDemoFleet costs the demo fleet with the example price list: everything reconciles, nothing
// is unpriced, and the recommendation kinds the demo is shaped for appear.
func TestDemoFleet(t *testing.T) {
	for _, seed := range []int64{0, 42} {
		in := demoInput(t, seed)
		mo, err := Compute(in)
		require.NoError(t, err)
		requireReconciles(t, mo)
		require.Empty(t, mo.Unpriced, "the example list prices the whole demo fleet")
		require.Empty(t, mo.Warnings)
		require.Positive(t, mo.Totals.Total)
		require.GreaterOrEqual(t, len(mo.Vendors.Email), 3)
		require.GreaterOrEqual(t, len(mo.Vendors.VPS), 3)
		require.Equal(t, mo.Currency, mo.Vendors.Currency)

		recs := recommend(t, in, RecommendConfig{})
		kinds := map[string]int{}
		for _, r := range recs.Items {
			kinds[string(r.Kind)+"/"+r.Finding]++
		}
		t.Logf("seed %d: total %s, estimated monthly %s, savings %s–%s, recommendations %v",
			seed, mo.Totals.Total, mo.Totals.EstimatedMonthly, recs.SavingsMonthly.Low, recs.SavingsMonthly.High, kinds)
		require.Positive(t, kinds[string(KindConsolidateVPS)+"/"+FindingUnderutilized], "idle VPS")
		require.Positive(t, kinds[string(KindRebalanceIPPool)+"/"+FindingQuietIP], "quiet IPs")
		require.Positive(t, kinds[string(KindAdjustCommitment)+"/"+FindingSteadyUsage], "steady VPS")
		pool := 0
		for k, n := range kinds {
			if k == string(KindRebalanceIPPool)+"/"+FindingPoolQuality || k == string(KindRebalanceIPPool)+"/"+FindingPoolCost ||
				k == string(KindRebalanceIPPool)+"/"+FindingPoolCostQuality {
				pool += n
			}
		}
		require.Positive(t, pool, "mailgun bounces more")
		require.Positive(t, recs.SavingsMonthly.High)
	}
}

// The demo of `make run` (cmd/spendstream: --demo-seed 42, --demo-tenants 16) is shaped so that
// every recommendation kind has something true to say (issue 4, scope 5).
const (
	demoRunSeed    = 42
	demoRunTenants = 16
)

func TestDemoRunHasEveryRecommendationKind(t *testing.T) {
	m, err := Compute(demoInputN(t, demoRunSeed, demoRunTenants))
	require.NoError(t, err)
	recs, err := Recommend(m, RecommendConfig{})
	require.NoError(t, err)
	kinds := map[Kind]int{}
	for _, r := range recs.Items {
		kinds[r.Kind]++
	}
	for _, k := range []Kind{KindConsolidateVPS, KindRebalanceIPPool, KindAdjustCommitment, KindAdjustTenantPlan} {
		require.Positive(t, kinds[k], "the demo has no %s recommendation: %v", k, kinds)
	}
}
