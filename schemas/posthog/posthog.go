// Package posthog decodes PostHog capture requests as sent, unchanged, by the
// PostHog SDKs (posthog-go, posthog-js, posthog-node) into events.
//
// The package is pure: it does no I/O and never reads the clock; the time of
// reception is a parameter. It follows the behaviour of PostHog's own capture
// service (rust/capture): every path accepts the same three body shapes (one
// event object, a JSON array of events, or a {"api_key"|"token", "batch": [...]}
// object), gzip bodies (Content-Encoding, ?compression=gzip|gzip-js, or the
// gzip magic bytes whatever the headers), base64 bodies (?compression=base64 or
// a form-encoded data=<base64 JSON> body), and resolves the project token of
// every event.
//
// Numbers inside Properties, Set, SetOnce and GroupSet are kept as
// json.Number, so nothing is lost in decoding.
package posthog

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits bounds what Decode accepts. A zero field takes its default.
type Limits struct {
	// MaxBodyBytes bounds the body, both as received and after decoding
	// (gzip, base64). Default 20 MiB. Beyond: RequestError 413.
	MaxBodyBytes int64
	// MaxEvents bounds the number of events in one request. Default 10000.
	// Beyond: RequestError 413.
	MaxEvents int
	// MaxEventBytes bounds the JSON of one event. Default 1 MiB. Beyond: the
	// event is rejected with "oversized_event".
	MaxEventBytes int
	// MaxFuture: events whose resolved time is later than now+MaxFuture are
	// rejected with "future_timestamp". Default 1 h.
	MaxFuture time.Duration
	// MaxPast: events whose resolved time is earlier than now-MaxPast are
	// rejected with "too_old". Default 400 days.
	MaxPast time.Duration
}

// DistinctIDMaxLen is the length, in characters, distinct ids are cut to.
const DistinctIDMaxLen = 200

// DefaultLimits returns the default limits.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes:  20 << 20,
		MaxEvents:     10000,
		MaxEventBytes: 1 << 20,
		MaxFuture:     time.Hour,
		MaxPast:       400 * 24 * time.Hour,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.MaxEvents <= 0 {
		l.MaxEvents = d.MaxEvents
	}
	if l.MaxEventBytes <= 0 {
		l.MaxEventBytes = d.MaxEventBytes
	}
	if l.MaxFuture <= 0 {
		l.MaxFuture = d.MaxFuture
	}
	if l.MaxPast <= 0 {
		l.MaxPast = d.MaxPast
	}
	return l
}

// Event is one accepted capture event.
type Event struct {
	UUID       string // as sent, or derived by DeriveUUID when absent or ""
	APIKey     string // resolved project token
	DistinctID string // at most DistinctIDMaxLen characters
	Event      string
	Time       time.Time // UTC, after clock-skew correction
	Properties map[string]any
	// Set and SetOnce merge $set / $set_once given at the top level of the
	// event and inside properties (properties win on conflicts).
	Set, SetOnce map[string]any
	// Groups is properties.$groups (group type -> group key).
	Groups map[string]string
	// GroupType, GroupKey and GroupSet are properties.$group_type,
	// $group_key and $group_set, as sent with $groupidentify.
	GroupType, GroupKey string
	GroupSet            map[string]any
	Historical          bool   // the request had historical_migration: true
	Raw                 []byte // the event's own JSON, as received (decoded)

	// propsJSON is canonicalJSON(Properties) as Decode computed it (nil when it could not be
	// encoded), reused by EncodeRecord so the properties are encoded once per event.
	propsJSON []byte
}

// Reasons an event is rejected.
const (
	ReasonMissingEvent      = "missing_event"
	ReasonMissingDistinctID = "missing_distinct_id"
	ReasonBadTimestamp      = "bad_timestamp"
	ReasonFutureTimestamp   = "future_timestamp"
	ReasonTooOld            = "too_old"
	ReasonOversizedEvent    = "oversized_event"
	ReasonWrongType         = "wrong_type"
	ReasonMixedTokens       = "mixed_tokens"
)

// Rejected describes one event of a request that was not accepted. Index is
// the position of the event in the request (0 for a single event object).
type Rejected struct {
	Index   int
	Reason  string
	Message string
}

