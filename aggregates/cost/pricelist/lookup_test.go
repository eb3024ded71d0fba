package pricelist

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// lookupDoc has a VPS plan priced from 2026-01-01 and changed on 2026-10-01, an email provider
// changed at noon on 2026-11-01 and commitments with several terms.
var lookupDoc = doc(
	`version: lookups`,
	`currency: USD`,
	`vps_plans:`,
	`  - {provider: hetzner, plan: cx22, vcpus: 2, memory_mb: 4096, monthly_price: "4.99", effective_from: 2026-10-01}`, // 4
	`  - {provider: hetzner, plan: cx22, vcpus: 2, memory_mb: 4096, monthly_price: "4.59", effective_from: 2026-01-01}`, // 5
	`  - {provider: hetzner, plan: cx32, vcpus: 4, memory_mb: 8192, monthly_price: "7.59"}`,                             // 6
	`  - {provider: ovh, plan: d2-4, vcpus: 2, memory_mb: 4096, monthly_price: "9.90", effective_from: 2027-01-01}`,     // 7
	`ip_prices:`,
	`  - {provider: ovh, monthly_price: "2"}`, // 9
	`  - {provider: sendgrid, monthly_price: "30"}`,
	`email_providers:`,
	`  - {provider: ses, per_thousand: "0.10"}`, // 12
	`  - {provider: ses, per_thousand: "0.12", monthly_base_fee: "5", effective_from: "2026-11-01T12:00:00Z"}`, // 13
	`  - {provider: mailgun, per_thousand: "0.80", monthly_base_fee: "35"}`,
	`commitments:`,
	`  - {provider: hetzner, resource_kind: vps, term_months: 12, discount: "0.10"}`,                             // 16
	`  - {provider: hetzner, resource_kind: vps, term_months: 24, discount: "0.20"}`,                             // 17
	`  - {provider: hetzner, resource_kind: vps, term_months: 36, discount: "0.20", effective_from: 2026-06-01}`, // 18
	`  - {provider: hetzner, resource_kind: vps, term_months: 36, discount: "0.30", effective_from: 2026-09-01}`, // 19
	`  - {provider: ovh, resource_kind: ip, term_months: 12, discount: "0.05"}`,                                  // 20
)

func mustParse(t testing.TB, data []byte) *PriceList {
	t.Helper()
	p, err := Parse(data)
	require.NoError(t, err)
	return p
}

func utc(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }

func TestVPSPlanLookup(t *testing.T) {
	p := mustParse(t, lookupDoc)
	tests := map[string]struct {
		provider, plan string
		at             time.Time
		wantOK         bool
		wantPrice      Money
		wantLine       int
	}{
		"before the first effective_from":  {"hetzner", "cx22", utc(2025, 12, 31, 23), false, 0, 0},
		"at the first effective_from":      {"hetzner", "cx22", utc(2026, 1, 1, 0), true, 4_590_000, 5},
		"last nanosecond of the old price": {"hetzner", "cx22", utc(2026, 10, 1, 0).Add(-time.Nanosecond), true, 4_590_000, 5},
		"at the change":                    {"hetzner", "cx22", utc(2026, 10, 1, 0), true, 4_990_000, 4},
		"long after":                       {"hetzner", "cx22", utc(2030, 1, 1, 0), true, 4_990_000, 4},
		"other zone, before the change": {"hetzner", "cx22",
			time.Date(2026, 10, 1, 1, 0, 0, 0, time.FixedZone("CEST", 2*3600)), true, 4_590_000, 5},
		"since forever":       {"hetzner", "cx32", time.Time{}, true, 7_590_000, 6},
		"future price only":   {"ovh", "d2-4", utc(2026, 11, 26, 0), false, 0, 0},
		"unknown plan":        {"hetzner", "cx99", utc(2026, 11, 26, 0), false, 0, 0},
		"unknown provider":    {"aws", "cx22", utc(2026, 11, 26, 0), false, 0, 0},
		"names are exact":     {"Hetzner", "cx22", utc(2026, 11, 26, 0), false, 0, 0},
		"future price in use": {"ovh", "d2-4", utc(2027, 1, 1, 0), true, 9_900_000, 7},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := p.VPSPlan(tc.provider, tc.plan, tc.at)
			require.Equal(t, tc.wantOK, ok)
			if !ok {
				require.Equal(t, VPSPlan{}, got)
				return
			}
			require.Equal(t, tc.wantPrice, got.MonthlyPrice)
			require.Equal(t, tc.wantLine, got.Line)
			require.Equal(t, tc.provider, got.Provider)
			require.Equal(t, tc.plan, got.Plan)
		})
	}
}

