package posthog

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var now = time.Date(2024, 5, 1, 12, 0, 10, 0, time.UTC)

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// posthogGoBody is what posthog-go v1.5.2 sends for two Enqueue calls.
const posthogGoBody = `{"api_key":"phc_key","batch":[` +
	`{"type":"capture","uuid":"","library":"posthog-go","library_version":"1.5.2","timestamp":"2024-05-01T14:00:00.123456789+02:00","distinct_id":"user-1","event":"$pageview","properties":{"$lib":"posthog-go","$lib_version":"1.5.2","plan":"pro"},"send_feature_flags":false},` +
	`{"type":"capture","uuid":"","library":"posthog-go","library_version":"1.5.2","timestamp":"2024-05-01T14:00:01.5+02:00","distinct_id":"user-2","event":"signup","properties":{"$lib":"posthog-go","$lib_version":"1.5.2","$groups":{"company":"acme"}},"send_feature_flags":false}]}`

const singleEvent = `{"api_key":"phc_key","event":"clicked","distinct_id":"u1","uuid":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","timestamp":"2024-05-01T12:00:00Z","properties":{"x":1}}`

const jsArray = `[{"event":"$pageview","uuid":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a50","properties":{"token":"phc_js","distinct_id":"anon-1","$current_url":"https://x"},"offset":1500},` +
	`{"event":"$autocapture","uuid":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a51","properties":{"token":"phc_js","distinct_id":"anon-1"},"timestamp":"2024-05-01T12:00:05Z"}]`

func TestDecodeShapes(t *testing.T) {
	tests := map[string]struct {
		body        []byte
		contentType string
		encoding    string
		query       url.Values
		wantEvents  []string
		wantKey     string
	}{
		"single event object": {
			body: []byte(singleEvent), contentType: "application/json",
			wantEvents: []string{"clicked"}, wantKey: "phc_key",
		},
		"array posthog-js with token in properties": {
			body: []byte(jsArray), contentType: "application/json",
			wantEvents: []string{"$pageview", "$autocapture"}, wantKey: "phc_js",
		},
		"batch posthog-go": {
			body: []byte(posthogGoBody), contentType: "application/json",
			wantEvents: []string{"$pageview", "signup"}, wantKey: "phc_key",
		},
		"batch with token alias": {
			body:       []byte(`{"token":"phc_t","batch":[{"event":"e","distinct_id":"d"}]}`),
			wantEvents: []string{"e"}, wantKey: "phc_t",
		},
		"event-level $token": {
			body:       []byte(`{"event":"e","distinct_id":"d","$token":"phc_dollar"}`),
			wantEvents: []string{"e"}, wantKey: "phc_dollar",
		},
		"properties $token": {
			body:       []byte(`[{"event":"e","distinct_id":"d","properties":{"$token":"phc_p"}}]`),
			wantEvents: []string{"e"}, wantKey: "phc_p",
		},
		"event-level key overrides batch-level": {
			body:       []byte(`{"api_key":"phc_batch","batch":[{"event":"e","distinct_id":"d","api_key":"phc_event"}]}`),
			wantEvents: []string{"e"}, wantKey: "phc_event",
		},
		"gzip by Content-Encoding": {
			body: gz(t, []byte(posthogGoBody)), contentType: "application/json", encoding: "gzip",
			wantEvents: []string{"$pageview", "signup"}, wantKey: "phc_key",
		},
		"gzip by query": {
			body: gz(t, []byte(jsArray)), contentType: "text/plain", query: url.Values{"compression": {"gzip-js"}},
			wantEvents: []string{"$pageview", "$autocapture"}, wantKey: "phc_js",
		},
		"gzip by magic bytes only": {
			body: gz(t, []byte(singleEvent)), contentType: "application/json",
			wantEvents: []string{"clicked"}, wantKey: "phc_key",
		},
		"form base64": {
			body:        []byte("data=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(jsArray)))),
			contentType: "application/x-www-form-urlencoded",
			wantEvents:  []string{"$pageview", "$autocapture"}, wantKey: "phc_js",
		},
		"form base64 unescaped plus and compression in form": {
			body:        []byte("data=" + base64.StdEncoding.EncodeToString([]byte(`{"event":"e>?","distinct_id":"d~~~","api_key":"phc_k"}`)) + "&compression=base64"),
			contentType: "application/x-www-form-urlencoded; charset=UTF-8",
			wantEvents:  []string{"e>?"}, wantKey: "phc_k",
		},
		"query compression=base64": {
			body:       []byte(base64.StdEncoding.EncodeToString([]byte(singleEvent))),
			query:      url.Values{"compression": {"base64"}},
			wantEvents: []string{"clicked"}, wantKey: "phc_key",
		},
		"form with plain JSON data": {
			body:        []byte("data=" + url.QueryEscape(singleEvent)),
			contentType: "application/x-www-form-urlencoded",
			wantEvents:  []string{"clicked"}, wantKey: "phc_key",
		},
		"form base64 of gzip": {
			body:        []byte("data=" + url.QueryEscape(base64.StdEncoding.EncodeToString(gz(t, []byte(singleEvent))))),
			contentType: "application/x-www-form-urlencoded",
			wantEvents:  []string{"clicked"}, wantKey: "phc_key",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			evs, rej, err := Decode(tc.body, tc.contentType, tc.encoding, tc.query, now, DefaultLimits())
			require.NoError(t, err)
			require.Empty(t, rej)
			var names []string
			for _, e := range evs {
				names = append(names, e.Event)
				require.Equal(t, tc.wantKey, e.APIKey)
				require.True(t, isUUID(e.UUID), e.UUID)
				require.Equal(t, time.UTC, e.Time.Location())
				require.True(t, json.Valid(e.Raw))
			}
			require.Equal(t, tc.wantEvents, names)
		})
	}
}

