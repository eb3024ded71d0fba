package api

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/window"
)

// Parameter rules.
const (
	maxFilterBytes = 128
	maxEcho        = 64 // bytes of a bad value quoted back in an error message
	defaultRange   = 24 * time.Hour
)

// Times outside [minTime, maxTime) are refused: ClickHouse DateTime cannot hold them.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// rollupSpec is what differs between the roll-up endpoints.
type rollupSpec struct {
	params       []string // accepted query parameters
	steps        []time.Duration
	finest       time.Duration // finest step kept, named when a finer one is asked for
	name         string        // of the roll-up, in messages
	dims         []aggregates.Dimension
	defaultGroup []aggregates.Dimension
}

var (
	usageParams = []string{"from", "to", "step", "tenant_id", "provider", "group_by"}
	emailSpec   = rollupSpec{params: usageParams, steps: aggregates.EmailSteps, finest: window.Step1h, name: "email",
		dims: aggregates.EmailDimensions, defaultGroup: []aggregates.Dimension{aggregates.DimTenantID, aggregates.DimProvider}}
	vpsSpec = rollupSpec{params: usageParams, steps: aggregates.VPSSteps, finest: window.Step5m, name: "vps",
		dims: aggregates.VPSDimensions, defaultGroup: []aggregates.Dimension{aggregates.DimTenantID, aggregates.DimResourceID}}
	eventSpec = rollupSpec{params: []string{"from", "to", "step", "tenant_id", "event", "group_by"},
		steps: aggregates.EventSteps, finest: window.Step1h, name: "event",
		dims: aggregates.EventDimensions, defaultGroup: []aggregates.Dimension{aggregates.DimTenantID, aggregates.DimEvent}}
)

// paramError is a 400 bad_parameter naming the parameter and what is wanted.
type paramError struct {
	param string
	msg   string
}

func (e *paramError) Error() string { return e.param + ": " + e.msg }

func badParam(param, format string, args ...any) error {
	return &paramError{param: param, msg: fmt.Sprintf(format, args...)}
}

// echo quotes at most maxEcho bytes of a caller's value, cut on a rune boundary.
func echo(s string) string {
	if len(s) <= maxEcho {
		return fmt.Sprintf("%q", s)
	}
	cut := maxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q…", s[:cut])
}

// parseQuery parses the raw query string strictly (url.Values from r.URL.Query() drops malformed
// pairs silently).
func parseQuery(r *http.Request) (url.Values, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badParam("query", "malformed query string; want name=value pairs joined by & and URL-encoded")
	}
	return v, nil
}

// unknownParams rejects parameters not in allowed and parameters given more than once.
func unknownParams(q url.Values, allowed []string) error {
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return badParam(echo(k), "unknown parameter; this endpoint takes none")
			}
			return badParam(echo(k), "unknown parameter; want one of %s", strings.Join(allowed, ", "))
		}
		if len(q[k]) > 1 {
			return badParam(k, "given %d times; want it once", len(q[k]))
		}
	}
	return nil
}

// parseFreshnessRequest checks that /v1/freshness got no parameters.
func parseFreshnessRequest(q url.Values) error { return unknownParams(q, nil) }

// parseEmailRequest parses the parameters of GET /v1/rollups/email-volume; now sets the default range.
func parseEmailRequest(q url.Values, now time.Time) (aggregates.EmailQuery, error) {
	rq, err := parseRollupRequest(q, now, emailSpec)
	return aggregates.EmailQuery{RollupQuery: rq}, err
}

// parseVPSRequest parses the parameters of GET /v1/rollups/vps-utilization.
func parseVPSRequest(q url.Values, now time.Time) (aggregates.VPSQuery, error) {
	rq, err := parseRollupRequest(q, now, vpsSpec)
	return aggregates.VPSQuery{RollupQuery: rq}, err
}

// parseEventRequest parses the parameters of GET /v1/rollups/events.
func parseEventRequest(q url.Values, now time.Time) (aggregates.EventQuery, error) {
	rq, err := parseRollupRequest(q, now, eventSpec)
	return aggregates.EventQuery{RollupQuery: rq}, err
}

// parseSegmentRequest parses the parameters of GET /v1/segments: at (default now) and tenant_id.
func parseSegmentRequest(q url.Values, now time.Time) (aggregates.SegmentQuery, error) {
	out := aggregates.SegmentQuery{At: now.UTC()}
	if err := unknownParams(q, []string{"at", "tenant_id"}); err != nil {
		return out, err
	}
	var err error
	if v := q.Get("at"); v != "" {
		if out.At, err = parseTime("at", v); err != nil {
			return out, err
		}
	}
	out.TenantID, err = parseFilter("tenant_id", q.Get("tenant_id"))
	return out, err
}

