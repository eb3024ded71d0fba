package pricelist

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/schemas/generate"
)

const exampleFile = "../../../deploy/pricelist.example.yaml"

// TestExampleFilePricesDemoFleet checks that deploy/pricelist.example.yaml prices every VPS plan,
// sending IP and email provider of the demo generator's fleets, with matching plan sizes, and
// offers a commitment discount for every VPS provider.
func TestExampleFilePricesDemoFleet(t *testing.T) {
	p, err := Load(exampleFile)
	require.NoError(t, err)
	require.NotEmpty(t, p.Version)
	require.Equal(t, "USD", p.Currency)

	// The default fleet, the demo's (seed 42, the default of --demo-seed) and more seeds, which
	// between them draw every plan of the generator's catalogue.
	fleets := map[string]generate.Options{"default": generate.DefaultOptions()}
	for seed := int64(1); seed <= 42; seed++ {
		o := generate.DefaultOptions()
		o.Seed = seed
		fleets[fmt.Sprintf("seed %d", seed)] = o
	}
	// Times a demo may cost: long ago (history), the example's change dates, and a year on.
	times := []time.Time{
		time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2027, 12, 1, 0, 0, 0, 0, time.UTC),
	}
	plans := map[string]bool{}
	for name, o := range fleets {
		f := generate.NewFleet(o)
		require.NotEmpty(t, f.VPS, name)
		require.NotEmpty(t, f.IPs, name)
		for _, at := range times {
			for _, v := range f.VPS {
				e, ok := p.VPSPlan(v.Provider, v.Plan, at)
				require.True(t, ok, "%s: no price for VPS plan %s/%s at %v", name, v.Provider, v.Plan, at)
				require.Equal(t, int(v.VCPUs), e.VCPUs, "%s/%s vcpus", v.Provider, v.Plan)
				require.Equal(t, int(v.MemoryMB), e.MemoryMB, "%s/%s memory_mb", v.Provider, v.Plan)
				plans[v.Provider+"/"+v.Plan] = true
			}
			for _, ip := range f.IPs {
				_, ok := p.IPPrice(ip.Provider, at)
				require.True(t, ok, "%s: no sending-IP price for %s (pool %s) at %v", name, ip.Provider, ip.Pool, at)
				_, ok = p.EmailPrice(ip.Provider, at)
				require.True(t, ok, "%s: no email price for %s at %v", name, ip.Provider, at)
			}
		}
	}

	for _, prov := range p.Providers().VPS {
		_, ok := p.Commitment(prov, KindVPS, times[len(times)-1])
		require.True(t, ok, "no commitment discount for VPS provider %s", prov)
	}

	// Nothing in the list is dead weight: every priced plan is one the generator draws.
	for _, prov := range p.Providers().VPS {
		for _, plan := range p.VPSPlanNames(prov) {
			require.True(t, plans[prov+"/"+plan], "plan %s/%s is not in any generated fleet", prov, plan)
		}
	}

	// The example shows a price change for one VPS plan and one email provider.
	require.Len(t, p.VPSPlanPeriods("hetzner", "cx22", times[0], times[3]), 2)
	require.Len(t, p.EmailPricePeriods("ses", times[0], times[3]), 2)
}
