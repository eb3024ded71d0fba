package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spendstream/spendstream/consumers/streams"
	"github.com/spendstream/spendstream/schemas/events"
	"github.com/spendstream/spendstream/schemas/posthog"
)

// CapturePaths are the PostHog capture routes, as the SDKs call them (posthog-go: /batch/;
// posthog-node: /batch/; posthog-js: /e/, /i/v0/e/, /batch/ and, in older versions, /capture/,
// /track/ and /engage/). Each is served with and without the trailing slash, for GET and POST.
var CapturePaths = []string{"/batch", "/e", "/i/v0/e", "/capture", "/track", "/engage"}

// CaptureConfig configures the PostHog capture endpoints.
type CaptureConfig struct {
	// Projects maps project API keys to tenants. A request whose key is not here is refused (401).
	Projects          map[string]string
	Limits            posthog.Limits
	MaxInflightEvents int64         // events being published at once, across requests
	QueueWait         time.Duration // how long a request may wait for capacity before 429
	PublishTimeout    time.Duration
}

// DefaultCaptureConfig returns the defaults (no projects: every key is refused).
func DefaultCaptureConfig() CaptureConfig {
	return CaptureConfig{Limits: posthog.DefaultLimits(), MaxInflightEvents: 100_000,
		QueueWait: 250 * time.Millisecond, PublishTimeout: 10 * time.Second}
}

// ParseProjects parses "key=tenant,key2=tenant2" (the --posthog-projects flag).
func ParseProjects(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, tenant, ok := strings.Cut(part, "=")
		key, tenant = strings.TrimSpace(key), strings.TrimSpace(tenant)
		switch {
		case !ok || key == "":
			return nil, fmt.Errorf("posthog project %q: want key=tenant", part)
		case strings.HasPrefix(key, "phx_"):
			return nil, fmt.Errorf("posthog project %q: phx_ keys are personal API keys, not project keys", key)
		case !events.ValidTenant(tenant):
			return nil, fmt.Errorf("posthog project %q: tenant %q is not a valid tenant id ([A-Za-z0-9_-]{1,64})", key, tenant)
		}
		if prev, dup := out[key]; dup && prev != tenant {
			return nil, fmt.Errorf("posthog project %q is mapped to both %q and %q", key, prev, tenant)
		}
		out[key] = tenant
	}
	return out, nil
}

// Forwarder receives the events a capture request added to the stream (never duplicates), to
// send them on to an upstream PostHog. It must not block.
type Forwarder interface {
	Forward(evs []posthog.Event)
}

// Capture serves the PostHog capture API: it decodes what the SDKs send (schemas/posthog), maps
// the project key to its tenant, publishes every valid event to the POSTHOG stream with
// Nats-Msg-Id = tenant:uuid and answers 200 only after JetStream acknowledged them. Invalid events
// of a valid request are dropped with a reason in the body and a metric, and the request still
// succeeds (as PostHog does): SDKs retry every status ≥ 300, so only whole-request problems get
// one (400, 401, 413; 429 and 503 are meant to be retried).
type Capture struct {
	cfg     CaptureConfig
	pub     Publisher
	fwd     Forwarder
	sem     *weighted
	now     func() time.Time
	log     *slog.Logger
	metrics *captureMetrics
}

type captureMetrics struct {
	events     *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	requests   *prometheus.CounterVec
	unknownKey prometheus.Counter
	overload   prometheus.Counter
}

