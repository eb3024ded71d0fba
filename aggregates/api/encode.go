package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/window"
	"github.com/spendstream/spendstream/schemas/events"
)

// jsonTime encodes as an RFC 3339 UTC string with whole seconds.
type jsonTime time.Time

func (t jsonTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(time.RFC3339) + `"`), nil
}

type windowJSON struct {
	From jsonTime `json:"from"`
	To   jsonTime `json:"to"`
	Step string   `json:"step"`
}

func stepName(step time.Duration) string { return window.StepName(step) }

// envelope is every successful /v1 response.
type envelope struct {
	Data           any           `json:"data"`
	AggregatedAsOf *jsonTime     `json:"aggregated_as_of"`
	GeneratedAt    jsonTime      `json:"generated_at"`
	Freshness      freshnessJSON `json:"freshness"`
	Window         *windowJSON   `json:"window,omitempty"`
	// Labels are the two sentences every response with a cost figure carries.
	Labels []string `json:"labels,omitempty"`
}

// newEnvelope stamps data with the freshness of the pipeline it was read from.
func newEnvelope(data any, f freshness, now time.Time, primary events.Lane) envelope {
	return envelope{Data: data, AggregatedAsOf: f.asOf(primary), GeneratedAt: jsonTime(now), Freshness: f.block(primary)}
}

// Rows encode as JSON objects with a fixed key order: window_start, the grouped dimensions in
// GroupBy order, then the measures. Only grouped dimensions appear (with their value, even empty).

// rowsJSON encodes rows with appendRow, one JSON object each, without reflection.
type rowsJSON[R any] struct {
	rows      []R
	dims      []aggregates.Dimension
	sizeHint  int
	appendRow func(b []byte, r *R, dims []aggregates.Dimension) []byte
}

func (e rowsJSON[R]) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 64+len(e.rows)*(e.sizeHint+24*len(e.dims)))
	b = append(b, '[')
	for i := range e.rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = e.appendRow(b, &e.rows[i], e.dims)
	}
	return append(b, ']'), nil
}

func encodeEmailRows(rows []aggregates.EmailRow, dims []aggregates.Dimension) rowsJSON[aggregates.EmailRow] {
	return rowsJSON[aggregates.EmailRow]{rows: rows, dims: dims, sizeHint: 160, appendRow: appendEmailRow}
}

func appendEmailRow(b []byte, r *aggregates.EmailRow, dims []aggregates.Dimension) []byte {
	b = appendRowStart(b, r.WindowStart, dims, r.Dim)
	b = appendUint(b, "sent", r.Sent)
	b = appendUint(b, "delivered", r.Delivered)
	b = appendUint(b, "bounced", r.Bounced)
	b = appendUint(b, "deferred", r.Deferred)
	b = appendUint(b, "complained", r.Complained)
	b = appendUint(b, "reports", r.Reports)
	return append(b, '}')
}

func encodeEventRows(rows []aggregates.EventRow, dims []aggregates.Dimension) rowsJSON[aggregates.EventRow] {
	return rowsJSON[aggregates.EventRow]{rows: rows, dims: dims, sizeHint: 80, appendRow: appendEventRow}
}

func appendEventRow(b []byte, r *aggregates.EventRow, dims []aggregates.Dimension) []byte {
	b = appendRowStart(b, r.WindowStart, dims, r.Dim)
	b = appendUint(b, "count", r.Count)
	b = appendUint(b, "distinct_users", r.DistinctUsers)
	return append(b, '}')
}

func encodeVPSRows(rows []aggregates.VPSRow, dims []aggregates.Dimension) rowsJSON[aggregates.VPSRow] {
	return rowsJSON[aggregates.VPSRow]{rows: rows, dims: dims, sizeHint: 240, appendRow: appendVPSRow}
}

func appendVPSRow(b []byte, r *aggregates.VPSRow, dims []aggregates.Dimension) []byte {
	b = appendRowStart(b, r.WindowStart, dims, r.Dim)
	b = appendUint(b, "samples", r.Samples)
	b = appendFloat(b, "cpu_avg", r.CPUAvg)
	b = appendFloat(b, "cpu_max", r.CPUMax)
	b = appendFloat(b, "cpu_p95", r.CPUP95)
	b = appendFloat(b, "mem_avg", r.MemAvg)
	b = appendFloat(b, "mem_max", r.MemMax)
	b = appendFloat(b, "mem_p95", r.MemP95)
	return append(b, '}')
}