func TestDecodePosthogGoExact(t *testing.T) {
	evs, rej, err := Decode([]byte(posthogGoBody), "application/json", "", nil, now, Limits{})
	require.NoError(t, err)
	require.Empty(t, rej)
	require.Len(t, evs, 2)
	e := evs[0]
	require.Equal(t, "phc_key", e.APIKey)
	require.Equal(t, "user-1", e.DistinctID)
	require.Equal(t, "$pageview", e.Event)
	require.Equal(t, time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC), e.Time)
	require.Equal(t, "posthog-go", e.Properties["$lib"])
	require.Equal(t, "pro", e.Properties["plan"])
	require.False(t, e.Historical)
	require.Equal(t, DeriveUUID("phc_key", "user-1", "$pageview", e.Time, e.Properties), e.UUID)
	require.Equal(t, byte('8'), e.UUID[14], "version 8")
	require.Equal(t, map[string]string{"company": "acme"}, evs[1].Groups)
	require.NotEqual(t, evs[0].UUID, evs[1].UUID)
	require.Contains(t, string(e.Raw), `"library":"posthog-go"`)

	// A retry of the same batch, received later, gives the same UUIDs.
	again, _, err := Decode([]byte(posthogGoBody), "application/json", "", nil, now.Add(30*time.Second), Limits{})
	require.NoError(t, err)
	require.Equal(t, evs[0].UUID, again[0].UUID)
	require.Equal(t, evs[1].UUID, again[1].UUID)

	// historical_migration
	hist := strings.Replace(posthogGoBody, `{"api_key":"phc_key",`, `{"api_key":"phc_key","historical_migration":true,`, 1)
	evs, _, err = Decode([]byte(hist), "application/json", "", nil, now, Limits{})
	require.NoError(t, err)
	require.True(t, evs[0].Historical)
	require.True(t, evs[1].Historical)
}

func TestDeriveUUID(t *testing.T) {
	ts := time.Date(2024, 5, 1, 12, 0, 0, 1, time.UTC)
	base := DeriveUUID("k", "d", "e", ts, map[string]any{"a": 1, "b": map[string]any{"x": "y", "c": []any{1, "2"}}})
	tests := map[string]struct {
		got  string
		same bool
	}{
		"same content, other map order": {DeriveUUID("k", "d", "e", ts, map[string]any{"b": map[string]any{"c": []any{1, "2"}, "x": "y"}, "a": 1}), true},
		"same instant, other zone":      {DeriveUUID("k", "d", "e", ts.In(time.FixedZone("x", 3600)), map[string]any{"a": 1, "b": map[string]any{"x": "y", "c": []any{1, "2"}}}), true},
		"other key":                     {DeriveUUID("k2", "d", "e", ts, map[string]any{"a": 1, "b": map[string]any{"x": "y", "c": []any{1, "2"}}}), false},
		"other distinct id":             {DeriveUUID("k", "d2", "e", ts, map[string]any{"a": 1, "b": map[string]any{"x": "y", "c": []any{1, "2"}}}), false},
		"other event":                   {DeriveUUID("k", "d", "e2", ts, map[string]any{"a": 1, "b": map[string]any{"x": "y", "c": []any{1, "2"}}}), false},
		"other timestamp":               {DeriveUUID("k", "d", "e", ts.Add(1), map[string]any{"a": 1, "b": map[string]any{"x": "y", "c": []any{1, "2"}}}), false},
		"other property":                {DeriveUUID("k", "d", "e", ts, map[string]any{"a": 2, "b": map[string]any{"x": "y", "c": []any{1, "2"}}}), false},
		"field boundaries":              {DeriveUUID("kd", "", "e", ts, map[string]any{"a": 1, "b": map[string]any{"x": "y", "c": []any{1, "2"}}}), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			require.True(t, isUUID(tc.got))
			if tc.same {
				require.Equal(t, base, tc.got)
			} else {
				require.NotEqual(t, base, tc.got)
			}
		})
	}
	require.Equal(t, DeriveUUID("k", "d", "e", ts, nil), DeriveUUID("k", "d", "e", ts, map[string]any{}))
}