// NewCapture builds the capture handler and registers its metrics. fwd may be nil.
func NewCapture(cfg CaptureConfig, pub Publisher, fwd Forwarder, reg prometheus.Registerer, log *slog.Logger) *Capture {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if cfg.MaxInflightEvents <= 0 {
		cfg.MaxInflightEvents = DefaultCaptureConfig().MaxInflightEvents
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = DefaultCaptureConfig().PublishTimeout
	}
	m := &captureMetrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spendstream_capture_events_total",
			Help: "PostHog events received by the capture endpoints by result (accepted, duplicate, rejected)."}, []string{"result"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spendstream_capture_rejected_total",
			Help: "PostHog events or requests refused by the capture endpoints, by reason."}, []string{"reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spendstream_capture_requests_total",
			Help: "PostHog capture requests by status code."}, []string{"code"}),
		unknownKey: prometheus.NewCounter(prometheus.CounterOpts{Name: "spendstream_capture_unknown_key_total",
			Help: "PostHog capture requests refused because their project key maps to no tenant."}),
		overload: prometheus.NewCounter(prometheus.CounterOpts{Name: "spendstream_capture_overload_total",
			Help: "PostHog capture requests answered 429 because the gateway was at capacity."}),
	}
	reg.MustRegister(m.events, m.rejected, m.requests, m.unknownKey, m.overload)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Capture{cfg: cfg, pub: pub, fwd: fwd, sem: newWeighted(cfg.MaxInflightEvents), now: time.Now, log: log, metrics: m}
}

// Register adds the capture routes to mux.
func (c *Capture) Register(mux *http.ServeMux) {
	for _, p := range CapturePaths {
		mux.Handle(p, c)
		mux.Handle(p+"/", c)
	}
}

// CaptureResponse is the body of a successful capture request. PostHog answers {"status": 1};
// accepted and rejected are spendstream's additions (SDKs ignore the body).
type CaptureResponse struct {
	Status     int               `json:"status"`
	Accepted   int               `json:"accepted"`
	Duplicates int               `json:"duplicates"`
	Rejected   []CaptureRejected `json:"rejected"`
}

