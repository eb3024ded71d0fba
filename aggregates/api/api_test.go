package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/api"
	"github.com/spendstream/spendstream/aggregates/api/apitest"
	"github.com/spendstream/spendstream/aggregates/auth"
	"github.com/spendstream/spendstream/schemas/events"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current output")

// testNow is the fixed clock: a few minutes after the fixture's data ends.
var testNow = time.Date(2026, 3, 2, 2, 7, 30, 0, time.UTC)

var _ api.Reader = (*apitest.Store)(nil)

func TestFakeConformance(t *testing.T) {
	apitest.RunReaderSuite(t, func(*testing.T) apitest.Reader { return apitest.NewStore() })
}

// newStore returns the fake filled with the conformance fixture, with live partitions 0 and 1 fresh
// (the oldest a minute behind testNow) and the backfill lane behind.
func newStore(t *testing.T) *apitest.Store {
	t.Helper()
	s := apitest.NewStore()
	for _, b := range apitest.NewFixture().Batches {
		require.NoError(t, s.WriteBatch(context.Background(), b))
	}
	at := func(hms string) time.Time {
		v, err := time.Parse(time.TimeOnly, hms)
		require.NoError(t, err)
		return time.Date(2026, 3, 2, v.Hour(), v.Minute(), v.Second(), 0, time.UTC)
	}
	set := func(lane events.Lane, partition uint16, seq, n uint64, asOf, flushed string) {
		s.SetProgress(aggregates.Progress{Position: aggregates.Position{Lane: lane, Partition: partition,
			StreamSeq: seq, AsOf: at(asOf), Events: n}, FlushedAt: at(flushed)})
	}
	set(events.LaneLive, 0, 1200, 800, "02:06:58", "02:07:00")
	set(events.LaneLive, 1, 950, 610, "02:06:30", "02:07:01")
	set(events.LaneBackfill, 0, 40, 40, "01:40:00", "01:40:02")
	return s
}

func newAPI(t *testing.T, s *apitest.Store, mutate func(*api.Config)) (http.Handler, *prometheus.Registry) {
	t.Helper()
	cfg := api.Config{Partitions: 2, Now: func() time.Time { return testNow }, Authenticate: as(auth.RoleCFO, "")}
	if mutate != nil {
		mutate(&cfg)
	}
	reg := prometheus.NewRegistry()
	return api.New(cfg, s, nil, reg), reg
}

