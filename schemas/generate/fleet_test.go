package generate

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var docPrefixes = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("2001:db8::/32"),
}

func TestFleetRealism(t *testing.T) {
	tests := map[string]struct {
		opts Options
	}{}
	for seed := int64(0); seed < 25; seed++ {
		tests[fmt.Sprintf("seed %d", seed)] = struct{ opts Options }{opts: Options{Seed: seed}}
	}
	tests["4 tenants"] = struct{ opts Options }{opts: Options{Seed: 1, Tenants: 4}}
	tests["4 tenants, 1 vps, 1 ip"] = struct{ opts Options }{opts: Options{Seed: 1, Tenants: 4, VPSPerTenant: 1, IPsPerTenant: 1}}
	tests["large"] = struct{ opts Options }{opts: Options{Seed: 1, Tenants: 300, VPSPerTenant: 10, IPsPerTenant: 4}}

	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := NewFleet(tc.opts)
			require.Equal(t, f, New(tc.opts).Fleet(), "NewFleet and Generator agree")
			o := tc.opts.withDefaults()
			require.Len(t, f.Tenants, o.Tenants)

			plans := map[string]int{}
			tenants := map[string]string{}
			for _, tn := range f.Tenants {
				plans[tn.Plan]++
				tenants[tn.ID] = tn.Plan
			}
			for _, p := range []string{PlanFree, PlanStarter, PlanPro, PlanEnterprise} {
				require.Positive(t, plans[p], "plan %s", p)
			}
			require.Len(t, plans, 4)

			// VPS.
			providers, profiles := map[string]int{}, map[Profile]int{}
			idlePerTenant, vpsPerTenant := map[string]int{}, map[string]int{}
			ids := map[string]struct{}{}
			shared := 0
			for _, v := range f.VPS {
				require.Contains(t, tenants, v.TenantID)
				require.NotContains(t, ids, v.ID)
				ids[v.ID] = struct{}{}
				providers[v.Provider]++
				profiles[v.Profile]++
				vpsPerTenant[v.TenantID]++
				if v.Profile == ProfileIdle {
					idlePerTenant[v.TenantID]++
				}
				if v.Shared {
					shared++
				}
				pi := slices.IndexFunc(vpsProviders, func(p vpsProvider) bool { return p.name == v.Provider })
				require.GreaterOrEqual(t, pi, 0, v.Provider)
				require.Contains(t, vpsProviders[pi].regions, v.Region)
				plan := slices.IndexFunc(vpsProviders[pi].plans, func(p vpsPlan) bool {
					return p.name == v.Plan && p.vcpus == v.VCPUs && p.memoryMB == v.MemoryMB
				})
				require.GreaterOrEqual(t, plan, 0, "plan %s/%s with %d vCPU, %d MB", v.Provider, v.Plan, v.VCPUs, v.MemoryMB)
			}
			require.GreaterOrEqual(t, len(providers), 3)
			require.Len(t, profiles, 4, "all utilization profiles: %v", profiles)
			require.Positive(t, shared)
			require.Less(t, shared, len(f.VPS)/2+1, "shared is the exception")
			severalIdle := 0
			for _, n := range idlePerTenant {
				if n >= 3 {
					severalIdle++
				}
			}
			require.Positive(t, severalIdle, "a few tenants have several idle VPS")
			// Tenant sizes vary: some tenants are bigger.
			sizes := slices.Collect(func(yield func(int) bool) {
				for _, n := range vpsPerTenant {
					if !yield(n) {
						return
					}
				}
			})
			if o.VPSPerTenant > 1 {
				require.Greater(t, slices.Max(sizes), slices.Min(sizes))
			}

			// IPs.
			emailProviders, pools := map[string]int{}, map[string]int{}
			addrs := map[string]struct{}{}
			quiet, busy, sharedIPs := 0, 0, 0
			for _, ip := range f.IPs {
				require.Contains(t, tenants, ip.TenantID)
				a, err := netip.ParseAddr(ip.Addr)
				require.NoError(t, err)
				require.Equal(t, a.String(), ip.Addr, "canonical form")
				require.True(t, slices.ContainsFunc(docPrefixes, func(p netip.Prefix) bool { return p.Contains(a) }), ip.Addr)
				if a.Is4() {
					require.NotEqual(t, byte(0), a.As4()[3])
					require.NotEqual(t, byte(255), a.As4()[3])
				}
				require.NotContains(t, addrs, ip.Addr)
				addrs[ip.Addr] = struct{}{}
				emailProviders[ip.Provider]++
				pools[ip.Pool]++
				require.NotEmpty(t, ip.Region)
				require.Equal(t, "dedicated-ip", ip.Plan)
				if ip.DailyVolume < quietVolume {
					quiet++
				}
				if ip.DailyVolume >= busyVolume {
					busy++
				}
				if ip.Shared {
					sharedIPs++
				}
			}
			require.GreaterOrEqual(t, len(emailProviders), 2)
			if len(f.IPs) >= 3 {
				require.Len(t, emailProviders, 3)
			}
			require.Equal(t, []string{PoolMarketing, PoolTransactional}, sortedKeys(pools))
			require.Positive(t, quiet, "some IPs send nearly nothing")
			require.Positive(t, busy, "some IPs are busy")
			require.Positive(t, sharedIPs)
		})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestFleetSizesByPlan(t *testing.T) {
	// Over many seeds, enterprise tenants run more VPS and IPs than free ones.
	vps, ips, tenants := map[string]int{}, map[string]int{}, map[string]int{}
	for seed := range int64(40) {
		f := NewFleet(Options{Seed: seed})
		plan := map[string]string{}
		for _, tn := range f.Tenants {
			plan[tn.ID] = tn.Plan
			tenants[tn.Plan]++
		}
		for _, v := range f.VPS {
			vps[plan[v.TenantID]]++
		}
		for _, ip := range f.IPs {
			ips[plan[ip.TenantID]]++
		}
	}
	avg := func(m map[string]int, p string) float64 { return float64(m[p]) / float64(tenants[p]) }
	tests := map[string]struct {
		m map[string]int
	}{"vps": {m: vps}, "ips": {m: ips}}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			require.Greater(t, avg(tc.m, PlanEnterprise), avg(tc.m, PlanPro))
			require.Greater(t, avg(tc.m, PlanPro), avg(tc.m, PlanFree))
			require.Greater(t, avg(tc.m, PlanStarter), avg(tc.m, PlanFree))
		})
	}
}

