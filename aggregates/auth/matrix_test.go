package auth

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates"
)

// wantDefault is the default table, written out in full: a change to DefaultMatrix must change it.
var wantDefault = map[Role][]Capability{
	RoleCFO: {CapRollupsRead, CapEventsRead, CapFreshnessRead, CapSegmentsRead, CapTenantCostsRead,
		CapTenantsIdentify, CapCostsRead, CapCostsByProvider, CapCostsByTenant, CapVendorsRead,
		CapRecommendationsRead, CapRecommendationsVendors, CapInitiativesRead, CapInitiativesWrite},
	RoleCOO: {CapRollupsRead, CapEventsRead, CapFreshnessRead, CapSegmentsRead, CapTenantCostsRead,
		CapTenantsIdentify, CapCostsRead, CapCostsByProvider, CapCostsByTenant, CapVendorsRead,
		CapRecommendationsRead, CapRecommendationsVendors, CapInitiativesRead, CapInitiativesWrite},
	RoleProcurement: {CapFreshnessRead, CapCostsRead, CapCostsByProvider, CapVendorsRead, CapRecommendationsVendors},
	RoleOps:         {CapRollupsRead, CapEventsRead, CapFreshnessRead, CapTenantsIdentify, CapRecommendationsRead},
	RoleTenantAdmin: {CapRollupsRead, CapEventsRead, CapFreshnessRead, CapSegmentsRead, CapTenantCostsRead},
}

func principalFor(r Role) Principal {
	p := Principal{Subject: "s", Roles: []Role{r}}
	if r.TenantScoped() {
		p.TenantID = "acme"
	}
	return p
}

func TestDefaultMatrixEveryRoleAndCapability(t *testing.T) {
	m := DefaultMatrix()
	for _, r := range Roles() {
		for _, c := range Capabilities() {
			want := false
			for _, g := range wantDefault[r] {
				want = want || g == c
			}
			t.Run(string(r)+"/"+string(c), func(t *testing.T) {
				assert.Equal(t, want, m.Allows(principalFor(r), c))
			})
		}
		assert.ElementsMatch(t, wantDefault[r], m.Grants(r), r)
	}
}

// The rules of the design, checked on the default table directly.
func TestDefaultMatrixRules(t *testing.T) {
	m := DefaultMatrix()
	assert.False(t, m.Allows(principalFor(RoleProcurement), CapCostsByTenant), "procurement: no cost breakdown by tenant")
	assert.False(t, m.Allows(principalFor(RoleProcurement), CapTenantsIdentify), "procurement: no tenant identities")
	assert.False(t, m.Allows(principalFor(RoleProcurement), CapRecommendationsRead), "procurement: vendor recommendations only")
	assert.False(t, m.Allows(principalFor(RoleOps), CapCostsByTenant), "ops: no costs by tenant")
	for _, c := range Capabilities() {
		if !c.TenantSafe() {
			assert.False(t, m.Allows(principalFor(RoleTenantAdmin), c), "tenant_admin holds %s", c)
		}
	}
	for _, c := range []Capability{CapCostsRead, CapCostsByTenant, CapTenantsIdentify, CapRecommendationsRead} {
		assert.False(t, c.TenantSafe(), c)
	}
}

func TestPrincipalScope(t *testing.T) {
	tests := map[string]struct {
		p    Principal
		want aggregates.Scope
	}{
		"cfo":                         {p: principalFor(RoleCFO), want: aggregates.Scope{All: true}},
		"coo":                         {p: principalFor(RoleCOO), want: aggregates.Scope{All: true}},
		"procurement":                 {p: principalFor(RoleProcurement), want: aggregates.Scope{All: true}},
		"ops":                         {p: principalFor(RoleOps), want: aggregates.Scope{All: true}},
		"tenant_admin":                {p: principalFor(RoleTenantAdmin), want: aggregates.Scope{TenantID: "acme"}},
		"cfo and ops":                 {p: Principal{Roles: []Role{RoleCFO, RoleOps}}, want: aggregates.Scope{All: true}},
		"no role":                     {p: Principal{Subject: "s"}},
		"unknown role":                {p: Principal{Roles: []Role{"root"}}},
		"known and unknown role":      {p: Principal{Roles: []Role{RoleCFO, "root"}}},
		"tenant_admin without tenant": {p: Principal{Roles: []Role{RoleTenantAdmin}}},
		"tenant_admin, bad tenant":    {p: Principal{Roles: []Role{RoleTenantAdmin}, TenantID: "a b"}},
		"mixed":                       {p: Principal{Roles: []Role{RoleCFO, RoleTenantAdmin}, TenantID: "acme"}},
		"cfo with a stray tenant":     {p: Principal{Roles: []Role{RoleCFO}, TenantID: "acme"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := tc.p.Scope()
			assert.Equal(t, tc.want, got)
			if tc.want == (aggregates.Scope{}) {
				assert.ErrorIs(t, got.Validate(), aggregates.ErrNoScope)
				for _, c := range Capabilities() {
					assert.False(t, DefaultMatrix().Allows(tc.p, c), "an invalid principal is allowed %s", c)
				}
			} else {
				assert.NoError(t, got.Validate())
			}
		})
	}
}

