package pricelist

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// doc joins lines into a YAML document; line numbers in the tests count from its first line.
func doc(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

var validDoc = doc(
	`version: "2026-11-01"`, // 1
	`currency: EUR`,         // 2
	`vps_plans:`,            // 3
	`  - provider: hetzner`, // 4
	`    plan: cx22`,
	`    vcpus: 2`,
	`    memory_mb: 4096`,
	`    monthly_price: "4.59"`,
	`  - provider: hetzner`, // 9
	`    plan: cx22`,
	`    vcpus: 2`,
	`    memory_mb: 4096`,
	`    monthly_price: 4.99`,
	`    effective_from: 2026-10-01`,
	`  - {provider: ovh, plan: d2-4, vcpus: 2, memory_mb: 4096, monthly_price: 9}`, // 15
	`ip_prices:`,
	`  - provider: ovh`, // 17
	`    monthly_price: "2.00"`,
	`    effective_from: "2026-10-01T14:30:00+02:00"`,
	`email_providers:`,
	`  - provider: ses`, // 21
	`    per_thousand: ".10"`,
	`commitments:`,
	`  - provider: hetzner`, // 24
	`    resource_kind: vps`,
	`    term_months: 12`,
	`    discount: "0.2"`,
)

func TestParseValid(t *testing.T) {
	p, err := Parse(validDoc)
	require.NoError(t, err)
	require.Equal(t, "2026-11-01", p.Version)
	require.Equal(t, "EUR", p.Currency)
	require.Empty(t, p.Source)

	oct := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	require.Equal(t, map[vpsKey][]VPSPlan{
		{"hetzner", "cx22"}: {
			{Provider: "hetzner", Plan: "cx22", VCPUs: 2, MemoryMB: 4096, MonthlyPrice: 4_590_000, Line: 4},
			{Provider: "hetzner", Plan: "cx22", VCPUs: 2, MemoryMB: 4096, MonthlyPrice: 4_990_000, EffectiveFrom: oct, Line: 9},
		},
		{"ovh", "d2-4"}: {{Provider: "ovh", Plan: "d2-4", VCPUs: 2, MemoryMB: 4096, MonthlyPrice: 9 * Unit, Line: 15}},
	}, p.vps)
	require.Equal(t, map[string][]IPPrice{
		"ovh": {{Provider: "ovh", MonthlyPrice: 2 * Unit, EffectiveFrom: oct.Add(12*time.Hour + 30*time.Minute), Line: 17}},
	}, p.ips)
	require.Equal(t, time.UTC, p.ips["ovh"][0].EffectiveFrom.Location())
	require.Equal(t, map[string][]EmailPrice{
		"ses": {{Provider: "ses", PerThousand: 100_000, Line: 21}},
	}, p.email)
	require.Equal(t, map[commitmentKey][]Commitment{
		{"hetzner", KindVPS, 12}: {{Provider: "hetzner", ResourceKind: KindVPS, TermMonths: 12, Discount: 200_000, Line: 24}},
	}, p.commitments)
}

func TestParseMinimal(t *testing.T) {
	p, err := Parse(doc(`version: v1`, `currency: USD`))
	require.NoError(t, err)
	require.Equal(t, "v1", p.Version)
	_, ok := p.VPSPlan("hetzner", "cx22", time.Now())
	require.False(t, ok)
	require.Equal(t, ProviderSet{}, p.Providers())

	// Empty lists and nulls are fine; an unquoted date is a free version string.
	p, err = Parse(doc(`version: 2026-11-01`, `currency: USD`, `vps_plans: []`, `ip_prices:`, `commitments: ~`))
	require.NoError(t, err)
	require.Equal(t, "2026-11-01", p.Version)
}

func TestParseMoneyForms(t *testing.T) {
	tests := map[string]struct {
		value string
		want  Money
	}{
		"quoted":            {`"4.59"`, 4_590_000},
		"single quoted":     {`'4.59'`, 4_590_000},
		"unquoted float":    {`4.59`, 4_590_000},
		"unquoted integer":  {`5`, 5 * Unit},
		"zero":              {`0`, 0},
		"six decimals":      {`0.000001`, 1},
		"trailing zeros":    {`4.100000000`, 4_100_000},
		"float-unfriendly":  {`0.300000`, 300_000},
		"largest":           {`1000000000`, MaxPrice},
		"largest, decimals": {`"999999999.999999"`, MaxPrice - 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := Parse(doc(`version: v`, `currency: USD`, `ip_prices:`, `  - provider: ovh`, `    monthly_price: `+tc.value))
			require.NoError(t, err)
			require.Equal(t, tc.want, p.ips["ovh"][0].MonthlyPrice)
		})
	}
}

