package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/auth"
	"github.com/spendstream/spendstream/schemas/events"
)

// The security end-to-end test runs one real spendstream (real NATS, real ClickHouse) with the
// demo fleet of four tenants (t-001..t-004) and checks, over HTTP:
//
//   - credentials: every endpoint refuses a missing, expired, forged, mis-addressed or malformed
//     token with the same bare 401;
//   - the role matrix: every endpoint × every role × (no tenant / own tenant / another tenant)
//     answers the status written in secRoutes below, and that table is checked against
//     auth.DefaultMatrix().Allows and the tenant rules of the API; allowed answers to tenant_admin
//     of t-001 hold no other tenant's id, procurement's cost answers no tenant id at all;
//   - producers: POST /v1/events takes producer keys only, each scoped to its tenants; PostHog
//     project keys keep working on the capture endpoints;
//   - injection: hostile values in every string parameter and path segment of every GET route get a
//     400 or an empty/normal answer, never a 5xx or a body that speaks of ClickHouse or SQL.

const (
	secOwnTenant   = "t-001" // the tenant of the tenant_admin token
	secOtherTenant = "t-002"
	// secProducerKey may write for t-001 only (the demo key, spk_spendstream_demo, for all).
	secProducerKey = "spk_security_e2e_t001_only_0123456789"
)

// secTenants are the demo fleet's tenants.
var secTenants = []string{"t-001", "t-002", "t-003", "t-004"}

// secRoles are the roles of the matrix, in the order of expect.
var secRoles = []auth.Role{auth.RoleCFO, auth.RoleCOO, auth.RoleProcurement, auth.RoleOps, auth.RoleTenantAdmin}

// expect is the status each role gets: the four cross-tenant roles, and tenant_admin of t-001.
type expect struct{ cfo, coo, procurement, ops, tenantAdmin int }

func (e expect) of(r auth.Role) int {
	switch r {
	case auth.RoleCFO:
		return e.cfo
	case auth.RoleCOO:
		return e.coo
	case auth.RoleProcurement:
		return e.procurement
	case auth.RoleOps:
		return e.ops
	case auth.RoleTenantAdmin:
		return e.tenantAdmin
	}
	panic("unknown role " + r)
}

// tenantArg is how a route names a tenant.
type tenantArg int

const (
	noTenant    tenantArg = iota // it names none
	queryTenant                  // ?tenant_id=
	pathTenant                   // /v1/tenants/{tenant}/...
)

// secRoute is one row of the matrix.
type secRoute struct {
	name   string
	method string
	path   string // {tenant} and {initiative} are filled in
	query  string
	tenant tenantArg
	// tenantDim: the answer is grouped by tenant_id even when no tenant is named (the roll-ups'
	// default group_by, the segments), so a cross-tenant caller needs tenants:identify.
	tenantDim bool
	all       []auth.Capability // every one is needed
	anyOf     []auth.Capability // one of them is needed (when set)
	costs     bool              // a cost answer: procurement must see no tenant id in it
	ok        int               // the status of an allowed call
	// own: no tenant named, or t-001 named; other: t-002 named (routes that take a tenant).
	own, other expect
}

const (
	s200 = http.StatusOK
	s400 = http.StatusBadRequest
	s403 = http.StatusForbidden
)

// secRoutes is the expected-status table. Columns: cfo, coo, procurement, ops, tenant_admin(t-001).
// "other" is the status when the request names t-002 (tenant_id=t-002, /v1/tenants/t-002/costs).
var secRoutes = []secRoute{
	{name: "email volume", method: "GET", path: "/v1/rollups/email-volume", query: "step=1d&from={from}",
		tenant: queryTenant, tenantDim: true, all: []auth.Capability{auth.CapRollupsRead}, ok: s200,
		own: expect{200, 200, 403, 200, 200}, other: expect{200, 200, 403, 200, 403}},
	{name: "vps utilization", method: "GET", path: "/v1/rollups/vps-utilization", query: "step=1d&from={from}",
		tenant: queryTenant, tenantDim: true, all: []auth.Capability{auth.CapRollupsRead}, ok: s200,
		own: expect{200, 200, 403, 200, 200}, other: expect{200, 200, 403, 200, 403}},
	{name: "event counts", method: "GET", path: "/v1/rollups/events", query: "step=1d&from={from}",
		tenant: queryTenant, tenantDim: true, all: []auth.Capability{auth.CapEventsRead}, ok: s200,
		own: expect{200, 200, 403, 200, 200}, other: expect{200, 200, 403, 200, 403}},
	{name: "segments", method: "GET", path: "/v1/segments",
		tenant: queryTenant, tenantDim: true, all: []auth.Capability{auth.CapSegmentsRead}, ok: s200,
		own: expect{200, 200, 403, 403, 200}, other: expect{200, 200, 403, 403, 403}},
	{name: "freshness", method: "GET", path: "/v1/freshness",
		all: []auth.Capability{auth.CapFreshnessRead}, ok: s200,
		own: expect{200, 200, 200, 200, 200}},
	{name: "cost overview", method: "GET", path: "/v1/costs/overview", costs: true,
		all: []auth.Capability{auth.CapCostsRead}, ok: s200,
		own: expect{200, 200, 200, 403, 403}},
	{name: "cost breakdown (default: resource_type)", method: "GET", path: "/v1/costs/breakdown", costs: true,
		all: []auth.Capability{auth.CapCostsRead}, ok: s200,
		own: expect{200, 200, 200, 403, 403}},
	{name: "cost breakdown by plan", method: "GET", path: "/v1/costs/breakdown", query: "by=plan&step=total", costs: true,
		all: []auth.Capability{auth.CapCostsRead}, ok: s200,
		own: expect{200, 200, 200, 403, 403}},
	{name: "cost breakdown by tier", method: "GET", path: "/v1/costs/breakdown", query: "by=tier", costs: true,
		all: []auth.Capability{auth.CapCostsRead}, ok: s200,
		own: expect{200, 200, 200, 403, 403}},
	{name: "cost breakdown by provider", method: "GET", path: "/v1/costs/breakdown", query: "by=provider", costs: true,
		all: []auth.Capability{auth.CapCostsRead, auth.CapCostsByProvider}, ok: s200,
		own: expect{200, 200, 200, 403, 403}},
	{name: "cost breakdown by tenant", method: "GET", path: "/v1/costs/breakdown", query: "by=tenant", costs: true,
		all: []auth.Capability{auth.CapCostsRead, auth.CapCostsByTenant}, ok: s200,
		own: expect{200, 200, 403, 403, 403}},
	{name: "tenant costs", method: "GET", path: "/v1/tenants/{tenant}/costs", costs: true,
		tenant: pathTenant, all: []auth.Capability{auth.CapTenantCostsRead}, ok: s200,
		own: expect{200, 200, 403, 403, 200}, other: expect{200, 200, 403, 403, 403}},
	{name: "vendor comparison", method: "GET", path: "/v1/vendors/compare", costs: true,
		all: []auth.Capability{auth.CapVendorsRead}, ok: s200,
		own: expect{200, 200, 200, 403, 403}},
	{name: "recommendations", method: "GET", path: "/v1/recommendations", costs: true,
		anyOf: []auth.Capability{auth.CapRecommendationsRead, auth.CapRecommendationsVendors}, ok: s200,
		own: expect{200, 200, 200, 200, 403}},
	{name: "recommendations, second page", method: "GET", path: "/v1/recommendations", query: "limit=1&cursor={cursor}", costs: true,
		anyOf: []auth.Capability{auth.CapRecommendationsRead, auth.CapRecommendationsVendors}, ok: s200,
		own: expect{200, 200, 200, 200, 403}},
	{name: "recommendation (vendor kind)", method: "GET", path: "/v1/recommendations/{recommendation}", costs: true,
		anyOf: []auth.Capability{auth.CapRecommendationsRead, auth.CapRecommendationsVendors}, ok: s200,
		own: expect{200, 200, 200, 200, 403}},
	{name: "initiative list", method: "GET", path: "/v1/initiatives", costs: true,
		all: []auth.Capability{auth.CapInitiativesRead}, ok: s200,
		own: expect{200, 200, 403, 403, 403}},
	{name: "initiative", method: "GET", path: "/v1/initiatives/{initiative}", costs: true,
		all: []auth.Capability{auth.CapInitiativesRead}, ok: s200,
		own: expect{200, 200, 403, 403, 403}},
	// An allowed create of a recommendation id that does not exist is a 400 (the recommendations
	// are computed first); the real create is done once, by the cfo, before the matrix runs.
	{name: "initiative create (unknown recommendation)", method: "POST", path: "/v1/initiatives", costs: true,
		all: []auth.Capability{auth.CapInitiativesWrite}, ok: s400,
		own: expect{400, 400, 403, 403, 403}},
	{name: "initiative change (notes, with If-Match)", method: "PATCH", path: "/v1/initiatives/{initiative}", costs: true,
		all: []auth.Capability{auth.CapInitiativesWrite}, ok: s200,
		own: expect{200, 200, 403, 403, 403}},
}

