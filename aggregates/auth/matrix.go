package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Capability is a named permission an endpoint checks with Matrix.Allows. A capability never widens
// the read Scope: a tenant-scoped caller's reads stay filtered to its tenant whatever it holds.
type Capability string

// The capabilities.
const (
	// CapRollupsRead: usage roll-ups (email volume, VPS utilization) in the caller's scope.
	CapRollupsRead Capability = "rollups:read"
	// CapEventsRead: PostHog event roll-ups in the caller's scope.
	CapEventsRead Capability = "events:read"
	// CapFreshnessRead: pipeline freshness (watermarks, lag, delayed sources).
	CapFreshnessRead Capability = "freshness:read"
	// CapSegmentsRead: tenant plan/tier segments in the caller's scope.
	CapSegmentsRead Capability = "segments:read"
	// CapTenantsIdentify: other tenants' ids in cross-tenant results (group, filter or rank by
	// tenant). Without it a cross-tenant caller gets no tenant dimension at all.
	CapTenantsIdentify Capability = "tenants:identify"
	// CapCostsRead: cross-tenant cost totals and breakdowns by resource type, segment and window.
	CapCostsRead Capability = "costs:read"
	// CapCostsByProvider: costs broken down by provider (vendor).
	CapCostsByProvider Capability = "costs:by_provider"
	// CapCostsByTenant: cost attribution per tenant across tenants, top costly tenants.
	CapCostsByTenant Capability = "costs:by_tenant"
	// CapTenantCostsRead: the attributed cost of one tenant within the caller's scope (for a
	// tenant-scoped caller: its own).
	CapTenantCostsRead Capability = "tenant_costs:read"
	// CapVendorsRead: vendor comparison (performance vs cost).
	CapVendorsRead Capability = "vendors:read"
	// CapRecommendationsRead: every recommendation.
	CapRecommendationsRead Capability = "recommendations:read"
	// CapRecommendationsVendors: only recommendations about vendors and commitments.
	CapRecommendationsVendors Capability = "recommendations:vendors"
	// CapInitiativesRead: tracked initiatives and their history.
	CapInitiativesRead Capability = "initiatives:read"
	// CapInitiativesWrite: mark a recommendation as an initiative, change an initiative.
	CapInitiativesWrite Capability = "initiatives:write"
)

type capInfo struct {
	cap        Capability
	desc       string
	tenantSafe bool // may be held by a tenant-scoped role
}

var capTable = []capInfo{
	{CapRollupsRead, "usage roll-ups (email volume, VPS utilization)", true},
	{CapEventsRead, "PostHog event roll-ups", true},
	{CapFreshnessRead, "pipeline freshness, lag, delayed sources", true},
	{CapSegmentsRead, "tenant plan/tier segments", true},
	{CapTenantCostsRead, "attributed cost of one tenant (tenant_admin: its own)", true},
	{CapTenantsIdentify, "other tenants' ids in cross-tenant results (group/filter/rank by tenant)", false},
	{CapCostsRead, "cross-tenant cost totals, by resource type, segment, window", false},
	{CapCostsByProvider, "costs by provider (vendor)", false},
	{CapCostsByTenant, "cost attribution per tenant, top costly tenants", false},
	{CapVendorsRead, "vendor comparison (performance vs cost)", false},
	{CapRecommendationsRead, "all recommendations", false},
	{CapRecommendationsVendors, "recommendations about vendors and commitments only", false},
	{CapInitiativesRead, "tracked initiatives", false},
	{CapInitiativesWrite, "create and change initiatives", false},
}

// Capabilities returns every capability, in the order the matrix is rendered.
func Capabilities() []Capability {
	out := make([]Capability, len(capTable))
	for i, c := range capTable {
		out[i] = c.cap
	}
	return out
}

func lookupCap(c Capability) (capInfo, bool) {
	for _, ci := range capTable {
		if ci.cap == c {
			return ci, true
		}
	}
	return capInfo{}, false
}

// ParseCapability returns the Capability named s or an error.
func ParseCapability(s string) (Capability, error) {
	if _, ok := lookupCap(Capability(s)); !ok {
		return "", fmt.Errorf("unknown capability %q", s)
	}
	return Capability(s), nil
}

// TenantSafe reports whether c may be held by a tenant-scoped role: what it shows, read within one
// tenant's scope, says nothing about another tenant.
func (c Capability) TenantSafe() bool {
	ci, ok := lookupCap(c)
	return ok && ci.tenantSafe
}

// Matrix says which role holds which capability. The zero Matrix grants nothing. A Matrix is
// immutable and safe for concurrent use.
type Matrix struct {
	grants map[Role][]Capability
}

