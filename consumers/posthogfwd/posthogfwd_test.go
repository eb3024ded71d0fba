package posthogfwd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/schemas/posthog"
)

const (
	sourceKey   = "phc_source"
	upstreamKey = "phc_upstream"
)

// upstream is a test double of PostHog's capture endpoint: it decodes what
// posthog-go POSTs to /batch/ with the same decoder spendstream uses.
type upstream struct {
	t        *testing.T
	srv      *httptest.Server
	status   atomic.Int32  // answer; 200 unless set
	block    chan struct{} // when not nil, requests wait until it is closed
	unblock  sync.Once
	requests atomic.Int32

	mu     sync.Mutex
	events []posthog.Event // accepted ones
}

func newUpstream(t *testing.T, blocking bool) *upstream {
	t.Helper()
	u := &upstream{t: t}
	u.status.Store(http.StatusOK)
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.srv.Close)
	if blocking {
		u.block = make(chan struct{})
		t.Cleanup(u.release) // runs before u.srv.Close
	}
	return u
}

// release lets blocked requests through. Tests defer it, so that it runs
// before the forwarder's cleanup Close.
func (u *upstream) release() {
	u.unblock.Do(func() { close(u.block) })
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	u.requests.Add(1)
	if r.Method != http.MethodPost || r.URL.Path != "/batch/" {
		u.t.Errorf("upstream got %s %s, want POST /batch/", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		u.t.Errorf("read body: %v", err)
		return
	}
	if u.block != nil {
		select {
		case <-u.block:
		case <-r.Context().Done():
			return
		}
	}
	if status := int(u.status.Load()); status != http.StatusOK {
		w.WriteHeader(status)
		return
	}
	// Decode handles gzip (by header or magic bytes) should posthog-go
	// ever compress; v1.5.2 sends plain JSON.
	evs, rejected, err := posthog.Decode(body, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"),
		r.URL.Query(), time.Now(), posthog.Limits{})
	if err != nil || len(rejected) > 0 {
		u.t.Errorf("upstream decode: %v %v", err, rejected)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	u.mu.Lock()
	u.events = append(u.events, evs...)
	u.mu.Unlock()
	_, _ = io.WriteString(w, `{"status":1}`)
}

func (u *upstream) received() []posthog.Event {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]posthog.Event(nil), u.events...)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) lines(substr string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.buf.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

type harness struct {
	f    *Forwarder
	reg  *prometheus.Registry
	logs *syncBuffer
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{reg: prometheus.NewRegistry(), logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if cfg.APIKey == "" {
		cfg.APIKey = upstreamKey
	}
	f, err := New(cfg, h.reg, log)
	require.NoError(t, err)
	h.f = f
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = f.Close(ctx)
	})
	return h
}

// count reads spendstream_posthog_forward_events_total{outcome} as a scrape
// would. (prometheus/testutil is not usable: it imports
// github.com/kylelemons/godebug, which go.mod does not list.)
func (h *harness) count(outcome string) int {
	mfs, err := h.reg.Gather()
	if err != nil {
		panic(err) // count runs inside require.Eventually's goroutine
	}
	for _, mf := range mfs {
		if mf.GetName() != "spendstream_posthog_forward_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "outcome" && lp.GetValue() == outcome {
					return int(m.GetCounter().GetValue())
				}
			}
		}
	}
	panic("no counter for outcome " + outcome)
}

// gauge reads a gauge as a scrape would.
func (h *harness) gauge(name string) float64 {
	mfs, err := h.reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	panic("metric " + name + " not registered")
}

func closeWithin(t *testing.T, f *Forwarder, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	require.NoError(t, f.Close(ctx))
}

// makeEvents returns n capture events with distinct uuids.
func makeEvents(n int) []posthog.Event {
	ts := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	evs := make([]posthog.Event, n)
	for i := range evs {
		evs[i] = posthog.Event{
			UUID:       fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			APIKey:     sourceKey,
			DistinctID: fmt.Sprintf("user-%d", i),
			Event:      "email_sent",
			Time:       ts,
			Properties: map[string]any{"$lib": "posthog-go", "i": json.Number(fmt.Sprint(i))},
		}
	}
	return evs
}

// decodeOriginal decodes a capture request as spendstream's ingest does.
func decodeOriginal(t *testing.T, body string) []posthog.Event {
	t.Helper()
	evs, rejected, err := posthog.Decode([]byte(body), "application/json", "", url.Values{}, time.Now(), posthog.Limits{})
	require.NoError(t, err)
	require.Empty(t, rejected)
	return evs
}