// parseRollupRequest applies the shared rules. An empty value counts as absent.
func parseRollupRequest(q url.Values, now time.Time, spec rollupSpec) (aggregates.RollupQuery, error) {
	var out aggregates.RollupQuery
	if err := unknownParams(q, spec.params); err != nil {
		return out, err
	}
	step, err := parseStep(q.Get("step"), spec)
	if err != nil {
		return out, err
	}
	out.Step = step
	if out.From, out.To, err = parseRange(q.Get("from"), q.Get("to"), step, now); err != nil {
		return out, err
	}
	if out.TenantID, err = parseFilter("tenant_id", q.Get("tenant_id")); err != nil {
		return out, err
	}
	if out.Provider, err = parseFilter("provider", q.Get("provider")); err != nil {
		return out, err
	}
	if out.Event, err = parseFilter("event", q.Get("event")); err != nil {
		return out, err
	}
	if out.GroupBy, err = parseGroupBy(q.Get("group_by"), spec); err != nil {
		return out, err
	}
	return out, nil
}

func parseStep(v string, spec rollupSpec) (time.Duration, error) {
	if v == "" {
		return window.Step1h, nil
	}
	names := make([]string, len(spec.steps))
	for i, s := range spec.steps {
		names[i] = window.StepName(s)
	}
	want := strings.Join(names, ", ")
	step, err := window.ParseStep(v)
	if err != nil {
		return 0, badParam("step", "want one of %s, got %s", want, echo(v))
	}
	if !slices.Contains(spec.steps, step) {
		if step < spec.finest {
			return 0, badParam("step", "%s is finer than the %s %s roll-up; want one of %s",
				v, window.StepName(spec.finest), spec.name, want)
		}
		return 0, badParam("step", "want one of %s, got %s", want, echo(v))
	}
	return step, nil
}

// parseRange parses from and to and aligns them to step: from down, to up. Defaults: to = now
// (aligned up), from = to − 24h.
func parseRange(fromS, toS string, step time.Duration, now time.Time) (from, to time.Time, err error) {
	if fromS != "" {
		if from, err = parseTime("from", fromS); err != nil {
			return from, to, err
		}
	}
	to = now.UTC()
	if toS != "" {
		if to, err = parseTime("to", toS); err != nil {
			return from, to, err
		}
	}
	if fromS == "" {
		from = ceil(to, step).Add(-defaultRange)
		if from.Before(minTime) {
			from = minTime
		}
	}
	if !from.Before(to) {
		if fromS == "" {
			return from, to, badParam("to", "want a time after %s (the default from, 24h before to)",
				from.Format(time.RFC3339))
		}
		if toS == "" {
			return from, to, badParam("from", "want a time before to (now, when to is not given)")
		}
		return from, to, badParam("from", "want a time before to")
	}
	from, to = window.Assign(from, step), ceil(to, step)
	if n := int64(to.Sub(from) / step); n > MaxWindows {
		return from, to, badParam("from/to", "the range holds %d windows of %s; want at most %d (shorten the range or use a coarser step)",
			n, window.StepName(step), MaxWindows)
	}
	return from, to, nil
}

func parseTime(param, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, badParam(param, "want an RFC 3339 time such as 2026-03-01T00:00:00Z, got %s", echo(v))
	}
	t = t.UTC()
	if t.Before(minTime) || !t.Before(maxTime) {
		return t, badParam(param, "want a time from 1970-01-01 to before 2100-01-01, got %s", echo(v))
	}
	return t, nil
}

// ceil aligns t up to the step.
func ceil(t time.Time, step time.Duration) time.Time {
	a := window.Assign(t, step)
	if a.Before(t) {
		a = a.Add(step)
	}
	return a
}

// parseFilter checks an exact-match filter value: at most 128 bytes of printable UTF-8.
func parseFilter(param, v string) (string, error) {
	if len(v) > maxFilterBytes {
		return "", badParam(param, "want at most %d bytes, got %d", maxFilterBytes, len(v))
	}
	if !utf8.ValidString(v) {
		return "", badParam(param, "want valid UTF-8")
	}
	for _, r := range v {
		if !unicode.IsPrint(r) {
			return "", badParam(param, "want printable characters, got %s", echo(v))
		}
	}
	return v, nil
}

// parseGroupBy parses a comma list of dimensions into canonical order (so rows sort the same way
// whatever order the caller listed them in).
func parseGroupBy(v string, spec rollupSpec) ([]aggregates.Dimension, error) {
	if v == "" {
		return slices.Clone(spec.defaultGroup), nil
	}
	names := make([]string, len(spec.dims))
	for i, d := range spec.dims {
		names[i] = string(d)
	}
	want := strings.Join(names, ", ")
	seen := map[aggregates.Dimension]bool{}
	for _, part := range strings.Split(v, ",") {
		d := aggregates.Dimension(strings.TrimSpace(part))
		if !slices.Contains(spec.dims, d) {
			return nil, badParam("group_by", "want a comma list of %s, got %s", want, echo(string(d)))
		}
		if seen[d] {
			return nil, badParam("group_by", "%s is listed twice", d)
		}
		seen[d] = true
	}
	var out []aggregates.Dimension
	for _, d := range spec.dims {
		if seen[d] {
			out = append(out, d)
		}
	}
	return out, nil
}