// deriveStatus is what auth.DefaultMatrix() and the API's documented tenant rules (caller.checkTenants)
// say p gets from rt when the request names tenant named ("" for none).
func deriveStatus(m auth.Matrix, p auth.Principal, rt secRoute, named string) int {
	allowed := true
	for _, c := range rt.all {
		allowed = allowed && m.Allows(p, c)
	}
	if len(rt.anyOf) > 0 {
		allowed = allowed && slices.ContainsFunc(rt.anyOf, func(c auth.Capability) bool { return m.Allows(p, c) })
	}
	if !allowed {
		return s403
	}
	scope := p.Scope()
	if named != "" && !scope.All && named != scope.TenantID {
		return s403 // a tenant-scoped caller asks for its own tenant only
	}
	if (named != "" || rt.tenantDim) && scope.All && !m.Allows(p, auth.CapTenantsIdentify) {
		return s403 // tenant ids across tenants need tenants:identify
	}
	return rt.ok
}

func principalOf(r auth.Role) auth.Principal {
	p := auth.Principal{Subject: "security-e2e-" + string(r), Roles: []auth.Role{r}}
	if r.TenantScoped() {
		p.TenantID = secOwnTenant
	}
	return p
}

// ---- HTTP ----------------------------------------------------------------------------------

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) String() string {
	b := r.body
	if len(b) > 300 {
		b = append(b[:300:300], "…"...)
	}
	return fmt.Sprintf("%d %s", r.status, b)
}

