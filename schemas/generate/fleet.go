package generate

import (
	"fmt"
	"net/netip"
	"slices"
)

// Tenant plans.
const (
	PlanFree       = "free"
	PlanStarter    = "starter"
	PlanPro        = "pro"
	PlanEnterprise = "enterprise"
)

// Profile is a VPS utilization profile.
type Profile string

// Utilization profiles.
const (
	ProfileIdle   Profile = "idle"   // cpu ~1–6 %
	ProfileSteady Profile = "steady" // cpu ~30–50 %
	ProfileBusy   Profile = "busy"   // cpu ~70–95 %
	ProfileSpiky  Profile = "spiky"  // low, with bursts to 75–98 %
)

// Profiles lists every profile.
var Profiles = []Profile{ProfileIdle, ProfileSteady, ProfileBusy, ProfileSpiky}

// Email pools.
const (
	PoolTransactional = "transactional"
	PoolMarketing     = "marketing"
)

// Tenant is a customer of the company running the fleet.
type Tenant struct {
	ID   string // "t-001", "t-002", …
	Plan string // free|starter|pro|enterprise
}

// VPS is one virtual server. Every VPS belongs to a real tenant; Shared marks multi-tenant
// infrastructure whose cost the model splits by usage.
type VPS struct {
	ID, TenantID, Provider, Region, Plan string
	VCPUs, MemoryMB                      uint32
	Shared                               bool
	Profile                              Profile
}

// IP is one SMTP sending IP. Addr is also the inventory resource_id.
type IP struct {
	Addr, TenantID, Pool, Provider string
	Shared                         bool
	DailyVolume                    uint64 // expected messages sent per day (before the daily cycle and noise)
	Region                         string // provider region, used in inventory events
	Plan                           string // provider product, used in inventory events ("dedicated-ip")
}

// Fleet is every tenant and resource of one generated world.
type Fleet struct {
	Tenants []Tenant
	VPS     []VPS
	IPs     []IP
}

// vpsPlan is one catalogue entry of a VPS provider.
type vpsPlan struct {
	name     string
	vcpus    uint32
	memoryMB uint32
	size     int // 0 small, 1 medium, 2 large
}

type vpsProvider struct {
	name    string
	short   string
	regions []string
	plans   []vpsPlan
}

// vpsProviders is a realistic catalogue (plan names as the providers spell them).
var vpsProviders = []vpsProvider{
	{
		name: "hetzner", short: "hz",
		regions: []string{"fsn1", "nbg1", "hel1", "ash", "hil"},
		plans: []vpsPlan{
			{"cx22", 2, 4096, 0}, {"cpx21", 3, 4096, 0}, {"cx32", 4, 8192, 1}, {"cpx31", 4, 8192, 1},
			{"cx42", 8, 16384, 1}, {"ccx23", 4, 16384, 1}, {"cx52", 16, 32768, 2}, {"ccx33", 8, 32768, 2},
			{"ccx43", 16, 65536, 2},
		},
	},
	{
		name: "ovh", short: "ovh",
		regions: []string{"GRA11", "SBG5", "BHS5", "WAW1", "DE1", "UK1"},
		plans: []vpsPlan{
			{"d2-4", 2, 4096, 0}, {"d2-8", 4, 8192, 0}, {"b2-7", 2, 7168, 0}, {"b2-15", 4, 15360, 1},
			{"c2-15", 4, 15360, 1}, {"b2-30", 8, 30720, 1}, {"b2-60", 16, 61440, 2}, {"c2-60", 16, 61440, 2},
		},
	},
	{
		name: "digitalocean", short: "do",
		regions: []string{"nyc3", "sfo3", "ams3", "fra1", "lon1", "sgp1"},
		plans: []vpsPlan{
			{"s-1vcpu-2gb", 1, 2048, 0}, {"s-2vcpu-2gb", 2, 2048, 0}, {"s-2vcpu-4gb", 2, 4096, 0},
			{"s-4vcpu-8gb", 4, 8192, 1}, {"g-2vcpu-8gb", 2, 8192, 1}, {"c-4", 4, 8192, 1},
			{"s-8vcpu-16gb", 8, 16384, 2}, {"c-8", 8, 16384, 2}, {"m-4vcpu-32gb", 4, 32768, 2},
		},
	},
}

// regionUTCOffset is the rough local-time offset (hours) used for the daily cycle.
var regionUTCOffset = map[string]float64{
	"fsn1": 1, "nbg1": 1, "hel1": 2, "ash": -5, "hil": -8,
	"GRA11": 1, "SBG5": 1, "BHS5": -5, "WAW1": 1, "DE1": 1, "UK1": 0,
	"nyc3": -5, "sfo3": -8, "ams3": 1, "fra1": 1, "lon1": 0, "sgp1": 8,
	"us-east-1": -5, "eu-west-1": 0, "us": -5, "eu": 1,
}