func TestDecodeUUID(t *testing.T) {
	tests := map[string]struct {
		body       string
		wantUUID   string // "" = derived
		wantReject string
	}{
		"given uuid is kept":       {body: `{"api_key":"k","event":"e","distinct_id":"d","uuid":"0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"}`, wantUUID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"},
		"empty uuid is derived":    {body: `{"api_key":"k","event":"e","distinct_id":"d","uuid":"","timestamp":"2024-05-01T12:00:00Z"}`},
		"missing uuid is derived":  {body: `{"api_key":"k","event":"e","distinct_id":"d","timestamp":"2024-05-01T12:00:00Z"}`},
		"invalid uuid rejected":    {body: `{"api_key":"k","event":"e","distinct_id":"d","uuid":"nope"}`, wantReject: ReasonWrongType},
		"non-string uuid rejected": {body: `{"api_key":"k","event":"e","distinct_id":"d","uuid":5}`, wantReject: ReasonWrongType},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			evs, rej, err := Decode([]byte(tc.body), "application/json", "", nil, now, Limits{})
			require.NoError(t, err)
			if tc.wantReject != "" {
				require.Empty(t, evs)
				require.Len(t, rej, 1)
				require.Equal(t, tc.wantReject, rej[0].Reason)
				return
			}
			require.Len(t, evs, 1)
			if tc.wantUUID != "" {
				require.Equal(t, tc.wantUUID, evs[0].UUID)
				return
			}
			want := DeriveUUID("k", "d", "e", time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), map[string]any{})
			require.Equal(t, want, evs[0].UUID)
		})
	}
}