func appendRowStart(b []byte, start time.Time, dims []aggregates.Dimension, dim func(aggregates.Dimension) string) []byte {
	b = append(b, `{"window_start":"`...)
	b = start.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, '"')
	for _, d := range dims {
		b = append(b, ',', '"')
		b = append(b, d...) // dimension names are fixed identifiers
		b = append(b, `":`...)
		b = appendString(b, dim(d))
	}
	return b
}

func appendUint(b []byte, key string, v uint64) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":`...)
	return strconv.AppendUint(b, v, 10)
}

func appendFloat(b []byte, key string, v float64) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":`...)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// appendString appends s as a JSON string, escaped as encoding/json does.
func appendString(b []byte, s string) []byte {
	q, err := json.Marshal(s)
	if err != nil { // cannot happen for a string
		return append(b, `""`...)
	}
	return append(b, q...)
}

// Errors.

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type errorJSON struct {
	Error errorBody `json:"error"`
}

var (
	errNotFound    = errors.New("no such endpoint")
	errInternal    = errors.New("internal error")
	errNotEnabled  = errors.New("query API not enabled")
	errRateLimited = errors.New("rate limited")
)

// methodError is a method the path does not take (405).
type methodError struct{ allow string }

func (e *methodError) Error() string { return "method not allowed; want one of " + e.allow }

// tooLargeError is a result above Config.MaxRows.
// errBodyTooLarge is a request body over maxJSONBody: 413.
var errBodyTooLarge = fmt.Errorf("request body over %d bytes", maxJSONBody)

type tooLargeError struct{ max int }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("the result has more than %d rows; narrow from/to, filter by tenant_id or provider, "+
		"group by fewer dimensions or use a coarser step", e.max)
}

// depError is a failed dependency: a 503 naming it, with the cause kept for the log only.
type depError struct {
	dep string
	err error
}

func (e *depError) Error() string { return e.dep + ": " + e.err.Error() }
func (e *depError) Unwrap() error { return e.err }

func unavailable(dep string, err error) error { return &depError{dep: dep, err: err} }

// errorResponse is the one mapping of errors to status and body. Messages come from this package's
// own errors only: never SQL, driver text or another tenant's data.
func errorResponse(err error) (int, errorBody) {
	var pe *paramError
	var tl *tooLargeError
	var de *depError
	switch {
	case errors.As(err, &pe):
		return http.StatusBadRequest, errorBody{"bad_parameter", pe.Error()}
	case errors.As(err, &tl):
		return http.StatusBadRequest, errorBody{"result_too_large", tl.Error()}
	case errors.Is(err, errBodyTooLarge):
		return http.StatusRequestEntityTooLarge, errorBody{"body_too_large", fmt.Sprintf("want a JSON object of at most %d bytes", maxJSONBody)}
	case errors.Is(err, ErrUnauthenticated):
		return http.StatusUnauthorized, errorBody{"unauthenticated", "missing or invalid credentials"}
	case errors.Is(err, ErrForbidden), errors.Is(err, aggregates.ErrNoScope):
		return http.StatusForbidden, errorBody{"forbidden", "not allowed"}
	case errors.Is(err, errNotFound):
		return http.StatusNotFound, errorBody{"not_found", "no such endpoint"}
	case errors.As(err, new(*methodError)):
		var me *methodError
		errors.As(err, &me)
		return http.StatusMethodNotAllowed, errorBody{"method_not_allowed", "want one of " + me.allow}
	case errors.Is(err, errRateLimited):
		return http.StatusTooManyRequests, errorBody{"rate_limited", "too many requests; retry after the delay in Retry-After"}
	case errors.Is(err, errNotEnabled):
		return http.StatusNotImplemented, errorBody{"not_implemented", "the query API is not enabled in this process"}
	case errors.Is(err, errPrecondition):
		return http.StatusPreconditionRequired, errorBody{"precondition_required", "send If-Match with the ETag of the initiative you read"}
	case errors.As(err, new(*preconditionError)):
		return http.StatusPreconditionFailed, errorBody{"precondition_failed", err.Error()}
	case errors.As(err, new(*conflictError)):
		return http.StatusConflict, errorBody{"conflict", err.Error()}
	case errors.Is(err, errNotFoundInitiative):
		return http.StatusNotFound, errorBody{"not_found", "no such initiative"}
	case errors.Is(err, errNoRecommendation):
		return http.StatusNotFound, errorBody{"not_found", "no such recommendation in your listing: it may no longer apply, or your role does not see its kind"}
	case errors.Is(err, errNoPrices):
		return http.StatusServiceUnavailable, errorBody{"unavailable", "price list unavailable"}
	case errors.As(err, new(*computingError)):
		return http.StatusServiceUnavailable, errorBody{"computing", "the cost model of this window is still being computed (it takes longer than one request may wait) and goes on in the background; retry after the delay in Retry-After"}
	case errors.As(err, &de):
		return http.StatusServiceUnavailable, errorBody{"unavailable", de.dep + " unavailable"}
	}
	return http.StatusInternalServerError, errorBody{"internal", "internal error"}
}