func TestVPSPlanPeriods(t *testing.T) {
	p := mustParse(t, lookupDoc)
	cx22 := func(at time.Time) VPSPlan {
		e, ok := p.VPSPlan("hetzner", "cx22", at)
		require.True(t, ok)
		return e
	}
	old, cur := cx22(utc(2026, 1, 1, 0)), cx22(utc(2026, 10, 1, 0))
	tests := map[string]struct {
		provider, plan string
		from, to       time.Time
		want           []Period[VPSPlan]
	}{
		"across the change": {"hetzner", "cx22", utc(2026, 9, 30, 12), utc(2026, 10, 2, 0), []Period[VPSPlan]{
			{From: utc(2026, 9, 30, 12), To: utc(2026, 10, 1, 0), Entry: old, OK: true},
			{From: utc(2026, 10, 1, 0), To: utc(2026, 10, 2, 0), Entry: cur, OK: true},
		}},
		"inside one price": {"hetzner", "cx22", utc(2026, 5, 1, 0), utc(2026, 5, 2, 0), []Period[VPSPlan]{
			{From: utc(2026, 5, 1, 0), To: utc(2026, 5, 2, 0), Entry: old, OK: true},
		}},
		"starting at the change": {"hetzner", "cx22", utc(2026, 10, 1, 0), utc(2026, 10, 2, 0), []Period[VPSPlan]{
			{From: utc(2026, 10, 1, 0), To: utc(2026, 10, 2, 0), Entry: cur, OK: true},
		}},
		"ending at the change": {"hetzner", "cx22", utc(2026, 9, 30, 0), utc(2026, 10, 1, 0), []Period[VPSPlan]{
			{From: utc(2026, 9, 30, 0), To: utc(2026, 10, 1, 0), Entry: old, OK: true},
		}},
		"from before the first price over both changes": {"hetzner", "cx22", utc(2025, 12, 31, 0), utc(2026, 12, 1, 0), []Period[VPSPlan]{
			{From: utc(2025, 12, 31, 0), To: utc(2026, 1, 1, 0)},
			{From: utc(2026, 1, 1, 0), To: utc(2026, 10, 1, 0), Entry: old, OK: true},
			{From: utc(2026, 10, 1, 0), To: utc(2026, 12, 1, 0), Entry: cur, OK: true},
		}},
		"no price at all": {"aws", "t3", utc(2026, 5, 1, 0), utc(2026, 5, 2, 0), []Period[VPSPlan]{
			{From: utc(2026, 5, 1, 0), To: utc(2026, 5, 2, 0)},
		}},
		"zone converted to UTC": {"hetzner", "cx22",
			time.Date(2026, 10, 1, 1, 0, 0, 0, time.FixedZone("CEST", 2*3600)), utc(2026, 10, 1, 1), []Period[VPSPlan]{
				{From: utc(2026, 9, 30, 23), To: utc(2026, 10, 1, 0), Entry: old, OK: true},
				{From: utc(2026, 10, 1, 0), To: utc(2026, 10, 1, 1), Entry: cur, OK: true},
			}},
		"empty window":    {"hetzner", "cx22", utc(2026, 5, 1, 0), utc(2026, 5, 1, 0), nil},
		"reversed window": {"hetzner", "cx22", utc(2026, 5, 2, 0), utc(2026, 5, 1, 0), nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := p.VPSPlanPeriods(tc.provider, tc.plan, tc.from, tc.to)
			require.Equal(t, tc.want, got)
		})
	}
}

// TestAmortizeAcrossChange costs cx22 over [2026-09-30 12:00, 2026-10-02 00:00): 12 h at 4.59 and
// 24 h at 4.99.
func TestAmortizeAcrossChange(t *testing.T) {
	p := mustParse(t, lookupDoc)
	var total Money
	for _, per := range p.VPSPlanPeriods("hetzner", "cx22", utc(2026, 9, 30, 12), utc(2026, 10, 2, 0)) {
		require.True(t, per.OK)
		c, err := per.Entry.MonthlyPrice.Amortize(per.Duration())
		require.NoError(t, err)
		total += c
	}
	// 4.59 × 12 / 730 = 0.075452054… → 0.075452; 4.99 × 24 / 730 = 0.164054794… → 0.164055.
	require.Equal(t, Money(75_452+164_055), total)
	require.Equal(t, "0.239507", total.String())
}