func TestDecodeTime(t *testing.T) {
	tests := map[string]struct {
		body       string
		query      url.Values
		want       time.Time
		wantReject string
	}{
		"timestamp only": {
			body: `{"api_key":"k","event":"e","distinct_id":"d","timestamp":"2024-05-01T11:00:00.5Z"}`,
			want: time.Date(2024, 5, 1, 11, 0, 0, 500000000, time.UTC),
		},
		"timestamp with local offset": {
			body: `{"api_key":"k","event":"e","distinct_id":"d","timestamp":"2024-05-01T10:00:00-01:00"}`,
			want: time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC),
		},
		"timestamp without zone is UTC": {
			body: `{"api_key":"k","event":"e","distinct_id":"d","timestamp":"2024-05-01T11:00:00"}`,
			want: time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC),
		},
		"timestamp as epoch ms": {
			body: `{"api_key":"k","event":"e","distinct_id":"d","timestamp":1714561200000}`,
			want: time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC),
		},
		"batch sent_at corrects clock skew": {
			// Client clock 1 h ahead: sent 5 s after the event.
			body: `{"api_key":"k","sent_at":"2024-05-01T13:00:05Z","batch":[{"event":"e","distinct_id":"d","timestamp":"2024-05-01T13:00:00Z"}]}`,
			want: now.Add(-5 * time.Second),
		},
		"query sent_at in ms corrects clock skew": {
			body:  `[{"api_key":"k","event":"e","distinct_id":"d","timestamp":"2024-05-01T13:00:00Z"}]`,
			query: url.Values{"sent_at": {"1714568402000"}}, // 13:00:02Z
			want:  now.Add(-2 * time.Second),
		},
		"offset in ms": {
			body: `{"api_key":"k","event":"e","distinct_id":"d","offset":1500}`,
			want: now.Add(-1500 * time.Millisecond),
		},
		"timestamp wins over offset": {
			body: `{"api_key":"k","event":"e","distinct_id":"d","offset":1500,"timestamp":"2024-05-01T11:00:00Z"}`,
			want: time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC),
		},
		"nothing: now": {
			body: `{"api_key":"k","event":"e","distinct_id":"d"}`,
			want: now,
		},
		"unparsable timestamp": {
			body:       `{"api_key":"k","event":"e","distinct_id":"d","timestamp":"yesterday"}`,
			wantReject: ReasonBadTimestamp,
		},
		"far future": {
			body:       `{"api_key":"k","event":"e","distinct_id":"d","timestamp":"2999-01-01T00:00:00Z"}`,
			wantReject: ReasonFutureTimestamp,
		},
		"slightly future is fine": {
			body: `{"api_key":"k","event":"e","distinct_id":"d","timestamp":"2024-05-01T12:30:00Z"}`,
			want: time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC),
		},
		"absurdly old": {
			body:       `{"api_key":"k","event":"e","distinct_id":"d","timestamp":"1970-01-01T00:00:00Z"}`,
			wantReject: ReasonTooOld,
		},
		"huge offset": {
			body:       `{"api_key":"k","event":"e","distinct_id":"d","offset":1e30}`,
			wantReject: ReasonBadTimestamp,
		},
		"negative offset into the future": {
			body:       `{"api_key":"k","event":"e","distinct_id":"d","offset":-86400000}`,
			wantReject: ReasonFutureTimestamp,
		},
		"offset wrong type": {
			body:       `{"api_key":"k","event":"e","distinct_id":"d","offset":"5"}`,
			wantReject: ReasonWrongType,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			evs, rej, err := Decode([]byte(tc.body), "application/json", "", tc.query, now, Limits{})
			require.NoError(t, err)
			if tc.wantReject != "" {
				require.Empty(t, evs)
				require.Len(t, rej, 1)
				require.Equal(t, tc.wantReject, rej[0].Reason, rej[0].Message)
				return
			}
			require.Empty(t, rej)
			require.Len(t, evs, 1)
			require.True(t, tc.want.Equal(evs[0].Time), "got %s want %s", evs[0].Time, tc.want)
		})
	}
}

func TestDecodeRejectsPerEvent(t *testing.T) {
	body := `{"api_key":"k","batch":[` +
		`{"event":"ok0","distinct_id":"d"},` +
		`{"distinct_id":"d"},` +
		`{"event":"no-did"},` +
		`{"event":"ok3","$distinct_id":"d3"},` +
		`"not an object",` +
		`{"event":"","distinct_id":"d"},` +
		`{"event":"ok6","properties":{"distinct_id":"d6"}},` +
		`{"event":7,"distinct_id":"d"},` +
		`{"event":"e","distinct_id":{"a":1}},` +
		`{"event":"e","distinct_id":"d","properties":[1]},` +
		`{"event":"e","distinct_id":"d","$set":"x"}` +
		`]}`
	evs, rej, err := Decode([]byte(body), "application/json", "", nil, now, Limits{})
	require.NoError(t, err)
	var names []string
	for _, e := range evs {
		names = append(names, e.Event+"/"+e.DistinctID)
	}
	require.Equal(t, []string{"ok0/d", "ok3/d3", "ok6/d6"}, names)
	type ir struct {
		Index  int
		Reason string
	}
	var got []ir
	for _, r := range rej {
		require.NotEmpty(t, r.Message)
		got = append(got, ir{r.Index, r.Reason})
	}
	require.Equal(t, []ir{
		{1, ReasonMissingEvent},
		{2, ReasonMissingDistinctID},
		{4, ReasonWrongType},
		{5, ReasonMissingEvent},
		{7, ReasonWrongType},
		{8, ReasonWrongType},
		{9, ReasonWrongType},
		{10, ReasonWrongType},
	}, got)
}