// Request-level error codes.
const (
	CodeEmptyBody           = "empty_body"
	CodeBodyTooLarge        = "body_too_large"
	CodeTooManyEvents       = "too_many_events"
	CodeInvalidJSON         = "invalid_json"
	CodeBadEncoding         = "bad_encoding"
	CodeUnsupportedEncoding = "unsupported_encoding"
	CodeMixedTokens         = ReasonMixedTokens
	CodeMissingAPIKey       = "missing_api_key"
	CodePersonalAPIKey      = "personal_api_key"
	CodeNoEvents            = "no_events"
)

// RequestError is a problem with the whole request; Status is the HTTP
// status to answer with (400, 401 or 413).
type RequestError struct {
	Status  int
	Code    string
	Message string
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("posthog: %d %s: %s", e.Status, e.Code, e.Message)
}

func reqErr(status int, code, format string, args ...any) *RequestError {
	return &RequestError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Decode parses one capture request: body as received (HTTP
// Content-Encoding not removed; contentEncoding is that header's value), the
// Content-Type header and the query parameters. now is the time of reception.
// It returns the accepted events and the rejected ones, in request order, or
// a *RequestError when the whole request is refused.
func Decode(body []byte, contentType, contentEncoding string, query url.Values, now time.Time, lim Limits) ([]Event, []Rejected, error) {
	lim = lim.withDefaults()
	now = now.UTC()

	data, err := decodeBody(body, contentType, contentEncoding, query, lim)
	if err != nil {
		return nil, nil, err
	}

	req, err := splitRequest(data, lim)
	if err != nil {
		return nil, nil, err
	}
	if req.sentAt == nil {
		if s := query.Get("sent_at"); s != "" {
			if t, ok := parseTimeString(s); ok {
				req.sentAt = &t
			}
		}
	}

	// First pass: parse every event and collect tokens.
	parsed := make([]*parsedEvent, len(req.events))
	var rejected []Rejected
	fallback := req.token
	keys := keyCache{}
	for i, raw := range req.events {
		p, rej := parseEvent(i, raw, lim, keys)
		if rej != nil {
			rejected = append(rejected, *rej)
			continue
		}
		parsed[i] = p
		if p.token != "" && fallback == "" {
			fallback = p.token
		}
	}
	if req.token != "" && strings.HasPrefix(req.token, "phx_") {
		return nil, nil, reqErr(http.StatusUnauthorized, CodePersonalAPIKey, "personal API keys (phx_) cannot be used for capture")
	}
	resolved := ""
	for _, p := range parsed {
		if p == nil {
			continue
		}
		if strings.HasPrefix(p.token, "phx_") {
			return nil, nil, reqErr(http.StatusUnauthorized, CodePersonalAPIKey, "personal API keys (phx_) cannot be used for capture")
		}
		key := p.token
		if key == "" {
			key = fallback
		}
		if key == "" {
			return nil, nil, reqErr(http.StatusUnauthorized, CodeMissingAPIKey, "event %d has no api_key/token and the request has none", p.index)
		}
		if resolved == "" {
			resolved = key
		} else if key != resolved {
			return nil, nil, reqErr(http.StatusBadRequest, CodeMixedTokens, "events with different tokens in one request")
		}
		p.token = key
	}

	// Second pass: build the events.
	events := make([]Event, 0, len(parsed))
	for _, p := range parsed {
		if p == nil {
			continue
		}
		ev, rej := p.build(req, now, lim)
		if rej != nil {
			rejected = append(rejected, *rej)
			continue
		}
		events = append(events, ev)
	}
	sort.SliceStable(rejected, func(a, b int) bool { return rejected[a].Index < rejected[b].Index })
	return events, rejected, nil
}

// ---- body decoding ----------------------------------------------------

var gzipMagic = []byte{0x1f, 0x8b}

func decodeBody(body []byte, contentType, contentEncoding string, query url.Values, lim Limits) ([]byte, error) {
	if int64(len(body)) > lim.MaxBodyBytes {
		return nil, reqErr(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "body of %d bytes exceeds %d", len(body), lim.MaxBodyBytes)
	}
	data := body
	var err error

	// HTTP Content-Encoding (possibly a list, applied in order).
	for _, enc := range strings.Split(contentEncoding, ",") {
		switch strings.ToLower(strings.TrimSpace(enc)) {
		case "", "identity":
		case "gzip", "x-gzip":
			if data, err = gunzip(data, lim); err != nil {
				return nil, err
			}
		default:
			return nil, reqErr(http.StatusBadRequest, CodeUnsupportedEncoding, "unsupported Content-Encoding %q", enc)
		}
	}

	compression := strings.ToLower(query.Get("compression"))

	// Form-encoded: data=<payload>, possibly with compression=... in the form.
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" && !bytes.HasPrefix(data, gzipMagic) {
		form, perr := url.ParseQuery(string(data))
		if perr != nil {
			return nil, reqErr(http.StatusBadRequest, CodeBadEncoding, "form body: %v", perr)
		}
		if !form.Has("data") {
			return nil, reqErr(http.StatusBadRequest, CodeBadEncoding, "form body without a data field")
		}
		data = []byte(form.Get("data"))
		if c := form.Get("compression"); c != "" && compression == "" {
			compression = strings.ToLower(c)
		}
		if compression == "" && !looksLikeJSON(data) {
			compression = "base64"
		}
	}

	switch compression {
	case "", "gzip", "gzip-js":
		// gzip is detected below by its magic bytes.
	case "base64", "b64":
		if looksLikeJSON(data) || bytes.HasPrefix(data, gzipMagic) {
			break // already plain
		}
		if data, err = decodeBase64(data); err != nil {
			return nil, err
		}
	case "lz64", "lz-string":
		return nil, reqErr(http.StatusBadRequest, CodeUnsupportedEncoding, "compression %q is not supported", compression)
	default:
		return nil, reqErr(http.StatusBadRequest, CodeUnsupportedEncoding, "unknown compression %q", compression)
	}

	if bytes.HasPrefix(data, gzipMagic) {
		if data, err = gunzip(data, lim); err != nil {
			return nil, err
		}
	} else if compression == "gzip" || compression == "gzip-js" {
		if !looksLikeJSON(data) {
			return nil, reqErr(http.StatusBadRequest, CodeBadEncoding, "compression=%s but the body is not gzip", compression)
		}
	}
	if int64(len(data)) > lim.MaxBodyBytes {
		return nil, reqErr(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "decoded body exceeds %d bytes", lim.MaxBodyBytes)
	}
	return data, nil
}

func looksLikeJSON(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

func gunzip(b []byte, lim Limits) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, reqErr(http.StatusBadRequest, CodeBadEncoding, "gzip: %v", err)
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, lim.MaxBodyBytes+1))
	if err != nil {
		return nil, reqErr(http.StatusBadRequest, CodeBadEncoding, "gzip: %v", err)
	}
	if int64(len(out)) > lim.MaxBodyBytes {
		return nil, reqErr(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "decompressed body exceeds %d bytes", lim.MaxBodyBytes)
	}
	return out, nil
}