func do(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

// as authenticates every request as one role (and tenant, for tenant_admin).
func as(role auth.Role, tenant string) func(*http.Request) (auth.Principal, error) {
	return func(*http.Request) (auth.Principal, error) {
		return auth.Principal{Subject: "test-" + string(role), Roles: []auth.Role{role}, TenantID: tenant}, nil
	}
}

func tenantScope(id string) func(*api.Config) {
	return func(c *api.Config) { c.Authenticate = as(auth.RoleTenantAdmin, id) }
}

func TestGolden(t *testing.T) {
	const day = "from=2026-03-01T22:00:00Z&to=2026-03-02T02:00:00Z"
	cases := map[string]struct {
		target string
		config func(*api.Config)
	}{
		"email_volume_default":             {target: "/v1/rollups/email-volume?" + day},
		"email_volume_daily_by_pool":       {target: "/v1/rollups/email-volume?step=1d&group_by=pool&from=2026-03-01T00:00:00Z&to=2026-03-03T00:00:00Z"},
		"email_volume_tenant_scope":        {target: "/v1/rollups/email-volume?group_by=ip&" + day, config: tenantScope("t-b")},
		"email_volume_no_data":             {target: "/v1/rollups/email-volume?from=2026-02-01T00:00:00Z&to=2026-02-01T03:00:00Z"},
		"vps_utilization_5m_filtered":      {target: "/v1/rollups/vps-utilization?step=5m&tenant_id=t-a&provider=ovh&from=2026-03-01T22:00:00Z&to=2026-03-01T22:30:00Z"},
		"vps_utilization_1h_by_tenant":     {target: "/v1/rollups/vps-utilization?group_by=tenant_id&" + day},
		"vps_utilization_default_range_1d": {target: "/v1/rollups/vps-utilization?step=1d&group_by=plan,provider"},
		"vps_utilization_partition_missing": {target: "/v1/rollups/vps-utilization?step=1d&group_by=region",
			config: func(c *api.Config) { c.Partitions = 3 }},
		"freshness": {target: "/v1/freshness", config: func(c *api.Config) {
			c.Lag = func(context.Context) map[string]uint64 { return map[string]uint64{"live": 12, "backfill": 0} }
		}},
		"freshness_tenant_scope": {target: "/v1/freshness", config: func(c *api.Config) {
			tenantScope("t-a")(c)
			c.Lag = func(context.Context) map[string]uint64 { return map[string]uint64{"live": 12} }
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h, _ := newAPI(t, newStore(t), tc.config)
			rec := do(h, http.MethodGet, tc.target)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
			var pretty bytes.Buffer
			require.NoError(t, json.Indent(&pretty, rec.Body.Bytes(), "", "  "))
			path := filepath.Join("testdata", name+".golden.json")
			if *update {
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(path, pretty.Bytes(), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./aggregates/api -run TestGolden -update")
			require.Equal(t, string(want), pretty.String())
		})
	}
}

// TestEnvelope pins the properties every success shares, beyond the golden files.
func TestEnvelope(t *testing.T) {
	s := newStore(t)
	h, _ := newAPI(t, s, nil)
	for _, target := range []string{"/v1/rollups/email-volume", "/v1/rollups/vps-utilization", "/v1/freshness"} {
		s.Reads = nil
		rec := do(h, http.MethodGet, target)
		require.Equal(t, http.StatusOK, rec.Code)
		var env map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env))
		require.JSONEq(t, `"2026-03-02T02:06:30Z"`, string(env["aggregated_as_of"]), target)
		require.JSONEq(t, `"2026-03-02T02:07:30Z"`, string(env["generated_at"]), target)
		require.Contains(t, env, "freshness")
		require.Contains(t, env, "data")
		if target != "/v1/freshness" {
			require.JSONEq(t, `{"from":"2026-03-01T03:00:00Z","to":"2026-03-02T03:00:00Z","step":"1h"}`, string(env["window"]))
			// Progress is read before the rows it stamps.
			require.Equal(t, "LaneProgress", s.Reads[0].Method)
			require.Len(t, s.Reads, 2)
		} else {
			require.NotContains(t, env, "window")
		}
	}
}

func TestScopeReachesTheReader(t *testing.T) {
	s := newStore(t)
	h, _ := newAPI(t, s, tenantScope("t-a"))
	rec := do(h, http.MethodGet, "/v1/rollups/vps-utilization?group_by=tenant_id&tenant_id=t-b&from=2026-03-01T22:00:00Z&to=2026-03-02T02:00:00Z")
	require.Equal(t, http.StatusForbidden, rec.Code, "a tenant asking for another tenant is refused")
	require.Empty(t, s.Reads)
	rec = do(h, http.MethodGet, "/v1/rollups/vps-utilization?group_by=tenant_id&from=2026-03-01T22:00:00Z&to=2026-03-02T02:00:00Z")
	require.Equal(t, http.StatusOK, rec.Code)
	require.NotContains(t, rec.Body.String(), `"t-b"`)
	require.NotEmpty(t, s.Reads)
	for _, r := range s.Reads {
		require.Equal(t, aggregates.Scope{TenantID: "t-a"}, r.Scope)
	}
	rec = do(h, http.MethodGet, "/v1/rollups/vps-utilization?group_by=tenant_id&from=2026-03-01T22:00:00Z&to=2026-03-02T02:00:00Z")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), `"tenant_id":"t-a"`)
	require.NotContains(t, rec.Body.String(), `"t-b"`)
}