func TestParseDate(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		"date":               {in: "2026-10-01", want: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)},
		"utc time":           {in: "2026-10-01T12:30:00Z", want: time.Date(2026, 10, 1, 12, 30, 0, 0, time.UTC)},
		"offset":             {in: "2026-10-01T14:30:00+02:00", want: time.Date(2026, 10, 1, 12, 30, 0, 0, time.UTC)},
		"offset to previous": {in: "2026-10-01T01:00:00+02:00", want: time.Date(2026, 9, 30, 23, 0, 0, 0, time.UTC)},
		"fraction":           {in: "2026-10-01T12:30:00.5Z", want: time.Date(2026, 10, 1, 12, 30, 0, 5e8, time.UTC)},
		"month 13":           {in: "2026-13-01", wantErr: true},
		"february 30":        {in: "2026-02-30", wantErr: true},
		"slashes":            {in: "01/10/2026", wantErr: true},
		"space separated":    {in: "2026-10-01 10:00:00", wantErr: true},
		"no zone":            {in: "2026-10-01T10:00:00", wantErr: true},
		"short year":         {in: "26-10-01", wantErr: true},
		"empty":              {in: "", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseDate(tc.in)
			if tc.wantErr {
				require.ErrorContains(t, err, "want a date (2026-01-01) or an RFC 3339 time")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, time.UTC, got.Location())
		})
	}
}

// vpsEntry is a valid vps_plans entry in flow style, with extra appended inside the braces.
func vpsEntry(extra string) string {
	return `  - {provider: hetzner, plan: cx22, vcpus: 2, memory_mb: 4096, monthly_price: "4.59"` + extra + `}`
}

