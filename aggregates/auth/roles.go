package auth

import (
	"fmt"
	"slices"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/schemas/events"
)

// Role is a caller's role, carried by the token's "roles" (or "role") claim. The set of roles is
// fixed: the role matrix may change what a role can do, never whether it is tenant-scoped.
type Role string

// The roles. RoleTenantAdmin is the only tenant-scoped role; the others see across tenants, limited
// by their capabilities.
const (
	RoleCFO         Role = "cfo"
	RoleCOO         Role = "coo"
	RoleProcurement Role = "procurement"
	RoleOps         Role = "ops"
	RoleTenantAdmin Role = "tenant_admin"
)

var allRoles = []Role{RoleCFO, RoleCOO, RoleProcurement, RoleOps, RoleTenantAdmin}

// Roles returns every role, in the order the matrix is rendered.
func Roles() []Role { return slices.Clone(allRoles) }

// ParseRole returns the Role named s (exact, lowercase) or an error.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !r.Known() {
		return "", fmt.Errorf("unknown role %q", s)
	}
	return r, nil
}

// Known reports whether r is one of the roles.
func (r Role) Known() bool { return slices.Contains(allRoles, r) }

// TenantScoped reports whether r sees one tenant only (its token must name the tenant).
func (r Role) TenantScoped() bool { return r == RoleTenantAdmin }

// Principal is an authenticated caller. A Verifier only returns principals whose Scope is valid:
// at least one known role, either all cross-tenant (TenantID empty) or all tenant-scoped (TenantID
// set to a valid tenant id).
type Principal struct {
	Subject  string
	Roles    []Role
	TenantID string
}

// Scope is the read scope of p: All for a principal whose roles all see across tenants and who
// carries no tenant id; {TenantID} for a principal whose roles are all tenant-scoped and whose
// tenant id is valid; otherwise (no role, an unknown role, a mix of the two kinds, a missing or
// stray tenant id) the zero Scope, which every reader rejects.
func (p Principal) Scope() aggregates.Scope {
	kind, ok := scopeKind(p.Roles)
	switch {
	case !ok:
		return aggregates.Scope{}
	case kind == kindTenant && events.ValidTenant(p.TenantID):
		return aggregates.Scope{TenantID: p.TenantID}
	case kind == kindAll && p.TenantID == "":
		return aggregates.Scope{All: true}
	}
	return aggregates.Scope{}
}

type scopeKindT int

const (
	kindAll scopeKindT = iota + 1
	kindTenant
)

// scopeKind reports whether roles are all cross-tenant or all tenant-scoped; ok is false for no
// roles, an unknown role or a mix.
func scopeKind(roles []Role) (kind scopeKindT, ok bool) {
	for _, r := range roles {
		if !r.Known() {
			return 0, false
		}
		k := kindAll
		if r.TenantScoped() {
			k = kindTenant
		}
		if kind != 0 && kind != k {
			return 0, false
		}
		kind = k
	}
	return kind, kind != 0
}