// dayOfSamples returns a weekday's ok events.
func dayOfSamples(g *Generator) []Item {
	return g.Window(testFrom, testFrom.Add(24*time.Hour))
}

func TestUtilizationProfiles(t *testing.T) {
	g := New(Options{Seed: 12, IPsPerTenant: -1}) // VPS only: faster
	day := dayOfSamples(g)
	f := g.Fleet()
	profile := map[string]Profile{}
	region := map[string]string{}
	for _, v := range f.VPS {
		profile[v.ID] = v.Profile
		region[v.ID] = v.Region
	}
	type stats struct {
		n                  int
		cpuSum, memSum     float64
		cpuMin, cpuMax     float64
		low, burst         int
		peakSum, troughSum float64
		peakN, troughN     int
	}
	by := map[Profile]*stats{}
	for _, p := range Profiles {
		by[p] = &stats{cpuMin: 1}
	}
	for _, it := range day {
		s := it.Event.VPS
		if s == nil {
			continue
		}
		st := by[profile[s.ResourceID]]
		st.n++
		st.cpuSum += s.CPUUtil
		st.memSum += s.MemUtil
		st.cpuMax = max(st.cpuMax, s.CPUUtil)
		st.cpuMin = min(st.cpuMin, s.CPUUtil)
		if s.CPUUtil < 0.25 {
			st.low++
		}
		if s.CPUUtil >= 0.7 {
			st.burst++
		}
		local := float64(it.Event.Time.Hour()) + regionUTCOffset[region[s.ResourceID]]
		local = float64((int(local) + 24) % 24)
		switch {
		case local >= 13 && local < 16:
			st.peakSum += s.CPUUtil
			st.peakN++
		case local >= 1 && local < 4:
			st.troughSum += s.CPUUtil
			st.troughN++
		}
	}
	tests := map[string]struct {
		profile          Profile
		minCPU, maxCPU   float64 // bounds on every sample
		meanLo, meanHi   float64 // bounds on the mean
		checkDailyCycle  bool
		lowShare, bursts bool
	}{
		"idle":   {profile: ProfileIdle, minCPU: 0.01, maxCPU: 0.06, meanLo: 0.01, meanHi: 0.06, checkDailyCycle: true},
		"steady": {profile: ProfileSteady, minCPU: 0.2, maxCPU: 0.65, meanLo: 0.3, meanHi: 0.5, checkDailyCycle: true},
		"busy":   {profile: ProfileBusy, minCPU: 0.55, maxCPU: 1, meanLo: 0.7, meanHi: 0.95, checkDailyCycle: true},
		"spiky":  {profile: ProfileSpiky, minCPU: 0, maxCPU: 1, meanLo: 0.05, meanHi: 0.35, lowShare: true, bursts: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := by[tc.profile]
			require.Positive(t, st.n)
			require.GreaterOrEqual(t, st.cpuMin, tc.minCPU)
			require.LessOrEqual(t, st.cpuMax, tc.maxCPU)
			mean := st.cpuSum / float64(st.n)
			require.GreaterOrEqual(t, mean, tc.meanLo)
			require.LessOrEqual(t, mean, tc.meanHi)
			if tc.checkDailyCycle && st.peakN > 0 && st.troughN > 0 {
				require.Greater(t, st.peakSum/float64(st.peakN), st.troughSum/float64(st.troughN), "daily cycle")
			}
			if tc.lowShare {
				require.Greater(t, float64(st.low)/float64(st.n), 0.75, "mostly low")
			}
			if tc.bursts {
				require.Greater(t, st.burst, 0, "bursts")
				require.Less(t, float64(st.burst)/float64(st.n), 0.25)
			}
		})
	}
	t.Run("memory follows cpu", func(t *testing.T) {
		memMean := func(p Profile) float64 { return by[p].memSum / float64(by[p].n) }
		require.Greater(t, memMean(ProfileBusy), memMean(ProfileSteady))
		require.Greater(t, memMean(ProfileSteady), memMean(ProfileIdle))
		// Within a spiky VPS, burst samples use more memory than quiet ones.
		hi, lo, nHi, nLo := 0.0, 0.0, 0, 0
		for _, it := range day {
			if s := it.Event.VPS; s != nil && profile[s.ResourceID] == ProfileSpiky {
				if s.CPUUtil >= 0.7 {
					hi, nHi = hi+s.MemUtil, nHi+1
				} else {
					lo, nLo = lo+s.MemUtil, nLo+1
				}
			}
		}
		require.Positive(t, nHi)
		require.Greater(t, hi/float64(nHi), lo/float64(nLo))
	})
}

