// Package ingest is spendstream's HTTP front door for usage and inventory events: POST /v1/events
// takes one CloudEvent, a JSON array or NDJSON (optionally gzip), validates each event, publishes
// the valid ones to JetStream with Nats-Msg-Id = tenant:event id, and answers 202 only after the stream
// acknowledged every one of them. Under overload it answers 429 with Retry-After instead of
// queueing without bound.
package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spendstream/spendstream/aggregates/auth"
	"github.com/spendstream/spendstream/consumers/streams"
	"github.com/spendstream/spendstream/schemas/events"
)

// Config of the gateway.
type Config struct {
	MaxBodyBytes      int64         // compressed or not, as received
	MaxDecodedBytes   int64         // after gunzip
	MaxEvents         int           // per request
	MaxInflightEvents int64         // events being published at once, across requests
	QueueWait         time.Duration // how long a request may wait for capacity before 429
	PublishTimeout    time.Duration
	Limits            events.Limits
	// Authorize identifies the producer of a request from its bearer key (auth.ProducerKeys); an
	// error is a 401. Nil refuses every request (fail closed).
	Authorize func(*http.Request) (auth.Producer, error)
	// Limiter, when set, bounds each producer's request rate (429 with Retry-After beyond).
	Limiter *auth.Limiter
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:      10 << 20,
		MaxDecodedBytes:   64 << 20,
		MaxEvents:         10_000,
		MaxInflightEvents: 100_000,
		QueueWait:         250 * time.Millisecond,
		PublishTimeout:    10 * time.Second,
		Limits:            events.DefaultLimits(),
	}
}

// Publisher is what the gateway needs from JetStream.
type Publisher interface {
	Publish(ctx context.Context, msgs []streams.Outgoing) []streams.Result
}

// Handler serves POST /v1/events.
type Handler struct {
	cfg     Config
	pub     Publisher
	sem     *weighted
	now     func() time.Time
	log     *slog.Logger
	metrics *metrics
}

type metrics struct {
	events   *prometheus.CounterVec
	rejected *prometheus.CounterVec
	overload prometheus.Counter
	requests *prometheus.CounterVec
}

// New builds the handler and registers its metrics.
func New(cfg Config, pub Publisher, reg prometheus.Registerer, log *slog.Logger) *Handler {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spendstream_ingest_events_total",
			Help: "Events received by POST /v1/events by result (accepted, duplicate, rejected)."}, []string{"result"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spendstream_ingest_rejected_total",
			Help: "Events rejected at the HTTP gateway by reason."}, []string{"reason"}),
		overload: prometheus.NewCounter(prometheus.CounterOpts{Name: "spendstream_ingest_overload_total",
			Help: "Requests answered 429 because the gateway was at capacity."}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spendstream_ingest_requests_total",
			Help: "POST /v1/events requests by status code."}, []string{"code"}),
	}
	reg.MustRegister(m.events, m.rejected, m.overload, m.requests)
	return &Handler{cfg: cfg, pub: pub, sem: newWeighted(cfg.MaxInflightEvents), now: time.Now, log: log, metrics: m}
}

// Rejected describes one refused event of a request.
type Rejected struct {
	Index  int           `json:"index"`
	ID     string        `json:"id,omitempty"`
	Reason events.Reason `json:"reason"`
	Error  string        `json:"message"`
}

// Response is the 202 body.
type Response struct {
	Accepted   int        `json:"accepted"`
	Duplicates int        `json:"duplicates"`
	Rejected   []Rejected `json:"rejected"`
}