func decodeBase64(b []byte) ([]byte, error) {
	s := strings.TrimSpace(string(b))
	// Form bodies can turn '+' into ' ' when the client did not escape it.
	s = strings.ReplaceAll(s, " ", "+")
	s = strings.TrimRight(s, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if out, err := enc.DecodeString(s); err == nil {
			return out, nil
		}
	}
	return nil, reqErr(http.StatusBadRequest, CodeBadEncoding, "body is not valid base64")
}

// ---- request splitting --------------------------------------------------

type request struct {
	events     []json.RawMessage
	token      string
	historical bool
	sentAt     *time.Time
}

func splitRequest(data []byte, lim Limits) (*request, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, reqErr(http.StatusBadRequest, CodeEmptyBody, "empty body")
	}
	if !json.Valid(data) {
		return nil, reqErr(http.StatusBadRequest, CodeInvalidJSON, "body is not valid JSON")
	}
	// data is valid JSON from here on, so it is split by hand (splitArray, splitObject) rather
	// than by json.Unmarshal, which would validate and scan the whole body again at every level.
	// The events are sub-slices of one private copy (json.Unmarshal copied each RawMessage).
	req := &request{}
	switch data[0] {
	case '[':
		req.events, _ = splitArray(bytes.Clone(data), 0)
	case '{':
		top, batch := splitObject(bytes.Clone(data))
		if h, ok := top["historical_migration"]; ok {
			var b bool
			if json.Unmarshal(h, &b) == nil {
				req.historical = b
			}
		}
		if rawBatch, ok := top["batch"]; ok {
			if rawBatch[0] != '[' {
				return nil, reqErr(http.StatusBadRequest, CodeInvalidJSON, "batch is not an array of events")
			}
			req.events = batch
			for _, k := range []string{"api_key", "token"} {
				if v, ok := top[k]; ok {
					var s string
					if err := json.Unmarshal(v, &s); err != nil {
						return nil, reqErr(http.StatusBadRequest, CodeInvalidJSON, "%s is not a string", k)
					}
					if s != "" && req.token == "" {
						req.token = s
					}
				}
			}
			if v, ok := top["sent_at"]; ok {
				if t, ok := parseTimeJSON(v); ok {
					req.sentAt = &t
				}
			}
		} else {
			req.events = []json.RawMessage{data}
			// A single event's own sent_at is request-level data in PostHog.
			if v, ok := top["sent_at"]; ok {
				if t, ok := parseTimeJSON(v); ok {
					req.sentAt = &t
				}
			}
		}
	default:
		return nil, reqErr(http.StatusBadRequest, CodeInvalidJSON, "body is neither an event, an array of events nor a batch")
	}
	if len(req.events) == 0 {
		return nil, reqErr(http.StatusBadRequest, CodeNoEvents, "no events in request")
	}
	if len(req.events) > lim.MaxEvents {
		return nil, reqErr(http.StatusRequestEntityTooLarge, CodeTooManyEvents, "%d events exceed %d", len(req.events), lim.MaxEvents)
	}
	return req, nil
}

