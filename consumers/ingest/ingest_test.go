package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/auth"
	"github.com/spendstream/spendstream/consumers/streams"
	"github.com/spendstream/spendstream/consumers/streams/streamstest"
	"github.com/spendstream/spendstream/schemas/events"
	"github.com/spendstream/spendstream/schemas/generate"
)

// fakePublisher records what it is asked to publish and answers per message id: an error for ids
// in fail, a duplicate ack for ids in dup, a fresh ack otherwise. With block set, Publish waits
// until block is closed (or its context ends, answering ErrNotAcked); entered receives once per call.
type fakePublisher struct {
	failAll bool
	fail    map[string]bool
	dup     map[string]bool
	block   chan struct{}
	entered chan struct{}

	mu       sync.Mutex
	calls    [][]streams.Outgoing
	seq      uint64
	returned atomic.Int32
}

func (f *fakePublisher) Publish(ctx context.Context, msgs []streams.Outgoing) []streams.Result {
	f.mu.Lock()
	f.calls = append(f.calls, slices.Clone(msgs))
	f.mu.Unlock()
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	res := make([]streams.Result, len(msgs))
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			for i := range res {
				res[i].Err = fmt.Errorf("%w: %w", streams.ErrNotAcked, ctx.Err())
			}
			f.returned.Add(1)
			return res
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, m := range msgs {
		id := eventID(m.MsgID)
		switch {
		case f.failAll || f.fail[m.MsgID] || f.fail[id]:
			res[i].Err = errors.New("fake: no ack")
		case f.dup[m.MsgID] || f.dup[id]:
			res[i] = streams.Result{Seq: 1, Duplicate: true}
		default:
			f.seq++
			res[i] = streams.Result{Seq: f.seq}
		}
	}
	f.returned.Add(1)
	return res
}

// eventID is the event id of a tenant-scoped message id ("<tenant>:<id>").
func eventID(msgID string) string {
	if _, id, ok := strings.Cut(msgID, ":"); ok {
		return id
	}
	return msgID
}

// published returns the event ids of every published message, in order.
func (f *fakePublisher) published() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, c := range f.calls {
		for _, m := range c {
			ids = append(ids, eventID(m.MsgID))
		}
	}
	return ids
}

func (f *fakePublisher) numCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

var (
	testBase = time.Date(2026, 2, 2, 10, 0, 0, 0, time.UTC)
	testNow  = testBase.Add(time.Hour)
)

// testItems returns n valid, distinct generated events with times in the hour before testNow.
func testItems(t testing.TB, n int) []generate.Item {
	t.Helper()
	items := generate.New(generate.Options{Seed: 42, Tenants: 4}).Window(testBase, testBase.Add(30*time.Minute))
	require.GreaterOrEqual(t, len(items), n)
	return items[:n]
}

func raws(items []generate.Item) [][]byte {
	out := make([][]byte, len(items))
	for i, it := range items {
		out[i] = it.Raw
	}
	return out
}

func ids(items []generate.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Event.ID
	}
	return out
}

// eventAt re-encodes a copy of it with the given id and time.
func eventAt(t testing.TB, it generate.Item, id string, at time.Time) []byte {
	t.Helper()
	ev := *it.Event
	ev.ID, ev.Time = id, at
	b, err := events.Encode(ev)
	require.NoError(t, err)
	return b
}

func jsonArray(parts ...[]byte) []byte {
	return append(append([]byte("["), bytes.Join(parts, []byte(",\n  "))...), ']')
}

