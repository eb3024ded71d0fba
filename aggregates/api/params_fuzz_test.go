package api

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/window"
)

// FuzzParseRollupQuery feeds raw query strings to every query-parameter parser of the API (the
// roll-up, segment, freshness and cost parsers) and checks that none panics, that every refusal is
// a 400 bad_parameter with a bounded, valid UTF-8 message, and that whatever is accepted is
// consistent: only known parameters, each once; from < to, both aligned to the step and within
// MaxWindows (MaxCostWindow for costs); filters of at most 128 bytes of printable UTF-8; group_by
// dimensions of the roll-up, without repeats, in canonical order; and a query the store's own
// Validate accepts. The seed corpus runs with plain `go test`; fuzz with
//
//	go test ./aggregates/api/ -run XXX -fuzz FuzzParseRollupQuery -fuzztime 30s
func FuzzParseRollupQuery(f *testing.F) {
	seeds := []string{
		"",
		"step=5m", "step=1h", "step=1d", "step=15m", "step=1H", "step=%201h",
		"from=2026-02-01T10:30:00Z&to=2026-02-02T10:30:01Z",
		"from=2026-02-01T12:00:00%2B02:00&to=2026-02-01T14:00:00%2B02:00&step=1h",
		"from=2026-03-02T00:00:00Z", "to=2026-02-10T00:00:00Z",
		"step=5m&from=2026-01-01T00:00:00Z&to=2026-02-04T17:20:00Z",
		"step=5m&from=2026-01-01T00:00:00Z&to=2026-02-04T17:25:00Z",
		"from=1970-01-01T00:00:00Z&to=1970-01-02T00:00:00Z",
		"to=1970-01-01T00:00:01Z", "to=1969-12-31T23:59:59Z",
		"to=2099-12-31T23:59:59Z&step=1d", "from=2099-12-31T00:00:00Z&to=2100-01-01T00:00:00Z",
		"from=2026-01-01T00:00:00.999999999Z&to=2026-01-01T00:00:00.999999999%2B00:01",
		"from=2026-01-01T00:00:00-23:59&to=2026-01-01T00:00:00%2B23:59&step=5m",
		"tenant_id=t-042&provider=hetzner&group_by=region,+plan,resource_id",
		"group_by=provider,pool,ip,tenant_id", "group_by=tenant_id,tenant_id", "group_by=tenant_id,",
		"group_by=event,tenant_id", "group_by=%20tenant_id%20", "group_by=tenant_id%3BDROP+TABLE+x",
		"tenant_id=&provider=&group_by=&step=&from=&to=",
		"tenant_id=t-001&tenant_id=t-002", "step=1h&step=1h",
		"tenant_id=%27+OR+1%3D1+--", "provider=%5C%27%20OR%201%3D1%20--", "event=%2F*+*%2F",
		"tenant_id=t-001%27+UNION+SELECT+1+--", "provider=%3F", "event=%7Bx%3AString%7D",
		"tenant_id=%00", "provider=a%0Ab", "event=%E2%80%AEt-001", "tenant_id=%FF%FE", "provider=%C0%A7",
		"event=%F0%9F%92%B8", "tenant_id=t%CC%81-001", "provider=%E2%80%8B",
		"tenant_id=" + strings.Repeat("x", 128), "tenant_id=" + strings.Repeat("x", 129),
		"provider=" + strings.Repeat("%C3%A9", 64), "provider=" + strings.Repeat("%C3%A9", 65),
		"at=2026-03-01T00:00:00Z&tenant_id=t-001", "at=yesterday", "at=2100-01-01T00:00:00Z",
		"by=provider&step=total", "by=tenant&step=1d&from=2026-01-01T00:00:00Z", "kind=vps", "kind=email",
		"from=2025-01-01T00:00:00Z&to=2026-02-05T00:00:00Z", "from=2025-01-01T00:00:00Z&to=2026-02-06T00:00:00Z",
		"status=proposed", "x=1", "%zz=1", "a;b=1", "=", "&&&", "tenant_id", strings.Repeat("k", 300) + "=1",
	}
	for _, s := range seeds {
		f.Add(s, parseNow.Unix())
	}
	f.Add("", int64(0))
	f.Add("step=1d", int64(-1))
	f.Add("from=2026-01-01T00:00:00Z", int64(1<<62))

	// now stays in a range a server clock can have, so the defaults derived from it are valid times.
	lo, hi := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	f.Fuzz(func(t *testing.T, raw string, nowUnix int64) {
		if nowUnix < lo || nowUnix >= hi {
			nowUnix = lo + (nowUnix%(hi-lo)+(hi-lo))%(hi-lo)
		}
		now := time.Unix(nowUnix, 0).UTC()
		r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/v1/x", RawQuery: raw}, Header: http.Header{}}

		q, err := parseQuery(r)
		if _, perr := url.ParseQuery(raw); (err == nil) != (perr == nil) {
			t.Fatalf("parseQuery(%q) = %v, url.ParseQuery = %v", raw, err, perr)
		}
		if err != nil {
			checkRefusal(t, raw, err)
			return
		}

		for _, spec := range []rollupSpec{emailSpec, vpsSpec, eventSpec} {
			rq, err := parseRollupRequest(q, now, spec)
			if err != nil {
				checkRefusal(t, raw, err)
				continue
			}
			checkRollup(t, raw, q, now, spec, rq)
		}
		// The typed parsers agree with the store's own validation.
		if eq, err := parseEmailRequest(q, now); err == nil {
			if err := eq.Validate(); err != nil {
				t.Fatalf("%q: email query accepted by the API, refused by Validate: %v", raw, err)
			}
		}
		if vq, err := parseVPSRequest(q, now); err == nil {
			if err := vq.Validate(); err != nil {
				t.Fatalf("%q: vps query accepted by the API, refused by Validate: %v", raw, err)
			}
		}
		if evq, err := parseEventRequest(q, now); err == nil {
			if err := evq.Validate(); err != nil {
				t.Fatalf("%q: event query accepted by the API, refused by Validate: %v", raw, err)
			}
		}

		if sq, err := parseSegmentRequest(q, now); err != nil {
			checkRefusal(t, raw, err)
		} else {
			checkKnownOnce(t, raw, q, []string{"at", "tenant_id"})
			checkFilter(t, raw, "tenant_id", q.Get("tenant_id"), sq.TenantID)
			if q.Get("at") == "" {
				if !sq.At.Equal(now) {
					t.Fatalf("%q: at defaults to %s, want now %s", raw, sq.At, now)
				}
			} else if sq.At.Before(minTime) || !sq.At.Before(maxTime) {
				t.Fatalf("%q: at %s outside [%s, %s)", raw, sq.At, minTime, maxTime)
			}
			if sq.At.Location() != time.UTC {
				t.Fatalf("%q: at %s not in UTC", raw, sq.At)
			}
		}

		if err := parseFreshnessRequest(q); err != nil {
			checkRefusal(t, raw, err)
		} else if len(q) != 0 {
			t.Fatalf("%q: /v1/freshness accepted parameters %v", raw, q)
		}

		for _, extra := range [][]string{nil, {"by", "step"}, {"kind"}} {
			cr, err := parseCostRequest(r, now, extra...)
			if err != nil {
				checkRefusal(t, raw, err)
				continue
			}
			checkKnownOnce(t, raw, q, append(slices.Clone(costParams), extra...))
			from, to := cr.window.From, cr.window.To
			switch {
			case !from.Before(to):
				t.Fatalf("%q: cost window from %s not before to %s", raw, from, to)
			case !aligned(from, window.Step1d) || !aligned(to, window.Step1d):
				t.Fatalf("%q: cost window %s..%s not aligned to days", raw, from, to)
			case to.Sub(from) > MaxCostWindow:
				t.Fatalf("%q: cost window of %s, more than %s", raw, to.Sub(from), MaxCostWindow)
			case q.Get("to") == "" && !to.Equal(ceil(now, window.Step1d)):
				t.Fatalf("%q: cost window ends %s, want the end of today %s", raw, to, ceil(now, window.Step1d))
			case q.Get("to") != "" && to.After(maxTime):
				t.Fatalf("%q: cost window ends %s, after %s", raw, to, maxTime)
			case q.Get("from") != "" && from.Before(minTime):
				t.Fatalf("%q: cost window starts %s, before %s", raw, from, minTime)
			}
		}
	})
}