// The splitters below take valid JSON (checked by json.Valid) without leading whitespace.

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && isJSONSpace(b[i]) {
		i++
	}
	return i
}

// jsonValueEnd returns the index just past the JSON value that starts at b[i].
func jsonValueEnd(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			i = jsonStringEnd(b, i)
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		default:
			if depth == 0 { // number, true, false or null
				for i < len(b) && !isJSONSpace(b[i]) && b[i] != ',' && b[i] != ']' && b[i] != '}' {
					i++
				}
				return i
			}
		}
	}
	return i
}

// jsonStringEnd returns the index of the quote that closes the JSON string starting at b[i].
func jsonStringEnd(b []byte, i int) int {
	for j := i + 1; ; {
		q := j + bytes.IndexByte(b[j:], '"')
		n := 0 // backslashes before the quote
		for p := q - 1; b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q
		}
		j = q + 1
	}
}

// splitArray returns the elements of the JSON array starting at b[i], as json.Unmarshal into
// []json.RawMessage would (each element's exact bytes), as capacity-limited sub-slices of b,
// and the index just past the array.
func splitArray(b []byte, i int) ([]json.RawMessage, int) {
	out := []json.RawMessage{}
	i = skipJSONSpace(b, i+1)
	if b[i] == ']' {
		return out, i + 1
	}
	for {
		end := jsonValueEnd(b, i)
		out = append(out, json.RawMessage(b[i:end:end]))
		i = skipJSONSpace(b, end)
		if b[i] == ']' {
			return out, i + 1
		}
		i = skipJSONSpace(b, i+1) // ','
	}
}

// splitObject returns the members of the JSON object b, as json.Unmarshal into
// map[string]json.RawMessage would (keys unquoted, the last of duplicate keys wins), the values
// being sub-slices of b; and, when the value of "batch" is an array, its elements as
// splitArray returns them.
func splitObject(b []byte) (map[string]json.RawMessage, []json.RawMessage) {
	out := map[string]json.RawMessage{}
	var batch []json.RawMessage
	i := skipJSONSpace(b, 1)
	if i < len(b) && b[i] == '}' {
		return out, nil
	}
	for i < len(b) {
		kend := jsonValueEnd(b, i)
		rawKey := b[i:kend]
		var key string
		if bytes.IndexByte(rawKey, '\\') < 0 && utf8.Valid(rawKey) {
			key = string(rawKey[1 : len(rawKey)-1])
		} else if json.Unmarshal(rawKey, &key) != nil {
			key = string(rawKey[1 : len(rawKey)-1])
		}
		i = skipJSONSpace(b, kend)
		i = skipJSONSpace(b, i+1) // ':'
		var end int
		switch {
		case key == "batch" && b[i] == '[':
			batch, end = splitArray(b, i)
		case key == "batch":
			batch, end = nil, jsonValueEnd(b, i)
		default:
			end = jsonValueEnd(b, i)
		}
		out[key] = json.RawMessage(b[i:end:end])
		i = skipJSONSpace(b, end)
		if i >= len(b) || b[i] != ',' {
			break
		}
		i = skipJSONSpace(b, i+1)
	}
	return out, batch
}