func ndjson(lines ...[]byte) []byte {
	return append(bytes.Join(lines, []byte("\n")), '\n')
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// testKeys are the producer keys of the tests: one for every tenant, one scoped to two tenants.
var testKeys = func() auth.ProducerKeys {
	k, err := auth.NewProducerKeys([]auth.ProducerKeyConfig{
		{Key: "spk_test_all_0123456789abcdef", Name: "all", Tenants: []string{"*"}},
		{Key: "spk_test_two_0123456789abcdef", Name: "two", Tenants: []string{"t-001", "t-002"}},
	})
	if err != nil {
		panic(err)
	}
	return k
}()

func testConfig() Config {
	c := DefaultConfig()
	c.QueueWait = 50 * time.Millisecond
	c.PublishTimeout = 5 * time.Second
	c.Authorize = testKeys.Authorize
	return c
}

func newTestHandler(cfg Config, pub Publisher) (*Handler, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	h := New(cfg, pub, reg, slog.New(slog.DiscardHandler))
	h.now = func() time.Time { return testNow }
	return h, reg
}

type request struct {
	key         string // producer key; "" the all-tenants test key, "-" none
	body        []byte
	contentType string
	encoding    string
	chunked     bool // unknown Content-Length, as with Transfer-Encoding: chunked
}

func post(h http.Handler, r request) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/v1/events", bytes.NewReader(r.body))
	key := r.key
	if key == "" {
		key = "spk_test_all_0123456789abcdef"
	}
	if key != "-" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if r.chunked {
		req.ContentLength = -1
		req.Body = io.NopCloser(bytes.NewReader(r.body))
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.encoding != "" {
		req.Header.Set("Content-Encoding", r.encoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

type wantRejected struct {
	index  int
	id     string
	reason events.Reason
}

// checkAccepted checks a 202 body's exact shape and returns it.
func checkAccepted(t *testing.T, rec *httptest.ResponseRecorder) Response {
	t.Helper()
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	var shape map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &shape))
	require.ElementsMatch(t, []string{"accepted", "duplicates", "rejected"}, keys(shape), rec.Body.String())
	var rej []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(shape["rejected"], &rej))
	require.NotNil(t, rej, "rejected is a list, never null")
	checkRejectedShape(t, rej)
	var resp Response
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
	return resp
}

func checkRejectedShape(t *testing.T, rej []map[string]json.RawMessage) {
	t.Helper()
	for _, r := range rej {
		k := keys(r)
		require.Subset(t, []string{"index", "id", "reason", "message"}, k)
		require.Subset(t, k, []string{"index", "reason", "message"})
		var msg string
		require.NoError(t, json.Unmarshal(r["message"], &msg))
		require.NotEmpty(t, msg)
		require.LessOrEqual(t, len(msg), 200)
	}
}

// checkError checks an error body {"error":{"code","message"}} and returns the code.
func checkError(t *testing.T, rec *httptest.ResponseRecorder) (code string, rejected []Rejected) {
	t.Helper()
	var body struct {
		Error    map[string]string `json:"error"`
		Rejected []Rejected        `json:"rejected"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	var shape struct {
		Rejected []map[string]json.RawMessage `json:"rejected"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &shape))
	checkRejectedShape(t, shape.Rejected)
	require.ElementsMatch(t, []string{"code", "message"}, keys(body.Error), rec.Body.String())
	require.NotEmpty(t, body.Error["code"])
	require.NotEmpty(t, body.Error["message"])
	require.LessOrEqual(t, len(body.Error["message"]), 200)
	return body.Error["code"], body.Rejected
}

