package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/auth"
	"github.com/spendstream/spendstream/aggregates/clickhouse"
	"github.com/spendstream/spendstream/aggregates/window"
	"github.com/spendstream/spendstream/consumers/streams"
	"github.com/spendstream/spendstream/schemas/events"
	"github.com/spendstream/spendstream/schemas/generate"
)

// clickhouseAddr returns the ClickHouse of the test run; `make test` always sets it.
func clickhouseAddr(t testing.TB) string {
	addr := os.Getenv("SPENDSTREAM_CLICKHOUSE_ADDR")
	if addr == "" {
		t.Skip("SPENDSTREAM_CLICKHOUSE_ADDR not set (make test sets it)")
	}
	return addr
}

// testDatabase creates a private database name and drops it after the test.
func testDatabase(t testing.TB, addr, prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	db := prefix + "_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		if os.Getenv("SPENDSTREAM_KEEP_TEST_DB") != "" {
			t.Logf("keeping database %s", db)
			return
		}
		cfg := clickhouse.DefaultConfig()
		cfg.Addr, cfg.Database = addr, db
		s, err := clickhouse.Open(cfg, nil)
		if err != nil {
			return
		}
		defer s.Close()
		_ = s.DropDatabase(context.Background())
	})
	return db
}

func startNATS(t testing.TB) *streams.Embedded {
	emb, err := streams.StartEmbedded(streams.EmbeddedConfig{Dir: t.TempDir(), Port: -1})
	require.NoError(t, err)
	t.Cleanup(emb.Shutdown)
	return emb
}

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// testToken is a cross-tenant (cfo) API token signed with the local demo secret that `run` uses.
var testToken = func() string {
	tok, err := auth.MintHS256([]byte(auth.DemoSecret), defaultIssuer, defaultAudience, "test-cfo",
		[]auth.Role{auth.RoleCFO}, "", 24*time.Hour, time.Now())
	if err != nil {
		panic(err)
	}
	return tok
}()

// historicalEvent is a CloudEvent for POST /v1/events on the backfill lane ("historical": true).
func historicalEvent(id string, typ events.Type, tenant string, at time.Time, data any) map[string]any {
	return map[string]any{"specversion": "1.0", "id": id, "source": "test", "type": typ, "time": at.Format(time.RFC3339),
		"tenantid": tenant, "historical": true, "data": data}
}

// postEvents POSTs a JSON array of CloudEvents to base's /v1/events with the demo producer key and
// requires the 202 that says JetStream has them.
func postEvents(t testing.TB, base string, batch any) {
	t.Helper()
	body, err := json.Marshal(batch)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, base+"/v1/events", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+auth.DemoProducerKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
}

// getJSON GETs url as the test's cfo and decodes the body into out.
func getJSON(t testing.TB, url string, out any) int {
	t.Helper()
	return getJSONAs(t, testToken, url, out)
}

// getJSONAs GETs url with a bearer token ("" for none) and decodes the body into out.
func getJSONAs(t testing.TB, token, url string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

// e2eStack is what an end-to-end test runs spendstream on: a fresh database on the test
// ClickHouse, an embedded NATS server and a free HTTP address (base is its URL).
type e2eStack struct {
	chAddr, db, httpAddr, base string
	nats                       *streams.Embedded
}

func newE2E(t *testing.T, dbPrefix string) *e2eStack {
	t.Helper()
	chAddr := clickhouseAddr(t)
	s := &e2eStack{chAddr: chAddr, db: testDatabase(t, chAddr, dbPrefix), nats: startNATS(t), httpAddr: freePort(t)}
	s.base = "http://" + s.httpAddr
	return s
}

// run starts `spendstream run` in this process on the stack (see runInProcess).
func (s *e2eStack) run(t *testing.T, extra ...string) (stop func()) {
	t.Helper()
	return runInProcess(t, s.nats.URL(), s.httpAddr, s.chAddr, s.db, extra...)
}

// runInProcess starts `spendstream run` in this process, serving on httpAddr, against the NATS at
// natsURL and the ClickHouse database db at chAddr, with 200 ms flushes and the extra flags; it
// returns once /readyz answers. stop (also a cleanup of t; a second call does nothing) cancels it
// and requires a clean exit within 30 s.
func runInProcess(t *testing.T, natsURL, httpAddr, chAddr, db string, extra ...string) (stop func()) {
	t.Helper()
	args := append([]string{"run", "--nats-url", natsURL, "--http-addr", httpAddr,
		"--clickhouse-addr", chAddr, "--clickhouse-database", db, "--flush-interval", "200ms"}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(string) string { return "" }) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(30 * time.Second):
				t.Error("spendstream did not stop within 30s")
			}
		})
	}
	t.Cleanup(stop)
	waitReady(t, "http://"+httpAddr, 60*time.Second)
	return stop
}

