// Package api is spendstream's thin query API over the ClickHouse roll-ups. Each handler turns the
// caller into an aggregates.Scope, parses the query parameters into a typed query, reads through the
// Reader (which enforces the scope in its own queries) and encodes the contract's envelope:
//
//	{"data": [...], "aggregated_as_of": ..., "generated_at": ..., "freshness": {...}, "window": {...}}
//
// Routes:
//
//	GET /v1/rollups/email-volume     email volume per window (steps 1h, 1d)
//	GET /v1/rollups/vps-utilization  VPS utilization per window (steps 5m, 1h, 1d)
//	GET /v1/rollups/events           PostHog event counts per window (steps 1h, 1d)
//	GET /v1/segments                 tenant plan/tier in force at a time
//	GET /v1/freshness                per-pipeline progress, lag and status
//	GET /healthz, GET /readyz        liveness and readiness
//
// Freshness comes from the data: aggregated_as_of is the oldest committed watermark over the live
// lane's partitions, read from ClickHouse before the rows it stamps; only generated_at and the lags
// derived from it use the clock. The package does no roll-up arithmetic.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/auth"
	"github.com/spendstream/spendstream/aggregates/cost"
	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
	"github.com/spendstream/spendstream/aggregates/window"
	"github.com/spendstream/spendstream/schemas/events"
)

// Reader is what the API needs from the roll-up store; *clickhouse.Store implements it. Every method
// takes the caller's Scope and must apply it itself, so a tenant-scoped caller never receives another
// tenant's rows, whatever the handler does.
type Reader interface {
	EmailVolume(ctx context.Context, scope aggregates.Scope, q aggregates.EmailQuery) ([]aggregates.EmailRow, error)
	VPSUtilization(ctx context.Context, scope aggregates.Scope, q aggregates.VPSQuery) ([]aggregates.VPSRow, error)
	// LaneProgress returns the committed progress of every lane partition that has flushed.
	LaneProgress(ctx context.Context, scope aggregates.Scope) ([]aggregates.Progress, error)
}

// EventReader is the optional part of a Reader that serves the PostHog roll-ups; without it the
// event routes answer 501. Like Reader, every method applies the Scope itself.
type EventReader interface {
	Events(ctx context.Context, scope aggregates.Scope, q aggregates.EventQuery) ([]aggregates.EventRow, error)
	Segments(ctx context.Context, scope aggregates.Scope, q aggregates.SegmentQuery) ([]aggregates.SegmentRow, error)
}

// Errors a Config.Scope function returns to refuse a request; they map to 401 and 403.
var (
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrForbidden       = errors.New("forbidden")
)

// Defaults of Config.
const (
	DefaultDelayedAfter = 2 * time.Minute
	DefaultMaxRows      = 100_000
	DefaultReadyTimeout = 2 * time.Second
	DefaultQueryTimeout = 15 * time.Second
	// MaxWindows bounds the windows a roll-up request may span (per group).
	MaxWindows = 10_000
)