func TestIPAndEmailLookups(t *testing.T) {
	p := mustParse(t, lookupDoc)

	ip, ok := p.IPPrice("ovh", utc(2026, 11, 26, 0))
	require.True(t, ok)
	require.Equal(t, IPPrice{Provider: "ovh", MonthlyPrice: 2 * Unit, Line: 9}, ip)
	_, ok = p.IPPrice("mailgun", utc(2026, 11, 26, 0))
	require.False(t, ok)
	require.Equal(t, []Period[IPPrice]{{From: utc(2026, 11, 1, 0), To: utc(2026, 11, 2, 0), Entry: ip, OK: true}},
		p.IPPricePeriods("ovh", utc(2026, 11, 1, 0), utc(2026, 11, 2, 0)))

	before, ok := p.EmailPrice("ses", utc(2026, 11, 1, 11))
	require.True(t, ok)
	require.Equal(t, EmailPrice{Provider: "ses", PerThousand: 100_000, Line: 12}, before)
	after, ok := p.EmailPrice("ses", utc(2026, 11, 1, 12))
	require.True(t, ok)
	require.Equal(t, EmailPrice{Provider: "ses", PerThousand: 120_000, MonthlyBaseFee: 5 * Unit,
		EffectiveFrom: utc(2026, 11, 1, 12), Line: 13}, after)

	require.Equal(t, []Period[EmailPrice]{
		{From: utc(2026, 11, 1, 0), To: utc(2026, 11, 1, 12), Entry: before, OK: true},
		{From: utc(2026, 11, 1, 12), To: utc(2026, 11, 2, 0), Entry: after, OK: true},
	}, p.EmailPricePeriods("ses", utc(2026, 11, 1, 0), utc(2026, 11, 2, 0)))
}

func TestCommitmentLookup(t *testing.T) {
	p := mustParse(t, lookupDoc)
	tests := map[string]struct {
		provider string
		kind     ResourceKind
		at       time.Time
		wantOK   bool
		wantLine int   // of the best commitment
		wantAll  []int // lines of every commitment in force, by term
	}{
		"largest discount":             {"hetzner", KindVPS, utc(2026, 3, 1, 0), true, 17, []int{16, 17}},
		"tie goes to the shorter term": {"hetzner", KindVPS, utc(2026, 7, 1, 0), true, 17, []int{16, 17, 18}},
		"after a change":               {"hetzner", KindVPS, utc(2026, 10, 1, 0), true, 19, []int{16, 17, 19}},
		"other kind":                   {"ovh", KindIP, utc(2026, 10, 1, 0), true, 20, []int{20}},
		"none for the kind":            {"hetzner", KindIP, utc(2026, 10, 1, 0), false, 0, nil},
		"none for the provider":        {"digitalocean", KindVPS, utc(2026, 10, 1, 0), false, 0, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			best, ok := p.Commitment(tc.provider, tc.kind, tc.at)
			require.Equal(t, tc.wantOK, ok)
			require.Equal(t, tc.wantLine, best.Line)
			var lines []int
			for _, c := range p.Commitments(tc.provider, tc.kind, tc.at) {
				lines = append(lines, c.Line)
			}
			require.Equal(t, tc.wantAll, lines)
		})
	}
	best, _ := p.Commitment("hetzner", KindVPS, utc(2026, 10, 1, 0))
	require.Equal(t, Money(3_493_000), best.Apply(4_990_000)) // 4.99 × 0.7
}

func TestCatalogue(t *testing.T) {
	p := mustParse(t, lookupDoc)
	require.Equal(t, ProviderSet{
		VPS:   []string{"hetzner", "ovh"},
		IP:    []string{"ovh", "sendgrid"},
		Email: []string{"mailgun", "ses"},
	}, p.Providers())
	require.Equal(t, []string{"cx22", "cx32"}, p.VPSPlanNames("hetzner"))
	require.Empty(t, p.VPSPlanNames("aws"))

	var got []string
	for _, e := range p.VPSPlansAt(utc(2026, 11, 26, 0)) {
		got = append(got, e.Provider+"/"+e.Plan+" "+e.MonthlyPrice.String())
	}
	require.Equal(t, []string{"hetzner/cx22 4.99", "hetzner/cx32 7.59"}, got)
	got = got[:0]
	for _, e := range p.VPSPlansAt(utc(2027, 1, 1, 0)) {
		got = append(got, e.Provider+"/"+e.Plan+" "+e.MonthlyPrice.String())
	}
	require.Equal(t, []string{"hetzner/cx22 4.99", "hetzner/cx32 7.59", "ovh/d2-4 9.9"}, got)
}