var secClient = &http.Client{
	Timeout:       30 * time.Second,
	Transport:     &http.Transport{MaxIdleConnsPerHost: 16},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// secDo sends one request with the given Authorization header values (none, one or several).
func secDo(method, target string, authz []string, body []byte, header map[string]string) (reply, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		return reply{}, err
	}
	for _, a := range authz {
		req.Header.Add("Authorization", a)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := secClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func mustDo(t *testing.T, method, target string, authz []string, body []byte, header map[string]string) reply {
	t.Helper()
	r, err := secDo(method, target, authz, body, header)
	require.NoError(t, err, "%s %s", method, target)
	return r
}

func bearer(tok string) []string { return []string{"Bearer " + tok} }

// ---- tokens --------------------------------------------------------------------------------

func mintRole(t *testing.T, r auth.Role) string {
	tenant := ""
	if r.TenantScoped() {
		tenant = secOwnTenant
	}
	tok, err := auth.MintHS256([]byte(auth.DemoSecret), defaultIssuer, defaultAudience, "security-e2e-"+string(r),
		[]auth.Role{r}, tenant, time.Hour, time.Now())
	require.NoError(t, err)
	return tok
}

// claims are valid cfo claims at now; callers change what the case is about.
func claims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{"iss": defaultIssuer, "aud": defaultAudience, "sub": "security-e2e-forged",
		"iat": now.Add(-time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
		"roles": []string{"cfo"}}
}

func signed(t *testing.T, method jwt.SigningMethod, key any, c jwt.MapClaims) string {
	tok, err := jwt.NewWithClaims(method, c).SignedString(key)
	require.NoError(t, err)
	return tok
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// badCredential is an Authorization the API must refuse with a 401.
type badCredential struct {
	name  string
	authz []string
}

func badCredentials(t *testing.T) []badCredential {
	now := time.Now()
	demo := []byte(auth.DemoSecret)
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := claims(now)
		change(c)
		return c
	}
	hs := func(c jwt.MapClaims) []string { return bearer(signed(t, jwt.SigningMethodHS256, demo, c)) }
	otherSecret := []byte("another-secret-of-at-least-32-bytes-for-hs256!")
	wrongSig, err := auth.MintHS256(otherSecret, defaultIssuer, defaultAudience, "x", []auth.Role{auth.RoleCFO}, "", time.Hour, now)
	require.NoError(t, err)
	wrongAud, err := auth.MintHS256(demo, defaultIssuer, "another-api", "x", []auth.Role{auth.RoleCFO}, "", time.Hour, now)
	require.NoError(t, err)
	wrongIss, err := auth.MintHS256(demo, "another-issuer", defaultAudience, "x", []auth.Role{auth.RoleCFO}, "", time.Hour, now)
	require.NoError(t, err)
	ta := mintRole(t, auth.RoleTenantAdmin)
	parts := strings.Split(ta, ".")
	tampered := parts[0] + "." + b64(map[string]any(claims(now))) + "." + parts[2] // tenant_admin's signature on cfo claims
	none := func(alg string) []string {
		return bearer(b64(map[string]string{"alg": alg, "typ": "JWT"}) + "." + b64(map[string]any(claims(now))) + ".")
	}
	return []badCredential{
		{"no token", nil},
		{"expired beyond the leeway", hs(with(func(c jwt.MapClaims) {
			c["exp"], c["iat"], c["nbf"] = now.Add(-2*time.Minute).Unix(), now.Add(-time.Hour).Unix(), now.Add(-time.Hour).Unix()
		}))},
		{"not yet valid beyond the leeway", hs(with(func(c jwt.MapClaims) { c["nbf"], c["iat"] = now.Add(10*time.Minute).Unix(), now.Unix() }))},
		{"no exp", hs(with(func(c jwt.MapClaims) { delete(c, "exp") }))},
		{"wrong signature (another secret)", bearer(wrongSig)},
		{"tampered payload (tenant_admin signature, cfo claims)", bearer(tampered)},
		{"wrong audience", bearer(wrongAud)},
		{"wrong issuer", bearer(wrongIss)},
		{"alg none", none("none")},
		{"alg None", none("None")},
		{"alg HS512 with the right secret", bearer(signed(t, jwt.SigningMethodHS512, demo, claims(now)))},
		{"alg RS256 header, HMAC signature", bearer(b64(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." +
			b64(map[string]any(claims(now))) + "." + strings.Split(signed(t, jwt.SigningMethodHS256, demo, claims(now)), ".")[2])},
		{"no role", hs(with(func(c jwt.MapClaims) { delete(c, "roles") }))},
		{"unknown role", hs(with(func(c jwt.MapClaims) { c["roles"] = []string{"admin"} }))},
		{"mixed roles", hs(with(func(c jwt.MapClaims) { c["roles"], c["tenant_id"] = []string{"cfo", "tenant_admin"}, secOwnTenant }))},
		{"tenant_admin without tenant", hs(with(func(c jwt.MapClaims) { c["roles"] = []string{"tenant_admin"} }))},
		{"tenant_admin with an injected tenant", hs(with(func(c jwt.MapClaims) {
			c["roles"], c["tenant_id"] = []string{"tenant_admin"}, "t-001' OR '1'='1"
		}))},
		{"roles of the wrong type", hs(with(func(c jwt.MapClaims) { c["roles"] = map[string]any{"cfo": true} }))},
		{"garbage", bearer("garbage")},
		{"three garbage segments", bearer("a.b.c")},
		{"oversized token", bearer(strings.Repeat("A", 9<<10) + "." + "B" + "." + "C")},
		{"token without scheme", []string{mintRole(t, auth.RoleCFO)}},
		{"Basic scheme", []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("cfo:"+mintRole(t, auth.RoleCFO)))}},
		{"two Authorization headers", append(bearer(mintRole(t, auth.RoleCFO)), bearer(mintRole(t, auth.RoleCFO))...)},
		{"producer key as an API token", bearer(auth.DemoProducerKey)},
	}
}

// ---- body checks ---------------------------------------------------------------------------

var tenantIDRe = regexp.MustCompile(`\bt-00[1-4]\b`)

// internals are what no answer may show (lower case; a marker the request itself carries is
// skipped, since parameter errors quote a bounded part of the bad value back).
var internals = []string{"clickhouse", "db::exception", "code: ", "sql", "select ", "syntax", "goroutine",
	"panic", "runtime error", ".go:", "stack", "exception", "nats:", "jetstream", "email_volume_", "vps_util_",
	"analytics_events_", "lane_progress", "tenant_id = ?", "toDateTime"}

// internalsIn200 are the markers checked in successful answers, whose texts (how_calculated,
// summaries) are free prose.
var internalsIn200 = []string{"clickhouse", "db::exception", "goroutine", "panic:", "syntax error", "runtime error"}

func checkNoInternals(t assert.TestingT, desc string, r reply, sent string, extra ...string) {
	body := strings.ToLower(string(r.body))
	sent = strings.ToLower(sent)
	markers := internals
	if r.status < 300 {
		markers = internalsIn200
	}
	for _, m := range append(slices.Clone(markers), extra...) {
		m = strings.ToLower(m)
		if !strings.Contains(sent, m) && strings.Contains(body, m) {
			assert.Fail(t, "answer shows internals", "%s: %q in %s", desc, m, r)
		}
	}
}

// checkErrorBody checks a refusal: the JSON error object and nothing else.
func checkErrorBody(t assert.TestingT, desc string, r reply) {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if !assert.NoError(t, json.Unmarshal(r.body, &e), "%s: error body %s", desc, r) {
		return
	}
	assert.NotEmpty(t, e.Error.Code, "%s: error code in %s", desc, r)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(r.body, &m)
	assert.NotContains(t, m, "data", "%s: a refusal carries data: %s", desc, r)
}

// walkTenants calls f with every string under a "tenant_id" key and every element under a
// "tenant_ids" key.
func walkTenants(v any, f func(key, tenant string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, vv := range x {
			switch k {
			case "tenant_id", "owner_tenant_id":
				if s, ok := vv.(string); ok {
					f(k, s)
				}
			case "tenant_ids":
				if list, ok := vv.([]any); ok {
					for _, e := range list {
						s, _ := e.(string)
						f(k, s)
					}
				}
			}
			walkTenants(vv, f)
		}
	case []any:
		for _, e := range x {
			walkTenants(e, f)
		}
	}
}

// checkOwnTenantOnly: an answer to tenant_admin of t-001 names no other tenant anywhere, and every
// tenant_id in it is t-001. sent is what the request carried (a 400 may quote it).
func checkOwnTenantOnly(t assert.TestingT, desc string, r reply, sent string) {
	for _, other := range secTenants[1:] {
		if !strings.Contains(sent, other) {
			assert.NotContains(t, string(r.body), other, "%s: tenant_admin of %s sees %s: %s", desc, secOwnTenant, other, r)
		}
	}
	var v any
	if json.Unmarshal(r.body, &v) != nil {
		return
	}
	walkTenants(v, func(key, tenant string) {
		assert.Equal(t, secOwnTenant, tenant, "%s: %s %q in an answer to tenant_admin of %s", desc, key, tenant, secOwnTenant)
	})
}

// checkNoTenantIDs: the answer names no tenant at all.
func checkNoTenantIDs(t assert.TestingT, desc string, r reply) {
	assert.Empty(t, tenantIDRe.FindAllString(string(r.body), 5), "%s: tenant ids in %s", desc, r)
	var v any
	if json.Unmarshal(r.body, &v) != nil {
		return
	}
	walkTenants(v, func(key, tenant string) {
		assert.Fail(t, "tenant id", "%s: %s %q in %s", desc, key, tenant, r)
	})
}

// dataOf decodes the envelope's data.
func dataOf(t *testing.T, r reply) any {
	t.Helper()
	var env struct {
		Data any `json:"data"`
	}
	require.NoError(t, json.Unmarshal(r.body, &env), "%s", r)
	return env.Data
}

// rowTenants returns the tenant_id of every row of a roll-up answer.
func rowTenants(t *testing.T, r reply) map[string]int {
	t.Helper()
	out := map[string]int{}
	rows, _ := dataOf(t, r).([]any)
	for _, row := range rows {
		if m, ok := row.(map[string]any); ok {
			s, _ := m["tenant_id"].(string)
			out[s]++
		}
	}
	return out
}

// ---- the test ------------------------------------------------------------------------------

type secEnv struct {
	base       string
	tokens     map[auth.Role]string
	from       string // 4 days ago, in RFC 3339: the windows that hold the demo history
	initiative string // created by the cfo before the matrix
	vendorRec  string // a recommendation of a vendor kind: every role that lists recommendations sees it
	cursor     string // the cfo's next_cursor after the first recommendation
}

func (e *secEnv) url(rt secRoute, tenant string) string {
	p := strings.ReplaceAll(rt.path, "{tenant}", url.PathEscape(tenant))
	p = strings.ReplaceAll(p, "{initiative}", e.initiative)
	p = strings.ReplaceAll(p, "{recommendation}", e.vendorRec)
	q := strings.ReplaceAll(rt.query, "{from}", url.QueryEscape(e.from))
	q = strings.ReplaceAll(q, "{cursor}", url.QueryEscape(e.cursor))
	if rt.tenant == queryTenant && tenant != "" {
		q = strings.TrimPrefix(q+"&tenant_id="+url.QueryEscape(tenant), "&")
	}
	if q != "" {
		p += "?" + q
	}
	return e.base + p
}

func startSecuritySpendstream(t *testing.T) *secEnv {
	stack := newE2E(t, "e2e_security")
	keys := filepath.Join(t.TempDir(), "producers.yaml")
	require.NoError(t, os.WriteFile(keys, []byte("producers:\n  - {key: \""+secProducerKey+"\", name: t001-agent, tenants: [t-001]}\n"), 0o600))

	stack.run(t,
		"--demo", "--demo-tenants", "4", "--demo-backfill", "72h", "--price-list", "../../deploy/pricelist.example.yaml",
		"--producer-keys-file", keys, "--rate-limit", "0", "--cost-cache-ttl", "-1s", "--log-level", "error")
	env := &secEnv{base: stack.base, tokens: map[auth.Role]string{},
		from: time.Now().UTC().Add(-96 * time.Hour).Format(time.RFC3339)}
	for _, r := range secRoles {
		env.tokens[r] = mintRole(t, r)
	}
	waitReady(t, env.base, 60*time.Second)
	return env
}

// TestSecurityEndToEnd: see the comment at the top of the file.
func TestSecurityEndToEnd(t *testing.T) {
	env := startSecuritySpendstream(t)
	cfo := bearer(env.tokens[auth.RoleCFO])

	// Wait until every tenant has roll-ups, events, segments and cost, and there is a
	// recommendation to track: the isolation checks below are only worth something on real data.
	var recID string
	waitFor := func(path string, ok func(reply) bool) func() bool {
		return func() bool {
			r, err := secDo("GET", env.base+path, cfo, nil, nil)
			return err == nil && r.status == http.StatusOK && ok(r)
		}
	}
	allTenants := func(r reply) bool {
		got := rowTenants(t, r)
		return got["t-001"] > 0 && got["t-002"] > 0 && got["t-003"] > 0 && got["t-004"] > 0
	}
	from := url.QueryEscape(env.from)
	conds := map[string]func() bool{
		"email roll-ups of every tenant": waitFor("/v1/rollups/email-volume?step=1d&group_by=tenant_id&from="+from, allTenants),
		"vps roll-ups of every tenant":   waitFor("/v1/rollups/vps-utilization?step=1d&group_by=tenant_id&from="+from, allTenants),
		"event roll-ups of every tenant": waitFor("/v1/rollups/events?step=1d&group_by=tenant_id&from="+from, allTenants),
		"segments of every tenant":       waitFor("/v1/segments", allTenants),
		"cost of t-001 and t-002": func() bool {
			for _, tn := range []string{secOwnTenant, secOtherTenant} {
				ok := waitFor("/v1/tenants/"+tn+"/costs", func(r reply) bool {
					d, _ := dataOf(t, r).(map[string]any)
					total, _ := d["total"].(float64)
					return total > 0
				})()
				if !ok {
					return false
				}
			}
			return true
		},
		"a recommendation": waitFor("/v1/recommendations", func(r reply) bool {
			d, _ := dataOf(t, r).(map[string]any)
			items, _ := d["items"].([]any)
			if len(items) == 0 {
				return false
			}
			recID, _ = items[0].(map[string]any)["id"].(string)
			return recID != ""
		}),
		"a vendor recommendation": waitFor("/v1/recommendations?kind=rebalance_ip_pool&limit=1", func(r reply) bool {
			d, _ := dataOf(t, r).(map[string]any)
			items, _ := d["items"].([]any)
			if len(items) == 0 {
				return false
			}
			env.vendorRec, _ = items[0].(map[string]any)["id"].(string)
			return env.vendorRec != ""
		}),
		"a second page of recommendations": waitFor("/v1/recommendations?limit=1", func(r reply) bool {
			d, _ := dataOf(t, r).(map[string]any)
			env.cursor, _ = d["next_cursor"].(string)
			return env.cursor != ""
		}),
	}
	deadline := time.Now().Add(75 * time.Second)
	for name, cond := range conds {
		for !cond() {
			require.True(t, time.Now().Before(deadline), "no %s within 75s", name)
			time.Sleep(250 * time.Millisecond)
		}
	}

	// The initiative the initiative routes read and change.
	created := mustDo(t, "POST", env.base+"/v1/initiatives", cfo, []byte(`{"recommendation_id":"`+recID+`","owner":"security-e2e"}`), nil)
	require.Equal(t, http.StatusCreated, created.status, "%s", created)
	var ini struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(created.body, &ini))
	env.initiative = ini.Data.ID
	require.NotEmpty(t, env.initiative)

	t.Run("credentials", func(t *testing.T) { testSecCredentials(t, env) })
	t.Run("matrix", func(t *testing.T) { testSecMatrix(t, env) })
	t.Run("tenant isolation", func(t *testing.T) { testSecIsolation(t, env) })
	t.Run("producers", func(t *testing.T) { testSecProducers(t, env) })
	t.Run("injection", func(t *testing.T) { testSecInjection(t, env) })
	t.Run("public endpoints and request bodies", func(t *testing.T) { testSecPublic(t, env) })
}