// counters gathers every counter of the named family from reg, keyed by its labels as
// "k=v,k=v" ("" for none). (prometheus/testutil is not usable here: it imports
// github.com/kylelemons/godebug, which go.mod does not list.)
func counters(t *testing.T, reg prometheus.Gatherer, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, lp.GetName()+"="+lp.GetValue())
			}
			require.NotNil(t, m.GetCounter(), name)
			out[strings.Join(ls, ",")] = m.GetCounter().GetValue()
		}
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestServeHTTP(t *testing.T) {
	items := testItems(t, 40)
	ev := raws(items)
	future := eventAt(t, items[3], "future-1", testNow.Add(10*time.Minute))
	nearFuture := eventAt(t, items[4], "near-future-1", testNow.Add(4*time.Minute))
	noID := []byte(`{"specversion":"1.0","source":"x","type":"usage.vps.sample"}`)
	badSpec := bytes.Replace(ev[5], []byte(`"specversion":"1.0"`), []byte(`"specversion":"0.3"`), 1)
	require.NotEqual(t, ev[5], badSpec)
	big := jsonArray(ev...) // 40 events, well over 2 KiB
	random := make([]byte, 8<<10)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rnd.Uint32())
	}
	bomb := gz(t, append(jsonArray(ev[0]), bytes.Repeat([]byte(" "), 1<<20)...))

	tests := map[string]struct {
		req     request
		cfg     func(*Config)
		pub     func(*fakePublisher)
		status  int
		code    string // error code for non-202 answers
		accept  int
		dups    int
		reject  []wantRejected
		publish []string // ids handed to the publisher, in order
	}{
		"one json object": {
			req:     request{body: ev[0], contentType: "application/json"},
			status:  http.StatusAccepted,
			accept:  1,
			publish: ids(items[:1]),
		},
		"one json object, no content type, surrounding whitespace": {
			req:     request{body: append(append([]byte("\n  "), ev[0]...), "\n\n"...)},
			status:  http.StatusAccepted,
			accept:  1,
			publish: ids(items[:1]),
		},
		"json array": {
			req:     request{body: jsonArray(ev[:3]...), contentType: "application/json"},
			status:  http.StatusAccepted,
			accept:  3,
			publish: ids(items[:3]),
		},
		"json array with invalid events": {
			req:     request{body: jsonArray(ev[0], noID, ev[1], badSpec), contentType: "application/json"},
			status:  http.StatusAccepted,
			accept:  2,
			reject:  []wantRejected{{1, "", events.ReasonMissingField}, {3, items[5].Event.ID, events.ReasonBadSpecVersion}},
			publish: ids(items[:2]),
		},
		"ndjson with a malformed line": {
			req:     request{body: ndjson(ev[0], []byte(`{"specversion":"1.0", oops`), ev[1], ev[2]), contentType: "application/x-ndjson"},
			status:  http.StatusAccepted,
			accept:  3,
			reject:  []wantRejected{{1, "", events.ReasonMalformed}},
			publish: ids(items[:3]),
		},
		"ndjson with parameters, CRLF and trailing blank lines": {
			req: request{body: append(bytes.Join([][]byte{ev[0], ev[1]}, []byte("\r\n")), "\r\n\r\n\n"...),
				contentType: "application/x-ndjson; charset=utf-8"},
			status:  http.StatusAccepted,
			accept:  2,
			publish: ids(items[:2]),
		},
		"jsonl content type": {
			req:     request{body: ndjson(ev[0], ev[1]), contentType: "application/jsonl"},
			status:  http.StatusAccepted,
			accept:  2,
			publish: ids(items[:2]),
		},
		"ndjson line that is an array is one malformed event": {
			req:     request{body: ndjson([]byte("["+string(ev[0])+","+string(ev[1])+"]"), ev[2]), contentType: "application/x-ndjson"},
			status:  http.StatusAccepted,
			accept:  1,
			reject:  []wantRejected{{0, "", events.ReasonMalformed}},
			publish: ids(items[2:3]),
		},
		"gzip json array": {
			req:     request{body: gz(t, jsonArray(ev[:5]...)), contentType: "application/json", encoding: "gzip"},
			status:  http.StatusAccepted,
			accept:  5,
			publish: ids(items[:5]),
		},
		"gzip ndjson, chunked": {
			req:     request{body: gz(t, ndjson(ev[:4]...)), contentType: "application/x-ndjson", encoding: "gzip", chunked: true},
			status:  http.StatusAccepted,
			accept:  4,
			publish: ids(items[:4]),
		},
		"identity encoding": {
			req:     request{body: ev[0], encoding: "identity"},
			status:  http.StatusAccepted,
			accept:  1,
			publish: ids(items[:1]),
		},
		"bad gzip header": {
			req:    request{body: ev[0], encoding: "gzip"},
			status: http.StatusBadRequest,
			code:   "bad_encoding",
		},
		"truncated gzip": {
			req:    request{body: gz(t, jsonArray(ev...))[:200], encoding: "gzip"},
			status: http.StatusBadRequest,
			code:   "bad_body",
		},
		"unsupported encoding": {
			req:    request{body: ev[0], encoding: "br"},
			status: http.StatusUnsupportedMediaType,
			code:   "unsupported_encoding",
		},
		"empty body": {
			req:    request{},
			status: http.StatusBadRequest,
			code:   "empty",
		},
		"whitespace body": {
			req:    request{body: []byte(" \n\t ")},
			status: http.StatusBadRequest,
			code:   "empty",
		},
		"empty array": {
			req:    request{body: []byte("[ ]")},
			status: http.StatusBadRequest,
			code:   "empty",
		},
		"empty ndjson": {
			req:    request{body: []byte("\n\n\n"), contentType: "application/x-ndjson"},
			status: http.StatusBadRequest,
			code:   "empty",
		},
		"empty gzip": {
			req:    request{body: gz(t, nil), encoding: "gzip"},
			status: http.StatusBadRequest,
			code:   "empty",
		},
		"invalid json object": {
			req:    request{body: []byte(`{"specversion": "1.0",`)},
			status: http.StatusBadRequest,
			code:   "malformed",
		},
		"invalid json array": {
			req:    request{body: append(jsonArray(ev[0])[:len(jsonArray(ev[0]))-1], ',')},
			status: http.StatusBadRequest,
			code:   "malformed",
		},
		"body over MaxBodyBytes, Content-Length": {
			req:    request{body: big},
			cfg:    func(c *Config) { c.MaxBodyBytes = 2 << 10 },
			status: http.StatusRequestEntityTooLarge,
			code:   "too_large",
		},
		"body over MaxBodyBytes, chunked": {
			req:    request{body: big, chunked: true},
			cfg:    func(c *Config) { c.MaxBodyBytes = 2 << 10 },
			status: http.StatusRequestEntityTooLarge,
			code:   "too_large",
		},
		"gzip body over MaxBodyBytes, chunked": {
			req:    request{body: gz(t, random), encoding: "gzip", chunked: true},
			cfg:    func(c *Config) { c.MaxBodyBytes = 2 << 10 },
			status: http.StatusRequestEntityTooLarge,
			code:   "too_large",
		},
		"body of exactly MaxBodyBytes": {
			req:     request{body: ev[0]},
			cfg:     func(c *Config) { c.MaxBodyBytes = int64(len(ev[0])) },
			status:  http.StatusAccepted,
			accept:  1,
			publish: ids(items[:1]),
		},
		"decoded body over MaxDecodedBytes": {
			req:    request{body: bomb, encoding: "gzip", chunked: true},
			cfg:    func(c *Config) { c.MaxBodyBytes, c.MaxDecodedBytes = 64<<10, 256<<10 },
			status: http.StatusRequestEntityTooLarge,
			code:   "too_large",
		},
		"more than MaxEvents, array": {
			req:    request{body: jsonArray(ev[:4]...)},
			cfg:    func(c *Config) { c.MaxEvents = 3 },
			status: http.StatusRequestEntityTooLarge,
			code:   "too_many_events",
		},
		"more than MaxEvents, ndjson": {
			req:    request{body: ndjson(ev[:4]...), contentType: "application/x-ndjson"},
			cfg:    func(c *Config) { c.MaxEvents = 3 },
			status: http.StatusRequestEntityTooLarge,
			code:   "too_many_events",
		},
		"exactly MaxEvents": {
			req:     request{body: jsonArray(ev[:3]...)},
			cfg:     func(c *Config) { c.MaxEvents = 3 },
			status:  http.StatusAccepted,
			accept:  3,
			publish: ids(items[:3]),
		},
		"all events invalid": {
			req:    request{body: jsonArray(noID, badSpec, []byte(`42`), future)},
			status: http.StatusBadRequest,
			code:   "invalid_events",
			reject: []wantRejected{
				{0, "", events.ReasonMissingField}, {1, items[5].Event.ID, events.ReasonBadSpecVersion},
				{2, "", events.ReasonMalformed}, {3, "future-1", events.ReasonFutureTime},
			},
		},
		"one non-object json value": {
			req:    request{body: []byte(`"hello"`)},
			status: http.StatusBadRequest,
			code:   "invalid_events",
			reject: []wantRejected{{0, "", events.ReasonMalformed}},
		},
		"oversized event": {
			req:     request{body: jsonArray(ev[0], eventAt(t, items[1], strings.Repeat("i", 250), testBase))},
			cfg:     func(c *Config) { c.Limits.MaxEventBytes = len(ev[0]) + 10 },
			status:  http.StatusAccepted,
			accept:  1,
			reject:  []wantRejected{{1, strings.Repeat("i", 250), events.ReasonOversized}},
			publish: ids(items[:1]),
		},
		"event time beyond MaxFuture": {
			req:     request{body: jsonArray(ev[0], future, nearFuture)},
			status:  http.StatusAccepted,
			accept:  2,
			reject:  []wantRejected{{1, "future-1", events.ReasonFutureTime}},
			publish: []string{items[0].Event.ID, "near-future-1"},
		},
		"tighter MaxFuture": {
			req:     request{body: jsonArray(ev[0], nearFuture)},
			cfg:     func(c *Config) { c.Limits.MaxFuture = time.Minute },
			status:  http.StatusAccepted,
			accept:  1,
			reject:  []wantRejected{{1, "near-future-1", events.ReasonFutureTime}},
			publish: ids(items[:1]),
		},
		"publisher reports duplicates": {
			req:     request{body: jsonArray(ev[:3]...)},
			pub:     func(f *fakePublisher) { f.dup = map[string]bool{items[1].Event.ID: true} },
			status:  http.StatusAccepted,
			accept:  3,
			dups:    1,
			publish: ids(items[:3]),
		},
		"publisher fails some events": {
			req:     request{body: jsonArray(ev[:3]...)},
			pub:     func(f *fakePublisher) { f.fail = map[string]bool{items[2].Event.ID: true} },
			status:  http.StatusServiceUnavailable,
			code:    "unavailable",
			publish: ids(items[:3]),
		},
		"publisher fails every event": {
			req:     request{body: ev[0]},
			pub:     func(f *fakePublisher) { f.fail = map[string]bool{items[0].Event.ID: true} },
			status:  http.StatusServiceUnavailable,
			code:    "unavailable",
			publish: ids(items[:1]),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			pub := &fakePublisher{}
			if tc.pub != nil {
				tc.pub(pub)
			}
			h, _ := newTestHandler(cfg, pub)
			rec := post(h, tc.req)

			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			if tc.status == http.StatusTooManyRequests || tc.status == http.StatusServiceUnavailable {
				require.Equal(t, "1", rec.Header().Get("Retry-After"))
			} else {
				require.Empty(t, rec.Header().Get("Retry-After"))
			}
			require.Equal(t, tc.publish, pub.published())

			var rejected []Rejected
			if tc.status == http.StatusAccepted {
				resp := checkAccepted(t, rec)
				require.Equal(t, tc.accept, resp.Accepted)
				require.Equal(t, tc.dups, resp.Duplicates)
				rejected = resp.Rejected
			} else {
				var code string
				code, rejected = checkError(t, rec)
				if tc.code != "" {
					require.Equal(t, tc.code, code)
				}
			}
			require.Len(t, rejected, len(tc.reject), rec.Body.String())
			for i, w := range tc.reject {
				require.Equal(t, w.index, rejected[i].Index, rec.Body.String())
				require.Equal(t, w.id, rejected[i].ID, rec.Body.String())
				require.Equal(t, w.reason, rejected[i].Reason, rec.Body.String())
				require.NotEmpty(t, rejected[i].Error)
			}
		})
	}
}