func TestForwardFidelity(t *testing.T) {
	ts := time.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	var originals []posthog.Event
	for name, body := range map[string]string{
		// posthog-js: array, token in properties, $set in properties.
		"capture": `[{"event":"$pageview","uuid":"0190c0de-0000-7000-8000-000000000001","distinct_id":"user-1",
			"timestamp":"` + ts + `","properties":{"token":"phc_source","$lib":"web","$lib_version":"1.200.0",
			"$current_url":"https://example.com/a","count":3,"price":12.50,"big":12345678901234567890,
			"nested":{"a":[1,"b",true,null]},"$groups":{"company":"acme","team":42},"$set":{"plan":"pro"}}}]`,
		// posthog-go Identify: $set at the top level, no uuid (derived).
		"identify": `{"api_key":"phc_source","batch":[{"type":"identify","library":"posthog-go","library_version":"1.5.2",
			"timestamp":"` + ts + `","event":"$identify","distinct_id":"user-1",
			"properties":{"$lib":"posthog-go","$lib_version":"1.5.2","$set_once":{"first_seen":"2024-01-01"}},
			"$set":{"email":"a@example.com","age":42}}]}`,
		// posthog-go GroupIdentify.
		"groupidentify": `{"api_key":"phc_source","batch":[{"library":"posthog-go","library_version":"1.5.2",
			"timestamp":"` + ts + `","event":"$groupidentify","distinct_id":"$company_acme",
			"properties":{"$lib":"posthog-go","$lib_version":"1.5.2","$group_type":"company","$group_key":"acme",
			"$group_set":{"name":"Acme","seats":10}}}]}`,
		// historical migration, no $lib at all.
		"historical": `{"api_key":"phc_source","historical_migration":true,"batch":[{"event":"imported",
			"uuid":"0190c0de-0000-7000-8000-000000000004","distinct_id":"user-9","timestamp":"` + ts + `",
			"properties":{"$token":"phc_source","source":"csv"}}]}`,
	} {
		evs := decodeOriginal(t, body)
		require.Len(t, evs, 1, name)
		originals = append(originals, evs...)
	}

	up := newUpstream(t, false)
	h := newHarness(t, Config{Endpoint: up.srv.URL + "/", Interval: time.Hour})
	h.f.Forward(originals)
	closeWithin(t, h.f, 10*time.Second)

	got := map[string]posthog.Event{}
	for _, ev := range up.received() {
		got[ev.UUID] = ev
	}
	require.Len(t, got, len(originals))
	for _, want := range originals {
		ev, ok := got[want.UUID]
		require.True(t, ok, "event %s %s not forwarded", want.Event, want.UUID)
		require.Equal(t, upstreamKey, ev.APIKey, want.Event)
		require.Equal(t, want.Event, ev.Event)
		require.Equal(t, want.DistinctID, ev.DistinctID)
		require.True(t, want.Time.Equal(ev.Time), "%s: time %s, want %s", want.Event, ev.Time, want.Time)
		require.Equal(t, want.Set, ev.Set, want.Event)
		require.Equal(t, want.SetOnce, ev.SetOnce, want.Event)
		require.Equal(t, want.Groups, ev.Groups, want.Event)
		require.Equal(t, want.GroupType, ev.GroupType, want.Event)
		require.Equal(t, want.GroupKey, ev.GroupKey, want.Event)
		require.Equal(t, want.GroupSet, ev.GroupSet, want.Event)
		require.Equal(t, want.Historical, ev.Historical, want.Event)

		// Properties: the originals, the token re-keyed, plus only what
		// PostHog derives anyway ($set, $set_once) and $lib defaults.
		for k, v := range want.Properties {
			if k == "token" || k == "$token" {
				require.Equal(t, upstreamKey, ev.Properties[k], "%s: properties.%s", want.Event, k)
				continue
			}
			require.Equal(t, v, ev.Properties[k], "%s: properties.%s", want.Event, k)
		}
		for k := range ev.Properties {
			if _, ok := want.Properties[k]; ok {
				continue
			}
			switch k {
			case "$set":
				require.Equal(t, map[string]any(want.Set), ev.Properties[k], want.Event)
			case "$set_once":
				require.Equal(t, map[string]any(want.SetOnce), ev.Properties[k], want.Event)
			case "$lib", "$lib_version":
				require.IsType(t, "", ev.Properties[k])
			default:
				t.Errorf("%s: unexpected property %s = %v", want.Event, k, ev.Properties[k])
			}
		}
	}
	require.Equal(t, "web", got["0190c0de-0000-7000-8000-000000000001"].Properties["$lib"], "the original $lib wins")

	require.Equal(t, len(originals), h.count(outcomeQueued))
	require.Equal(t, len(originals), h.count(outcomeSent))
	require.Zero(t, h.count(outcomeFailed))
	require.Zero(t, h.count(outcomeDropped))
}