func TestZeroMatrixAllowsNothing(t *testing.T) {
	for _, r := range Roles() {
		for _, c := range Capabilities() {
			assert.False(t, Matrix{}.Allows(principalFor(r), c))
		}
	}
}

func TestParseMatrix(t *testing.T) {
	tests := map[string]struct {
		in      string
		check   func(t *testing.T, m Matrix)
		wantErr string
	}{
		"empty: defaults": {in: "", check: func(t *testing.T, m Matrix) {
			assert.Equal(t, DefaultMatrix().Markdown(), m.Markdown())
		}},
		"override one role, keep the others": {in: "roles:\n  ops: [freshness:read]\n", check: func(t *testing.T, m Matrix) {
			assert.Equal(t, []Capability{CapFreshnessRead}, m.Grants(RoleOps))
			assert.ElementsMatch(t, wantDefault[RoleCFO], m.Grants(RoleCFO))
		}},
		"take everything away": {in: `{"roles": {"procurement": []}}`, check: func(t *testing.T, m Matrix) {
			assert.Empty(t, m.Grants(RoleProcurement))
			assert.False(t, m.Allows(principalFor(RoleProcurement), CapFreshnessRead))
		}},
		"widen procurement": {in: "roles: {procurement: [costs:by_tenant, tenants:identify]}", check: func(t *testing.T, m Matrix) {
			assert.True(t, m.Allows(principalFor(RoleProcurement), CapCostsByTenant))
		}},
		"tenant_admin narrowed": {in: "roles: {tenant_admin: [rollups:read]}", check: func(t *testing.T, m Matrix) {
			assert.Equal(t, []Capability{CapRollupsRead}, m.Grants(RoleTenantAdmin))
		}},
		"tenant_admin widened to a cross-tenant capability": {in: "roles: {tenant_admin: [costs:read]}", wantErr: "tenant-scoped"},
		"unknown role":         {in: "roles: {root: [costs:read]}", wantErr: "unknown role"},
		"unknown capability":   {in: "roles: {ops: [costs:everything]}", wantErr: "unknown capability"},
		"unknown field":        {in: "rolez: {ops: []}", wantErr: "rolez"},
		"duplicate role":       {in: "roles:\n  ops: []\n  ops: [freshness:read]\n", wantErr: "already defined"},
		"duplicate capability": {in: "roles: {ops: [freshness:read, freshness:read]}", wantErr: "twice"},
		"not YAML":             {in: "roles: [", wantErr: "role matrix"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := ParseMatrix([]byte(tc.in))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, m)
		})
	}
	t.Run("overrides do not leak into the defaults", func(t *testing.T) {
		_, err := ParseMatrix([]byte("roles: {cfo: []}"))
		require.NoError(t, err)
		assert.ElementsMatch(t, wantDefault[RoleCFO], DefaultMatrix().Grants(RoleCFO))
	})
}

func TestMarkdown(t *testing.T) {
	md := DefaultMatrix().Markdown()
	lines := strings.Split(strings.TrimSpace(md), "\n")
	require.Len(t, lines, 3+len(Capabilities()), md)
	for _, r := range Roles() {
		assert.Contains(t, lines[0], "`"+string(r)+"`")
	}
	for i, c := range Capabilities() {
		line := lines[3+i]
		assert.True(t, strings.HasPrefix(line, "| `"+string(c)+"` |"), line)
		cells := strings.Split(strings.Trim(line, "|"), "|")
		require.Len(t, cells, 2+len(Roles()), line)
		for j, r := range Roles() {
			want := "—"
			if DefaultMatrix().Allows(principalFor(r), c) {
				want = "✓"
			}
			assert.Equal(t, want, strings.TrimSpace(cells[2+j]), "%s × %s", r, c)
		}
	}
	assert.Contains(t, lines[2], "own tenant")
	assert.Equal(t, 4, strings.Count(lines[2], "all tenants"))
}

func TestParseRoleAndCapability(t *testing.T) {
	for _, r := range Roles() {
		got, err := ParseRole(string(r))
		require.NoError(t, err)
		assert.Equal(t, r, got)
	}
	_, err := ParseRole("Cfo")
	require.Error(t, err)
	for _, c := range Capabilities() {
		got, err := ParseCapability(string(c))
		require.NoError(t, err)
		assert.Equal(t, c, got)
	}
	_, err = ParseCapability("costs:*")
	require.Error(t, err)
}