// Config of the API. The zero value of every field but Partitions has a default.
type Config struct {
	// Partitions is the number of JetStream partitions of each lane (streams.Config.Partitions).
	// aggregated_as_of is the minimum watermark over partitions 0..Partitions-1 of the live lane; a
	// partition that has never flushed makes it null. Required: 1..256.
	Partitions int
	// DelayedAfter is the lag above which a pipeline is "delayed" (default 2m).
	DelayedAfter time.Duration
	// MaxRows caps the rows of one roll-up response; a larger result is a 400 result_too_large
	// (default 100,000).
	MaxRows int
	// Authenticate identifies the caller of a request (e.g. auth.Verifier.Authenticate). An error
	// is a 401; the error text is logged, never sent. Nil refuses every /v1 request (fail closed).
	Authenticate func(*http.Request) (auth.Principal, error)
	// Matrix says what each role may do (default auth.DefaultMatrix()).
	Matrix *auth.Matrix
	// Audit receives one record per /v1 request (default: an "audit" log line).
	Audit func(auth.AuditRecord)
	// Limiter, when set, bounds each caller's request rate (by subject): 429 with Retry-After.
	Limiter *auth.Limiter
	// Prices returns the price list in force (nil: none loaded; cost endpoints answer 503). The
	// cost endpoints exist when it is set and the reader implements CostReader.
	Prices func() *pricelist.PriceList
	// Recommend holds the recommendation thresholds and lookback (zero fields: defaults).
	Recommend cost.RecommendConfig
	// CostCacheTTL is how long a computed cost model is reused (default 30 s; negative: never).
	// Responses from a reused model are stamped with the data it was computed from.
	CostCacheTTL time.Duration
	// CostCacheStale is how long past CostCacheTTL a cached model is still served, at once and
	// stamped with the data it was computed from, while one background refresh recomputes it
	// (default 10m; negative: never, the request waits for a new model).
	CostCacheStale time.Duration
	// CostCacheRefreshFactor stretches CostCacheTTL for models that take long to compute: a model
	// stays fresh for at least this many times its compute time, so that refreshing a long window
	// of a large fleet in the background (a minute of work for a year of 20,000 resources here)
	// takes at most about 1/factor of a core while it is in use (default 10; negative: off, the
	// TTL alone).
	CostCacheRefreshFactor float64
	// CostPrewarm computes the models of the default windows (the default cost window and the
	// recommendation lookback, ending today) when the handler is created, and keeps them fresh
	// until Background is done. It needs the cache (CostCacheTTL not negative).
	CostPrewarm bool
	// CostDayCacheRows bounds the daily usage rows of closed days kept for the cost models (see
	// dayCache): a model then reads from ClickHouse only the days not read before and the open
	// ones (default DefaultCostDayCacheRows; negative: off, every model reads its whole window).
	CostDayCacheRows int
	// CostDayCachePrefill, with CostPrewarm, reads the days of this span before today into the day
	// cache once the default windows' models are computed, so that a model of another window in it
	// reads no closed day from ClickHouse (default 0: none; the command's default is 365 days).
	CostDayCachePrefill time.Duration
	// AllowedLateness is how long after its window closes a late live event may still be counted:
	// at least the consumers' (consumers.Rules.AllowedLateness). A day is final for the day cache
	// once every live partition's as_of is this far past its end (default
	// window.DefaultAllowedLateness, the consumers' default).
	AllowedLateness time.Duration
	// LowPriority, when set, marks the context of a background model computation (a refresh of a
	// stale model, pre-warming) so the store serves its reads at low priority: a refresh then
	// competes less with the requests served meanwhile. clickhouse.LowPriority is one.
	LowPriority func(context.Context) context.Context
	// Background is the context of background work (cost model refreshes and pre-warming); it
	// stops when it is done (default context.Background()).
	Background context.Context
	// Initiatives stores tracked initiatives; the initiative routes exist when it and the cost
	// endpoints are set.
	Initiatives InitiativeStore
	// Ready holds the readiness checks of /readyz by dependency name (e.g. "clickhouse", "nats").
	Ready map[string]func(context.Context) error
	// ReadyTimeout bounds each readiness check (default 2s).
	ReadyTimeout time.Duration
	// QueryTimeout bounds the reads of one request (default 15s); past it the answer is a 503.
	QueryTimeout time.Duration
	// Lag, when set, reports the JetStream messages pending per pipeline ("live", "backfill");
	// /v1/freshness shows them as pending_messages.
	Lag func(context.Context) map[string]uint64
	// Now is the clock of generated_at and lags (default time.Now).
	Now func() time.Time
	// Web, when set, serves the web page: GET / and everything under /ui/ (aggregates/web). Other
	// unknown paths keep the JSON 404.
	Web http.Handler
}