// TestErrorBodiesDoNotEchoInput sends hostile inputs made of long runs of one byte and checks that
// no answer repeats more than 200 bytes of them.
func TestErrorBodiesDoNotEchoInput(t *testing.T) {
	items := testItems(t, 2)
	q := strings.Repeat("Q", 5000)
	withField := func(field, value string) []byte {
		var m map[string]any
		require.NoError(t, json.Unmarshal(items[0].Raw, &m))
		m[field] = value
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	withData := func(field, value string) []byte {
		var m map[string]any
		require.NoError(t, json.Unmarshal(items[0].Raw, &m))
		m["data"].(map[string]any)[field] = value
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	tests := map[string]request{
		"invalid json":           {body: []byte(`{"` + q)},
		"invalid json array":     {body: []byte(`[{"` + q + `"}`)},
		"non-object json":        {body: []byte(`"` + q + `"`)},
		"long id":                {body: withField("id", q)},
		"long type":              {body: withField("type", q)},
		"long tenant":            {body: withField("tenantid", q)},
		"long specversion":       {body: withField("specversion", q)},
		"long time":              {body: withField("time", q)},
		"long data string":       {body: withData("provider", q)},
		"long data number":       {body: withData("cpu_util", "1"+strings.Repeat("0", 5000))},
		"ndjson garbage":         {body: []byte(q + "\n" + q + "\n"), contentType: "application/x-ndjson"},
		"ndjson with valid line": {body: ndjson(items[1].Raw, []byte(q)), contentType: "application/x-ndjson"},
		"array of junk":          {body: jsonArray([]byte(`{"`+q+`":1}`), []byte(`{"id":"`+q+`"}`))},
		"bad gzip":               {body: []byte(q), encoding: "gzip"},
		"unknown encoding":       {body: []byte(q), encoding: q[:300]},
		"oversized event":        {body: withField("source", q+q+q+q+q+q+q+q+q+q+q+q+q+q)},
	}
	for name, r := range tests {
		t.Run(name, func(t *testing.T) {
			h, _ := newTestHandler(testConfig(), &fakePublisher{})
			rec := post(h, r)
			require.NotContains(t, rec.Body.String(), strings.Repeat("Q", 201), "status %d", rec.Code)
			require.Less(t, rec.Body.Len(), 1200, rec.Body.String())
			if rec.Code != http.StatusAccepted {
				checkError(t, rec)
			} else {
				checkAccepted(t, rec)
			}
		})
	}
}

// serveAsync runs one request in the background.
func serveAsync(h http.Handler, r request) <-chan *httptest.ResponseRecorder {
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- post(h, r) }()
	return done
}

func TestAnswersOnlyAfterPublisherReturned(t *testing.T) {
	items := testItems(t, 3)
	pub := &fakePublisher{block: make(chan struct{}), entered: make(chan struct{}, 1)}
	h, _ := newTestHandler(testConfig(), pub)

	done := serveAsync(h, request{body: jsonArray(raws(items)...)})
	select {
	case <-pub.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("publisher not called")
	}
	select {
	case rec := <-done:
		t.Fatalf("answered %d before the publisher returned: %s", rec.Code, rec.Body.String())
	case <-time.After(150 * time.Millisecond):
	}
	require.Zero(t, pub.returned.Load())

	close(pub.block)
	var rec *httptest.ResponseRecorder
	select {
	case rec = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no answer after the publisher returned")
	}
	require.EqualValues(t, 1, pub.returned.Load())
	resp := checkAccepted(t, rec)
	require.Equal(t, 3, resp.Accepted)
}

func TestPublishTimeout(t *testing.T) {
	items := testItems(t, 2)
	pub := &fakePublisher{block: make(chan struct{})} // never released: only the context ends it
	cfg := testConfig()
	cfg.PublishTimeout = 100 * time.Millisecond
	h, _ := newTestHandler(cfg, pub)

	start := time.Now()
	rec := post(h, request{body: jsonArray(raws(items)...)})
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "1", rec.Header().Get("Retry-After"))
	code, _ := checkError(t, rec)
	require.Equal(t, "unavailable", code)
	require.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestOverload(t *testing.T) {
	items := testItems(t, 6)
	pub := &fakePublisher{block: make(chan struct{}), entered: make(chan struct{}, 4)}
	cfg := testConfig()
	cfg.MaxInflightEvents = 2
	cfg.QueueWait = 50 * time.Millisecond
	h, reg := newTestHandler(cfg, pub)

	first := serveAsync(h, request{body: jsonArray(raws(items[:2])...)})
	select {
	case <-pub.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("publisher not called")
	}

	// Capacity is held by the first request: the next one waits QueueWait, then gets 429.
	start := time.Now()
	rec := post(h, request{body: items[2].Raw})
	require.Equal(t, http.StatusTooManyRequests, rec.Code, rec.Body.String())
	require.GreaterOrEqual(t, time.Since(start), cfg.QueueWait)
	require.Equal(t, "1", rec.Header().Get("Retry-After"))
	code, _ := checkError(t, rec)
	require.Equal(t, "overloaded", code)
	require.Equal(t, 1, pub.numCalls(), "the refused request published nothing")
	require.Equal(t, map[string]float64{"": 1}, counters(t, reg, "spendstream_ingest_overload_total"))

	close(pub.block)
	select {
	case rec = <-first:
	case <-time.After(10 * time.Second):
		t.Fatal("first request did not finish")
	}
	require.Equal(t, 2, checkAccepted(t, rec).Accepted)

	// Capacity is back; a request larger than the whole capacity is clamped and runs alone.
	rec = post(h, request{body: jsonArray(raws(items[2:6])...)})
	require.Equal(t, 4, checkAccepted(t, rec).Accepted)
	require.Equal(t, map[string]float64{"": 1}, counters(t, reg, "spendstream_ingest_overload_total"))
	require.Equal(t, map[string]float64{"code=202": 2, "code=429": 1}, counters(t, reg, "spendstream_ingest_requests_total"))
}

func TestQueueWaitGetsCapacity(t *testing.T) {
	items := testItems(t, 2)
	pub := &fakePublisher{block: make(chan struct{}), entered: make(chan struct{}, 4)}
	cfg := testConfig()
	cfg.MaxInflightEvents = 1
	cfg.QueueWait = 10 * time.Second
	h, reg := newTestHandler(cfg, pub)

	first := serveAsync(h, request{body: items[0].Raw})
	<-pub.entered
	second := serveAsync(h, request{body: items[1].Raw})
	select {
	case rec := <-second:
		t.Fatalf("second request answered %d while capacity was held", rec.Code)
	case <-time.After(100 * time.Millisecond):
	}
	close(pub.block) // the first finishes; the waiting second one gets the capacity
	for _, ch := range []<-chan *httptest.ResponseRecorder{first, second} {
		select {
		case rec := <-ch:
			require.Equal(t, 1, checkAccepted(t, rec).Accepted)
		case <-time.After(10 * time.Second):
			t.Fatal("request did not finish")
		}
	}
	require.Equal(t, map[string]float64{"": 0}, counters(t, reg, "spendstream_ingest_overload_total"))
	require.Equal(t, map[string]float64{"code=202": 2}, counters(t, reg, "spendstream_ingest_requests_total"))
}

// A zero QueueWait should mean "do not wait for capacity", not "always refuse".
func TestQueueWaitZeroWithFreeCapacity(t *testing.T) {
	items := testItems(t, 1)
	cfg := testConfig()
	cfg.QueueWait = 0
	h, _ := newTestHandler(cfg, &fakePublisher{})
	rec := post(h, request{body: items[0].Raw})
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
}

func TestMetrics(t *testing.T) {
	items := testItems(t, 4)
	future := eventAt(t, items[3], "future-1", testNow.Add(time.Hour))
	pub := &fakePublisher{dup: map[string]bool{items[1].Event.ID: true}}
	h, reg := newTestHandler(testConfig(), pub)

	rec := post(h, request{body: jsonArray(items[0].Raw, items[1].Raw, items[2].Raw, future, []byte(`{}`))})
	resp := checkAccepted(t, rec)
	require.Equal(t, 3, resp.Accepted)
	require.Equal(t, 1, resp.Duplicates)
	require.Len(t, resp.Rejected, 2)
	rec = post(h, request{body: []byte(`{`)})
	require.Equal(t, http.StatusBadRequest, rec.Code)

	require.Equal(t, map[string]float64{"result=accepted": 2, "result=duplicate": 1, "result=rejected": 2},
		counters(t, reg, "spendstream_ingest_events_total"))
	require.Equal(t, map[string]float64{"reason=bad_specversion": 1, "reason=future_time": 1},
		counters(t, reg, "spendstream_ingest_rejected_total"))
	require.Equal(t, map[string]float64{"code=202": 1, "code=400": 1}, counters(t, reg, "spendstream_ingest_requests_total"))
}

func TestNewRegistersOnNilRegisterer(t *testing.T) {
	items := testItems(t, 1)
	h := New(testConfig(), &fakePublisher{}, nil, slog.New(slog.DiscardHandler))
	rec := post(h, request{body: items[0].Raw})
	require.Equal(t, 1, checkAccepted(t, rec).Accepted)
}

// TestJetStream runs the gateway against a real embedded NATS JetStream.
func TestJetStream(t *testing.T) {
	_, _, js := streamstest.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	scfg := streams.DefaultConfig()
	require.NoError(t, streams.Provision(ctx, js, scfg))

	h := New(testConfig(), streams.NewPublisher(js), prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)

	items := testItems(t, 25)
	hist := *items[0].Event
	hist.ID, hist.Historical = "historical-1", true
	histRaw, err := events.Encode(hist)
	require.NoError(t, err)

	postHTTP := func(body []byte, contentType string, gzipped bool) Response {
		t.Helper()
		if gzipped {
			body = gz(t, body)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, hs.URL+"/v1/events", bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Authorization", "Bearer spk_test_all_0123456789abcdef")
		}
		require.NoError(t, err)
		req.Header.Set("Content-Type", contentType)
		if gzipped {
			req.Header.Set("Content-Encoding", "gzip")
		}
		res, err := hs.Client().Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusAccepted, res.StatusCode, string(b))
		var resp Response
		require.NoError(t, json.Unmarshal(b, &resp))
		return resp
	}

	nd := ndjson(append(raws(items[:20]), []byte(`{"broken"`))...)
	resp := postHTTP(nd, "application/x-ndjson", false)
	require.Equal(t, Response{Accepted: 20, Rejected: resp.Rejected}, resp)
	require.Len(t, resp.Rejected, 1)
	require.Equal(t, 20, resp.Rejected[0].Index)
	require.Equal(t, events.ReasonMalformed, resp.Rejected[0].Reason)

	resp = postHTTP(jsonArray(append(raws(items[20:]), histRaw)...), "application/json", true)
	require.Equal(t, Response{Accepted: 6, Rejected: []Rejected{}}, resp)

	// The same events again (different framing): all duplicates, nothing stored twice.
	resp = postHTTP(jsonArray(raws(items[:20])...), "application/json", true)
	require.Equal(t, Response{Accepted: 20, Duplicates: 20, Rejected: []Rejected{}}, resp)
	resp = postHTTP(ndjson(append(raws(items[18:]), histRaw)...), "application/x-ndjson", false)
	require.Equal(t, Response{Accepted: 8, Duplicates: 8, Rejected: []Rejected{}}, resp)

	stored := func(stream string) []*jetstream.RawStreamMsg {
		s, err := js.Stream(ctx, stream)
		require.NoError(t, err)
		info, err := s.Info(ctx)
		require.NoError(t, err)
		var out []*jetstream.RawStreamMsg
		for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
			m, err := s.GetMsg(ctx, seq)
			require.NoError(t, err)
			out = append(out, m)
		}
		return out
	}
	live := stored(streams.StreamLive)
	require.Len(t, live, len(items), "each event stored once")
	for i, m := range live {
		ev := items[i].Event
		require.Equal(t, ev.TenantID+":"+ev.ID, m.Header.Get(jetstream.MsgIDHeader), "de-duplication id scoped by tenant")
		require.Equal(t, string(items[i].Raw), string(m.Data))
		lane, typ, tenant, part, err := events.ParseSubject(m.Subject)
		require.NoError(t, err, m.Subject)
		require.Equal(t, events.LaneLive, lane)
		require.Equal(t, ev.Type, typ)
		require.Equal(t, ev.TenantID, tenant)
		require.GreaterOrEqual(t, part, 0)
		require.Less(t, part, scfg.Partitions)
		require.Equal(t, fmt.Sprintf("%s.%d", events.Subject(*ev), part), m.Subject)
	}
	back := stored(streams.StreamBackfill)
	require.Len(t, back, 1)
	require.Equal(t, hist.TenantID+":historical-1", back[0].Header.Get(jetstream.MsgIDHeader))
	require.True(t, strings.HasPrefix(back[0].Subject, events.Subject(hist)+"."), back[0].Subject)
}