// ---- per-event parsing ----------------------------------------------------

type parsedEvent struct {
	index int
	raw   json.RawMessage
	obj   map[string]any
	props map[string]any
	token string
}

func parseEvent(i int, raw json.RawMessage, lim Limits, keys keyCache) (*parsedEvent, *Rejected) {
	if len(raw) > lim.MaxEventBytes {
		return nil, &Rejected{Index: i, Reason: ReasonOversizedEvent, Message: fmt.Sprintf("event of %d bytes exceeds %d", len(raw), lim.MaxEventBytes)}
	}
	// raw is one value of the body splitRequest checked with json.Valid, so it is valid JSON
	// (json.Decoder never failed on it either) and decodeValid applies.
	v, _ := decodeValidKeys(raw, 0, keys) // as json.Decoder with UseNumber
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &Rejected{Index: i, Reason: ReasonWrongType, Message: "event is not a JSON object"}
	}
	p := &parsedEvent{index: i, raw: raw, obj: obj}
	switch pv := obj["properties"].(type) {
	case nil:
		p.props = map[string]any{}
	case map[string]any:
		p.props = pv
	default:
		return nil, &Rejected{Index: i, Reason: ReasonWrongType, Message: "properties is not an object"}
	}
	// Event-level token: api_key, token, $token, properties.token, properties.$token.
	for _, src := range []struct {
		m map[string]any
		k string
	}{{obj, "api_key"}, {obj, "token"}, {obj, "$token"}, {p.props, "token"}, {p.props, "$token"}} {
		val, ok := src.m[src.k]
		if !ok || val == nil {
			continue
		}
		s, ok := val.(string)
		if !ok {
			return nil, &Rejected{Index: i, Reason: ReasonWrongType, Message: src.k + " is not a string"}
		}
		if s != "" {
			p.token = s
			break
		}
	}
	return p, nil
}