type httpError struct {
	status int
	code   string
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// ServeHTTP implements POST /v1/events.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, body := h.serve(r)
	h.metrics.requests.WithLabelValues(strconv.Itoa(status)).Inc()
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if status == http.StatusUnauthorized { // RFC 6750
		w.Header().Set("WWW-Authenticate", `Bearer realm="spendstream"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func errorBody(code, msg string) map[string]any {
	return map[string]any{"error": map[string]string{"code": code, "message": msg}}
}

// ReasonForbiddenTenant rejects an event for a tenant its producer key may not write for.
const ReasonForbiddenTenant events.Reason = "forbidden_tenant"

func (h *Handler) serve(r *http.Request) (int, any) {
	if h.cfg.Authorize == nil {
		return http.StatusUnauthorized, errorBody("unauthenticated", "missing or invalid producer key")
	}
	prod, err := h.cfg.Authorize(r)
	if err != nil {
		h.metrics.rejected.WithLabelValues("unauthenticated").Inc()
		h.log.Info("ingest request not authenticated", "reason", auth.ReasonOf(err))
		return http.StatusUnauthorized, errorBody("unauthenticated", "missing or invalid producer key; send Authorization: Bearer <key>")
	}
	if h.cfg.Limiter != nil {
		if ok, wait := h.cfg.Limiter.Allow("producer:" + prod.Name); !ok {
			h.metrics.overload.Inc()
			return http.StatusTooManyRequests, errorBody("rate_limited",
				fmt.Sprintf("request rate limit of producer %s exceeded; retry in %s", prod.Name, wait.Round(time.Second)))
		}
	}
	raws, err := h.readEvents(r)
	if err != nil {
		var he *httpError
		if errors.As(err, &he) {
			return he.status, errorBody(he.code, he.msg)
		}
		return http.StatusBadRequest, errorBody("bad_request", err.Error())
	}
	now := h.now()
	resp := Response{Rejected: []Rejected{}}
	var out []streams.Outgoing
	for i, raw := range raws {
		ev, err := events.Decode(raw, h.cfg.Limits)
		if err == nil {
			err = events.CheckFuture(ev, now, h.cfg.Limits)
		}
		if err == nil && !prod.MayWrite(ev.TenantID) {
			err = &events.RejectError{Reason: ReasonForbiddenTenant, Field: "tenantid",
				Detail: fmt.Sprintf("producer %s may not write for tenant %s", prod.Name, ev.TenantID)}
		}
		if err != nil {
			reason := events.ReasonOf(err)
			if reason == "" {
				reason = events.ReasonMalformed
			}
			id := ev.ID
			if id == "" {
				id = idOf(raw)
			}
			resp.Rejected = append(resp.Rejected, Rejected{Index: i, ID: id, Reason: reason, Error: err.Error()})
			h.metrics.rejected.WithLabelValues(string(reason)).Inc()
			continue
		}
		out = append(out, streams.Outgoing{Subject: events.Subject(ev), MsgID: events.MsgID(ev), Data: raw})
	}
	h.metrics.events.WithLabelValues("rejected").Add(float64(len(resp.Rejected)))
	if len(out) == 0 {
		return http.StatusBadRequest, map[string]any{
			"error":    map[string]string{"code": "invalid_events", "message": fmt.Sprintf("all %d events were rejected", len(raws))},
			"rejected": resp.Rejected,
		}
	}

	if !acquire(r.Context(), h.sem, h.cfg.QueueWait, int64(len(out))) {
		h.metrics.overload.Inc()
		return http.StatusTooManyRequests, errorBody("overloaded", "too many events in flight; retry after the delay in Retry-After")
	}
	defer h.sem.Release(int64(len(out)))

	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.PublishTimeout)
	defer cancel()
	failed, firstErr := 0, error(nil)
	for _, res := range h.pub.Publish(ctx, out) {
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
		}
	}
	h.metrics.events.WithLabelValues("accepted").Add(float64(resp.Accepted - resp.Duplicates))
	h.metrics.events.WithLabelValues("duplicate").Add(float64(resp.Duplicates))
	if failed > 0 {
		h.log.Error("jetstream publish failed", "failed", failed, "of", len(out), "err", firstErr)
		return http.StatusServiceUnavailable, errorBody("unavailable",
			fmt.Sprintf("jetstream did not acknowledge %d of %d events; retry the request (events are de-duplicated by id)", failed, len(out)))
	}
	return http.StatusAccepted, resp
}

// idOf extracts the id of an event that failed validation, for the rejection list; "" when the
// event has no string id (the list then identifies it by index only).
func idOf(raw []byte) string {
	var v struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	id, _ := v.ID.(string)
	if len(id) > 256 || !utf8.ValidString(id) {
		return ""
	}
	return id
}

// readEvents reads the body (gzip by Content-Encoding) and splits it into raw events.
func (h *Handler) readEvents(r *http.Request) ([][]byte, error) {
	if r.ContentLength > h.cfg.MaxBodyBytes {
		return nil, &httpError{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body larger than %d bytes", h.cfg.MaxBodyBytes)}
	}
	var body io.Reader = http.MaxBytesReader(nil, r.Body, h.cfg.MaxBodyBytes)
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, &httpError{http.StatusBadRequest, "bad_encoding", "body is not valid gzip"}
		}
		defer zr.Close()
		body = zr
	default:
		return nil, &httpError{http.StatusUnsupportedMediaType, "unsupported_encoding", "Content-Encoding must be gzip or absent"}
	}
	data, err := io.ReadAll(io.LimitReader(body, h.cfg.MaxDecodedBytes+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &httpError{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body larger than %d bytes", h.cfg.MaxBodyBytes)}
		}
		return nil, &httpError{http.StatusBadRequest, "bad_body", "could not read the body"}
	}
	if int64(len(data)) > h.cfg.MaxDecodedBytes {
		return nil, &httpError{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("decoded body larger than %d bytes", h.cfg.MaxDecodedBytes)}
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var raws [][]byte
	if mt == "application/x-ndjson" || mt == "application/jsonl" {
		raws = splitLines(data)
	} else {
		raws, err = splitJSON(data)
		if err != nil {
			return nil, &httpError{http.StatusBadRequest, "malformed", err.Error()}
		}
	}
	if len(raws) == 0 {
		return nil, &httpError{http.StatusBadRequest, "empty", "no events in the body"}
	}
	if len(raws) > h.cfg.MaxEvents {
		return nil, &httpError{http.StatusRequestEntityTooLarge, "too_many_events", fmt.Sprintf("%d events in one request; the limit is %d", len(raws), h.cfg.MaxEvents)}
	}
	return raws, nil
}

// splitJSON accepts one JSON object or an array of them.
func splitJSON(data []byte) ([][]byte, error) {
	t := bytes.TrimSpace(data)
	if len(t) == 0 {
		return nil, nil
	}
	if t[0] != '[' {
		if !json.Valid(t) {
			return nil, errors.New("body is not valid JSON")
		}
		return [][]byte{t}, nil
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(t, &arr); err != nil {
		return nil, errors.New("body is not a valid JSON array of events")
	}
	out := make([][]byte, len(arr))
	for i, a := range arr {
		out[i] = a
	}
	return out, nil
}

// splitLines splits NDJSON; blank lines are skipped, every other line is one event (a malformed
// line is rejected on its own).
func splitLines(data []byte) [][]byte {
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), len(data)+1)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) > 0 {
			out = append(out, append([]byte(nil), line...))
		}
	}
	return out
}