func TestDecodeDistinctID(t *testing.T) {
	long := strings.Repeat("é", 250)
	tests := map[string]struct {
		did  string
		want string
	}{
		"integer":          {did: `12345678901234567890`, want: "12345678901234567890"},
		"float":            {did: `1.5`, want: "1.5"},
		"string":           {did: `"abc"`, want: "abc"},
		"cut to 200 runes": {did: `"` + long + `"`, want: strings.Repeat("é", 200)},
		"exactly 200":      {did: `"` + strings.Repeat("a", 200) + `"`, want: strings.Repeat("a", 200)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			evs, rej, err := Decode([]byte(`{"api_key":"k","event":"e","distinct_id":`+tc.did+`}`), "", "", nil, now, Limits{})
			require.NoError(t, err)
			require.Empty(t, rej)
			require.Equal(t, tc.want, evs[0].DistinctID)
		})
	}
}

func TestDecodeRequestErrors(t *testing.T) {
	small := Limits{MaxBodyBytes: 200, MaxEvents: 2}
	tests := map[string]struct {
		body       []byte
		ct, enc    string
		query      url.Values
		lim        Limits
		wantStatus int
		wantCode   string
	}{
		"mixed tokens in array": {
			body:       []byte(`[{"event":"e","distinct_id":"d","properties":{"token":"phc_a"}},{"event":"e","distinct_id":"d","properties":{"token":"phc_b"}}]`),
			wantStatus: 400, wantCode: CodeMixedTokens,
		},
		"mixed event override and batch inheritance": {
			body:       []byte(`{"api_key":"phc_a","batch":[{"event":"e","distinct_id":"d","api_key":"phc_b"},{"event":"e","distinct_id":"d"}]}`),
			wantStatus: 400, wantCode: CodeMixedTokens,
		},
		"personal key batch-level": {
			body:       []byte(`{"api_key":"phx_secret","batch":[{"event":"e","distinct_id":"d"}]}`),
			wantStatus: 401, wantCode: CodePersonalAPIKey,
		},
		"personal key in properties": {
			body:       []byte(`{"event":"e","distinct_id":"d","properties":{"token":"phx_secret"}}`),
			wantStatus: 401, wantCode: CodePersonalAPIKey,
		},
		"missing key": {
			body:       []byte(`{"event":"e","distinct_id":"d"}`),
			wantStatus: 401, wantCode: CodeMissingAPIKey,
		},
		"body too large": {
			body: []byte(`{"api_key":"k","event":"e","distinct_id":"` + strings.Repeat("x", 300) + `"}`), lim: small,
			wantStatus: 413, wantCode: CodeBodyTooLarge,
		},
		"gzip bomb too large once decoded": {
			body: gz(t, []byte(`{"api_key":"k","event":"e","distinct_id":"`+strings.Repeat("x", 5000)+`"}`)), lim: small,
			wantStatus: 413, wantCode: CodeBodyTooLarge,
		},
		"too many events": {
			body: []byte(`[{"api_key":"k","event":"e","distinct_id":"d"},{"event":"e","distinct_id":"d"},{"event":"e","distinct_id":"d"}]`), lim: small,
			wantStatus: 413, wantCode: CodeTooManyEvents,
		},
		"malformed JSON":                {body: []byte(`{"api_key":"k","event":`), wantStatus: 400, wantCode: CodeInvalidJSON},
		"trailing garbage":              {body: []byte(`{"api_key":"k","event":"e","distinct_id":"d"} x`), wantStatus: 400, wantCode: CodeInvalidJSON},
		"scalar body":                   {body: []byte(`"hello"`), wantStatus: 400, wantCode: CodeInvalidJSON},
		"empty body":                    {body: nil, wantStatus: 400, wantCode: CodeEmptyBody},
		"empty array":                   {body: []byte(`[]`), wantStatus: 400, wantCode: CodeNoEvents},
		"batch not an array":            {body: []byte(`{"api_key":"k","batch":{}}`), wantStatus: 400, wantCode: CodeInvalidJSON},
		"batch api_key not string":      {body: []byte(`{"api_key":1,"batch":[{"event":"e","distinct_id":"d"}]}`), wantStatus: 400, wantCode: CodeInvalidJSON},
		"bad gzip header":               {body: []byte("\x1f\x8b\x00garbage"), wantStatus: 400, wantCode: CodeBadEncoding},
		"gzip header but plain":         {body: []byte("not json"), enc: "gzip", wantStatus: 400, wantCode: CodeBadEncoding},
		"unknown content encoding":      {body: []byte(`{}`), enc: "br", wantStatus: 400, wantCode: CodeUnsupportedEncoding},
		"lz64 unsupported":              {body: []byte(`xyz`), query: url.Values{"compression": {"lz64"}}, wantStatus: 400, wantCode: CodeUnsupportedEncoding},
		"bad base64":                    {body: []byte(`!!!`), query: url.Values{"compression": {"base64"}}, wantStatus: 400, wantCode: CodeBadEncoding},
		"form without data":             {body: []byte(`foo=bar`), ct: "application/x-www-form-urlencoded", wantStatus: 400, wantCode: CodeBadEncoding},
		"compression gzip but not gzip": {body: []byte(`xyz`), query: url.Values{"compression": {"gzip"}}, wantStatus: 400, wantCode: CodeBadEncoding},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			evs, rej, err := Decode(tc.body, tc.ct, tc.enc, tc.query, now, tc.lim)
			require.Nil(t, evs)
			require.Nil(t, rej)
			var re *RequestError
			require.True(t, errors.As(err, &re), "err = %v", err)
			require.Equal(t, tc.wantStatus, re.Status)
			require.Equal(t, tc.wantCode, re.Code, re.Message)
			require.Contains(t, re.Error(), tc.wantCode)
		})
	}
}