func TestForwardUpstreamDownThenRecovers(t *testing.T) {
	up := newUpstream(t, false)
	up.status.Store(http.StatusInternalServerError)
	h := newHarness(t, Config{
		Endpoint:   up.srv.URL,
		BatchSize:  10,
		Interval:   10 * time.Millisecond,
		RetryAfter: func(int) time.Duration { return time.Millisecond },
	})

	evs := makeEvents(8)
	start := time.Now()
	h.f.Forward(evs[:5])
	require.Less(t, time.Since(start), time.Second, "Forward waited for upstream")

	require.Eventually(t, func() bool { return h.count(outcomeFailed) == 5 }, 10*time.Second, 5*time.Millisecond)
	require.GreaterOrEqual(t, int(up.requests.Load()), 10, "posthog-go retries a failing batch 10 times")
	require.Zero(t, h.count(outcomeSent))
	lines := h.logs.lines("posthog forward failed")
	require.Len(t, lines, 1, "failures within LogEvery give one line")
	require.Contains(t, lines[0], "level=WARN")
	require.Contains(t, lines[0], "500")

	up.status.Store(http.StatusOK)
	h.f.Forward(evs[5:])
	require.Eventually(t, func() bool { return h.count(outcomeSent) == 3 }, 10*time.Second, 5*time.Millisecond)
	require.Len(t, up.received(), 3)
	require.Equal(t, 5, h.count(outcomeFailed))

	closeWithin(t, h.f, 10*time.Second)
	lines = h.logs.lines("posthog forward failed")
	require.Len(t, lines, 2, "Close logs the failures not logged yet")
	require.Contains(t, lines[1], "events=4")
}

func TestForwardNeverBlocksWhenFull(t *testing.T) {
	up := newUpstream(t, true)
	defer up.release()
	const queueSize, maxInFlight = 10, 5
	h := newHarness(t, Config{
		Endpoint:    up.srv.URL,
		QueueSize:   queueSize,
		MaxInFlight: maxInFlight,
		BatchSize:   5,
		Interval:    10 * time.Millisecond,
	})

	evs := makeEvents(1000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range evs {
			h.f.Forward(evs[i : i+1])
		}
		h.f.Forward(evs)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Forward blocked while upstream hung")
	}

	queued, dropped := h.count(outcomeQueued), h.count(outcomeDropped)
	require.Equal(t, 2*len(evs), queued+dropped)
	// The queue, the events inside posthog-go, and the one pump holds.
	require.LessOrEqual(t, queued, queueSize+maxInFlight+1)
	// Once posthog-go holds maxInFlight events, pump holds one more and the
	// rest stays queued.
	require.GreaterOrEqual(t, queued, queueSize)
	require.Eventually(t, func() bool {
		return h.gauge("spendstream_posthog_forward_in_flight_events") == maxInFlight &&
			h.gauge("spendstream_posthog_forward_queue_length") == float64(queued-maxInFlight-1)
	}, 5*time.Second, 5*time.Millisecond)

	up.release()
	closeWithin(t, h.f, 10*time.Second)
	require.Equal(t, queued, h.count(outcomeSent))
	require.Len(t, up.received(), queued)
	require.Zero(t, h.gauge("spendstream_posthog_forward_queue_length"))
	require.Zero(t, h.gauge("spendstream_posthog_forward_in_flight_events"))
}

func TestCloseDrains(t *testing.T) {
	up := newUpstream(t, false)
	h := newHarness(t, Config{Endpoint: up.srv.URL, QueueSize: 2000, BatchSize: 100, Interval: time.Hour})

	evs := makeEvents(1000)
	for i := 0; i < len(evs); i += 50 {
		h.f.Forward(evs[i : i+50])
	}
	closeWithin(t, h.f, 10*time.Second)

	got := map[string]bool{}
	for _, ev := range up.received() {
		got[ev.UUID] = true
	}
	require.Len(t, got, len(evs))
	for _, ev := range evs {
		require.True(t, got[ev.UUID], ev.UUID)
	}
	require.Equal(t, len(evs), h.count(outcomeSent))
	require.Zero(t, h.count(outcomeDropped))

	h.f.Forward(evs[:3])
	require.Equal(t, 3, h.count(outcomeDropped), "events after Close are dropped")
	require.Equal(t, len(evs), h.count(outcomeQueued))
	closeWithin(t, h.f, time.Second) // again: no-op
}