func TestErrors(t *testing.T) {
	boom := errors.New(`clickhouse [execute]:: 500 code: 60, message: Table spendstream.vps_util_5m doesn't exist: SELECT secret FROM t`)
	cases := map[string]struct {
		method, target string
		config         func(*api.Config)
		readerErr      error
		status         int
		body           string
		noRead         bool // the reader must not be called
	}{
		"unknown parameter": {target: "/v1/rollups/email-volume?foo=1", status: 400, noRead: true,
			body: `{"error":{"code":"bad_parameter","message":"\"foo\": unknown parameter; want one of from, to, step, tenant_id, provider, group_by"}}`},
		"email 5m": {target: "/v1/rollups/email-volume?step=5m", status: 400, noRead: true,
			body: `{"error":{"code":"bad_parameter","message":"step: 5m is finer than the 1h email roll-up; want one of 1h, 1d"}}`},
		"bad from": {target: "/v1/rollups/vps-utilization?from=" + strings.Repeat("x", 300), status: 400, noRead: true,
			body: `{"error":{"code":"bad_parameter","message":"from: want an RFC 3339 time such as 2026-03-01T00:00:00Z, got \"` + strings.Repeat("x", 64) + `\"…"}}`},
		"too many windows": {target: "/v1/rollups/vps-utilization?step=5m&from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", status: 400, noRead: true,
			body: `{"error":{"code":"bad_parameter","message":"from/to: the range holds 105120 windows of 5m; want at most 10000 (shorten the range or use a coarser step)"}}`},
		"malformed query": {target: "/v1/rollups/vps-utilization?step=%zz", status: 400, noRead: true,
			body: `{"error":{"code":"bad_parameter","message":"query: malformed query string; want name=value pairs joined by & and URL-encoded"}}`},
		"freshness takes no parameters": {target: "/v1/freshness?step=1h", status: 400, noRead: true,
			body: `{"error":{"code":"bad_parameter","message":"\"step\": unknown parameter; this endpoint takes none"}}`},
		"unknown path under v1": {target: "/v1/rollups/nope", status: 404, noRead: true,
			body: `{"error":{"code":"not_found","message":"no such endpoint"}}`},
		"unknown path": {target: "/nope", status: 404, noRead: true,
			body: `{"error":{"code":"not_found","message":"no such endpoint"}}`},
		"trailing slash": {target: "/v1/freshness/", status: 404, noRead: true,
			body: `{"error":{"code":"not_found","message":"no such endpoint"}}`},
		"wrong method": {method: http.MethodPost, target: "/v1/rollups/email-volume", status: 405, noRead: true,
			body: `{"error":{"code":"method_not_allowed","message":"want one of GET, HEAD"}}`},
		"clickhouse down": {target: "/v1/rollups/email-volume", readerErr: boom, status: 503,
			body: `{"error":{"code":"unavailable","message":"clickhouse unavailable"}}`},
		"clickhouse down for freshness": {target: "/v1/freshness", readerErr: boom, status: 503,
			body: `{"error":{"code":"unavailable","message":"clickhouse unavailable"}}`},
		"result too large": {target: "/v1/rollups/vps-utilization?step=5m&from=2026-03-01T22:00:00Z&to=2026-03-02T02:00:00Z",
			config: func(c *api.Config) { c.MaxRows = 10 }, status: 400,
			body: `{"error":{"code":"result_too_large","message":"the result has more than 10 rows; narrow from/to, filter by tenant_id or provider, group by fewer dimensions or use a coarser step"}}`},
		"unauthenticated": {target: "/v1/rollups/email-volume", status: 401, noRead: true,
			config: func(c *api.Config) {
				c.Authenticate = func(*http.Request) (auth.Principal, error) { return auth.Principal{}, errors.New("expired") }
			},
			body: `{"error":{"code":"unauthenticated","message":"missing or invalid credentials"}}`},
		"forbidden": {target: "/v1/rollups/vps-utilization", status: 403, noRead: true,
			config: func(c *api.Config) { c.Authenticate = as(auth.RoleProcurement, "") },
			body:   `{"error":{"code":"forbidden","message":"not allowed"}}`},
		"a principal without roles fails closed": {target: "/v1/rollups/vps-utilization", status: 403, noRead: true,
			config: func(c *api.Config) {
				c.Authenticate = func(*http.Request) (auth.Principal, error) { return auth.Principal{Subject: "x"}, nil }
			},
			body: `{"error":{"code":"forbidden","message":"not allowed"}}`},
		"a panic is a clean 500": {target: "/v1/rollups/vps-utilization", status: 500, noRead: true,
			config: func(c *api.Config) {
				c.Authenticate = func(*http.Request) (auth.Principal, error) { panic("nil map in role lookup") }
			},
			body: `{"error":{"code":"internal","message":"internal error"}}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			s.Err = tc.readerErr
			h, _ := newAPI(t, s, tc.config)
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			rec := do(h, method, tc.target)
			require.Equal(t, tc.status, rec.Code)
			require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
			require.JSONEq(t, tc.body, rec.Body.String())
			if tc.noRead {
				require.Empty(t, s.Reads)
			}
			if tc.status == 405 {
				require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
			}
		})
	}
}

func TestHealthAndReadiness(t *testing.T) {
	h, _ := newAPI(t, newStore(t), nil)
	rec := do(h, http.MethodGet, "/healthz")
	require.Equal(t, 200, rec.Code)
	require.JSONEq(t, `{"status":"ok"}`, rec.Body.String())

	rec = do(h, http.MethodGet, "/readyz")
	require.Equal(t, 200, rec.Code)
	require.JSONEq(t, `{"status":"ready","checks":{}}`, rec.Body.String())

	ok := func(context.Context) error { return nil }
	down := func(context.Context) error {
		return errors.New("dial tcp 127.0.0.1:19000: connect: connection refused")
	}
	slow := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	h, _ = newAPI(t, newStore(t), func(c *api.Config) {
		c.Ready = map[string]func(context.Context) error{"clickhouse": ok, "nats": ok}
	})
	rec = do(h, http.MethodGet, "/readyz")
	require.Equal(t, 200, rec.Code)
	require.JSONEq(t, `{"status":"ready","checks":{"clickhouse":"ok","nats":"ok"}}`, rec.Body.String())

	h, _ = newAPI(t, newStore(t), func(c *api.Config) {
		c.Ready = map[string]func(context.Context) error{"clickhouse": down, "nats": slow, "schema": ok}
		c.ReadyTimeout = 50 * time.Millisecond
	})
	rec = do(h, http.MethodGet, "/readyz")
	require.Equal(t, 503, rec.Code)
	require.JSONEq(t, `{"status":"unavailable","checks":{"clickhouse":"unavailable","nats":"unavailable","schema":"ok"},
		"error":{"code":"unavailable","message":"not ready: clickhouse, nats unavailable"}}`, rec.Body.String())
	require.NotContains(t, rec.Body.String(), "refused")

	rec = do(h, http.MethodDelete, "/readyz")
	require.Equal(t, 405, rec.Code)
}

func TestMetrics(t *testing.T) {
	h, reg := newAPI(t, newStore(t), nil)
	do(h, http.MethodGet, "/v1/rollups/email-volume")
	do(h, http.MethodGet, "/v1/rollups/email-volume")
	do(h, http.MethodGet, "/v1/rollups/email-volume?step=5m")
	do(h, http.MethodGet, "/v1/does/not/exist/123")
	do(h, http.MethodPost, "/v1/freshness")

	counts := map[string]float64{}
	observed := map[string]uint64{}
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch f.GetName() {
			case "spendstream_http_requests_total":
				counts[labels["route"]+" "+labels["code"]] = m.GetCounter().GetValue()
			case "spendstream_http_request_duration_seconds":
				observed[labels["route"]] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	require.Equal(t, map[string]float64{
		"GET /v1/rollups/email-volume 200": 2,
		"GET /v1/rollups/email-volume 400": 1,
		"/ 404":                            1,
		"/v1/freshness 405":                1,
	}, counts)
	require.Equal(t, map[string]uint64{"GET /v1/rollups/email-volume": 3, "/": 1, "/v1/freshness": 1}, observed)

	// A second handler on the same registry shares the series instead of panicking.
	require.NotPanics(t, func() { api.New(api.Config{Partitions: 1}, newStore(t), nil, reg) })
}

func TestConfigValidate(t *testing.T) {
	require.Error(t, api.Config{}.Validate())
	require.Error(t, api.Config{Partitions: 257}.Validate())
	require.Error(t, api.Config{Partitions: 1, Ready: map[string]func(context.Context) error{"x": nil}}.Validate())
	require.NoError(t, api.Config{Partitions: 4}.Validate())
	require.Panics(t, func() { api.New(api.Config{}, apitest.NewStore(), nil, nil) })
}

func TestWithoutReader(t *testing.T) {
	h := api.New(api.Config{Partitions: 1}, nil, nil, nil)
	rec := do(h, http.MethodGet, "/v1/freshness")
	require.Equal(t, http.StatusNotImplemented, rec.Code)
	require.JSONEq(t, `{"error":{"code":"not_implemented","message":"the query API is not enabled in this process"}}`, rec.Body.String())
	require.Equal(t, http.StatusOK, do(h, http.MethodGet, "/healthz").Code)
	require.Equal(t, http.StatusOK, do(h, http.MethodGet, "/readyz").Code)
	require.Equal(t, http.StatusMethodNotAllowed, do(h, http.MethodPost, "/v1/freshness").Code)
}

func TestHead(t *testing.T) {
	h, _ := newAPI(t, newStore(t), nil)
	rec := do(h, http.MethodHead, "/v1/freshness")
	require.Equal(t, http.StatusOK, rec.Code)
}