// requestFor returns the body and headers of a matrix request as role (PATCH reads the current
// ETag first, as a client would).
func (e *secEnv) requestFor(t *testing.T, rt secRoute, role auth.Role) ([]byte, map[string]string) {
	switch rt.method {
	case "POST":
		return []byte(`{"recommendation_id":"rec_0000000000000000","title":"security e2e"}`), nil
	case "PATCH":
		r := mustDo(t, "GET", e.base+"/v1/initiatives/"+e.initiative, bearer(e.tokens[auth.RoleCFO]), nil, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r)
		return []byte(`{"notes":"changed by ` + string(role) + `"}`), map[string]string{"If-Match": r.header.Get("ETag")}
	}
	return nil, nil
}

func testSecCredentials(t *testing.T, env *secEnv) {
	creds := badCredentials(t)
	want := `{"error":{"code":"unauthenticated","message":"missing or invalid credentials"}}`
	for _, rt := range secRoutes {
		for _, c := range creds {
			var hdr map[string]string
			var body []byte
			if rt.method != "GET" {
				body, hdr = env.requestFor(t, rt, auth.RoleCFO)
			}
			r := mustDo(t, rt.method, env.url(rt, secOwnTenant), c.authz, body, hdr)
			desc := fmt.Sprintf("%s %s, %s", rt.method, rt.path, c.name)
			assert.Equal(t, http.StatusUnauthorized, r.status, "%s: %s", desc, r)
			assert.JSONEq(t, want, string(r.body), "%s: the 401 says nothing more", desc)
			assert.Equal(t, `Bearer realm="spendstream"`, r.header.Get("WWW-Authenticate"), desc)
		}
	}
	// The producer endpoint refuses every API token, and all the bad ones.
	ev := secEvent(t, "cred-probe", secOwnTenant, "sec-unauth")
	for _, c := range append(creds, badCredential{"a valid cfo token", bearer(env.tokens[auth.RoleCFO])},
		badCredential{"a valid tenant_admin token", bearer(env.tokens[auth.RoleTenantAdmin])}) {
		if slices.Contains(c.authz, "Bearer "+auth.DemoProducerKey) {
			continue // the one credential this endpoint takes
		}
		r := mustDo(t, "POST", env.base+"/v1/events", c.authz, ev, nil)
		assert.Equal(t, http.StatusUnauthorized, r.status, "POST /v1/events, %s: %s", c.name, r)
		assert.Equal(t, `Bearer realm="spendstream"`, r.header.Get("WWW-Authenticate"), "POST /v1/events, %s", c.name)
		checkErrorBody(t, "POST /v1/events, "+c.name, r)
	}

	// The leeway is bounded but there: 5 s past exp, or nbf 5 s ahead, is accepted.
	now := time.Now()
	for name, change := range map[string]func(jwt.MapClaims){
		"expired 5s ago":     func(c jwt.MapClaims) { c["exp"] = now.Add(-5 * time.Second).Unix() },
		"valid from 5s away": func(c jwt.MapClaims) { c["nbf"], c["iat"] = now.Add(5*time.Second).Unix(), now.Unix() },
	} {
		c := claims(now)
		change(c)
		r := mustDo(t, "GET", env.base+"/v1/freshness", bearer(signed(t, jwt.SigningMethodHS256, []byte(auth.DemoSecret), c)), nil, nil)
		assert.Equal(t, http.StatusOK, r.status, "%s (within the 30s leeway): %s", name, r)
	}
}