// CaptureRejected is one event of the request that was dropped.
type CaptureRejected struct {
	Index   int    `json:"index"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// ServeHTTP implements the capture routes.
func (c *Capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Browsers (posthog-js) send from other origins; the key is in the body, not a cookie.
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type, Content-Encoding, Authorization")
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var status int
	var body any
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		h.Set("Allow", "GET, POST, OPTIONS")
		status, body = http.StatusMethodNotAllowed, errorBody("method_not_allowed", "want GET or POST")
	} else {
		status, body = c.serve(r)
	}
	c.metrics.requests.WithLabelValues(strconv.Itoa(status)).Inc()
	h.Set("Content-Type", "application/json")
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (c *Capture) serve(r *http.Request) (int, any) {
	lim := c.cfg.Limits
	if lim.MaxBodyBytes <= 0 {
		lim.MaxBodyBytes = posthog.DefaultLimits().MaxBodyBytes
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return c.refuse(http.StatusBadRequest, "bad_query", "malformed query string")
	}
	body, contentType := []byte(nil), r.Header.Get("Content-Type")
	if r.ContentLength > lim.MaxBodyBytes {
		return c.refuse(http.StatusRequestEntityTooLarge, posthog.CodeBodyTooLarge, fmt.Sprintf("body larger than %d bytes", lim.MaxBodyBytes))
	}
	body, err = io.ReadAll(http.MaxBytesReader(nil, r.Body, lim.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return c.refuse(http.StatusRequestEntityTooLarge, posthog.CodeBodyTooLarge, fmt.Sprintf("body larger than %d bytes", lim.MaxBodyBytes))
		}
		return c.refuse(http.StatusBadRequest, "bad_body", "could not read the body")
	}
	if len(body) == 0 && query.Has("data") {
		// GET /e/?data=<base64 or JSON> (image beacons, old posthog-js): the same as a form body.
		body = []byte(url.Values{"data": {query.Get("data")}}.Encode())
		contentType = "application/x-www-form-urlencoded"
	}

	now := c.now()
	evs, rejected, err := posthog.Decode(body, contentType, r.Header.Get("Content-Encoding"), query, now, lim)
	if err != nil {
		var re *posthog.RequestError
		if errors.As(err, &re) {
			return c.refuse(re.Status, re.Code, re.Message)
		}
		return c.refuse(http.StatusBadRequest, "bad_request", "the request could not be decoded")
	}
	resp := CaptureResponse{Status: 1, Rejected: make([]CaptureRejected, 0, len(rejected))}
	for _, rj := range rejected {
		resp.Rejected = append(resp.Rejected, CaptureRejected{Index: rj.Index, Reason: rj.Reason, Message: rj.Message})
		c.metrics.rejected.WithLabelValues(rj.Reason).Inc()
	}
	c.metrics.events.WithLabelValues("rejected").Add(float64(len(rejected)))
	if len(evs) == 0 {
		return http.StatusOK, resp
	}
	tenant, ok := c.cfg.Projects[evs[0].APIKey] // Decode resolved one key for the whole request
	if !ok {
		c.metrics.unknownKey.Inc()
		return c.refuse(http.StatusUnauthorized, "invalid_api_key", "the project API key is not known to this spendstream")
	}

	out := make([]streams.Outgoing, 0, len(evs))
	src := make([]int, 0, len(evs)) // out[j] is evs[src[j]]
	for i := range evs {
		// json.Marshal(posthog.NewRecord(tenant, &evs[i])), without re-encoding the properties.
		data, msgID, err := posthog.EncodeRecord(tenant, &evs[i])
		if err != nil { // properties that cannot be re-encoded: drop the event, not the request
			resp.Rejected = append(resp.Rejected, CaptureRejected{Index: -1, Reason: posthog.ReasonWrongType, Message: err.Error()})
			c.metrics.rejected.WithLabelValues(posthog.ReasonWrongType).Inc()
			continue
		}
		out = append(out, streams.Outgoing{Subject: events.AnalyticsSubject(tenant), MsgID: msgID, Data: data})
		src = append(src, i)
	}
	if len(out) == 0 {
		return http.StatusOK, resp
	}
	if !acquire(r.Context(), c.sem, c.cfg.QueueWait, int64(len(out))) {
		c.metrics.overload.Inc()
		return c.refuse(http.StatusTooManyRequests, "overloaded", "too many events in flight; retry after the delay in Retry-After")
	}
	defer c.sem.Release(int64(len(out)))

	ctx, cancel := context.WithTimeout(r.Context(), c.cfg.PublishTimeout)
	defer cancel()
	failed, firstErr := 0, error(nil)
	fresh := make([]posthog.Event, 0, len(evs))
	for j, res := range c.pub.Publish(ctx, out) {
		switch {
		case res.Err != nil:
			if failed == 0 {
				firstErr = res.Err
			}
			failed++
		case res.Duplicate:
			resp.Duplicates++
			resp.Accepted++
		default:
			resp.Accepted++
			fresh = append(fresh, evs[src[j]])
		}
	}
	c.metrics.events.WithLabelValues("accepted").Add(float64(resp.Accepted - resp.Duplicates))
	c.metrics.events.WithLabelValues("duplicate").Add(float64(resp.Duplicates))
	if c.fwd != nil && len(fresh) > 0 {
		c.fwd.Forward(fresh)
	}
	if failed > 0 {
		c.log.Error("jetstream publish failed", "failed", failed, "of", len(out), "stream", streams.StreamPostHog, "err", firstErr)
		return http.StatusServiceUnavailable, errorBody("unavailable",
			fmt.Sprintf("jetstream did not acknowledge %d of %d events; retry the request (events are de-duplicated by uuid)", failed, len(out)))
	}
	return http.StatusOK, resp
}

// refuse answers a whole-request problem and counts it by code.
func (c *Capture) refuse(status int, code, msg string) (int, any) {
	c.metrics.rejected.WithLabelValues(code).Inc()
	return status, errorBody(code, msg)
}

// acquire reserves capacity for n events, waiting at most wait.
func acquire(ctx context.Context, sem *weighted, wait time.Duration, n int64) bool {
	if wait <= 0 {
		return sem.TryAcquire(n)
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return sem.Acquire(ctx, n) == nil
}