type emailProvider struct {
	name    string
	regions []string
	// prefix is the documentation /24 used for this provider's IPv4 addresses; idx picks the IPv6
	// documentation sub-range used once the /24 is exhausted.
	prefix [3]byte
	idx    int
	// bounceRate is the base hard+soft bounce rate for transactional mail.
	bounceRate float64
}

// emailProviders: mailgun has the noticeably worse bounce rate.
var emailProviders = []emailProvider{
	{name: "sendgrid", regions: []string{"us", "eu"}, prefix: [3]byte{198, 51, 100}, idx: 1, bounceRate: 0.008},
	{name: "mailgun", regions: []string{"us", "eu"}, prefix: [3]byte{203, 0, 113}, idx: 2, bounceRate: 0.045},
	{name: "ses", regions: []string{"us-east-1", "eu-west-1"}, prefix: [3]byte{192, 0, 2}, idx: 3, bounceRate: 0.011},
}

// WorstBounceProvider is the email provider generated with a noticeably worse bounce rate.
const WorstBounceProvider = "mailgun"

// Fleet-level streams, so that adding a stream never shifts another.
const (
	streamFleet uint64 = iota + 1
	streamVPSParams
	streamIPParams
	streamVPSSample
	streamEmail
	streamBurst
	streamFaults
	streamSeedTag
)

// NewFleet builds the fleet for o, deterministically from o.Seed (defaults applied to zero fields).
func NewFleet(o Options) Fleet { return newFleet(o.withDefaults()) }

func newFleet(o Options) Fleet {
	r := newRNG(combine(uint64(o.Seed), streamFleet))
	var f Fleet

	// Tenants: at least one of each plan when there are ≥ 4 tenants, the rest weighted.
	plans := make([]string, 0, o.Tenants)
	if o.Tenants >= 4 {
		plans = append(plans, PlanFree, PlanStarter, PlanPro, PlanEnterprise)
	}
	for len(plans) < o.Tenants {
		x := r.float()
		switch {
		case x < 0.30:
			plans = append(plans, PlanFree)
		case x < 0.60:
			plans = append(plans, PlanStarter)
		case x < 0.85:
			plans = append(plans, PlanPro)
		default:
			plans = append(plans, PlanEnterprise)
		}
	}
	shuffle(&r, plans)
	for i, p := range plans {
		f.Tenants = append(f.Tenants, Tenant{ID: fmt.Sprintf("t-%03d", i+1), Plan: p})
	}
	if len(f.Tenants) == 0 {
		return f
	}

	// Over-provisioned tenants: a few tenants run several idle VPS.
	overProvisioned := map[int]bool{}
	if o.VPSPerTenant > 0 {
		n := max(1, len(f.Tenants)/4)
		for _, i := range r.perm(len(f.Tenants))[:n] {
			overProvisioned[i] = true
		}
	}

	vpsSeq, ipSeq := 0, map[string]int{}
	for ti, t := range f.Tenants {
		// VPS count by plan, around VPSPerTenant.
		if o.VPSPerTenant > 0 {
			scale := map[string]float64{PlanFree: 0.4, PlanStarter: 0.75, PlanPro: 1.2, PlanEnterprise: 2.0}[t.Plan]
			n := max(1, int(float64(o.VPSPerTenant)*scale*r.between(0.8, 1.25)+0.5))
			if overProvisioned[ti] {
				n = max(n, 4)
			}
			// Tenants favour one provider, sometimes a second.
			home := r.intn(len(vpsProviders))
			second := r.intn(len(vpsProviders))
			idle := 0
			if overProvisioned[ti] {
				idle = max(3, n/2)
			}
			for k := 0; k < n; k++ {
				pi := home
				if r.chance(0.3) {
					pi = second
				}
				prov := vpsProviders[pi]
				var prof Profile
				if k < idle {
					prof = ProfileIdle
				} else {
					x := r.float()
					switch {
					case x < 0.12:
						prof = ProfileIdle
					case x < 0.55:
						prof = ProfileSteady
					case x < 0.77:
						prof = ProfileBusy
					default:
						prof = ProfileSpiky
					}
				}
				vpsSeq++
				v := VPS{TenantID: t.ID, Provider: prov.name, Profile: prof}
				v.Region = prov.regions[r.intn(len(prov.regions))]
				v.ID = fmt.Sprintf("%s-%s-%04d", prov.short, lowerASCII(v.Region), vpsSeq)
				setPlan(&r, &v, prov, overProvisioned[ti], t.Plan)
				v.Shared = r.chance(0.12)
				f.VPS = append(f.VPS, v)
			}
		}
		// Sending IPs.
		if o.IPsPerTenant > 0 {
			n := o.IPsPerTenant
			switch t.Plan {
			case PlanFree:
				n = 1
			case PlanStarter:
				n = max(1, n-1)
			case PlanEnterprise:
				n = n * 2
			}
			n = max(1, n+r.intn(3)-1)
			home := r.intn(len(emailProviders))
			volScale := map[string]float64{PlanFree: 0.1, PlanStarter: 0.4, PlanPro: 1, PlanEnterprise: 2.5}[t.Plan]
			for k := 0; k < n; k++ {
				pi := home
				if r.chance(0.35) {
					pi = r.intn(len(emailProviders))
				}
				ep := emailProviders[pi]
				ip := IP{TenantID: t.ID, Provider: ep.name, Plan: "dedicated-ip"}
				ip.Region = ep.regions[r.intn(len(ep.regions))]
				ip.Pool = PoolTransactional
				if r.chance(0.45) {
					ip.Pool = PoolMarketing
				}
				ip.Shared = r.chance(0.2)
				ip.DailyVolume = dailyVolume(&r, ip.Pool, volScale, r.chance(0.2))
				ip.Addr = allocAddr(ep, ipSeq[ep.name])
				ipSeq[ep.name]++
				f.IPs = append(f.IPs, ip)
			}
		}
	}
	ensureVariety(&r, &f, overProvisioned, ipSeq)
	return f
}