// The contract's rejected entries carry the event's id; an event rejected for a bad value still has
// a perfectly readable id that the producer needs to find it.
func TestRejectedCarriesID(t *testing.T) {
	items := testItems(t, 2)
	var m map[string]any
	require.NoError(t, json.Unmarshal(items[0].Raw, &m))
	m["id"] = "bad-util-1"
	m["type"] = string(events.TypeVPSSample)
	m["data"] = map[string]any{"resource_id": "vps-1", "provider": "hetzner", "region": "fsn1", "plan": "cx22",
		"vcpus": 2, "memory_mb": 4096, "cpu_util": 2.5, "mem_util": 0.5, "interval_seconds": 60}
	bad, err := json.Marshal(m)
	require.NoError(t, err)
	h, _ := newTestHandler(testConfig(), &fakePublisher{})
	resp := checkAccepted(t, post(h, request{body: jsonArray(items[1].Raw, bad)}))
	require.Equal(t, 1, resp.Accepted)
	require.Len(t, resp.Rejected, 1)
	require.Equal(t, events.ReasonOutOfRange, resp.Rejected[0].Reason)
	require.Equal(t, "bad-util-1", resp.Rejected[0].ID)
}

func TestProducerKeys(t *testing.T) {
	items := generate.New(generate.Options{Seed: 42, Tenants: 4}).Window(testBase, testBase.Add(30*time.Minute))
	var body []byte
	tenants := map[string]bool{}
	for _, it := range items[:40] {
		body = append(append(body, it.Raw...), '\n')
		tenants[it.Event.TenantID] = true
	}
	require.Greater(t, len(tenants), 2, "the sample spans more tenants than the scoped key may write")

	pub := &fakePublisher{}
	h, _ := newTestHandler(testConfig(), pub)
	for name, key := range map[string]string{"no key": "-", "unknown key": "spk_nope", "malformed": "a b"} {
		rec := post(h, request{key: key, body: body, contentType: "application/x-ndjson"})
		require.Equal(t, http.StatusUnauthorized, rec.Code, name)
		require.Contains(t, rec.Body.String(), `"unauthenticated"`)
	}
	require.Zero(t, pub.numCalls(), "nothing published without a valid key")

	rec := post(h, request{key: "spk_test_two_0123456789abcdef", body: body, contentType: "application/x-ndjson"})
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	var resp Response
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
	want := 0
	for _, it := range items[:40] {
		if it.Event.TenantID == "t-001" || it.Event.TenantID == "t-002" {
			want++
		}
	}
	require.Equal(t, want, resp.Accepted)
	require.Len(t, resp.Rejected, 40-want)
	for _, m := range pub.calls[0] {
		tenant, _, _ := strings.Cut(m.MsgID, ":")
		require.Contains(t, m.Subject, "."+tenant, "the de-duplication id is scoped by the event's tenant")
	}
	for _, r := range resp.Rejected {
		require.Equal(t, ReasonForbiddenTenant, r.Reason)
	}

	// Rate limit per producer.
	lim, err := auth.NewLimiter(auth.LimiterConfig{Rate: 0.001, Burst: 1})
	require.NoError(t, err)
	cfg := testConfig()
	cfg.Limiter = lim
	h2, _ := newTestHandler(cfg, &fakePublisher{})
	require.Equal(t, http.StatusAccepted, post(h2, request{body: body, contentType: "application/x-ndjson"}).Code)
	rec = post(h2, request{body: body, contentType: "application/x-ndjson"})
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	require.NotEmpty(t, rec.Header().Get("Retry-After"))
}