func TestEmailRealism(t *testing.T) {
	for _, seed := range []int64{1, 2, 3, 12, 99} {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			t.Parallel()
			g := New(Options{Seed: seed, VPSPerTenant: -1}) // email only: faster
			f := g.Fleet()
			volume := map[string]uint64{}
			for _, ip := range f.IPs {
				volume[ip.Addr] = ip.DailyVolume
			}
			type agg struct{ sent, delivered, bounced, deferred, complained uint64 }
			byProvider := map[string]*agg{}
			byIP := map[string]*agg{}
			zeroIntervals := 0
			for _, it := range dayOfSamples(g) {
				e := it.Event.Email
				if e == nil {
					continue
				}
				require.LessOrEqual(t, e.Delivered+e.Bounced+e.Deferred, e.Sent)
				require.LessOrEqual(t, e.Complained, e.Delivered)
				if e.Sent == 0 {
					zeroIntervals++
				}
				p := byProvider[e.Provider]
				if p == nil {
					p = &agg{}
					byProvider[e.Provider] = p
				}
				i := byIP[e.IP]
				if i == nil {
					i = &agg{}
					byIP[e.IP] = i
				}
				for _, x := range []*agg{p, i} {
					x.sent += e.Sent
					x.delivered += e.Delivered
					x.bounced += e.Bounced
					x.deferred += e.Deferred
					x.complained += e.Complained
				}
			}
			require.Positive(t, zeroIntervals, "quiet IPs have empty intervals")
			for addr, a := range byIP {
				// A day's volume is in the region of the configured daily volume.
				want := float64(volume[addr])
				if want >= 1000 {
					require.InDelta(t, want, float64(a.sent), 0.35*want, addr)
				}
				if volume[addr] < quietVolume {
					require.Less(t, a.sent, uint64(400), addr)
				}
			}
			rate := func(p string) float64 { return float64(byProvider[p].bounced) / float64(byProvider[p].sent) }
			worst := rate(WorstBounceProvider)
			for p := range byProvider {
				if p != WorstBounceProvider && byProvider[p].sent > 1000 {
					require.Greater(t, worst, 1.8*rate(p), "%s bounce %.4f vs %s %.4f", WorstBounceProvider, worst, p, rate(p))
				}
			}
		})
	}
}
