package ingest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/schemas/posthog"
)

type recordingForwarder struct {
	mu  sync.Mutex
	evs []posthog.Event
}

func (f *recordingForwarder) Forward(evs []posthog.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.evs = append(f.evs, evs...)
}

func newTestCapture(t *testing.T, pub *fakePublisher, fwd Forwarder, mutate func(*CaptureConfig)) (*Capture, *http.ServeMux) {
	t.Helper()
	cfg := DefaultCaptureConfig()
	cfg.Projects = map[string]string{"phc_a": "t-a", "phc_b": "t-b"}
	if mutate != nil {
		mutate(&cfg)
	}
	c := NewCapture(cfg, pub, fwd, prometheus.NewRegistry(), nil)
	c.now = func() time.Time { return testNow }
	mux := http.NewServeMux()
	c.Register(mux)
	return c, mux
}

func do(mux http.Handler, method, target string, body []byte, header map[string]string) (*httptest.ResponseRecorder, map[string]any) {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec, out
}

var validBatch = []byte(`{"api_key":"phc_a","batch":[{"event":"e","distinct_id":"d","timestamp":"2026-02-02T10:30:00Z"}]}`)

func TestCaptureRoutes(t *testing.T) {
	pub := &fakePublisher{}
	_, mux := newTestCapture(t, pub, nil, nil)
	for _, p := range CapturePaths {
		for _, path := range []string{p, p + "/"} {
			t.Run("POST "+path, func(t *testing.T) {
				rec, body := do(mux, http.MethodPost, path, validBatch, nil)
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				assert.EqualValues(t, 1, body["status"])
				assert.EqualValues(t, 1, body["accepted"])
				assert.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))
			})
			t.Run("GET "+path, func(t *testing.T) {
				data := base64.StdEncoding.EncodeToString([]byte(`{"event":"e","distinct_id":"d","properties":{"token":"phc_a"}}`))
				rec, body := do(mux, http.MethodGet, path+"?data="+url.QueryEscape(data)+"&ip=1&_=1700000000000", nil, nil)
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				assert.EqualValues(t, 1, body["accepted"])
			})
		}
	}
	rec, _ := do(mux, http.MethodOptions, "/e/", nil, map[string]string{"Origin": "https://app.example.com"})
	assert.Equal(t, http.StatusNoContent, rec.Code)
	assert.Contains(t, rec.Header().Get("Access-Control-Allow-Methods"), "POST")
	rec, body := do(mux, http.MethodPut, "/batch/", validBatch, nil)
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, "method_not_allowed", body["error"].(map[string]any)["code"])
}

