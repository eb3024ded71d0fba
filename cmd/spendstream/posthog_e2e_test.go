package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	phgo "github.com/posthog/posthog-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/schemas/posthog"
)

// phTruth is the ground truth of the PostHog events a test sent, counted with plain Go: per hour,
// tenant and event, the number of distinct events (by what the test knows to be one event) and the
// set of distinct ids.
type phTruth struct {
	mu    sync.Mutex
	count map[phKey]uint64
	users map[phKey]map[string]bool
}

type phKey struct {
	hour          time.Time
	tenant, event string
}

func newPHTruth() *phTruth {
	return &phTruth{count: map[phKey]uint64{}, users: map[phKey]map[string]bool{}}
}

func (tr *phTruth) add(tenant, event, distinctID string, at time.Time) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	k := phKey{at.UTC().Truncate(time.Hour), tenant, event}
	tr.count[k]++
	if tr.users[k] == nil {
		tr.users[k] = map[string]bool{}
	}
	tr.users[k][distinctID] = true
}

type eventRowJSON struct {
	WindowStart   time.Time `json:"window_start"`
	TenantID      string    `json:"tenant_id"`
	Event         string    `json:"event"`
	Count         uint64    `json:"count"`
	DistinctUsers uint64    `json:"distinct_users"`
}

// rows renders the truth as the API's default grouping (tenant_id, event) would, sorted the same way.
func (tr *phTruth) rows() []eventRowJSON {
	var out []eventRowJSON
	for k, n := range tr.count {
		out = append(out, eventRowJSON{WindowStart: k.hour, TenantID: k.tenant, Event: k.event, Count: n,
			DistinctUsers: uint64(len(tr.users[k]))})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.WindowStart.Equal(b.WindowStart) {
			return a.WindowStart.Before(b.WindowStart)
		}
		if a.TenantID != b.TenantID {
			return a.TenantID < b.TenantID
		}
		return a.Event < b.Event
	})
	return out
}

func postCapture(t *testing.T, target string, body []byte, header map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out), "body %s", b)
	return resp.StatusCode, out
}