func (p *parsedEvent) reject(reason, format string, args ...any) *Rejected {
	return &Rejected{Index: p.index, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

func (p *parsedEvent) build(req *request, now time.Time, lim Limits) (Event, *Rejected) {
	obj, props := p.obj, p.props
	ev := Event{APIKey: p.token, Properties: props, Historical: req.historical, Raw: p.raw}

	// event
	switch e := obj["event"].(type) {
	case nil:
		return ev, p.reject(ReasonMissingEvent, "event is missing")
	case string:
		if e == "" {
			return ev, p.reject(ReasonMissingEvent, "event is empty")
		}
		ev.Event = e
	default:
		return ev, p.reject(ReasonWrongType, "event is not a string")
	}

	// distinct_id
	var did any
	for _, v := range []any{obj["distinct_id"], obj["$distinct_id"], props["distinct_id"]} {
		if v != nil {
			if s, ok := v.(string); ok && s == "" {
				continue
			}
			did = v
			break
		}
	}
	switch d := did.(type) {
	case nil:
		return ev, p.reject(ReasonMissingDistinctID, "distinct_id is missing")
	case string:
		ev.DistinctID = d
	case json.Number:
		ev.DistinctID = d.String()
	default:
		return ev, p.reject(ReasonWrongType, "distinct_id is not a string or a number")
	}
	if utf8.RuneCountInString(ev.DistinctID) > DistinctIDMaxLen {
		ev.DistinctID = string([]rune(ev.DistinctID)[:DistinctIDMaxLen])
	}

	// uuid
	switch u := obj["uuid"].(type) {
	case nil:
	case string:
		if u != "" {
			if !isUUID(u) {
				return ev, p.reject(ReasonWrongType, "uuid %q is not a UUID", u)
			}
			ev.UUID = strings.ToLower(u)
		}
	default:
		return ev, p.reject(ReasonWrongType, "uuid is not a string")
	}

	// time
	var ts *time.Time
	switch t := obj["timestamp"].(type) {
	case nil:
	case string:
		if t != "" {
			pt, ok := parseTimeString(t)
			if !ok {
				return ev, p.reject(ReasonBadTimestamp, "timestamp %q cannot be parsed", t)
			}
			ts = &pt
		}
	case json.Number:
		pt, ok := parseMillis(t)
		if !ok {
			return ev, p.reject(ReasonBadTimestamp, "timestamp %s is not epoch milliseconds", t)
		}
		ts = &pt
	default:
		return ev, p.reject(ReasonWrongType, "timestamp is not a string")
	}
	sentAt := req.sentAt
	if sentAt == nil {
		if s, ok := obj["sent_at"].(string); ok {
			if st, ok := parseTimeString(s); ok {
				sentAt = &st
			}
		}
	}
	switch {
	case ts != nil && sentAt != nil:
		// Clock skew correction: now - (sent_at - timestamp).
		ev.Time = now.Add(-sentAt.Sub(*ts))
	case ts != nil:
		ev.Time = *ts
	default:
		ev.Time = now
		switch o := obj["offset"].(type) {
		case nil:
		case json.Number:
			f, err := o.Float64()
			if err != nil || math.IsNaN(f) || math.Abs(f) > float64(math.MaxInt64/int64(time.Millisecond)) {
				return ev, p.reject(ReasonBadTimestamp, "offset %s out of range", o)
			}
			ev.Time = now.Add(-time.Duration(f * float64(time.Millisecond)))
		default:
			return ev, p.reject(ReasonWrongType, "offset is not a number")
		}
	}
	ev.Time = ev.Time.UTC()
	if ev.Time.After(now.Add(lim.MaxFuture)) {
		return ev, p.reject(ReasonFutureTimestamp, "time %s is more than %s after reception", ev.Time.Format(time.RFC3339Nano), lim.MaxFuture)
	}
	if ev.Time.Before(now.Add(-lim.MaxPast)) {
		return ev, p.reject(ReasonTooOld, "time %s is more than %s before reception", ev.Time.Format(time.RFC3339Nano), lim.MaxPast)
	}

	// $set / $set_once
	var rej *Rejected
	if ev.Set, rej = p.mergeObjects("$set"); rej != nil {
		return ev, rej
	}
	if ev.SetOnce, rej = p.mergeObjects("$set_once"); rej != nil {
		return ev, rej
	}

	// $groups
	if g, ok := props["$groups"]; ok && g != nil {
		gm, ok := g.(map[string]any)
		if !ok {
			return ev, p.reject(ReasonWrongType, "properties.$groups is not an object")
		}
		ev.Groups = make(map[string]string, len(gm))
		for k, v := range gm {
			if s, ok := scalarString(v); ok {
				ev.Groups[k] = s
			}
		}
	}

	// $groupidentify
	if v, ok := props["$group_type"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return ev, p.reject(ReasonWrongType, "properties.$group_type is not a string")
		}
		ev.GroupType = s
	}
	if v, ok := props["$group_key"]; ok && v != nil {
		s, ok := scalarString(v)
		if !ok {
			return ev, p.reject(ReasonWrongType, "properties.$group_key is not a string")
		}
		ev.GroupKey = s
	}
	if v, ok := props["$group_set"]; ok && v != nil {
		m, ok := v.(map[string]any)
		if !ok {
			return ev, p.reject(ReasonWrongType, "properties.$group_set is not an object")
		}
		ev.GroupSet = m
	}

	canon, ok := encodeCanonical(props)
	if ok {
		ev.propsJSON = canon
	} else {
		canon = canonicalJSON(props)
	}
	if ev.UUID == "" {
		// Derive from what the client sent, so that a retry of the same
		// request gives the same UUID: the client timestamp when there is
		// one, not the skew-corrected time.
		base := ev.Time
		if ts != nil {
			base = *ts
		}
		ev.UUID = deriveUUID(ev.APIKey, ev.DistinctID, ev.Event, base, canon)
	}
	return ev, nil
}

// mergeObjects merges obj[key] and properties[key] (properties win).
func (p *parsedEvent) mergeObjects(key string) (map[string]any, *Rejected) {
	var out map[string]any
	for _, src := range []struct {
		m    map[string]any
		name string
	}{{p.obj, key}, {p.props, "properties." + key}} {
		v, ok := src.m[key]
		if !ok || v == nil {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, p.reject(ReasonWrongType, "%s is not an object", src.name)
		}
		if out == nil {
			out = make(map[string]any, len(m))
		}
		for k, val := range m {
			out[k] = val
		}
	}
	return out, nil
}

func scalarString(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case json.Number:
		return s.String(), true
	case float64:
		return strconv.FormatFloat(s, 'f', -1, 64), true
	}
	return "", false
}