func testSecMatrix(t *testing.T, env *secEnv) {
	m := auth.DefaultMatrix()
	for _, rt := range secRoutes {
		var tenants []string
		switch rt.tenant {
		case noTenant:
			tenants = []string{""}
		case queryTenant:
			tenants = []string{"", secOwnTenant, secOtherTenant}
		case pathTenant:
			tenants = []string{secOwnTenant, secOtherTenant}
		}
		for _, role := range secRoles {
			for _, tenant := range tenants {
				want := rt.own.of(role)
				if tenant == secOtherTenant {
					want = rt.other.of(role)
				}
				desc := fmt.Sprintf("%s (%s %s) as %s", rt.name, rt.method, rt.path, role)
				if tenant != "" {
					desc += " naming " + tenant
				}
				require.Equal(t, deriveStatus(m, principalOf(role), rt, tenant), want,
					"%s: the expected table disagrees with auth.DefaultMatrix()", desc)

				body, hdr := env.requestFor(t, rt, role)
				r := mustDo(t, rt.method, env.url(rt, tenant), bearer(env.tokens[role]), body, hdr)
				assert.Equal(t, want, r.status, "%s: %s", desc, r)
				assert.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "application/json"), "%s: content type %q", desc, r.header.Get("Content-Type"))
				checkNoInternals(t, desc, r, "")
				if r.status >= 300 {
					checkErrorBody(t, desc, r)
					assert.Empty(t, tenantIDRe.FindAllString(string(r.body), 5), "%s: a refusal names a tenant: %s", desc, r)
					if r.status == s403 {
						assert.JSONEq(t, `{"error":{"code":"forbidden","message":"not allowed"}}`, string(r.body), desc)
					}
					continue
				}
				switch role {
				case auth.RoleTenantAdmin:
					checkOwnTenantOnly(t, desc, r, "")
				case auth.RoleProcurement:
					if rt.costs {
						checkNoTenantIDs(t, desc, r)
					}
				}
			}
		}
	}
	// Only the cfo and coo changed the initiative.
	r := mustDo(t, "GET", env.base+"/v1/initiatives/"+env.initiative, bearer(env.tokens[auth.RoleCFO]), nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	var got struct {
		Data struct {
			Notes   string `json:"notes"`
			History []struct {
				By string `json:"by"`
			} `json:"history"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(r.body, &got), "%s", r)
	assert.Equal(t, "changed by coo", got.Data.Notes)
	for _, h := range got.Data.History {
		assert.Contains(t, []string{"security-e2e-cfo", "security-e2e-coo", ""}, h.By, "initiative changed by %s", h.By)
	}
}

// testSecIsolation looks closer at what tenant_admin of t-001 and procurement get, against what
// the cfo gets from the same data (so the checks are not vacuous).
func testSecIsolation(t *testing.T, env *secEnv) {
	ta, cfo, proc := bearer(env.tokens[auth.RoleTenantAdmin]), bearer(env.tokens[auth.RoleCFO]), bearer(env.tokens[auth.RoleProcurement])
	// Closed days only (up to today 00:00 UTC), so the cfo's and tenant_admin's reads see the same rows.
	from := url.QueryEscape(env.from) + "&to=" + url.QueryEscape(time.Now().UTC().Truncate(24*time.Hour).Format(time.RFC3339))
	for _, path := range []string{
		"/v1/rollups/email-volume?step=1d&group_by=tenant_id,ip,pool,provider&from=" + from,
		"/v1/rollups/vps-utilization?step=1d&group_by=tenant_id,resource_id,provider,plan,region&from=" + from,
		"/v1/rollups/events?step=1d&group_by=tenant_id,event&from=" + from,
		"/v1/segments",
	} {
		all := mustDo(t, "GET", env.base+path, cfo, nil, nil)
		require.Equal(t, s200, all.status, "%s", all)
		require.Greater(t, rowTenants(t, all)[secOtherTenant], 0, "%s: the cfo sees %s", path, secOtherTenant)
		own := mustDo(t, "GET", env.base+path, ta, nil, nil)
		require.Equal(t, s200, own.status, "%s", own)
		got := rowTenants(t, own)
		assert.Equal(t, []string{secOwnTenant}, sortedKeys(got), "%s: tenant_admin's rows", path)
		assert.Equal(t, rowTenants(t, all)[secOwnTenant], got[secOwnTenant], "%s: tenant_admin gets all of its own rows", path)
		checkOwnTenantOnly(t, path, own, "")
		// Grouping without tenant_id: still only t-001's rows (the sums equal t-001's own).
		if strings.Contains(path, "rollups/email-volume") {
			sum := func(r reply) float64 {
				rows, _ := dataOf(t, r).([]any)
				s := 0.0
				for _, row := range rows {
					v, _ := row.(map[string]any)["sent"].(float64)
					s += v
				}
				return s
			}
			noDim := mustDo(t, "GET", env.base+"/v1/rollups/email-volume?step=1d&group_by=pool&from="+from, ta, nil, nil)
			require.Equal(t, s200, noDim.status, "%s", noDim)
			ownOnly := mustDo(t, "GET", env.base+"/v1/rollups/email-volume?step=1d&tenant_id=t-001&group_by=pool&from="+from, cfo, nil, nil)
			require.Equal(t, s200, ownOnly.status, "%s", ownOnly)
			assert.Equal(t, sum(ownOnly), sum(noDim), "tenant_admin's totals without a tenant dimension are its own")
		}
	}

	// Another tenant, by filter or by path, and the tricks around it: 403 (or 400), never data.
	for _, path := range []string{
		"/v1/rollups/email-volume?tenant_id=t-002", "/v1/rollups/vps-utilization?tenant_id=t-003",
		"/v1/rollups/events?tenant_id=t-004", "/v1/segments?tenant_id=t-002", "/v1/tenants/t-002/costs",
		"/v1/tenants/T-001/costs", "/v1/tenants/t-001%20/costs", "/v1/tenants/t-001%2F..%2Ft-002/costs",
		"/v1/rollups/email-volume?tenant_id=t-001&tenant_id=t-002", "/v1/rollups/email-volume?tenant_id=t-002&tenant_id=t-001",
		"/v1/rollups/email-volume?tenant_id=t-001%00t-002", "/v1/rollups/email-volume?tenant_id=t-002%23",
		"/v1/rollups/email-volume?tenant_id=t-001%27+OR+tenant_id%3D%27t-002", "/v1/rollups/email-volume?TENANT_ID=t-002",
		"/v1/rollups/email-volume?tenant_id%5B%5D=t-002", "/v1/tenants/t-002/costs?tenant_id=t-001",
		"/v1/costs/breakdown?by=tenant", "/v1/costs/overview", "/v1/recommendations?kind=adjust_tenant_plan",
		"/v1/vendors/compare", "/v1/initiatives",
	} {
		r := mustDo(t, "GET", env.base+path, ta, nil, nil)
		assert.Contains(t, []int{s400, s403}, r.status, "%s as tenant_admin: %s", path, r)
		checkErrorBody(t, path, r)
		checkNoInternals(t, path, r, path)
		for _, other := range secTenants[1:] {
			if !strings.Contains(path, other) {
				assert.NotContains(t, string(r.body), other, "%s: %s", path, r)
			}
		}
	}

	// tenant_admin's freshness shows no cross-tenant volumes.
	r := mustDo(t, "GET", env.base+"/v1/freshness", ta, nil, nil)
	require.Equal(t, s200, r.status)
	for _, k := range []string{`"stream_seq"`, `"events"`, `"pending_messages"`} {
		assert.NotContains(t, string(r.body), k, "tenant_admin's freshness shows %s", k)
	}

	// procurement: vendors and totals, no tenant identities (the cfo's overview has them).
	all := mustDo(t, "GET", env.base+"/v1/costs/overview", cfo, nil, nil)
	require.Equal(t, s200, all.status)
	require.Contains(t, string(all.body), `"top_tenants"`)
	for _, path := range []string{"/v1/costs/overview", "/v1/costs/breakdown?by=provider&step=total",
		"/v1/costs/breakdown?by=plan", "/v1/vendors/compare?kind=email", "/v1/recommendations",
		"/v1/recommendations?kind=rebalance_ip_pool", "/v1/recommendations?kind=adjust_commitment"} {
		r := mustDo(t, "GET", env.base+path, proc, nil, nil)
		require.Equal(t, s200, r.status, "%s as procurement: %s", path, r)
		checkNoTenantIDs(t, path+" as procurement", r)
		assert.NotContains(t, string(r.body), `"top_tenants"`, path)
	}
	for _, path := range []string{"/v1/costs/breakdown?by=tenant", "/v1/tenants/t-001/costs", "/v1/rollups/email-volume",
		"/v1/segments", "/v1/initiatives"} {
		r := mustDo(t, "GET", env.base+path, proc, nil, nil)
		assert.Equal(t, s403, r.status, "%s as procurement: %s", path, r)
	}
	// procurement sees vendor/commitment recommendations only, and none about a tenant's plan.
	r = mustDo(t, "GET", env.base+"/v1/recommendations?kind=adjust_tenant_plan", proc, nil, nil)
	require.Equal(t, s200, r.status)
	items, _ := dataOf(t, r).(map[string]any)["items"].([]any)
	assert.Empty(t, items, "procurement sees tenant-plan recommendations")

	// Each caller's overview sums the savings of the recommendations it may see, no others; its
	// underutilized resources are among them. (The demo keeps sending while the two requests are
	// made, and this test runs without the model cache: a pair that saw different data is asked
	// again.)
	for name, tok := range map[string][]string{"cfo": cfo, "procurement": proc} {
		var problem string
		for range 10 {
			problem = overviewMatchesRecommendations(t, env.base, tok)
			if problem == "" {
				break
			}
		}
		assert.Empty(t, problem, name)
	}
}

// overviewMatchesRecommendations describes how the overview's savings disagree with the
// recommendations for the caller with Authorization tok ("" when they agree).
func overviewMatchesRecommendations(t *testing.T, base string, tok []string) string {
	ov := dataOf(t, mustDo(t, "GET", base+"/v1/costs/overview", tok, nil, nil)).(map[string]any)
	rr := dataOf(t, mustDo(t, "GET", base+"/v1/recommendations", tok, nil, nil)).(map[string]any)
	recItems, _ := rr["items"].([]any)
	ids := map[string]bool{}
	for _, it := range recItems {
		ids[it.(map[string]any)["id"].(string)] = true
	}
	sv := ov["estimated_savings"].(map[string]any)
	rs := rr["savings_monthly"].(map[string]any)
	if float64(len(recItems)) != sv["opportunities"] || rs["low"] != sv["low"] || rs["high"] != sv["high"] {
		return fmt.Sprintf("overview savings %v, recommendations: %d items, %v", sv, len(recItems), rs)
	}
	under, _ := ov["underutilized_resources"].([]any)
	for _, u := range under {
		if !ids[u.(map[string]any)["recommendation_id"].(string)] {
			return fmt.Sprintf("underutilized %v is not among the recommendations", u)
		}
	}
	return ""
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// secEvent is one email-volume CloudEvent of 10 messages for tenant, a minute ago, with provider
// as its marker.
func secEvent(t *testing.T, id, tenant, provider string) []byte {
	return secEventSent(t, id, tenant, provider, 10)
}

func secEventSent(t *testing.T, id, tenant, provider string, sent int) []byte {
	b, err := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "security-e2e",
		"type": events.TypeEmailVolume, "time": time.Now().UTC().Add(-time.Minute).Truncate(time.Second).Format(time.RFC3339),
		"tenantid": tenant, "data": map[string]any{"ip": "10.99.0.1", "pool": "transactional", "provider": provider,
			"sent": sent, "delivered": sent, "bounced": 0, "deferred": 0, "complained": 0, "interval_seconds": 3600}})
	require.NoError(t, err)
	return b
}

type ingestReply struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Rejected   []struct {
		Index  int    `json:"index"`
		Reason string `json:"reason"`
	} `json:"rejected"`
}

func testSecProducers(t *testing.T, env *secEnv) {
	run := make([]byte, 4)
	_, _ = rand.Read(run)
	id := func(s string) string { return "sec-" + hex.EncodeToString(run) + "-" + s }
	scoped, demo := bearer(secProducerKey), bearer(auth.DemoProducerKey)
	post := func(key []string, body []byte) (reply, ingestReply) {
		r := mustDo(t, "POST", env.base+"/v1/events", key, body, nil)
		var ir ingestReply
		_ = json.Unmarshal(r.body, &ir)
		return r, ir
	}
	batch := func(evs ...[]byte) []byte { return append(append([]byte("["), bytes.Join(evs, []byte(","))...), ']') }

	// Refused before anything is read: no key, unknown keys, API tokens, PostHog project keys.
	for name, authz := range map[string][]string{
		"no key":                   nil,
		"unknown key":              bearer("spk_unknown_key_0123456789abcdef"),
		"cfo API token":            bearer(env.tokens[auth.RoleCFO]),
		"PostHog project key":      bearer(DemoProjectKey + "_t-001"),
		"Basic scheme":             {"Basic " + base64.StdEncoding.EncodeToString([]byte(auth.DemoProducerKey+":"))},
		"key without scheme":       {auth.DemoProducerKey},
		"key twice":                append(slices.Clone(demo), demo...),
		"key with a trailing byte": bearer(secProducerKey + "x"),
		"key prefix":               bearer(secProducerKey[:len(secProducerKey)-1]),
	} {
		r, _ := post(authz, secEvent(t, id("unauth-"+name[:3]), secOwnTenant, "sec-unauth"))
		assert.Equal(t, http.StatusUnauthorized, r.status, "%s: %s", name, r)
		checkErrorBody(t, name, r)
	}

	// The t-001 key writes for t-001 only.
	r, ir := post(scoped, secEvent(t, id("own-1"), secOwnTenant, "sec-own"))
	assert.Equal(t, http.StatusAccepted, r.status, "%s", r)
	assert.Equal(t, 1, ir.Accepted)
	r, ir = post(scoped, secEvent(t, id("forbidden-1"), secOtherTenant, "sec-forbidden"))
	assert.Equal(t, http.StatusBadRequest, r.status, "%s", r)
	if assert.Len(t, ir.Rejected, 1, "%s", r) {
		assert.Equal(t, "forbidden_tenant", ir.Rejected[0].Reason)
	}
	r, ir = post(scoped, batch(secEvent(t, id("own-2"), secOwnTenant, "sec-own"), secEvent(t, id("forbidden-2"), "t-003", "sec-forbidden")))
	assert.Equal(t, http.StatusAccepted, r.status, "%s", r)
	assert.Equal(t, 1, ir.Accepted, "%s", r)
	if assert.Len(t, ir.Rejected, 1, "%s", r) {
		assert.Equal(t, 1, ir.Rejected[0].Index)
		assert.Equal(t, "forbidden_tenant", ir.Rejected[0].Reason)
	}
	r, ir = post(scoped, secEvent(t, id("injected"), "t-001' OR '1'='1", "sec-forbidden"))
	assert.Equal(t, http.StatusBadRequest, r.status, "%s", r)
	assert.Len(t, ir.Rejected, 1, "%s", r)
	// The demo key writes for every tenant.
	r, ir = post(demo, secEvent(t, id("all-1"), "t-003", "sec-all"))
	assert.Equal(t, http.StatusAccepted, r.status, "%s", r)
	assert.Equal(t, 1, ir.Accepted)

	// Event ids are the producer's: an id t-001's key used must not make another tenant's event
	// with the same id a "duplicate" (JetStream de-duplicates by Nats-Msg-Id across the stream).
	// Otherwise a producer scoped to t-001 can drop t-002's events by sending their ids first, and
	// learns from "duplicates" which ids another tenant used.
	clash := id("clash")
	r, ir = post(scoped, secEvent(t, clash, secOwnTenant, "sec-clash"))
	assert.Equal(t, http.StatusAccepted, r.status, "%s", r)
	assert.Equal(t, 0, ir.Duplicates)
	r, ir = post(demo, secEvent(t, clash, secOtherTenant, "sec-clash"))
	assert.Equal(t, http.StatusAccepted, r.status, "%s", r)
	assert.Equal(t, 0, ir.Duplicates, "t-002's event with an id t-001's producer used first is dropped as a duplicate: %s", r)

	// Two tenants, and only two, send through the provider sec-pair: t-001 10 messages, t-002 30.
	r, _ = post(scoped, secEventSent(t, id("pair-1"), secOwnTenant, "sec-pair", 10))
	assert.Equal(t, http.StatusAccepted, r.status, "%s", r)
	r, _ = post(demo, secEventSent(t, id("pair-2"), secOtherTenant, "sec-pair", 30))
	assert.Equal(t, http.StatusAccepted, r.status, "%s", r)

	// What was refused never reached the roll-ups; what was accepted did.
	cfo := bearer(env.tokens[auth.RoleCFO])
	from := url.QueryEscape(time.Now().UTC().Add(-3 * time.Hour).Format(time.RFC3339))
	tenantsOf := func(provider string) map[string]int {
		r := mustDo(t, "GET", env.base+"/v1/rollups/email-volume?group_by=tenant_id&provider="+provider+"&from="+from, cfo, nil, nil)
		require.Equal(t, s200, r.status, "%s", r)
		return rowTenants(t, r)
	}
	require.Eventually(t, func() bool {
		return tenantsOf("sec-own")[secOwnTenant] > 0 && tenantsOf("sec-all")["t-003"] > 0 && tenantsOf("sec-clash")[secOwnTenant] > 0
	}, 20*time.Second, 200*time.Millisecond, "accepted events did not reach the roll-ups")
	assert.Empty(t, tenantsOf("sec-forbidden"), "events refused as forbidden_tenant were published")
	assert.Empty(t, tenantsOf("sec-unauth"), "events of unauthenticated requests were published")
	assert.Equal(t, []string{secOwnTenant, secOtherTenant}, sortedKeys(tenantsOf("sec-clash")),
		"both tenants' events with the same id are counted")

	// tenant_admin of t-001 gets its own part of sec-pair, but not figures from which t-002's can
	// be derived: its share of the provider together with its own messages gives the provider's
	// total, and total − own is t-002's volume.
	require.Eventually(t, func() bool {
		got := tenantsOf("sec-pair")
		return got[secOwnTenant] > 0 && got[secOtherTenant] > 0
	}, 20*time.Second, 200*time.Millisecond, "sec-pair events did not reach the roll-ups")
	// The cost model reads the daily roll-ups.
	require.Eventually(t, func() bool {
		r = mustDo(t, "GET", env.base+"/v1/tenants/t-001/costs", bearer(env.tokens[auth.RoleTenantAdmin]), nil, nil)
		return r.status == s200 && strings.Contains(string(r.body), `"sec-pair"`)
	}, 20*time.Second, 250*time.Millisecond, "sec-pair is not in t-001's costs: %s", r)
	checkOwnTenantOnly(t, "tenant costs with sec-pair", r, "")
	var tc struct {
		Data struct {
			Email []struct {
				Provider     string  `json:"provider"`
				Share        float64 `json:"share"`
				MessagesSent float64 `json:"messages_sent"`
			} `json:"email"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(r.body, &tc), "%s", r)
	for _, e := range tc.Data.Email {
		if e.Provider != "sec-pair" || e.Share <= 0 {
			continue
		}
		other := e.MessagesSent/e.Share - e.MessagesSent
		assert.False(t, other > 29.5 && other < 30.5,
			"tenant_admin of t-001 derives t-002's volume on sec-pair (%.0f messages) from its share %.6f and its own %.0f messages",
			other, e.Share, e.MessagesSent)
	}

	// PostHog project keys keep working as project keys on the capture endpoints, and only there.
	capture := func(key string) reply {
		return mustDo(t, "POST", env.base+"/capture/", nil,
			[]byte(`{"api_key":"`+key+`","event":"security_probe","distinct_id":"sec-user"}`), nil)
	}
	r = capture(DemoProjectKey + "_t-001")
	assert.Equal(t, http.StatusOK, r.status, "%s", r)
	for _, key := range []string{"phc_unknown", auth.DemoProducerKey, env.tokens[auth.RoleCFO], "phc_spendstream_demo_t-001' OR '1'='1"} {
		r = capture(key)
		assert.Equal(t, http.StatusUnauthorized, r.status, "capture with %.20s…: %s", key, r)
		checkNoInternals(t, "capture", r, key)
	}
}

// ---- injection -----------------------------------------------------------------------------

// hostile values for string parameters (sent percent-encoded).
var hostile = []struct{ name, v string }{
	{"single quote", "'"},
	{"double quote", `"`},
	{"backslash", `\`},
	{"backslash quote", `\'`},
	{"line comment", "--"},
	{"block comment", "/* */"},
	{"or 1=1", "' OR 1=1 --"},
	{"or 1=1, double quotes", `" OR ""="`},
	{"escaped quote or 1=1", `\' OR 1=1 --`},
	{"union", "t-001' UNION SELECT name, 1, 2, 3, 4, 5, 6 FROM system.tables --"},
	{"stacked", "t-001'; DROP TABLE email_volume_1h; --"},
	{"parenthesis", "t-001') OR ('1'='1"},
	{"placeholder", "?"},
	{"placeholders", "? OR ? = ?"},
	{"named placeholder", "{tenant:String}"},
	{"dollar placeholder", "$1"},
	{"format verb", "%s%d%x%n"},
	{"NUL", "\x00"},
	{"NUL after a tenant", "t-001\x00"},
	{"control characters", "\x01\x1b[31m\x7f"},
	{"newline", "\n"},
	{"CRLF header", "t-001\r\nX-Injected: 1"},
	{"tab", "t-001\t"},
	{"RTL override", "t-\u202e100"},
	{"zero width space", "t-001\u200b"},
	{"BOM", "\ufefft-001"},
	{"emoji", "💸🔥"},
	{"combining marks", "t\u0301-001\u0336"},
	{"fullwidth quote", "t-001＇ OR 1=1"},
	{"invalid UTF-8", "\xff\xfe"},
	{"overlong UTF-8 quote", "\xc0\xa7"},
	{"10 KB", strings.Repeat("A", 10<<10)},
	{"10 KB of quotes", strings.Repeat("'", 10<<10)},
	{"percent-encoded quote", "%27"},
	{"LIKE wildcard", "%"},
	{"regex", ".*"},
	{"JSON operator", `{"$ne":null}`},
	{"path traversal", "../../etc/passwd"},
	{"upper-case tenant", "T-001"},
	{"tenant with a space", "t-002 "},
	{"tenant list", "t-001,t-002"},
}

// edge times: valid or nearly valid times at the ends of the range.
var edgeTimes = []string{"1970-01-01T00:00:00Z", "1970-01-01T00:00:01Z", "1969-12-31T23:59:59Z",
	"2099-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
	"2026-01-01T00:00:00+23:59", "2026-01-01T00:00:00-23:59", "2026-01-01T00:00:00.999999999Z",
	"2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01 00:00:00Z", "1e10", "0", "-1", "now"}

// raw query strings sent as they are.
var rawQueries = []string{"%zz", "a;b=1", "tenant_id=t-001&tenant_id=t-002", "=x", "%00=1",
	strings.Repeat("k", 300) + "=1", "x=1"}

type paramKind int

const (
	filterParam paramKind = iota // exact-match filter: 200 with nothing found, or 400
	strictParam                  // enum or time: 400 (edge times: 200 or 400)
	pathTenantParam
	pathInitiativeParam
	pathRecommendationParam
)

type injSlot struct {
	path  string // with {p} for a path parameter
	param string // "" for a path parameter
	kind  paramKind
	// taAllowed: tenant_admin may call the route (else it gets a 403 before any parsing).
	taAllowed bool
}

var injSlots = func() []injSlot {
	var s []injSlot
	for _, p := range []string{"/v1/rollups/email-volume", "/v1/rollups/vps-utilization", "/v1/rollups/events"} {
		filter := "provider"
		if strings.HasSuffix(p, "events") {
			filter = "event"
		}
		s = append(s, injSlot{p, "tenant_id", filterParam, true}, injSlot{p, filter, filterParam, true})
		for _, q := range []string{"from", "to", "step", "group_by"} {
			s = append(s, injSlot{p, q, strictParam, true})
		}
	}
	s = append(s, injSlot{"/v1/segments", "tenant_id", filterParam, true}, injSlot{"/v1/segments", "at", strictParam, true},
		injSlot{"/v1/freshness", "x", strictParam, true})
	for _, c := range []struct {
		path   string
		params []string
		ta     bool
	}{
		{"/v1/costs/overview", []string{"from", "to"}, false},
		{"/v1/costs/breakdown", []string{"from", "to", "by", "step", "limit", "cursor"}, false},
		{"/v1/tenants/t-001/costs", []string{"from", "to"}, true},
		{"/v1/vendors/compare", []string{"from", "to", "kind"}, false},
		{"/v1/recommendations", []string{"from", "to", "kind", "limit", "cursor"}, false},
		{"/v1/recommendations/rec_0000000000000000", []string{"from", "to"}, false},
	} {
		for _, q := range c.params {
			s = append(s, injSlot{c.path, q, strictParam, c.ta})
		}
	}
	return append(s, injSlot{"/v1/tenants/{p}/costs", "", pathTenantParam, true},
		injSlot{"/v1/initiatives", "status", filterParam, false},
		injSlot{"/v1/initiatives/{p}", "", pathInitiativeParam, false},
		injSlot{"/v1/recommendations/{p}", "", pathRecommendationParam, false})
}()

type injCase struct {
	desc, target, sent string
	role               auth.Role
	want               []int
	emptyData          bool // a 200 must find nothing
}

func testSecInjection(t *testing.T, env *secEnv) {
	var cases []injCase
	for _, role := range []auth.Role{auth.RoleCFO, auth.RoleTenantAdmin} {
		ta := role == auth.RoleTenantAdmin
		for _, slot := range injSlots {
			add := func(name, value string, edge bool) {
				c := injCase{role: role, sent: value, desc: fmt.Sprintf("%s as %s, %s=%s", slot.path, role, slot.param, name)}
				switch slot.kind {
				case pathTenantParam, pathInitiativeParam, pathRecommendationParam:
					c.target = env.base + strings.ReplaceAll(slot.path, "{p}", url.PathEscape(value))
					c.desc = fmt.Sprintf("%s as %s, path %s", slot.path, role, name)
				default:
					c.target = env.base + slot.path + "?" + slot.param + "=" + url.QueryEscape(value)
				}
				switch {
				case ta && !slot.taAllowed:
					c.want = []int{s403}
				case slot.kind == pathTenantParam:
					switch {
					case !events.ValidTenant(value):
						c.want = []int{s400}
					case ta && value != secOwnTenant:
						c.want = []int{s403}
					default:
						c.want = []int{s200}
					}
				case slot.kind == pathInitiativeParam:
					c.want = []int{http.StatusNotFound}
				case slot.kind == pathRecommendationParam: // a malformed id is a 400, a well-formed unknown one a 404
					c.want = []int{s400, http.StatusNotFound}
				case slot.kind == filterParam && slot.param == "tenant_id" && ta:
					c.want = []int{s400, s403}
				case slot.kind == filterParam:
					c.want, c.emptyData = []int{s200, s400}, true
				case edge && strings.HasPrefix(slot.path, "/v1/recommendations/"): // a valid window: no such id in it
					c.want = []int{s400, http.StatusNotFound}
				case edge:
					c.want = []int{s200, s400}
				default:
					c.want = []int{s400}
				}
				cases = append(cases, c)
			}
			for _, h := range hostile {
				add(h.name, h.v, false)
			}
			if slot.kind == strictParam && slot.param != "x" {
				for _, tm := range edgeTimes {
					add(tm, tm, slices.Contains([]string{"from", "to", "at"}, slot.param))
				}
			}
		}
		// Raw query strings and hostile parameter names on every GET route.
		for _, p := range []string{"/v1/rollups/email-volume", "/v1/rollups/vps-utilization", "/v1/rollups/events",
			"/v1/segments", "/v1/freshness", "/v1/costs/overview", "/v1/costs/breakdown", "/v1/tenants/t-001/costs",
			"/v1/vendors/compare", "/v1/recommendations", "/v1/initiatives"} {
			taAllowed := !slices.Contains([]string{"/v1/costs/overview", "/v1/costs/breakdown", "/v1/vendors/compare",
				"/v1/recommendations", "/v1/initiatives"}, p)
			want := []int{s400}
			if ta && !taAllowed {
				want = []int{s403}
			}
			path := p
			for _, raw := range rawQueries {
				cases = append(cases, injCase{role: role, sent: raw, want: want,
					desc: fmt.Sprintf("%s as %s, raw query %.40q", p, role, raw), target: env.base + path + "?" + raw})
			}
			for _, h := range hostile {
				if h.v == "" {
					continue
				}
				cases = append(cases, injCase{role: role, sent: h.v, want: want,
					desc:   fmt.Sprintf("%s as %s, parameter named %s", p, role, h.name),
					target: env.base + path + "?" + url.QueryEscape(h.v) + "=1"})
			}
		}
	}
	t.Logf("%d injection requests", len(cases))

	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, c := range cases {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r, err := secDo("GET", c.target, bearer(env.tokens[c.role]), nil, nil)
			if !assert.NoError(t, err, c.desc) {
				return
			}
			checkInjectionReply(t, c, r)
		}()
	}
	wg.Wait()
}

func checkInjectionReply(t *testing.T, c injCase, r reply) {
	if r.status >= 500 {
		assert.Fail(t, "5xx", "%s: %s", c.desc, r)
		return
	}
	assert.Contains(t, c.want, r.status, "%s: %s", c.desc, r)
	checkNoInternals(t, c.desc, r, c.sent)
	if r.status >= 300 {
		checkErrorBody(t, c.desc, r)
		assert.Less(t, len(r.body), 1024, "%s: an error body echoes too much: %s", c.desc, r)
	}
	if c.role == auth.RoleTenantAdmin {
		checkOwnTenantOnly(t, c.desc, r, c.sent)
	}
	if r.status == s200 && c.emptyData {
		var env struct {
			Data []json.RawMessage `json:"data"`
		}
		if assert.NoError(t, json.Unmarshal(r.body, &env), "%s: %s", c.desc, r) {
			assert.Empty(t, env.Data, "%s: a hostile filter found rows: %s", c.desc, r)
		}
	}
}

// testSecPublic: what answers without credentials says nothing about tenants; unknown paths and
// methods are refused without data; strict parsing of the initiative routes' parameters and bodies.
func testSecPublic(t *testing.T, env *secEnv) {
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		r := mustDo(t, "GET", env.base+p, nil, nil, nil)
		assert.Equal(t, s200, r.status, "%s: %s", p, r)
		assert.Empty(t, tenantIDRe.FindAllString(string(r.body), 5), "%s names tenants without credentials", p)
	}
	// Unknown paths and methods: refused without data, whoever asks.
	for _, c := range []struct{ method, path string }{{"GET", "/v1/tenants"}, {"GET", "/v1/tenants/t-002"},
		{"DELETE", "/v1/initiatives/" + env.initiative}, {"PUT", "/v1/tenants/t-002/costs"}, {"GET", "/v1/rollups"}} {
		for _, authz := range [][]string{nil, bearer(env.tokens[auth.RoleTenantAdmin])} {
			r := mustDo(t, c.method, env.base+c.path, authz, nil, nil)
			assert.Contains(t, []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusMethodNotAllowed}, r.status,
				"%s %s: %s", c.method, c.path, r)
			checkErrorBody(t, c.method+" "+c.path, r)
		}
	}
	r := mustDo(t, "GET", env.base+"/v1/initiatives/"+env.initiative, bearer(env.tokens[auth.RoleCFO]), nil, nil)
	require.Equal(t, s200, r.status)
	// Strict parsing holds for every GET route, the initiative included.
	r = mustDo(t, "GET", env.base+"/v1/initiatives/"+env.initiative+"?unknown=1", bearer(env.tokens[auth.RoleCFO]), nil, nil)
	assert.Equal(t, s400, r.status, "GET /v1/initiatives/{id} with an unknown parameter: %s", r)

	// Initiative bodies: unknown fields, trailing data and hostile values are 400s, oversized 413.
	cfo := bearer(env.tokens[auth.RoleCFO])
	for name, body := range map[string]string{
		"unknown field":   `{"recommendation_id":"rec_0000000000000000","tenant_id":"t-002"}`,
		"trailing object": `{"recommendation_id":"rec_0000000000000000"}{"x":1}`,
		"not JSON":        `recommendation_id=x`,
		"array":           `[{"recommendation_id":"x"}]`,
		"injected id":     `{"recommendation_id":"rec_' OR 1=1 --"}`,
		"NUL in id":       `{"recommendation_id":"rec_\u0000"}`,
		"oversized":       `{"recommendation_id":"` + strings.Repeat("x", 70<<10) + `"}`,
	} {
		r := mustDo(t, "POST", env.base+"/v1/initiatives", cfo, []byte(body), nil)
		want := s400
		if name == "oversized" {
			want = http.StatusRequestEntityTooLarge
		}
		assert.Equal(t, want, r.status, "POST /v1/initiatives, %s: %s", name, r)
		checkErrorBody(t, name, r)
		checkNoInternals(t, name, r, body)
	}
	get := mustDo(t, "GET", env.base+"/v1/initiatives/"+env.initiative, cfo, nil, nil)
	etag := get.header.Get("ETag")
	for name, c := range map[string]struct {
		ifMatch, body string
		want          int
	}{
		"no If-Match":          {"", `{"notes":"x"}`, http.StatusPreconditionRequired},
		"injected If-Match":    {`"1' OR 1=1 --"`, `{"notes":"x"}`, http.StatusPreconditionRequired},
		"huge If-Match":        {`"99999999999999999999999"`, `{"notes":"x"}`, http.StatusPreconditionRequired},
		"stale If-Match":       {`"1"`, `{"notes":"x"}`, http.StatusPreconditionFailed},
		"unknown field":        {etag, `{"notes":"x","created_by":"someone-else"}`, s400},
		"notes too long":       {etag, `{"notes":"` + strings.Repeat("x", 5000) + `"}`, s400},
		"notes with a NUL":     {etag, `{"notes":"a\u0000b"}`, s400},
		"unknown status":       {etag, `{"status":"' OR 1=1 --"}`, s400},
		"changed_at not time":  {etag, `{"changed_at":"yesterday"}`, s400},
		"trailing data":        {etag, `{"notes":"x"} x`, s400},
		"not JSON":             {etag, `notes=x`, s400},
		"history is read-only": {etag, `{"history":[]}`, s400},
	} {
		hdr := map[string]string{}
		if c.ifMatch != "" {
			hdr["If-Match"] = c.ifMatch
		}
		r := mustDo(t, "PATCH", env.base+"/v1/initiatives/"+env.initiative, cfo, []byte(c.body), hdr)
		assert.Equal(t, c.want, r.status, "PATCH, %s: %s", name, r)
		checkErrorBody(t, name, r)
		checkNoInternals(t, name, r, c.body)
	}
}