func gzipBytes(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// TestPostHogCapture points the real posthog-go client at a running spendstream (captures with and
// without uuids, identifies, group identifies, a large batch), adds gzip and form-encoded requests
// as posthog-js sends them, a retried request, bad events and an unknown key, and checks the event
// roll-ups and the tenant segments read back through the API against what was sent.
func TestPostHogCapture(t *testing.T) {
	stack := newE2E(t, "e2e_posthog")
	base := stack.base

	// Upstream PostHog stand-in for the forwarder: records the uuids it receives under its key.
	var upMu sync.Mutex
	upstream := map[string]int{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		evs, _, err := posthog.Decode(body, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"), r.URL.Query(), time.Now(), posthog.Limits{})
		if err != nil || len(evs) == 0 || evs[0].APIKey != "phc_upstream" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		upMu.Lock()
		for _, e := range evs {
			upstream[e.UUID]++
		}
		upMu.Unlock()
		_, _ = w.Write([]byte(`{"status":1}`))
	}))
	defer up.Close()

	stack.run(t, "--posthog-projects", "phc_alpha=t-alpha,phc_beta=t-beta",
		"--log-level", "warn", "--posthog-forward-url", up.URL, "--posthog-forward-key", "phc_upstream")

	tr := newPHTruth()
	now := time.Now().UTC()
	start := now.Add(-3 * time.Hour).Truncate(time.Hour)
	rng := rand.New(rand.NewPCG(3, 4))
	names := []string{"$pageview", "report_generated", "campaign_sent"}

	// 1. posthog-go, tenant alpha: captures over three hours, half with explicit uuids, plus identifies.
	alpha, err := phgo.NewWithConfig("phc_alpha", phgo.Config{Endpoint: base, BatchSize: 50, Interval: 100 * time.Millisecond})
	require.NoError(t, err)
	var first phgo.Capture
	for i := range 600 {
		at := start.Add(time.Duration(rng.Int64N(int64(3 * time.Hour))))
		c := phgo.Capture{DistinctId: fmt.Sprintf("alpha-user-%d", rng.IntN(40)), Event: names[rng.IntN(len(names))],
			Timestamp: at, Properties: phgo.NewProperties().Set("i", i)}
		if i%2 == 0 {
			c.Uuid = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		}
		require.NoError(t, alpha.Enqueue(c))
		tr.add("t-alpha", c.Event, c.DistinctId, at)
		if i == 0 {
			first = c
		}
	}
	// The first event again with its uuid (an application-level retry): counted once. posthog-go
	// sends batches concurrently, so either copy may reach the stream first; they are the same.
	require.NoError(t, alpha.Enqueue(first))
	idAt := now.Add(-30 * time.Minute)
	require.NoError(t, alpha.Enqueue(phgo.Identify{DistinctId: "alpha-user-1", Timestamp: idAt,
		Properties: phgo.NewProperties().Set("plan", "starter").Set("email", "u1@example.com")}))
	tr.add("t-alpha", "$identify", "alpha-user-1", idAt)
	require.NoError(t, alpha.Close()) // flushes

	// 2. posthog-go, tenant beta: a plan change by group identify, and a large batch.
	cb := &phCallback{}
	beta, err := phgo.NewWithConfig("phc_beta", phgo.Config{Endpoint: base, BatchSize: 1000, Interval: time.Second, Callback: cb})
	require.NoError(t, err)
	planFrom := now.Add(-2 * time.Hour).Truncate(time.Second)
	planChange := now.Add(-20 * time.Minute).Truncate(time.Second)
	for _, g := range []struct {
		at         time.Time
		plan, tier string
	}{{planFrom, "enterprise", "tier-1"}, {planChange, "pro", "tier-2"}} {
		require.NoError(t, beta.Enqueue(phgo.GroupIdentify{Type: "company", Key: "beta-inc", Timestamp: g.at,
			Properties: phgo.NewProperties().Set("plan", g.plan).Set("tier", g.tier)}))
		tr.add("t-beta", "$groupidentify", "$company_beta-inc", g.at)
	}
	for range 5000 {
		at := start.Add(time.Duration(rng.Int64N(int64(3 * time.Hour))))
		c := phgo.Capture{DistinctId: fmt.Sprintf("beta-user-%d", rng.IntN(300)), Event: names[rng.IntN(len(names))],
			Timestamp: at, Groups: phgo.NewGroups().Set("company", "beta-inc"),
			Properties: phgo.NewProperties().Set("padding", strings.Repeat("x", 64))}
		require.NoError(t, beta.Enqueue(c))
		tr.add("t-beta", c.Event, c.DistinctId, at)
	}
	require.NoError(t, beta.Close())
	require.Zero(t, cb.failed.Load(), "posthog-go reported failures: %v", cb.lastErr.Load())

	// 3. posthog-js style: a gzip JSON array to /e/?compression=gzip-js, sent twice (an SDK retry:
	// no uuids, so the derived ones must match and the second copy is dropped).
	var jsEvents []map[string]any
	for i := range 20 {
		at := now.Add(-time.Duration(i) * time.Minute).Truncate(time.Millisecond)
		jsEvents = append(jsEvents, map[string]any{"event": "$pageview", "distinct_id": fmt.Sprintf("web-%d", i%5),
			"timestamp": at.Format(time.RFC3339Nano), "properties": map[string]any{"token": "phc_alpha", "$current_url": "https://example.com/"}})
		tr.add("t-alpha", "$pageview", fmt.Sprintf("web-%d", i%5), at)
	}
	raw, err := json.Marshal(jsEvents)
	require.NoError(t, err)
	gz := gzipBytes(t, raw)
	for attempt := range 2 {
		status, body := postCapture(t, base+"/e/?compression=gzip-js&ver=1.200.0", gz, map[string]string{"Content-Type": "text/plain"})
		require.Equal(t, http.StatusOK, status, "attempt %d: %v", attempt, body)
		require.EqualValues(t, 20, body["accepted"])
		require.EqualValues(t, 20*attempt, body["duplicates"], "the retry is recognised")
	}

	// 4. Form-encoded base64 (older posthog-js), and a batch with bad events among good ones.
	formAt := now.Add(-5 * time.Minute).Truncate(time.Millisecond)
	formEv, _ := json.Marshal(map[string]any{"event": "signup", "distinct_id": "form-user", "timestamp": formAt.Format(time.RFC3339Nano),
		"properties": map[string]any{"token": "phc_beta"}})
	form := url.Values{"data": {base64.StdEncoding.EncodeToString(formEv)}}.Encode()
	status, body := postCapture(t, base+"/capture/", []byte(form), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	require.Equal(t, http.StatusOK, status, "%v", body)
	tr.add("t-beta", "signup", "form-user", formAt)

	mixed := fmt.Sprintf(`{"api_key":"phc_beta","batch":[
		{"event":"ok_event","distinct_id":"m1","timestamp":%q},
		{"event":"no_distinct_id","timestamp":%q},
		{"distinct_id":"m2"},
		{"event":"far_future","distinct_id":"m3","timestamp":"2999-01-01T00:00:00Z"},
		{"event":"bad_time","distinct_id":"m4","timestamp":"not a time"}]}`, formAt.Format(time.RFC3339Nano), formAt.Format(time.RFC3339Nano))
	status, body = postCapture(t, base+"/batch/", []byte(mixed), map[string]string{"Content-Type": "application/json"})
	require.Equal(t, http.StatusOK, status, "valid events of a batch are accepted: %v", body)
	require.EqualValues(t, 1, body["accepted"])
	reasons := map[string]bool{}
	for _, r := range body["rejected"].([]any) {
		reasons[r.(map[string]any)["reason"].(string)] = true
	}
	require.Equal(t, map[string]bool{"missing_distinct_id": true, "missing_event": true, "future_timestamp": true, "bad_timestamp": true}, reasons)
	tr.add("t-beta", "ok_event", "m1", formAt)

	// 5. Whole-request problems.
	status, body = postCapture(t, base+"/batch/", []byte(`{"api_key":"phc_nobody","batch":[{"event":"e","distinct_id":"d"}]}`), nil)
	require.Equal(t, http.StatusUnauthorized, status, "%v", body)
	status, _ = postCapture(t, base+"/i/v0/e/", []byte(`{"api_key":"phc_alpha","batch":[`), nil)
	require.Equal(t, http.StatusBadRequest, status)
	status, _ = postCapture(t, base+"/batch", []byte(`{"api_key":"phx_personal","batch":[{"event":"e","distinct_id":"d"}]}`), nil)
	require.Equal(t, http.StatusUnauthorized, status)

	sentAll := time.Now().UTC()

	// Roll-ups through the API, once the posthog lane has caught up with everything sent.
	q := url.Values{"from": {start.Format(time.RFC3339)}, "to": {now.Add(time.Hour).Format(time.RFC3339)}, "step": {"1h"}}
	var env envelope[[]eventRowJSON]
	require.Eventually(t, func() bool {
		env = envelope[[]eventRowJSON]{}
		return getJSON(t, base+"/v1/rollups/events?"+q.Encode(), &env) == http.StatusOK &&
			env.AggregatedAsOf != nil && !env.AggregatedAsOf.Before(sentAll)
	}, 60*time.Second, 200*time.Millisecond, "posthog roll-ups did not catch up")
	want := tr.rows()
	require.Equal(t, want, env.Data, "hourly event counts and distinct users")

	// Daily roll-up: same counts summed per day.
	q.Set("step", "1d")
	q.Set("group_by", "tenant_id")
	var daily envelope[[]eventRowJSON]
	require.Equal(t, http.StatusOK, getJSON(t, base+"/v1/rollups/events?"+q.Encode(), &daily))
	perTenant := map[string]uint64{}
	for _, r := range want {
		perTenant[r.TenantID] += r.Count
	}
	gotTenant := map[string]uint64{}
	for _, r := range daily.Data {
		gotTenant[r.TenantID] += r.Count
	}
	assert.Equal(t, perTenant, gotTenant)

	// Tenant segments: beta's plan is pro since the change, enterprise before it; alpha's plan comes
	// from a person property ($set by identify).
	type seg struct {
		Value  string    `json:"value"`
		Since  time.Time `json:"since"`
		Source string    `json:"source"`
	}
	type segRow struct {
		TenantID string `json:"tenant_id"`
		Plan     *seg   `json:"plan"`
		Tier     *seg   `json:"tier"`
	}
	var segs envelope[[]segRow]
	require.Equal(t, http.StatusOK, getJSON(t, base+"/v1/segments", &segs))
	require.Len(t, segs.Data, 2)
	require.Equal(t, "t-alpha", segs.Data[0].TenantID)
	require.Equal(t, "starter", segs.Data[0].Plan.Value)
	require.Equal(t, "$set:alpha-user-1", segs.Data[0].Plan.Source)
	require.Nil(t, segs.Data[0].Tier)
	require.Equal(t, "t-beta", segs.Data[1].TenantID)
	require.Equal(t, "pro", segs.Data[1].Plan.Value)
	require.True(t, planChange.Equal(segs.Data[1].Plan.Since), "since %s, want %s", segs.Data[1].Plan.Since, planChange)
	require.Equal(t, "tier-2", segs.Data[1].Tier.Value)
	require.Equal(t, "$groupidentify:company:beta-inc", segs.Data[1].Plan.Source)

	var before envelope[[]segRow]
	require.Equal(t, http.StatusOK, getJSON(t, base+"/v1/segments?tenant_id=t-beta&at="+planChange.Add(-time.Minute).Format(time.RFC3339), &before))
	require.Len(t, before.Data, 1)
	require.Equal(t, "enterprise", before.Data[0].Plan.Value)
	require.Equal(t, "tier-1", before.Data[0].Tier.Value)

	// Bad parameters are named.
	var errBody map[string]map[string]string
	require.Equal(t, http.StatusBadRequest, getJSON(t, base+"/v1/rollups/events?step=5m", &errBody))
	require.Contains(t, errBody["error"]["message"], "step")
	require.Equal(t, http.StatusBadRequest, getJSON(t, base+"/v1/rollups/events?provider=x", &errBody))

	// The forwarder sent every accepted event upstream once (retries of the same request are not
	// forwarded again), each with its uuid.
	wantUp := 0
	for _, n := range tr.count {
		wantUp += int(n)
	}
	require.Eventually(t, func() bool {
		upMu.Lock()
		defer upMu.Unlock()
		return len(upstream) == wantUp
	}, 30*time.Second, 100*time.Millisecond, "upstream got %d distinct events, want %d", len(upstream), wantUp)
	upMu.Lock()
	for id, n := range upstream {
		require.Equal(t, 1, n, "uuid %s forwarded %d times", id, n)
	}
	upMu.Unlock()

	// Metrics count what was refused, by reason.
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{
		`spendstream_capture_unknown_key_total 1`,
		`spendstream_capture_rejected_total{reason="missing_distinct_id"} 1`,
		`spendstream_capture_rejected_total{reason="personal_api_key"} 1`,
		`spendstream_capture_events_total{result="duplicate"} 21`, // the gzip retry and the uuid retry
	} {
		assert.Contains(t, string(metrics), line)
	}
}

// phCallback counts posthog-go's per-message outcomes.
type phCallback struct {
	ok, failed atomic.Int64
	lastErr    atomic.Value
}

func (c *phCallback) Success(phgo.APIMessage) { c.ok.Add(1) }

func (c *phCallback) Failure(_ phgo.APIMessage, err error) {
	c.failed.Add(1)
	c.lastErr.Store(err.Error())
}