func TestParseProblems(t *testing.T) {
	head := []string{`version: v1`, `currency: USD`} // lines 1 and 2
	with := func(lines ...string) []byte { return doc(append(head[:2:2], lines...)...) }
	tests := map[string]struct {
		in   []byte
		want []Problem // Message is matched as a substring
	}{
		"missing version and currency": {
			in: doc(`vps_plans: []`),
			want: []Problem{
				{1, "version", "required"},
				{1, "currency", "required"},
			},
		},
		"empty version": {
			in:   doc(`version: ""`, `currency: USD`),
			want: []Problem{{1, "version", "must not be empty"}},
		},
		"null version": {
			in:   doc(`version:`, `currency: USD`),
			want: []Problem{{1, "version", "required"}},
		},
		"bad currency": {
			in:   doc(`version: v1`, `currency: usd`),
			want: []Problem{{2, "currency", `want 3 upper-case letters (ISO 4217, e.g. USD), got "usd"`}},
		},
		"unknown top-level key": {
			in:   with(`vps_plan: []`),
			want: []Problem{{3, "vps_plan", "unknown key (want one of version, currency, vps_plans"}},
		},
		"unknown entry key": {
			in:   with(`vps_plans:`, vpsEntry(`, region: fsn1`)),
			want: []Problem{{4, "vps_plans[0].region", "unknown key"}},
		},
		"misspelt required key": {
			in: with(`ip_prices:`, `  - provider: ovh`, `    monthy_price: "2"`),
			want: []Problem{
				{4, "ip_prices[0].monthly_price", "required"},
				{5, "ip_prices[0].monthy_price", "unknown key (want one of provider, monthly_price, effective_from)"},
			},
		},
		"duplicate key": {
			in:   with(`currency: EUR`),
			want: []Problem{{3, "currency", "duplicate key (first at line 2)"}},
		},
		"duplicate entry without effective_from": {
			in: with(`vps_plans:`, vpsEntry(``), vpsEntry(``)),
			want: []Problem{{5, "vps_plans[1]",
				`duplicate entry for provider "hetzner", plan "cx22" with no effective_from (first at line 4)`}},
		},
		"duplicate entry, same instant spelt differently": {
			in: with(`email_providers:`,
				`  - {provider: ses, per_thousand: "0.1", effective_from: 2026-10-01}`,
				`  - {provider: ses, per_thousand: "0.2", effective_from: "2026-10-01T02:00:00+02:00"}`),
			want: []Problem{{5, "email_providers[1]",
				`duplicate entry for provider "ses" with effective_from 2026-10-01T00:00:00Z (first at line 4)`}},
		},
		"duplicate commitment": {
			in: with(`vps_plans:`, vpsEntry(``), `commitments:`,
				`  - {provider: hetzner, resource_kind: vps, term_months: 12, discount: "0.1"}`,
				`  - {provider: hetzner, resource_kind: vps, term_months: 12, discount: "0.2"}`),
			want: []Problem{{7, "commitments[1]", "duplicate entry for provider \"hetzner\", resource_kind vps, term_months 12"}},
		},
		"negative price": {
			in:   with(`vps_plans:`, `  - {provider: hetzner, plan: cx22, vcpus: 2, memory_mb: 4096, monthly_price: "-1"}`),
			want: []Problem{{4, "vps_plans[0].monthly_price", "must not be negative, got -1"}},
		},
		"too many decimals": {
			in:   with(`ip_prices:`, `  - provider: ovh`, `    monthly_price: 1.2345678`),
			want: []Problem{{5, "ip_prices[0].monthly_price", `"1.2345678": more than 6 decimal places`}},
		},
		"not a number": {
			in:   with(`email_providers:`, `  - provider: ses`, `    per_thousand: abc`),
			want: []Problem{{5, "email_providers[0].per_thousand", `"abc": want a plain decimal such as 4.59`}},
		},
		"exponent": {
			in:   with(`email_providers:`, `  - {provider: ses, per_thousand: 1e-4}`),
			want: []Problem{{4, "email_providers[0].per_thousand", `"1e-4": want a plain decimal`}},
		},
		"negative base fee": {
			in:   with(`email_providers:`, `  - {provider: ses, per_thousand: 0, monthly_base_fee: -0.01}`),
			want: []Problem{{4, "email_providers[0].monthly_base_fee", "must not be negative"}},
		},
		"price above the maximum": {
			in:   with(`ip_prices:`, `  - {provider: ovh, monthly_price: 1000000000.000001}`),
			want: []Problem{{4, "ip_prices[0].monthly_price", "must be at most 1000000000"}},
		},
		"vcpus, memory and plan": {
			in: with(`vps_plans:`,
				`  - provider: hetzner`,
				`    plan: ""`,
				`    vcpus: 0`,
				`    memory_mb: 4GB`,
				`    monthly_price: "1"`,
				`  - provider: hetzner`,
				`    plan: cx32`,
				`    vcpus: -4`,
				`    memory_mb: 2.5`,
				`    monthly_price: "1"`),
			want: []Problem{
				{5, "vps_plans[0].plan", "must not be empty"},
				{6, "vps_plans[0].vcpus", `must be a positive whole number, got "0"`},
				{7, "vps_plans[0].memory_mb", `must be a positive whole number, got "4GB"`},
				{11, "vps_plans[1].vcpus", `got "-4"`},
				{12, "vps_plans[1].memory_mb", `got "2.5"`},
			},
		},
		"missing and null fields": {
			in: with(`vps_plans:`, `  - provider: hetzner`, `    plan:`, `    vcpus: 2`),
			want: []Problem{
				{4, "vps_plans[0].memory_mb", "required"},
				{4, "vps_plans[0].monthly_price", "required"},
				{5, "vps_plans[0].plan", "required"},
			},
		},
		"provider with spaces": {
			in:   with(`ip_prices:`, `  - {provider: " ovh", monthly_price: 1}`),
			want: []Problem{{4, "ip_prices[0].provider", "leading or trailing spaces"}},
		},
		"bad dates": {
			in: with(`email_providers:`,
				`  - {provider: ses, per_thousand: 1, effective_from: 2026-13-01}`,
				`  - {provider: ses, per_thousand: 1, effective_from: 01/10/2026}`,
				`  - {provider: ses, per_thousand: 1, effective_from: "2026-10-01 10:00"}`),
			want: []Problem{
				{4, "email_providers[0].effective_from", `got "2026-13-01"`},
				{5, "email_providers[1].effective_from", `got "01/10/2026"`},
				{6, "email_providers[2].effective_from", `got "2026-10-01 10:00"`},
			},
		},
		"discounts": {
			in: with(`vps_plans:`, vpsEntry(``), `commitments:`,
				`  - {provider: hetzner, resource_kind: vps, term_months: 12, discount: 1}`,
				`  - {provider: hetzner, resource_kind: vps, term_months: 24, discount: "-0.1"}`,
				`  - {provider: hetzner, resource_kind: vps, term_months: 36, discount: 20%}`,
				`  - {provider: hetzner, resource_kind: disk, term_months: 0, discount: "0.1"}`),
			want: []Problem{
				{6, "commitments[0].discount", "must be a fraction at least 0 and below 1 (0.2 is 20% off), got 1"},
				{7, "commitments[1].discount", "got -0.1"},
				{8, "commitments[2].discount", `"20%": want a plain decimal`},
				{9, "commitments[3].resource_kind", `want vps or ip, got "disk"`},
				{9, "commitments[3].term_months", `must be a positive whole number, got "0"`},
			},
		},
		"commitment without prices": {
			in: with(`vps_plans:`, vpsEntry(``), `commitments:`,
				`  - {provider: hetzner, resource_kind: ip, term_months: 12, discount: "0.1"}`,
				`  - {provider: ovh, resource_kind: vps, term_months: 12, discount: "0.1"}`),
			want: []Problem{
				{6, "commitments[0].provider", `no ip price for provider "hetzner" to discount`},
				{7, "commitments[1].provider", `no vps price for provider "ovh" to discount`},
			},
		},
		"wrong shapes": {
			in: with(`vps_plans: {provider: hetzner}`, `ip_prices:`, `  - ovh`, `email_providers:`,
				`  - {provider: [ses], per_thousand: 1}`),
			want: []Problem{
				{3, "vps_plans", "must be a list, not a mapping"},
				{5, "ip_prices[0]", `must be a mapping, not the value "ovh"`},
				{7, "email_providers[0].provider", "must be a single value, not a list"},
			},
		},
		"top level is a list": {
			in:   doc(`- version: v1`),
			want: []Problem{{1, "", "the price list must be a mapping with keys version, currency"}},
		},
		"alias": {
			in:   doc(`version: &v v1`, `currency: *v`),
			want: []Problem{{2, "currency", "aliases (*v) are not supported"}},
		},
		"merge key": {
			in: with(`vps_plans:`, `  - &base {provider: hetzner, plan: cx22, vcpus: 2, memory_mb: 4096, monthly_price: 1}`,
				`  - <<: *base`, `    plan: cx32`),
			want: []Problem{
				{5, "vps_plans[1].<<", "unknown key"},
				{5, "vps_plans[1].provider", "required"},
				{5, "vps_plans[1].vcpus", "required"},
				{5, "vps_plans[1].memory_mb", "required"},
				{5, "vps_plans[1].monthly_price", "required"},
			},
		},
		"yaml syntax error": {
			in:   with(`vps_plans:`, `  - {provider: hetzner`),
			want: []Problem{{4, "", "invalid YAML: did not find expected ',' or '}'"}}, // where the mapping opens
		},
		"bad indentation": {
			in:   with(`vps_plans:`, `  - provider: hetzner`, `   plan: cx22`),
			want: []Problem{{4, "", "invalid YAML: did not find expected '-' indicator"}}, // where the list starts
		},
		"yaml scanner error": {
			in:   with(`vps_plans:`, `  - provider: hetzner`, `    plan: cx22: x`),
			want: []Problem{{5, "", "invalid YAML: mapping values are not allowed in this context"}},
		},
		"yaml error at the top level": {
			in:   with(`- x`),
			want: []Problem{{3, "", "invalid YAML: did not find expected key"}},
		},
		"unknown anchor": {
			in:   with(`ip_prices:`, `  - {provider: ovh, monthly_price: *price}`),
			want: []Problem{{4, "", "invalid YAML: unknown anchor 'price' referenced"}},
		},
		"two documents": {
			in:   doc(`version: v1`, `currency: USD`, `---`, `version: v2`),
			want: []Problem{{3, "", "only one YAML document is allowed"}},
		},
		"empty file": {
			in:   []byte(""),
			want: []Problem{{1, "", "the price list is empty"}},
		},
		"only comments": {
			in:   doc(`# nothing here`),
			want: []Problem{{1, "", "the price list is empty"}},
		},
		"null document": {
			in:   doc(`~`),
			want: []Problem{{1, "", "the price list is empty"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := Parse(tc.in)
			require.Nil(t, p)
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
			require.Len(t, verr.Problems, len(tc.want), "problems:\n%v", err)
			for i, w := range tc.want {
				got := verr.Problems[i]
				require.Equal(t, w.Line, got.Line, "problem %d: %s", i, got)
				require.Equal(t, w.Path, got.Path, "problem %d: %s", i, got)
				require.Contains(t, got.Message, w.Message, "problem %d", i)
			}
		})
	}
}

func TestValidationErrorText(t *testing.T) {
	_, err := Parse(doc(
		`version: v1`,
		`currency: usd`,
		`vps_plans:`,
		`  - {provider: hetzner, plan: cx22, vcpus: 0, memory_mb: 4096, monthly_price: "-1"}`,
		`bogus: 1`,
	))
	require.EqualError(t, err, strings.Join([]string{
		`invalid price list: 4 problems`,
		`line 2: currency: want 3 upper-case letters (ISO 4217, e.g. USD), got "usd"`,
		`line 4: vps_plans[0].vcpus: must be a positive whole number, got "0"`,
		`line 4: vps_plans[0].monthly_price: must not be negative, got -1`,
		`line 5: bogus: unknown key (want one of version, currency, vps_plans, ip_prices, email_providers, commitments)`,
	}, "\n"))
}

func TestProblemString(t *testing.T) {
	require.Equal(t, "line 3: a.b: bad", Problem{3, "a.b", "bad"}.String())
	require.Equal(t, "line 3: bad", Problem{3, "", "bad"}.String())
	require.Equal(t, "bad", Problem{0, "", "bad"}.String())
	require.Equal(t, "invalid price list: 1 problem\nline 1: x: y", (&ValidationError{[]Problem{{1, "x", "y"}}}).Error())
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	require.NoError(t, os.WriteFile(good, validDoc, 0o600))
	p, err := Load(good)
	require.NoError(t, err)
	require.Equal(t, good, p.Source)
	require.Equal(t, "2026-11-01", p.Version)

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, doc(`version: v1`, `currency: US`), 0o600))
	_, err = Load(bad)
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	require.ErrorContains(t, err, "load price list "+bad+": invalid price list: 1 problem\nline 2: currency:")

	_, err = Load(filepath.Join(dir, "missing.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.False(t, errors.As(err, &verr))

	big := filepath.Join(dir, "big.yaml")
	require.NoError(t, os.WriteFile(big, make([]byte, MaxFileSize+1), 0o600))
	_, err = Load(big)
	require.ErrorContains(t, err, "larger than")
}