// DefaultMatrix returns the built-in role table:
//
//   - cfo, coo: everything across tenants (costs in every breakdown, recommendations, initiatives
//     read and write, roll-ups, segments).
//   - procurement: freshness, cost totals by resource type and by provider, vendor comparison,
//     vendor/commitment recommendations; no tenant identities.
//   - ops: utilization and event roll-ups (with tenant ids), freshness, recommendations; no costs.
//   - tenant_admin: its own tenant's roll-ups, events, segments and attributed cost, and freshness.
func DefaultMatrix() Matrix {
	all := Capabilities()
	return Matrix{grants: map[Role][]Capability{
		RoleCFO: all,
		RoleCOO: slices.Clone(all),
		RoleProcurement: {CapFreshnessRead, CapCostsRead, CapCostsByProvider, CapVendorsRead,
			CapRecommendationsVendors},
		RoleOps: {CapRollupsRead, CapEventsRead, CapFreshnessRead, CapTenantsIdentify,
			CapRecommendationsRead},
		RoleTenantAdmin: {CapRollupsRead, CapEventsRead, CapFreshnessRead, CapSegmentsRead,
			CapTenantCostsRead},
	}}
}

// matrixFile is the override file: each role listed replaces its default capabilities; roles not
// listed keep theirs. An empty list takes everything away from a role.
type matrixFile struct {
	Roles map[string][]string `yaml:"roles"`
}

// ParseMatrix reads a role table override (YAML, or JSON, which is YAML) on top of DefaultMatrix:
//
//	roles:
//	  ops: [rollups:read, events:read, freshness:read]
//	  procurement: []
//
// Unknown fields, roles or capabilities are errors, and so is a tenant-scoped role given a
// capability that is not tenant-safe.
func ParseMatrix(data []byte) (Matrix, error) {
	var f matrixFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return Matrix{}, fmt.Errorf("role matrix: %w", err)
	}
	m := DefaultMatrix()
	for name, caps := range f.Roles {
		role, err := ParseRole(name)
		if err != nil {
			return Matrix{}, fmt.Errorf("role matrix: %w", err)
		}
		list := make([]Capability, 0, len(caps))
		for _, s := range caps {
			c, err := ParseCapability(s)
			if err != nil {
				return Matrix{}, fmt.Errorf("role matrix: role %s: %w", role, err)
			}
			if role.TenantScoped() && !c.TenantSafe() {
				return Matrix{}, fmt.Errorf("role matrix: role %s is tenant-scoped and may not hold %s", role, c)
			}
			if slices.Contains(list, c) {
				return Matrix{}, fmt.Errorf("role matrix: role %s: capability %s listed twice", role, c)
			}
			list = append(list, c)
		}
		m.grants[role] = list
	}
	return m, nil
}

// Grants returns the capabilities of role r, in table order.
func (m Matrix) Grants(r Role) []Capability {
	var out []Capability
	for _, c := range Capabilities() {
		if m.has(r, c) {
			out = append(out, c)
		}
	}
	return out
}

func (m Matrix) has(r Role, c Capability) bool {
	if r.TenantScoped() && !c.TenantSafe() {
		return false // never, whatever the table says
	}
	return slices.Contains(m.grants[r], c)
}

// Allows reports whether p may use capability c: p must have a valid Scope (see Principal.Scope)
// and one of its roles must hold c. A tenant-scoped principal never gets a capability that is not
// tenant-safe.
func (m Matrix) Allows(p Principal, c Capability) bool {
	if p.Scope().Validate() != nil {
		return false
	}
	for _, r := range p.Roles {
		if m.has(r, c) {
			return true
		}
	}
	return false
}

// Markdown renders the role × capability table (capabilities as rows, roles as columns) for the
// README.
func (m Matrix) Markdown() string {
	var b strings.Builder
	b.WriteString("| Capability | What it shows |")
	for _, r := range allRoles {
		fmt.Fprintf(&b, " `%s` |", r)
	}
	b.WriteString("\n|---|---|")
	for range allRoles {
		b.WriteString(":---:|")
	}
	b.WriteString("\n| *read scope* | which tenants' rows every read returns |")
	for _, r := range allRoles {
		if r.TenantScoped() {
			b.WriteString(" own tenant |")
		} else {
			b.WriteString(" all tenants |")
		}
	}
	b.WriteString("\n")
	for _, ci := range capTable {
		fmt.Fprintf(&b, "| `%s` | %s |", ci.cap, ci.desc)
		for _, r := range allRoles {
			if m.has(r, ci.cap) {
				b.WriteString(" ✓ |")
			} else {
				b.WriteString(" — |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