func TestCloseBoundedByContext(t *testing.T) {
	up := newUpstream(t, true)
	defer up.release()
	h := newHarness(t, Config{Endpoint: up.srv.URL, QueueSize: 100, MaxInFlight: 10, BatchSize: 5,
		Interval: 10 * time.Millisecond})

	h.f.Forward(makeEvents(50))
	require.Eventually(t, func() bool { return len(h.f.inFlight) == 10 }, 5*time.Second, 5*time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := h.f.Close(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
	require.Eventually(t, func() bool { return h.count(outcomeDropped) == 50-10 },
		5*time.Second, 5*time.Millisecond, "the events never handed to posthog-go are dropped")

	up.release()
	closeWithin(t, h.f, 10*time.Second) // waits for posthog-go to finish
	require.Equal(t, 50, h.count(outcomeSent)+h.count(outcomeFailed)+h.count(outcomeDropped))
}

func TestForwardConcurrentWithClose(t *testing.T) {
	up := newUpstream(t, false)
	h := newHarness(t, Config{Endpoint: up.srv.URL, QueueSize: 100, BatchSize: 50, Interval: 5 * time.Millisecond})

	evs := makeEvents(500)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range evs {
				h.f.Forward(evs[i : i+1])
			}
		})
	}
	time.Sleep(time.Millisecond)
	closeWithin(t, h.f, 10*time.Second)
	wg.Wait()

	queued := h.count(outcomeQueued)
	require.Equal(t, 8*len(evs), queued+h.count(outcomeDropped))
	require.Equal(t, queued, h.count(outcomeSent))
	require.Len(t, up.received(), queued)
}

func TestNewValidates(t *testing.T) {
	tests := map[string]struct {
		cfg     Config
		wantErr string
	}{
		"ok":                {cfg: Config{Endpoint: "https://eu.i.posthog.com", APIKey: "phc_x"}},
		"no endpoint":       {cfg: Config{APIKey: "phc_x"}, wantErr: "endpoint is required"},
		"not a url":         {cfg: Config{Endpoint: "eu.i.posthog.com", APIKey: "phc_x"}, wantErr: "not an http(s) URL"},
		"bad scheme":        {cfg: Config{Endpoint: "ftp://x", APIKey: "phc_x"}, wantErr: "not an http(s) URL"},
		"query":             {cfg: Config{Endpoint: "https://x/?a=1", APIKey: "phc_x"}, wantErr: "query"},
		"no key":            {cfg: Config{Endpoint: "https://x"}, wantErr: "api key is required"},
		"personal key":      {cfg: Config{Endpoint: "https://x", APIKey: "phx_x"}, wantErr: "personal API key"},
		"negative queue":    {cfg: Config{Endpoint: "https://x", APIKey: "phc_x", QueueSize: -1}, wantErr: "negative"},
		"negative batch":    {cfg: Config{Endpoint: "https://x", APIKey: "phc_x", BatchSize: -1}, wantErr: "negative"},
		"negative interval": {cfg: Config{Endpoint: "https://x", APIKey: "phc_x", Interval: -time.Second}, wantErr: "negative"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f, err := New(tc.cfg, prometheus.NewRegistry(), nil)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.Nil(t, f)
				return
			}
			require.NoError(t, err)
			closeWithin(t, f, time.Second)
		})
	}
}

func TestNewRegistersOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := Config{Endpoint: "http://127.0.0.1:1", APIKey: "phc_x"}
	f, err := New(cfg, reg, nil)
	require.NoError(t, err)
	t.Cleanup(func() { closeWithin(t, f, time.Second) })
	_, err = New(cfg, reg, nil)
	require.ErrorContains(t, err, "register metrics")

	// A nil registry is allowed.
	f2, err := New(cfg, nil, nil)
	require.NoError(t, err)
	closeWithin(t, f2, time.Second)
}

func TestFailureLogRateLimited(t *testing.T) {
	logs := &syncBuffer{}
	l := &failureLog{log: slog.New(slog.NewTextHandler(logs, nil)), every: time.Hour}
	l.add(1, fmt.Errorf("boom"))
	l.add(1, fmt.Errorf("boom 2"))
	l.add(1, fmt.Errorf("boom 3"))
	require.Len(t, logs.lines("posthog forward failed"), 1)
	l.flush()
	lines := logs.lines("posthog forward failed")
	require.Len(t, lines, 2)
	require.Contains(t, lines[1], "events=2")
	require.Contains(t, lines[1], "boom 3")
	l.flush()
	require.Len(t, logs.lines("posthog forward failed"), 2, "nothing left to log")
}