// ---- time parsing ---------------------------------------------------------

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// parseTimeString parses ISO 8601 / RFC 3339 timestamps (no zone means UTC)
// and, as PostHog's query sent_at, integer epoch milliseconds.
func parseTimeString(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return parseMillis(json.Number(strconv.FormatInt(n, 10)))
	}
	return time.Time{}, false
}

func parseTimeJSON(raw json.RawMessage) (time.Time, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return parseTimeString(s)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return parseMillis(n)
	}
	return time.Time{}, false
}

func parseMillis(n json.Number) (time.Time, bool) {
	ms, err := n.Int64()
	if err != nil {
		f, ferr := n.Float64()
		if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e15 {
			return time.Time{}, false
		}
		ms = int64(f)
	}
	if ms < -1e15 || ms > 1e15 {
		return time.Time{}, false
	}
	return time.UnixMilli(ms).UTC(), true
}

// ---- UUIDs ----------------------------------------------------------------

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// DeriveUUID returns a deterministic UUID (version 8, RFC 9562) for an event
// sent without one: the SHA-256 of the API key, distinct id, event name,
// timestamp (UTC, nanoseconds) and the canonical JSON of the properties
// (object keys sorted, so stable across map ordering). The same content always
// gives the same UUID, so an SDK retry of a batch de-duplicates downstream.
func DeriveUUID(apiKey, distinctID, event string, ts time.Time, properties map[string]any) string {
	return deriveUUID(apiKey, distinctID, event, ts, canonicalJSON(properties))
}

// deriveUUID is DeriveUUID given canonicalJSON(properties).
func deriveUUID(apiKey, distinctID, event string, ts time.Time, canon []byte) string {
	// SHA-256 of the fields, each preceded by its length (8 bytes, big endian), hashed in one go.
	var stack [512]byte
	in := stack[:0]
	field := func(in []byte, n int) []byte { return binary.BigEndian.AppendUint64(in, uint64(n)) }
	const domain = "spendstream/posthog/v1"
	in = append(field(in, len(domain)), domain...)
	in = append(field(in, len(apiKey)), apiKey...)
	in = append(field(in, len(distinctID)), distinctID...)
	in = append(field(in, len(event)), event...)
	in = field(in, 0) // length of the time, set below
	at := len(in)
	in = ts.UTC().AppendFormat(in, time.RFC3339Nano)
	binary.BigEndian.PutUint64(in[at-8:at], uint64(len(in)-at))
	in = append(field(in, len(canon)), canon...)
	sum := sha256.Sum256(in)
	var u [16]byte
	copy(u[:], sum[:16])
	u[6] = (u[6] & 0x0f) | 0x80 // version 8
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 9562 variant
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], u[10:])
	return string(buf[:])
}

// canonicalJSON encodes v with sorted object keys (encoding/json sorts map
// keys) and without HTML escaping. A nil map and an empty one are the same.
func canonicalJSON(props map[string]any) []byte {
	b, ok := encodeCanonical(props)
	if !ok {
		// Unencodable values (channels, NaN...) cannot come from JSON;
		// fall back to a stable textual form.
		return []byte(fmt.Sprintf("%v", props))
	}
	return b
}

// encodeCanonical is canonicalJSON without the fallback: ok is false when props cannot be
// encoded.
func encodeCanonical(props map[string]any) ([]byte, bool) {
	if len(props) == 0 {
		return []byte("{}"), true
	}
	if b, ok := appendCanonical(make([]byte, 0, 256), props); ok {
		return b, true
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(props); err != nil {
		return nil, false
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), true
}