func setPlan(r *rng, v *VPS, prov vpsProvider, overProvisioned bool, tenantPlan string) {
	size := 0
	switch v.Profile {
	case ProfileBusy:
		size = 1 + r.intn(2)
	case ProfileSteady:
		size = r.intn(3)
	case ProfileSpiky:
		size = r.intn(2)
	case ProfileIdle:
		// Over-provisioned tenants hold idle medium and large boxes: the savings story.
		if overProvisioned {
			size = 1 + r.intn(2)
		} else {
			size = r.intn(2)
		}
	}
	if tenantPlan == PlanFree && size == 2 {
		size = 1
	}
	var cands []vpsPlan
	for _, p := range prov.plans {
		if p.size == size {
			cands = append(cands, p)
		}
	}
	p := cands[r.intn(len(cands))]
	v.Plan, v.VCPUs, v.MemoryMB = p.name, p.vcpus, p.memoryMB
}

func dailyVolume(r *rng, pool string, scale float64, quiet bool) uint64 {
	if quiet {
		// Warming-up or forgotten IPs: nearly nothing.
		return uint64(r.intn(150))
	}
	var lo, hi float64
	if pool == PoolMarketing {
		lo, hi = 20000, 250000
	} else {
		lo, hi = 2000, 40000
	}
	return uint64(r.between(lo, hi)*scale + 0.5)
}

// allocAddr returns the n-th address of a provider: IPv4 documentation ranges (RFC 5737) first,
// then the IPv6 documentation prefix 2001:db8::/32 (RFC 3849) for larger fleets.
func allocAddr(ep emailProvider, n int) string {
	if n < 250 {
		return netip.AddrFrom4([4]byte{ep.prefix[0], ep.prefix[1], ep.prefix[2], byte(n + 4)}).String()
	}
	host := uint32(n - 250 + 1)
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
	b[5] = byte(ep.idx)
	b[12], b[13], b[14], b[15] = byte(host>>24), byte(host>>16), byte(host>>8), byte(host)
	return netip.AddrFrom16(b).String()
}