// checkRefusal checks that err is what the API answers a bad request with: a 400 bad_parameter
// whose message is valid UTF-8 and echoes a bounded part of the input.
func checkRefusal(t *testing.T, raw string, err error) {
	t.Helper()
	var pe *paramError
	if !errors.As(err, &pe) {
		t.Fatalf("%q: refused with %T %v, want a *paramError", raw, err, err)
	}
	if status, body := errorResponse(err); status != http.StatusBadRequest || body.Code != "bad_parameter" {
		t.Fatalf("%q: refused with %d %s, want 400 bad_parameter", raw, status, body.Code)
	}
	msg := err.Error()
	if !utf8.ValidString(msg) {
		t.Fatalf("%q: error message is not valid UTF-8: %q", raw, msg)
	}
	// Two echoes of at most maxEcho bytes each, %q-escaped (up to 10 bytes per input byte), plus text.
	if len(msg) > 2*10*maxEcho+400 {
		t.Fatalf("%q: error message of %d bytes echoes too much of the input", raw, len(msg))
	}
}

// checkKnownOnce checks that an accepted query holds only allowed parameters, each at most once.
func checkKnownOnce(t *testing.T, raw string, q url.Values, allowed []string) {
	t.Helper()
	for k, vs := range q {
		if !slices.Contains(allowed, k) {
			t.Fatalf("%q: unknown parameter %q accepted (allowed: %v)", raw, k, allowed)
		}
		if len(vs) != 1 {
			t.Fatalf("%q: parameter %q given %d times accepted", raw, k, len(vs))
		}
	}
}