func TestCapturePublishes(t *testing.T) {
	pub := &fakePublisher{}
	fwd := &recordingForwarder{}
	_, mux := newTestCapture(t, pub, fwd, nil)
	body := `{"api_key":"phc_b","batch":[
		{"event":"a","distinct_id":"u1","uuid":"0190A5A4-0000-7000-8000-000000000001","timestamp":"2026-02-02T10:30:00Z"},
		{"event":"b","distinct_id":"u2","timestamp":"2026-02-02T10:31:00Z","properties":{"$set":{"plan":"pro"}}}]}`
	rec, _ := do(mux, http.MethodPost, "/batch/", []byte(body), nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Len(t, pub.calls, 1)
	msgs := pub.calls[0]
	require.Len(t, msgs, 2)
	assert.Equal(t, "posthog.capture.event.t-b", msgs[0].Subject)
	assert.Equal(t, "t-b:0190a5a4-0000-7000-8000-000000000001", msgs[0].MsgID, "uuid lower-cased, scoped by tenant")
	assert.True(t, strings.HasPrefix(msgs[1].MsgID, "t-b:"), "derived uuid")
	r, err := posthog.DecodeRecord(msgs[1].Data)
	require.NoError(t, err)
	assert.Equal(t, "t-b", r.TenantID)
	assert.Equal(t, "pro", r.Set["plan"])
	assert.Equal(t, time.Date(2026, 2, 2, 10, 31, 0, 0, time.UTC), r.Timestamp)

	// The same request again: the stream reports duplicates; nothing is forwarded twice.
	pub.dup = map[string]bool{msgs[0].MsgID: true, msgs[1].MsgID: true}
	rec, out := do(mux, http.MethodPost, "/batch/", []byte(body), nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.EqualValues(t, 2, out["duplicates"])
	assert.Equal(t, pub.calls[0][1].MsgID, pub.calls[1][1].MsgID, "a retry derives the same uuid")
	assert.Len(t, fwd.evs, 2, "only the first copy is forwarded")
}

func TestCaptureBadInput(t *testing.T) {
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		_, _ = w.Write([]byte(s))
		_ = w.Close()
		return b.Bytes()
	}
	many := `{"api_key":"phc_a","batch":[` + strings.Repeat(`{"event":"e","distinct_id":"d"},`, 10) + `{"event":"e","distinct_id":"d"}]}`
	tests := []struct {
		name     string
		path     string
		body     []byte
		header   map[string]string
		mutate   func(*CaptureConfig)
		pub      *fakePublisher
		status   int
		code     string   // error code for whole-request refusals
		reasons  []string // rejected reasons for 200s
		accepted int
	}{
		{name: "unknown key", body: []byte(`{"api_key":"phc_zzz","batch":[{"event":"e","distinct_id":"d"}]}`), status: 401, code: "invalid_api_key"},
		{name: "no key", body: []byte(`{"batch":[{"event":"e","distinct_id":"d"}]}`), status: 401, code: posthog.CodeMissingAPIKey},
		{name: "personal key", body: []byte(`{"api_key":"phx_1","batch":[{"event":"e","distinct_id":"d"}]}`), status: 401, code: posthog.CodePersonalAPIKey},
		{name: "mixed tokens", body: []byte(`[{"event":"e","distinct_id":"d","properties":{"token":"phc_a"}},{"event":"e","distinct_id":"d","properties":{"token":"phc_b"}}]`), status: 400, code: posthog.CodeMixedTokens},
		{name: "malformed json", body: []byte(`{"api_key":"phc_a","batch":[{`), status: 400, code: posthog.CodeInvalidJSON},
		{name: "empty body", body: nil, status: 400, code: posthog.CodeEmptyBody},
		{name: "bad gzip", body: []byte{0x1f, 0x8b, 1, 2, 3}, status: 400, code: posthog.CodeBadEncoding},
		{name: "unsupported encoding", body: validBatch, header: map[string]string{"Content-Encoding": "br"}, status: 400, code: posthog.CodeUnsupportedEncoding},
		{name: "gzip by header", body: gz(string(validBatch)), header: map[string]string{"Content-Encoding": "gzip"}, status: 200, accepted: 1},
		{name: "gzip by query", path: "/e/?compression=gzip-js", body: gz(string(validBatch)), status: 200, accepted: 1},
		{name: "body too large", body: validBatch, mutate: func(c *CaptureConfig) { c.Limits.MaxBodyBytes = 20 }, status: 413, code: posthog.CodeBodyTooLarge},
		{name: "too many events", body: []byte(many), mutate: func(c *CaptureConfig) { c.Limits.MaxEvents = 5 }, status: 413, code: posthog.CodeTooManyEvents},
		{name: "bad events among good", body: []byte(`{"api_key":"phc_a","batch":[
			{"event":"ok","distinct_id":"d"},
			{"event":"x"},
			{"distinct_id":"d"},
			{"event":5,"distinct_id":"d"},
			{"event":"x","distinct_id":"d","timestamp":"2999-01-01T00:00:00Z"},
			{"event":"x","distinct_id":"d","timestamp":"1990-01-01T00:00:00Z"},
			{"event":"x","distinct_id":"d","timestamp":"soon"}]}`), status: 200, accepted: 1,
			reasons: []string{"missing_distinct_id", "missing_event", "wrong_type", "future_timestamp", "too_old", "bad_timestamp"}},
		{name: "every event bad still 200", body: []byte(`{"api_key":"phc_a","batch":[{"event":"x"}]}`), status: 200,
			reasons: []string{"missing_distinct_id"}},
		{name: "jetstream down", body: validBatch, pub: &fakePublisher{failAll: true}, status: 503, code: "unavailable"},
		{name: "overloaded", body: validBatch, mutate: func(c *CaptureConfig) { c.MaxInflightEvents = 1; c.QueueWait = time.Millisecond },
			pub: &fakePublisher{}, status: 429, code: "overloaded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := tt.pub
			if pub == nil {
				pub = &fakePublisher{}
			}
			c, mux := newTestCapture(t, pub, nil, tt.mutate)
			if tt.name == "overloaded" {
				require.True(t, c.sem.TryAcquire(1)) // capacity taken by another request
			}
			path := tt.path
			if path == "" {
				path = "/batch/"
			}
			rec, body := do(mux, http.MethodPost, path, tt.body, tt.header)
			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			if tt.code != "" {
				require.Equal(t, tt.code, body["error"].(map[string]any)["code"])
				if tt.status == 503 || tt.status == 429 {
					assert.Equal(t, "1", rec.Header().Get("Retry-After"))
				}
				return
			}
			assert.EqualValues(t, tt.accepted, body["accepted"])
			var got []string
			for _, r := range body["rejected"].([]any) {
				got = append(got, r.(map[string]any)["reason"].(string))
			}
			assert.ElementsMatch(t, tt.reasons, got)
			for _, r := range tt.reasons {
				assert.GreaterOrEqual(t, testutil.ToFloat64(c.metrics.rejected.WithLabelValues(r)), 1.0, r)
			}
		})
	}
}

func TestParseProjects(t *testing.T) {
	got, err := ParseProjects(" phc_a = t-1 ,phc_b=t-2,, ")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"phc_a": "t-1", "phc_b": "t-2"}, got)
	for _, bad := range []string{"phc_a", "=t", "phc_a=bad tenant", "phx_a=t", "phc_a=t1,phc_a=t2"} {
		_, err := ParseProjects(bad)
		assert.Error(t, err, bad)
	}
}