// ensureVariety makes sure small-but-reasonable fleets always show every dimension the demo and
// tests rely on: all profiles, ≥ 3 VPS providers, all email providers, both pools, shared
// resources, quiet and busy IPs.
func ensureVariety(r *rng, f *Fleet, overProvisioned map[int]bool, ipSeq map[string]int) {
	tenantIdx := map[string]int{}
	for i, t := range f.Tenants {
		tenantIdx[t.ID] = i
	}
	// Candidates for changes: VPS of regular tenants, never the designated idle ones.
	var regular []int
	for i, v := range f.VPS {
		if !overProvisioned[tenantIdx[v.TenantID]] {
			regular = append(regular, i)
		}
	}
	// VPS providers.
	if len(f.VPS) >= len(vpsProviders) {
		for pi, prov := range vpsProviders {
			if slices.ContainsFunc(f.VPS, func(v VPS) bool { return v.Provider == prov.name }) {
				continue
			}
			counts := map[string]int{}
			for _, v := range f.VPS {
				counts[v.Provider]++
			}
			// Move one VPS from the most used provider.
			best := -1
			for i := len(f.VPS) - 1; i >= 0; i-- {
				if best < 0 || counts[f.VPS[i].Provider] > counts[f.VPS[best].Provider] {
					best = i
				}
			}
			v := &f.VPS[best]
			v.Provider = vpsProviders[pi].name
			v.Region = prov.regions[r.intn(len(prov.regions))]
			v.ID = fmt.Sprintf("%s-%s-%s", prov.short, lowerASCII(v.Region), v.ID[len(v.ID)-4:])
			setPlan(r, v, prov, overProvisioned[tenantIdx[v.TenantID]], f.Tenants[tenantIdx[v.TenantID]].Plan)
		}
	}
	// Profiles.
	if len(regular) >= len(Profiles) {
		for _, p := range Profiles {
			if slices.ContainsFunc(regular, func(i int) bool { return f.VPS[i].Profile == p }) {
				continue
			}
			counts := map[Profile]int{}
			for _, i := range regular {
				counts[f.VPS[i].Profile]++
			}
			for _, i := range regular {
				if counts[f.VPS[i].Profile] > 1 {
					f.VPS[i].Profile = p
					prov := vpsProviders[slices.IndexFunc(vpsProviders, func(x vpsProvider) bool { return x.name == f.VPS[i].Provider })]
					setPlan(r, &f.VPS[i], prov, false, f.Tenants[tenantIdx[f.VPS[i].TenantID]].Plan)
					break
				}
			}
		}
	}
	// Shared VPS.
	if len(f.VPS) >= 2 && !slices.ContainsFunc(f.VPS, func(v VPS) bool { return v.Shared }) {
		f.VPS[r.intn(len(f.VPS))].Shared = true
	}
	// Email providers.
	if len(f.IPs) >= len(emailProviders) {
		for _, ep := range emailProviders {
			if slices.ContainsFunc(f.IPs, func(ip IP) bool { return ip.Provider == ep.name }) {
				continue
			}
			counts := map[string]int{}
			for _, ip := range f.IPs {
				counts[ip.Provider]++
			}
			best := 0
			for i := range f.IPs {
				if counts[f.IPs[i].Provider] > counts[f.IPs[best].Provider] {
					best = i
				}
			}
			ip := &f.IPs[best]
			ip.Provider = ep.name
			ip.Region = ep.regions[r.intn(len(ep.regions))]
			ip.Addr = allocAddr(ep, ipSeq[ep.name])
			ipSeq[ep.name]++
		}
	}
	if len(f.IPs) >= 2 {
		// Both pools.
		for _, pool := range []string{PoolTransactional, PoolMarketing} {
			if !slices.ContainsFunc(f.IPs, func(ip IP) bool { return ip.Pool == pool }) {
				i := r.intn(len(f.IPs))
				f.IPs[i].Pool = pool
				f.IPs[i].DailyVolume = dailyVolume(r, pool, 1, false)
			}
		}
		// Shared IPs.
		if !slices.ContainsFunc(f.IPs, func(ip IP) bool { return ip.Shared }) {
			f.IPs[r.intn(len(f.IPs))].Shared = true
		}
		// The provider with the worse bounce rate must actually send something.
		if len(f.IPs) >= len(emailProviders) && !slices.ContainsFunc(f.IPs, func(ip IP) bool {
			return ip.Provider == WorstBounceProvider && ip.DailyVolume >= quietVolume
		}) {
			i := slices.IndexFunc(f.IPs, func(ip IP) bool { return ip.Provider == WorstBounceProvider })
			f.IPs[i].DailyVolume = dailyVolume(r, f.IPs[i].Pool, 1, false)
		}
		// Quiet and busy IPs.
		if !slices.ContainsFunc(f.IPs, func(ip IP) bool { return ip.DailyVolume < quietVolume }) {
			i := len(f.IPs) - 1
			if j := slices.IndexFunc(f.IPs, func(ip IP) bool { return ip.Provider != WorstBounceProvider }); j >= 0 {
				i = j
			}
			f.IPs[i].DailyVolume = dailyVolume(r, "", 0, true)
		}
		if !slices.ContainsFunc(f.IPs, func(ip IP) bool { return ip.DailyVolume >= busyVolume }) {
			i := 0
			for j := range f.IPs {
				if f.IPs[j].DailyVolume > f.IPs[i].DailyVolume {
					i = j
				}
			}
			if f.IPs[i].DailyVolume < quietVolume {
				i = 0 // every IP is quiet; the last one stays quiet
			}
			f.IPs[i].DailyVolume = uint64(r.between(60000, 300000))
		}
	}
}

// Thresholds for quiet and busy IPs (messages per day).
const (
	quietVolume = 150
	busyVolume  = 50000
)

func (r *rng) perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	shuffle(r, p)
	return p
}

func shuffle[T any](r *rng, s []T) {
	for i := len(s) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		s[i], s[j] = s[j], s[i]
	}
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