func waitReady(t testing.TB, base string, within time.Duration) {
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, within, 100*time.Millisecond, "spendstream not ready at %s", base)
}

// truth is the ground truth of a set of generated events, computed with plain Go: de-duplicated by
// id, late events removed by the same rule the pipeline documents, and summed.
type truth struct {
	vps   map[vpsTruthKey]*vpsTruth
	email map[emailTruthKey]*emailTruth
	// counted is the number of distinct events that must be in the roll-ups.
	counted int
}

type vpsTruthKey struct {
	window   time.Time
	tenant   string
	resource string
}

type vpsTruth struct {
	provider, plan, region string
	cpu, mem               []uint64 // utilization in millionths, one per sample
}

type emailTruthKey struct {
	window           time.Time
	tenant, ip, pool string
	provider         string
}

type emailTruth struct{ sent, delivered, bounced, deferred, complained, reports uint64 }

func newTruth() *truth {
	return &truth{vps: map[vpsTruthKey]*vpsTruth{}, email: map[emailTruthKey]*emailTruth{}}
}

// add counts the distinct valid events of items that are expected to be in the roll-ups. Late
// events count only where the lane has no lateness limit (backfill).
func (tr *truth) add(items []generate.Item, seen map[string]bool, lateCounts bool) {
	for _, it := range items {
		if it.Event == nil || (it.Kind == generate.KindLate && !lateCounts) || seen[it.Event.ID] {
			continue
		}
		seen[it.Event.ID] = true
		ev := it.Event
		tr.counted++
		switch ev.Type {
		case events.TypeVPSSample:
			k := vpsTruthKey{window.Assign(ev.Time.Add(-time.Nanosecond), 5*time.Minute), ev.TenantID, ev.VPS.ResourceID}
			v := tr.vps[k]
			if v == nil {
				v = &vpsTruth{provider: ev.VPS.Provider, plan: ev.VPS.Plan, region: ev.VPS.Region}
				tr.vps[k] = v
			}
			v.cpu = append(v.cpu, uint64(math.Round(ev.VPS.CPUUtil*1e6)))
			v.mem = append(v.mem, uint64(math.Round(ev.VPS.MemUtil*1e6)))
		case events.TypeEmailVolume:
			e := ev.Email
			k := emailTruthKey{window.Assign(ev.Time.Add(-time.Nanosecond), time.Hour), ev.TenantID, e.IP, e.Pool, e.Provider}
			v := tr.email[k]
			if v == nil {
				v = &emailTruth{}
				tr.email[k] = v
			}
			v.sent += e.Sent
			v.delivered += e.Delivered
			v.bounced += e.Bounced
			v.deferred += e.Deferred
			v.complained += e.Complained
			v.reports++
		}
	}
}

// p95 by nearest rank over the sorted samples, reported as the upper edge of its 1% bucket, or the
// largest sample when that is lower.
func p95(micro []uint64) float64 {
	s := append([]uint64(nil), micro...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(math.Ceil(0.95 * float64(len(s))))
	v := s[rank-1]
	bucket := min(v/10000, 99)
	return min(float64(bucket+1)/100, float64(s[len(s)-1])/1e6)
}

func sum(xs []uint64) (s uint64) {
	for _, x := range xs {
		s += x
	}
	return s
}

func maxOf(xs []uint64) (m uint64) {
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func (k vpsTruthKey) String() string {
	return fmt.Sprintf("%s/%s/%s", k.window.Format(time.RFC3339), k.tenant, k.resource)
}