func (c *Config) setDefaults() {
	if c.DelayedAfter <= 0 {
		c.DelayedAfter = DefaultDelayedAfter
	}
	if c.MaxRows <= 0 {
		c.MaxRows = DefaultMaxRows
	}
	if c.Authenticate == nil {
		c.Authenticate = func(*http.Request) (auth.Principal, error) {
			return auth.Principal{}, errors.New("no authenticator configured")
		}
	}
	if c.Matrix == nil {
		m := auth.DefaultMatrix()
		c.Matrix = &m
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = DefaultQueryTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.CostCacheTTL == 0 {
		c.CostCacheTTL = DefaultCostCacheTTL
	}
	if c.CostCacheRefreshFactor == 0 {
		c.CostCacheRefreshFactor = DefaultCostCacheRefreshFactor
	}
	if c.CostCacheStale == 0 {
		c.CostCacheStale = DefaultCostCacheStale
	}
	if c.CostDayCacheRows == 0 {
		c.CostDayCacheRows = DefaultCostDayCacheRows
	}
	if c.AllowedLateness <= 0 {
		c.AllowedLateness = window.DefaultAllowedLateness
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Partitions < 1 || c.Partitions > 256 {
		return fmt.Errorf("api partitions %d: want 1..256", c.Partitions)
	}
	for name, f := range c.Ready {
		if name == "" || f == nil {
			return fmt.Errorf("api readiness check %q: want a name and a function", name)
		}
	}
	return nil
}

type server struct {
	cfg     Config
	reader  Reader
	events  EventReader // nil when the reader has no event roll-ups
	costs   CostReader  // nil when the cost endpoints are off
	inits   InitiativeStore
	cache   modelCache
	days    *dayCache
	log     *slog.Logger
	metrics *httpMetrics
	mux     *http.ServeMux
}

// New returns the API handler. It panics if cfg is invalid (call cfg.Validate first to get an
// error). With a nil reader (a process without the api role) the /v1 query routes answer 501 and
// /healthz and /readyz still work. log and reg may be nil.
func New(cfg Config, reader Reader, log *slog.Logger, reg prometheus.Registerer) http.Handler {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	cfg.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	metrics := newHTTPMetrics(reg)
	s := &server{cfg: cfg, reader: reader, log: log, metrics: metrics, mux: http.NewServeMux(),
		cache: modelCache{ttl: cfg.CostCacheTTL, stale: cfg.CostCacheStale, factor: max(cfg.CostCacheRefreshFactor, 0)},
		days:  &dayCache{max: cfg.CostDayCacheRows, lateness: cfg.AllowedLateness, gauge: metrics.costDayRows}}
	s.handle("GET /healthz", s.healthz)
	s.handle("GET /readyz", s.readyz)
	s.handle("GET /openapi.json", s.openapi)
	if cfg.Audit == nil {
		s.cfg.Audit = func(a auth.AuditRecord) { auth.LogAudit(log, a) }
	}
	if reader != nil {
		s.handle("GET /v1/rollups/email-volume", s.scoped(auth.CapRollupsRead, s.emailVolume))
		s.handle("GET /v1/rollups/vps-utilization", s.scoped(auth.CapRollupsRead, s.vpsUtilization))
		s.handle("GET /v1/freshness", s.scoped(auth.CapFreshnessRead, s.freshness))
	} else {
		for _, p := range []string{"GET /v1/rollups/email-volume", "GET /v1/rollups/vps-utilization", "GET /v1/freshness"} {
			s.handle(p, s.notEnabled)
		}
	}
	if er, ok := reader.(EventReader); ok {
		s.events = er
		s.handle("GET /v1/rollups/events", s.scoped(auth.CapEventsRead, s.eventCounts))
		s.handle("GET /v1/segments", s.scoped(auth.CapSegmentsRead, s.segments))
	} else {
		s.handle("GET /v1/rollups/events", s.notEnabled)
		s.handle("GET /v1/segments", s.notEnabled)
	}
	costRoutes := []struct {
		pattern string
		need    auth.Capability
		h       func(http.ResponseWriter, *http.Request, caller)
	}{
		{"GET /v1/costs/overview", auth.CapCostsRead, s.costOverview},
		{"GET /v1/costs/breakdown", auth.CapCostsRead, s.costBreakdown},
		{"GET /v1/tenants/{tenant_id}/costs", auth.CapTenantCostsRead, s.tenantCosts},
		{"GET /v1/vendors/compare", auth.CapVendorsRead, s.vendorsCompare},
		{"GET /v1/recommendations", "", s.recommendationsList},
		{"GET /v1/recommendations/{id}", "", s.recommendation},
	}
	cr, ok := reader.(CostReader)
	if ok && cfg.Prices != nil {
		s.costs = cr
	}
	for _, rt := range costRoutes {
		switch {
		case s.costs == nil:
			s.handle(rt.pattern, s.notEnabled)
		case rt.need == "":
			s.handle(rt.pattern, s.authenticated(rt.h))
		default:
			s.handle(rt.pattern, s.scoped(rt.need, rt.h))
		}
	}
	initRoutes := map[string]func(http.ResponseWriter, *http.Request, caller){
		"POST /v1/initiatives": s.createInitiative, "GET /v1/initiatives": s.listInitiatives,
		"GET /v1/initiatives/{id}": s.getInitiative, "PATCH /v1/initiatives/{id}": s.patchInitiative,
	}
	if s.costs != nil && cfg.Initiatives != nil {
		s.inits = cfg.Initiatives
	}
	for pattern, h := range initRoutes {
		if s.inits == nil {
			s.handle(pattern, s.notEnabled)
		} else {
			s.handle(pattern, s.scoped(initiativeCaps[pattern], h))
		}
	}
	// Other methods on a known path: 405 with a JSON body (ServeMux's own 405 is plain text).
	for _, p := range []string{"/healthz", "/readyz", "/v1/rollups/email-volume", "/v1/rollups/vps-utilization",
		"/v1/rollups/events", "/v1/segments", "/v1/freshness", "/v1/costs/overview", "/v1/costs/breakdown",
		"/v1/tenants/{tenant_id}/costs", "/v1/vendors/compare", "/v1/recommendations"} {
		s.handle(p, s.methodNotAllowed("GET, HEAD"))
	}
	s.handle("/v1/initiatives", s.methodNotAllowed("GET, HEAD, POST"))
	s.handle("/v1/initiatives/{id}", s.methodNotAllowed("GET, HEAD, PATCH"))
	if cfg.Web != nil {
		s.handle("GET /{$}", cfg.Web.ServeHTTP)
		s.handle("/ui/", cfg.Web.ServeHTTP)
	}
	s.handle("/", s.notFound)
	if cfg.CostPrewarm {
		go s.prewarm(s.background())
	}
	return s.mux
}

// handle registers h under pattern, instrumented with pattern as its route label.
func (s *server) handle(pattern string, h http.HandlerFunc) {
	s.mux.Handle(pattern, s.instrument(pattern, h))
}

// caller is the authenticated caller of a request and what it may see.
type caller struct {
	principal auth.Principal
	scope     aggregates.Scope
	matrix    *auth.Matrix
}

// can reports whether the caller holds capability c.
func (c caller) can(cp auth.Capability) bool { return c.matrix.Allows(c.principal, cp) }

// identify reports whether the caller may see other tenants' ids: group by, filter or rank by
// tenant across tenants. A tenant-scoped caller only ever sees its own.
func (c caller) identify() bool { return !c.scope.All || c.can(auth.CapTenantsIdentify) }

// errOtherTenant refuses a tenant-scoped caller's request naming another tenant.
var errOtherTenant = fmt.Errorf("%w: another tenant", ErrForbidden)

// checkTenants refuses what the caller may not ask for: another tenant than its own (tenant
// scope), or tenant ids across tenants (filter or grouping) without tenants:identify.
func (c caller) checkTenants(tenantFilter string, groupBy []aggregates.Dimension) error {
	if !c.scope.All && tenantFilter != "" && tenantFilter != c.scope.TenantID {
		return errOtherTenant
	}
	if !c.identify() && (tenantFilter != "" || slices.Contains(groupBy, aggregates.DimTenantID)) {
		return fmt.Errorf("%w: tenant ids need %s", ErrForbidden, auth.CapTenantsIdentify)
	}
	return nil
}

// authenticated is scoped for a handler that checks its own capabilities (it still needs a caller
// with a valid scope).
func (s *server) authenticated(h func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return s.scoped("", h)
}

// scoped authenticates the caller and checks it holds need (none when empty) before h runs; h
// never runs without a valid scope. Every outcome is audited.
func (s *server) scoped(need auth.Capability, h func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		var c caller
		var reason auth.Reason
		defer func() { s.audit(r, c.principal, rec.status, reason) }()
		p, err := s.cfg.Authenticate(r)
		if err != nil {
			reason = auth.ReasonOf(err)
			s.log.Info("request not authenticated", "path", r.URL.Path, "reason", reason, "err", err)
			s.fail(rec, r, ErrUnauthenticated)
			return
		}
		c = caller{principal: p, scope: p.Scope(), matrix: s.cfg.Matrix}
		if s.cfg.Limiter != nil {
			if ok, wait := s.cfg.Limiter.Allow("subject:" + p.Subject); !ok {
				rec.Header().Set("Retry-After", strconv.Itoa(max(1, int(wait.Round(time.Second)/time.Second))))
				s.fail(rec, r, errRateLimited)
				return
			}
		}
		if (need != "" && !c.can(need)) || c.scope.Validate() != nil {
			s.log.Warn("request forbidden", "path", r.URL.Path, "subject", p.Subject, "roles", p.Roles,
				"tenant_id", p.TenantID, "need", need)
			s.fail(rec, r, ErrForbidden)
			return
		}
		h(rec, r, c)
	}
}

// audit records who asked what and how it ended.
func (s *server) audit(r *http.Request, p auth.Principal, status int, reason auth.Reason) {
	params := map[string]string{}
	for k, v := range r.URL.Query() {
		params[k] = strings.Join(v, ",")
	}
	outcome := auth.OutcomeAllowed
	switch {
	case status == http.StatusUnauthorized:
		outcome = auth.OutcomeUnauthenticated
	case status == http.StatusForbidden:
		outcome = auth.OutcomeForbidden
	case status == http.StatusTooManyRequests:
		outcome = auth.OutcomeRateLimited
	case status >= 500:
		outcome = auth.OutcomeError
	case status >= 400:
		outcome = auth.OutcomeInvalid
	}
	s.cfg.Audit(auth.AuditRecord{Time: s.cfg.Now().UTC(), Subject: p.Subject, Roles: p.Roles, TenantID: p.TenantID,
		Method: r.Method, Endpoint: r.URL.Path, Params: params, Status: status, Outcome: outcome, Reason: reason})
}

func (s *server) emailVolume(w http.ResponseWriter, r *http.Request, c caller) {
	scope := c.scope
	now := s.cfg.Now()
	params, err := parseQuery(r)
	var q aggregates.EmailQuery
	if err == nil {
		q, err = parseEmailRequest(params, now)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := c.checkTenants(q.TenantID, q.GroupBy); err != nil {
		s.fail(w, r, err)
		return
	}
	q.Limit = s.cfg.MaxRows + 1
	s.serveRollup(w, r, scope, now, events.LaneLive, q.RollupQuery, func(ctx context.Context) (any, int, error) {
		rows, err := s.reader.EmailVolume(ctx, scope, q)
		return encodeEmailRows(rows, q.GroupBy), len(rows), err
	})
}

func (s *server) vpsUtilization(w http.ResponseWriter, r *http.Request, c caller) {
	scope := c.scope
	now := s.cfg.Now()
	params, err := parseQuery(r)
	var q aggregates.VPSQuery
	if err == nil {
		q, err = parseVPSRequest(params, now)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := c.checkTenants(q.TenantID, q.GroupBy); err != nil {
		s.fail(w, r, err)
		return
	}
	q.Limit = s.cfg.MaxRows + 1
	s.serveRollup(w, r, scope, now, events.LaneLive, q.RollupQuery, func(ctx context.Context) (any, int, error) {
		rows, err := s.reader.VPSUtilization(ctx, scope, q)
		return encodeVPSRows(rows, q.GroupBy), len(rows), err
	})
}

func (s *server) eventCounts(w http.ResponseWriter, r *http.Request, c caller) {
	scope := c.scope
	now := s.cfg.Now()
	params, err := parseQuery(r)
	var q aggregates.EventQuery
	if err == nil {
		q, err = parseEventRequest(params, now)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := c.checkTenants(q.TenantID, q.GroupBy); err != nil {
		s.fail(w, r, err)
		return
	}
	q.Limit = s.cfg.MaxRows + 1
	s.serveRollup(w, r, scope, now, events.LanePostHog, q.RollupQuery, func(ctx context.Context) (any, int, error) {
		rows, err := s.events.Events(ctx, scope, q)
		return encodeEventRows(rows, q.GroupBy), len(rows), err
	})
}

// segmentJSON is one tenant dimension of GET /v1/segments.
type segmentJSON struct {
	Value  string   `json:"value"`
	Since  jsonTime `json:"since"`
	Source string   `json:"source"`
}

type segmentRowJSON struct {
	TenantID string       `json:"tenant_id"`
	Plan     *segmentJSON `json:"plan"`
	Tier     *segmentJSON `json:"tier"`
}

func segmentOf(s *aggregates.Segment) *segmentJSON {
	if s == nil {
		return nil
	}
	return &segmentJSON{Value: s.Value, Since: jsonTime(s.Since), Source: s.Source}
}

// segments serves the plan and tier of each tenant in force at a time, as the posthog lane's
// committed updates say.
func (s *server) segments(w http.ResponseWriter, r *http.Request, c caller) {
	scope := c.scope
	now := s.cfg.Now()
	params, err := parseQuery(r)
	var q aggregates.SegmentQuery
	if err == nil {
		q, err = parseSegmentRequest(params, now)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := c.checkTenants(q.TenantID, []aggregates.Dimension{aggregates.DimTenantID}); err != nil {
		s.fail(w, r, err)
		return
	}
	q.Limit = s.cfg.MaxRows + 1
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	progress, err := s.reader.LaneProgress(ctx, scope)
	if err != nil {
		s.fail(w, r, unavailable("clickhouse", err))
		return
	}
	rows, err := s.events.Segments(ctx, scope, q)
	if err != nil {
		s.fail(w, r, unavailable("clickhouse", err))
		return
	}
	if len(rows) > s.cfg.MaxRows {
		s.fail(w, r, &tooLargeError{max: s.cfg.MaxRows})
		return
	}
	data := make([]segmentRowJSON, len(rows))
	for i, row := range rows {
		data[i] = segmentRowJSON{TenantID: row.TenantID, Plan: segmentOf(row.Plan), Tier: segmentOf(row.Tier)}
	}
	f := buildFreshness(progress, s.cfg.Partitions, now, s.cfg.DelayedAfter)
	s.writeJSON(w, r, http.StatusOK, newEnvelope(data, f, now, events.LanePostHog))
}

// serveRollup reads progress, then the rows, and writes the envelope. Progress is read first: rows
// only grow, so everything up to the watermark read is in the rows read after it.
func (s *server) serveRollup(w http.ResponseWriter, r *http.Request, scope aggregates.Scope, now time.Time,
	lane events.Lane, q aggregates.RollupQuery, read func(context.Context) (any, int, error)) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	progress, err := s.reader.LaneProgress(ctx, scope)
	if err != nil {
		s.fail(w, r, unavailable("clickhouse", err))
		return
	}
	data, n, err := read(ctx)
	if err != nil {
		s.fail(w, r, unavailable("clickhouse", err))
		return
	}
	if n > s.cfg.MaxRows {
		s.fail(w, r, &tooLargeError{max: s.cfg.MaxRows})
		return
	}
	f := buildFreshness(progress, s.cfg.Partitions, now, s.cfg.DelayedAfter)
	env := newEnvelope(data, f, now, lane)
	env.Window = &windowJSON{From: jsonTime(q.From), To: jsonTime(q.To), Step: stepName(q.Step)}
	s.writeJSON(w, r, http.StatusOK, env)
}

func (s *server) freshness(w http.ResponseWriter, r *http.Request, c caller) {
	scope := c.scope
	now := s.cfg.Now()
	params, err := parseQuery(r)
	if err == nil {
		err = parseFreshnessRequest(params)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	progress, err := s.reader.LaneProgress(ctx, scope)
	if err != nil {
		s.fail(w, r, unavailable("clickhouse", err))
		return
	}
	f := buildFreshness(progress, s.cfg.Partitions, now, s.cfg.DelayedAfter)
	var pending map[string]uint64
	if s.cfg.Lag != nil && scope.All {
		pending = s.cfg.Lag(ctx)
	}
	s.writeJSON(w, r, http.StatusOK, newEnvelope(f.detail(scope.All, pending), f, now, events.LaneLive))
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(s.cfg.Ready))
	for name, check := range s.cfg.Ready {
		go func() {
			ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadyTimeout)
			defer cancel()
			results <- result{name, check(ctx)}
		}()
	}
	checks := map[string]string{}
	var failed []string
	for range s.cfg.Ready {
		res := <-results
		if res.err != nil {
			s.log.Warn("readiness check failed", "check", res.name, "err", res.err)
			checks[res.name] = "unavailable"
			failed = append(failed, res.name)
			continue
		}
		checks[res.name] = "ok"
	}
	if len(failed) > 0 {
		s.writeJSON(w, r, http.StatusServiceUnavailable, readyJSON{Status: "unavailable", Checks: checks,
			Error: &errorBody{Code: "unavailable", Message: "not ready: " + joinSorted(failed) + " unavailable"}})
		return
	}
	s.writeJSON(w, r, http.StatusOK, readyJSON{Status: "ready", Checks: checks})
}

type readyJSON struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
	Error  *errorBody        `json:"error,omitempty"`
}

func (s *server) notFound(w http.ResponseWriter, r *http.Request) { s.fail(w, r, errNotFound) }

func (s *server) notEnabled(w http.ResponseWriter, r *http.Request) { s.fail(w, r, errNotEnabled) }

// methodNotAllowed answers 405 naming the methods the path takes.
func (s *server) methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		s.fail(w, r, &methodError{allow: allow})
	}
}