// checkFilter checks an accepted exact-match filter: what was sent, at most 128 bytes of printable
// UTF-8.
func checkFilter(t *testing.T, raw, param, sent, got string) {
	t.Helper()
	if got != sent {
		t.Fatalf("%q: %s filter %q, sent %q", raw, param, got, sent)
	}
	if len(got) > maxFilterBytes || !utf8.ValidString(got) {
		t.Fatalf("%q: %s filter %q accepted: want at most %d bytes of UTF-8", raw, param, got, maxFilterBytes)
	}
	for _, c := range got {
		if !unicode.IsPrint(c) {
			t.Fatalf("%q: %s filter %q accepted with the unprintable %U", raw, param, got, c)
		}
	}
}

func aligned(t time.Time, step time.Duration) bool { return window.Assign(t, step).Equal(t) }

// checkRollup checks an accepted roll-up query.
func checkRollup(t *testing.T, raw string, q url.Values, now time.Time, spec rollupSpec, rq aggregates.RollupQuery) {
	t.Helper()
	checkKnownOnce(t, raw, q, spec.params)
	if !slices.Contains(spec.steps, rq.Step) {
		t.Fatalf("%q: %s step %s accepted, want one of %v", raw, spec.name, rq.Step, spec.steps)
	}
	if q.Get("step") == "" && rq.Step != window.Step1h {
		t.Fatalf("%q: default step %s, want 1h", raw, rq.Step)
	}
	switch {
	case !rq.From.Before(rq.To):
		t.Fatalf("%q: from %s not before to %s", raw, rq.From, rq.To)
	case !aligned(rq.From, rq.Step) || !aligned(rq.To, rq.Step):
		t.Fatalf("%q: %s..%s not aligned to %s", raw, rq.From, rq.To, rq.Step)
	case int64(rq.To.Sub(rq.From)/rq.Step) > MaxWindows:
		t.Fatalf("%q: %d windows of %s, more than %d", raw, rq.To.Sub(rq.From)/rq.Step, rq.Step, MaxWindows)
	case rq.From.Location() != time.UTC || rq.To.Location() != time.UTC:
		t.Fatalf("%q: %s..%s not in UTC", raw, rq.From, rq.To)
	case q.Get("from") != "" && rq.From.Before(minTime):
		t.Fatalf("%q: from %s before %s", raw, rq.From, minTime)
	case q.Get("to") != "" && rq.To.After(maxTime):
		t.Fatalf("%q: to %s after %s", raw, rq.To, maxTime)
	case q.Get("to") == "" && !rq.To.Equal(ceil(now, rq.Step)):
		t.Fatalf("%q: to defaults to %s, want now aligned up %s", raw, rq.To, ceil(now, rq.Step))
	case q.Get("from") == "" && rq.From.Before(minTime.Add(-defaultRange)):
		t.Fatalf("%q: from defaults to %s, more than %s before %s", raw, rq.From, defaultRange, minTime)
	case rq.Limit != 0:
		t.Fatalf("%q: limit %d set by the parser", raw, rq.Limit)
	}
	checkFilter(t, raw, "tenant_id", q.Get("tenant_id"), rq.TenantID)
	checkFilter(t, raw, "provider", q.Get("provider"), rq.Provider)
	checkFilter(t, raw, "event", q.Get("event"), rq.Event)
	if len(rq.GroupBy) == 0 {
		t.Fatalf("%q: no group_by dimension", raw)
	}
	if q.Get("group_by") == "" && !slices.Equal(rq.GroupBy, spec.defaultGroup) {
		t.Fatalf("%q: default group_by %v, want %v", raw, rq.GroupBy, spec.defaultGroup)
	}
	last := -1
	for _, d := range rq.GroupBy {
		i := slices.Index(spec.dims, d)
		if i < 0 {
			t.Fatalf("%q: group_by dimension %q is not a %s dimension", raw, d, spec.name)
		}
		if i <= last {
			t.Fatalf("%q: group_by %v repeats a dimension or is not in canonical order %v", raw, rq.GroupBy, spec.dims)
		}
		last = i
	}
}