func TestDecodeOversizedEvent(t *testing.T) {
	body := `{"api_key":"k","batch":[{"event":"small","distinct_id":"d"},{"event":"big","distinct_id":"d","properties":{"x":"` + strings.Repeat("y", 500) + `"}}]}`
	evs, rej, err := Decode([]byte(body), "application/json", "", nil, now, Limits{MaxEventBytes: 200})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, "small", evs[0].Event)
	require.Equal(t, []Rejected{{Index: 1, Reason: ReasonOversizedEvent, Message: rej[0].Message}}, rej)
}

func TestDecodePersonExtraction(t *testing.T) {
	tests := map[string]struct {
		body              string
		wantSet, wantOnce map[string]any
		wantGroups        map[string]string
		wantType, wantKey string
		wantGroupSet      map[string]any
	}{
		"identify with top-level $set": {
			body:    `{"api_key":"k","event":"$identify","distinct_id":"d","$set":{"email":"a@b"},"$set_once":{"first":"x"}}`,
			wantSet: map[string]any{"email": "a@b"}, wantOnce: map[string]any{"first": "x"},
		},
		"$set in properties wins over top-level": {
			body:    `{"api_key":"k","event":"$identify","distinct_id":"d","$set":{"email":"a@b","n":1},"properties":{"$set":{"email":"c@d"},"$set_once":{"f":true}}}`,
			wantSet: map[string]any{"email": "c@d", "n": json.Number("1")}, wantOnce: map[string]any{"f": true},
		},
		"groupidentify": {
			body:     `{"api_key":"k","event":"$groupidentify","distinct_id":"$company_acme","properties":{"$group_type":"company","$group_key":"acme","$group_set":{"name":"Acme","size":5}}}`,
			wantType: "company", wantKey: "acme",
			wantGroupSet: map[string]any{"name": "Acme", "size": json.Number("5")},
		},
		"groups with numeric key": {
			body:       `{"api_key":"k","event":"e","distinct_id":"d","properties":{"$groups":{"company":"acme","project":42,"bad":{}}}}`,
			wantGroups: map[string]string{"company": "acme", "project": "42"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			evs, rej, err := Decode([]byte(tc.body), "application/json", "", nil, now, Limits{})
			require.NoError(t, err)
			require.Empty(t, rej)
			require.Len(t, evs, 1)
			e := evs[0]
			require.Equal(t, tc.wantSet, e.Set)
			require.Equal(t, tc.wantOnce, e.SetOnce)
			require.Equal(t, tc.wantGroups, e.Groups)
			require.Equal(t, tc.wantType, e.GroupType)
			require.Equal(t, tc.wantKey, e.GroupKey)
			require.Equal(t, tc.wantGroupSet, e.GroupSet)
		})
	}
}

func TestDecodeJSArray(t *testing.T) {
	evs, rej, err := Decode([]byte(jsArray), "text/plain", "", url.Values{"ver": {"1.130.0"}}, now, Limits{})
	require.NoError(t, err)
	require.Empty(t, rej)
	require.Len(t, evs, 2)
	require.Equal(t, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a50", evs[0].UUID)
	require.Equal(t, "anon-1", evs[0].DistinctID)
	require.Equal(t, now.Add(-1500*time.Millisecond), evs[0].Time)
	require.Equal(t, "https://x", evs[0].Properties["$current_url"])
	require.Equal(t, time.Date(2024, 5, 1, 12, 0, 5, 0, time.UTC), evs[1].Time)
}