// fail writes the error response for err and logs it: server-side failures at error level (with
// the cause), refusals at debug level.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, body := errorResponse(err)
	switch {
	case status >= 500 && r.Context().Err() != nil:
		s.log.Info("request ended by the caller", "path", r.URL.Path, "status", status, "err", err)
	case body.Code == "computing":
		s.log.Info("request gave up waiting for a cost model", "path", r.URL.Path, "status", status, "err", err)
	case status >= 500:
		s.log.Error("request failed", "path", r.URL.Path, "status", status, "err", err)
	default:
		s.log.Debug("request refused", "path", r.URL.Path, "status", status, "code", body.Code)
	}
	if status == http.StatusUnauthorized { // RFC 6750: say which scheme to use
		w.Header().Set("WWW-Authenticate", `Bearer realm="spendstream"`)
	}
	if body.Code == "computing" {
		w.Header().Set("Retry-After", strconv.Itoa(computingRetryAfter))
	}
	s.writeJSON(w, r, status, errorJSON{Error: body})
}

// encodedData is the data of an envelope already encoded as writeJSON would encode it (see
// modelEntry.view): writeJSON writes it as it is. Passed through encoding/json (as a
// json.RawMessage or a Marshaler) its bytes would be scanned and compacted again on every
// request: for a multi-MiB breakdown that costs more than serving the rest of it.
type encodedData []byte

// newEncoder is the JSON encoder of every response: no HTML escaping (the API's JSON is not
// embedded in HTML), one value per line.
func newEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// encodeResponse writes v as a response body: an envelope whose data is already encoded is
// spliced (spliceData), anything else encoded.
func encodeResponse(buf *bytes.Buffer, v any) error {
	if env, ok := v.(envelope); ok {
		if data, ok := env.Data.(encodedData); ok {
			return spliceData(buf, env, data)
		}
	}
	return newEncoder(buf).Encode(v)
}

// encodeData encodes v as writeJSON would, without the trailing newline.
func encodeData(v any) (encodedData, error) {
	var buf bytes.Buffer
	if err := newEncoder(&buf).Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// spliceData writes an envelope whose data is already encoded: the envelope is encoded with null
// data (its first field) and the data bytes take the place of that null.
func spliceData(buf *bytes.Buffer, env envelope, data encodedData) error {
	env.Data = nil
	var rest bytes.Buffer
	if err := newEncoder(&rest).Encode(env); err != nil {
		return err
	}
	const head = `{"data":null`
	b := rest.Bytes()
	if !bytes.HasPrefix(b, []byte(head)) {
		return fmt.Errorf("envelope encoding does not start with %s", head)
	}
	buf.Grow(len(b) + len(data))
	buf.WriteString(`{"data":`)
	buf.Write(data)
	buf.Write(b[len(head):])
	return nil
}

// writeJSON encodes v fully before writing, so an encoding failure still gets a clean 500.
func (s *server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	var buf bytes.Buffer
	if err := encodeResponse(&buf, v); err != nil {
		s.log.Error("encode response", "path", r.URL.Path, "err", err)
		buf.Reset()
		buf.WriteString(`{"error":{"code":"internal","message":"internal error"}}` + "\n")
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func joinSorted(names []string) string {
	names = slices.Clone(names)
	slices.Sort(names)
	return strings.Join(names, ", ")
}
