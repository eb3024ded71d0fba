package main

// Benchmark of the cost API (issue 4), run by `make bench` after the pipeline benchmarks:
//
//	go test -run XXX -bench BenchmarkCostAPI -benchtime 1x -timeout 30m ./cmd/spendstream/
//
// Same process model as BenchmarkPipeline: nats-server (the api role keeps the initiatives in a
// JetStream KV bucket), ClickHouse and `spendstream api` are separate processes; the HTTP clients
// are this test. In one run it
//
//  1. generates a year of daily roll-ups for 2,000 tenants and 20,000 resources (90 % VPS, 10 %
//     sending IPs; providers and plans of deploy/pricelist.example.yaml, so everything is priced)
//     straight into a fresh database through Store.WriteBatch (no pipeline): VPS partials keyed by
//     day-aligned window starts (they land in vps_util_5m/1h/1d alike, which costs load time and
//     disk, not read time: the cost model reads vps_util_1d), email partials, the inventory
//     (provisioning through the year, some decommissions, shared VPS and IPs used by several
//     tenants), two or three segment changes per tenant (posthog lane) and the live lane's
//     positions, so that aggregated_as_of is set;
//  2. times in this process what a cold model costs: the daily VPS roll-up query in ClickHouse
//     alone, then (when it has at most 1.5M rows) the api's four reads through clickhouse-go and
//     cost.Compute, one by one;
//  3. measures every cost endpoint over a 30-day and a 365-day window: cold (an api process with
//     --cost-cache-ttl -1s and --cost-day-cache-rows 0, so every request computes its model from
//     the roll-ups; sequential requests), days cached (--cost-cache-ttl -1s with the day cache:
//     after one request per window has read its days, every request computes its model from the
//     cached days; sequential requests), warm (an
//     api process with the default cache; concurrent clients, after one request that fills it) and
//     warm after TTL expiry (an api process with --cost-cache-ttl 1s: after the request that fills
//     the cache, sequential requests each sent once the model is older than the TTL, so each finds
//     it stale: served from the cache while it is recomputed in the background, or recomputed in
//     the request by a build without stale-while-revalidate);
//  4. measures the ratio to computing the same answer from raw events: a small fleet's raw VPS
//     samples (every 60 s) and email reports (every 5 min) over 30 days, (i) decoded and folded in
//     Go into the daily usage the model needs, then cost.Compute, against (ii) `spendstream api`
//     answering the same 30-day tenant breakdown from that fleet's roll-ups (a separate database
//     holding the 5-minute partials the pipeline would have written for the same events). Both
//     answers are compared figure by figure.
//
// Environment (besides benchEnvFrom's): SPENDSTREAM_BENCH_COST_TENANTS (2000),
// SPENDSTREAM_BENCH_COST_RESOURCES (20000), SPENDSTREAM_BENCH_COST_DAYS (365),
// SPENDSTREAM_BENCH_COST_COLD_N (10 requests per endpoint and window),
// SPENDSTREAM_BENCH_COST_WARM_N (200), SPENDSTREAM_BENCH_CLIENTS (4 concurrent warm clients),
// SPENDSTREAM_BENCH_COST_RAW_TENANTS (20 tenants of the raw-events fleet: 200 VPS, 49 IPs),
// SPENDSTREAM_BENCH_COST_RAW_DAYS (30), SPENDSTREAM_BENCH_COST_WRITERS (2 concurrent inserts
// while loading), SPENDSTREAM_BENCH_COST_BUDGET_S (60: a series sends no new request once it has
// run this long with three answers, nor after two failures; a warm series whose first request
// failed is not run), SPENDSTREAM_BENCH_COST_SKIP (comma-separated phases to skip: direct, cold,
// days, warm, stale, raw), SPENDSTREAM_BENCH_COST_FILL_TRIES (10 attempts of the request that fills the
// cache of a warm series, while it answers 503), SPENDSTREAM_BENCH_COST_DB (load into this database and keep it; a later run with
// the same value and day reuses it: for iterating on the measurements),
// SPENDSTREAM_BENCH_PROFILE_DIR (CPU profiles of the api processes).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/api"
	"github.com/spendstream/spendstream/aggregates/auth"
	"github.com/spendstream/spendstream/aggregates/clickhouse"
	"github.com/spendstream/spendstream/aggregates/cost"
	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
	"github.com/spendstream/spendstream/aggregates/window"
	"github.com/spendstream/spendstream/schemas/events"
	"github.com/spendstream/spendstream/schemas/generate"
)

const costBenchPriceList = "../../deploy/pricelist.example.yaml"

// costBenchTarget is issue 4's target for every endpoint's p99.
const costBenchTarget = 100 * time.Millisecond

func BenchmarkCostAPI(b *testing.B) {
	env := benchEnvFrom(b)
	for b.Loop() {
		runCostAPIBench(b, env)
	}
}

type costBenchConfig struct {
	tenants, resources, days int
	coldN, warmN, clients    int
	budget                   time.Duration
	writers                  int
	rawTenants, rawDays      int
	skip                     map[string]bool
	db                       string
}

func costBenchConfigFromEnv() costBenchConfig {
	c := costBenchConfig{
		tenants:    benchEnvInt("SPENDSTREAM_BENCH_COST_TENANTS", 2000),
		resources:  benchEnvInt("SPENDSTREAM_BENCH_COST_RESOURCES", 20000),
		days:       benchEnvInt("SPENDSTREAM_BENCH_COST_DAYS", 365),
		coldN:      benchEnvInt("SPENDSTREAM_BENCH_COST_COLD_N", 10),
		warmN:      benchEnvInt("SPENDSTREAM_BENCH_COST_WARM_N", 200),
		clients:    benchEnvInt("SPENDSTREAM_BENCH_CLIENTS", 4),
		rawTenants: benchEnvInt("SPENDSTREAM_BENCH_COST_RAW_TENANTS", 20),
		rawDays:    benchEnvInt("SPENDSTREAM_BENCH_COST_RAW_DAYS", 30),
		budget:     time.Duration(benchEnvInt("SPENDSTREAM_BENCH_COST_BUDGET_S", 60)) * time.Second,
		writers:    benchEnvInt("SPENDSTREAM_BENCH_COST_WRITERS", 2),
		skip:       map[string]bool{},
		db:         os.Getenv("SPENDSTREAM_BENCH_COST_DB"),
	}
	for s := range strings.SplitSeq(os.Getenv("SPENDSTREAM_BENCH_COST_SKIP"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.skip[s] = true
		}
	}
	return c
}

// costEndpoint is one measured request (without its window).
type costEndpoint struct{ name, path string }

func costEndpoints(tenant string) []costEndpoint {
	return []costEndpoint{
		{"GET /v1/costs/overview", "/v1/costs/overview"},
		{"GET /v1/costs/breakdown?by=tenant&step=1d", "/v1/costs/breakdown?by=tenant&step=1d"},
		{"GET /v1/costs/breakdown?by=provider&step=1d", "/v1/costs/breakdown?by=provider&step=1d"},
		{"GET /v1/tenants/{id}/costs", "/v1/tenants/" + tenant + "/costs"},
		{"GET /v1/vendors/compare?kind=email", "/v1/vendors/compare?kind=email"},
		{"GET /v1/vendors/compare?kind=vps", "/v1/vendors/compare?kind=vps"},
		{"GET /v1/costs/breakdown?by=tenant&step=total", "/v1/costs/breakdown?by=tenant&step=total"},
		{"GET /v1/recommendations", "/v1/recommendations"},
		{"GET /v1/recommendations/{id}", "/v1/recommendations/{rec}"},
	}
}

// url is ep's URL at base over [from, to): {rec} becomes the id of the first recommendation that
// window's listing shows (one more request, through the same cache as the series that follows).
func (c *costClient) url(b *testing.B, base string, ep costEndpoint, from, to time.Time) string {
	if !strings.Contains(ep.path, "{rec}") {
		return costWindowURL(base, ep.path, from, to)
	}
	_, status, body := c.fill(costWindowURL(base, "/v1/recommendations?limit=1", from, to))
	var page struct {
		Data struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		} `json:"data"`
	}
	id := "rec_0000000000000000" // no listing: the series measures (and reports) the failure
	if status == http.StatusOK && json.Unmarshal(body, &page) == nil && len(page.Data.Items) > 0 {
		id = page.Data.Items[0].ID
	}
	return costWindowURL(base, strings.ReplaceAll(ep.path, "{rec}", id), from, to)
}

// costWindowURL adds an explicit from/to to an endpoint's path.
func costWindowURL(base, path string, from, to time.Time) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return base + path + sep + "from=" + url.QueryEscape(from.Format(time.RFC3339)) + "&to=" + url.QueryEscape(to.Format(time.RFC3339))
}

// costSeries is the outcome of one series of requests.
type costSeries struct {
	lat      []time.Duration // successful requests, sorted
	failures map[int]int     // status (0: transport error) → count
	bytes    int             // size of the last successful body
	sent     int             // requests sent (fewer than asked when the series was cut short)
	firstErr string          // the first failed response, shortened
}

func (s costSeries) pct(q float64) time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(s.lat)))) - 1
	return s.lat[max(i, 0)]
}

func (s costSeries) cell(q float64) string {
	if len(s.lat) == 0 {
		return "failed"
	}
	return fmtMs(s.pct(q))
}

func (s costSeries) failed() string {
	if len(s.failures) == 0 {
		return ""
	}
	var parts []string
	for st, n := range s.failures {
		parts = append(parts, fmt.Sprintf("%d×%d", n, st))
	}
	slices.Sort(parts)
	return " FAILED " + strings.Join(parts, ",") + " (" + s.firstErr + ")"
}

func fmtMs(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms >= 10_000:
		return fmt.Sprintf("%.1fs", ms/1000)
	case ms >= 100:
		return fmt.Sprintf("%.0fms", ms)
	}
	return fmt.Sprintf("%.1fms", ms)
}

// costClient GETs cost endpoints as a cfo.
type costClient struct {
	http  *http.Client
	token string
}

func newCostClient(b *testing.B, conns int) *costClient {
	tok, err := auth.MintHS256([]byte(auth.DemoSecret), defaultIssuer, defaultAudience, "bench",
		[]auth.Role{auth.RoleCFO}, "", time.Hour, time.Now())
	require.NoError(b, err)
	return &costClient{token: tok, http: &http.Client{Timeout: 10 * time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: conns, DisableCompression: true}}}
}

// get returns the latency (request sent → body read), the status and the body.
func (c *costClient) get(u string) (time.Duration, int, []byte) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return 0, 0, nil
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return time.Since(start), 0, []byte(err.Error())
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return d, 0, []byte(err.Error())
	}
	return d, resp.StatusCode, body
}

// series sends n requests of u with `clients` concurrent clients. It is cut short (no new
// request) after two failures, or once it has run longer than budget with at least three answers:
// on this 2-core machine a cold series over a large fleet would otherwise outlast the run.
func (c *costClient) series(u string, n, clients int, budget time.Duration) costSeries {
	s := costSeries{failures: map[int]int{}}
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	stop := func() bool {
		mu.Lock()
		defer mu.Unlock()
		fails := 0
		for _, k := range s.failures {
			fails += k
		}
		return fails >= 2 || (time.Since(start) > budget && len(s.lat) >= 3)
	}
	for range min(clients, n) {
		wg.Go(func() {
			for !stop() && int(next.Add(1)) <= n {
				d, status, body := c.get(u)
				mu.Lock()
				s.sent++
				if status == http.StatusOK {
					s.lat = append(s.lat, d)
					s.bytes = len(body)
				} else {
					s.failures[status]++
					if s.firstErr == "" {
						s.firstErr = fmt.Sprintf("after %s: %.200s", fmtMs(d), strings.TrimSpace(string(body)))
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(s.lat)
	return s
}

// fill sends the request that fills the cache with u's model, retrying a 503 (the query timeout)
// up to SPENDSTREAM_BENCH_COST_FILL_TRIES attempts in all (default 10): a model whose computation
// outlasts the request may still complete and be cached (the api computes a model it caches
// independently of the request that asked for it). It returns the latency of every attempt, the
// last status and body.
func (c *costClient) fill(u string) (string, int, []byte) {
	var lat []string
	for {
		d, status, body := c.get(u)
		lat = append(lat, fmtMs(d))
		if status != http.StatusServiceUnavailable || len(lat) >= benchEnvInt("SPENDSTREAM_BENCH_COST_FILL_TRIES", 10) {
			return strings.Join(lat, " + "), status, body
		}
	}
}

// afterTTL sends n sequential requests of u, each once more than ttl has passed since the previous
// answer, so that each finds the cached model expired. It is cut short like series.
func (c *costClient) afterTTL(u string, n int, ttl, budget time.Duration) costSeries {
	s := costSeries{failures: map[int]int{}}
	start := time.Now()
	fails := 0
	for i := 0; i < n && fails < 2 && (time.Since(start) <= budget || len(s.lat) < 3); i++ {
		time.Sleep(ttl + ttl/5)
		d, status, body := c.get(u)
		s.sent++
		if status == http.StatusOK {
			s.lat = append(s.lat, d)
			s.bytes = len(body)
			continue
		}
		fails++
		s.failures[status]++
		if s.firstErr == "" {
			s.firstErr = fmt.Sprintf("after %s: %.200s", fmtMs(d), strings.TrimSpace(string(body)))
		}
	}
	slices.Sort(s.lat)
	return s
}

// startCostAPI starts `spendstream api` on db and waits until it is ready.
func startCostAPI(b *testing.B, env benchEnv, natsURL, db, name string, extra ...string) (*proc, string) {
	httpAddr := freePort(b)
	args := []string{"api", "--local-demo-auth", "--nats-url", natsURL, "--http-addr", httpAddr,
		"--clickhouse-addr", env.chAddr, "--clickhouse-database", db, "--price-list", costBenchPriceList,
		"--partitions", "4", "--rate-limit", "0", "--log-level", "warn"}
	args = append(append(args, extra...), profileArgs(name)...)
	p := startProc(b, env.dir, name, env.spendBin, args...)
	base := "http://" + httpAddr
	waitReady(b, base, 60*time.Second)
	return p, base
}

func runCostAPIBench(b *testing.B, env benchEnv) {
	cfg := costBenchConfigFromEnv()
	report := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	rig := newBenchRig(b, env) // nats-server only; the api processes provision what they need
	to := time.Now().UTC().Truncate(window.Step1d)

	// 1. A year of roll-ups, straight into a fresh database.
	fleet := newCostFleet(cfg.tenants, cfg.resources, cfg.days)
	report("spendstream cost API benchmark: %d tenants, %d resources (%d VPS, %d IPs; %d shared VPS, %d shared IPs), %d days up to %s; ClickHouse %s (%s), NATS %s",
		len(fleet.tenants), len(fleet.vps)+len(fleet.ips), len(fleet.vps), len(fleet.ips), fleet.sharedVPS, fleet.sharedIPs,
		cfg.days, to.Format(time.DateOnly), env.chAddr, clickhouseVersion(b, env.chAddr), rig.url)
	db, store := costBenchStore(b, env, cfg)
	if reused := tableRows(b, env.chAddr, db, "vps_util_1d"); reused > 0 {
		report("load       reusing database %s (SPENDSTREAM_BENCH_COST_DB): %d rows in vps_util_1d", db, reused)
	} else {
		ld := loadCostRollups(b, store, fleet, to, cfg.days, cfg.writers)
		report("load       %d rows through rollup_in (%d VPS day partials, %d email day partials, %d inventory events) + %d segment changes in %d inserts: %s (%.0f rows/s; %s of it in WriteBatch)",
			ld.rows(), ld.vpsRows, ld.emailRows, ld.invRows, ld.segRows, ld.inserts, ld.total.Round(time.Millisecond),
			float64(ld.rows())/ld.total.Seconds(), ld.writing.Round(time.Millisecond))
		b.ReportMetric(ld.total.Seconds(), "load-s")
		b.ReportMetric(float64(ld.rows()), "load-rows")
	}
	settle := waitMerges(b, env.chAddr, db, 5*time.Minute)
	report("           %s until ClickHouse had no merges running; vps_util_1d: %s",
		settle.Round(time.Second), tableStats(b, env.chAddr, db, "vps_util_1d"))

	windows := []struct {
		name     string
		from, to time.Time
	}{
		{"30d", to.Add(-30 * window.Step1d), to},
		{fmt.Sprintf("%dd", cfg.days), to.Add(-time.Duration(cfg.days) * window.Step1d), to},
	}
	if cfg.days == 30 {
		windows = windows[:1]
	}
	// 2. Where a cold model's time goes, measured in this process with the api's own reads.
	if !cfg.skip["direct"] {
		pl, err := pricelist.Load(costBenchPriceList)
		require.NoError(b, err)
		for _, w := range windows {
			costDirect(b, env.chAddr, store, cost.Window{From: w.from, To: w.to}, pl, w.name, report)
		}
	}

	eps := costEndpoints(fleet.tenants[1])
	client := newCostClient(b, cfg.clients)
	cold := map[string]costSeries{}
	warm := map[string]costSeries{}
	stale := map[string]costSeries{}
	days := map[string]costSeries{}
	key := func(w, ep string) string { return w + " " + ep }

	// 3a. Cold: every request computes its model.
	if !cfg.skip["cold"] {
		p, base := startCostAPI(b, env, rig.url, db, "api-cold-"+db, "--cost-cache-ttl", "-1s", "--cost-day-cache-rows", "0")
		cpu0 := p.cpu()
		start := time.Now()
		for _, w := range windows {
			for _, ep := range eps {
				s := client.series(client.url(b, base, ep, w.from, w.to), cfg.coldN, 1, cfg.budget)
				cold[key(w.name, ep.name)] = s
				report("cold       %-4s %-44s p50 %8s p99 %8s (%d of %d requests, %d bytes)%s", w.name, ep.name,
					s.cell(0.5), s.cell(0.99), s.sent, cfg.coldN, s.bytes, s.failed())
			}
		}
		report("           cold api process: %s CPU over %s, peak RSS %.0f MiB",
			(p.cpu() - cpu0).Round(time.Millisecond), time.Since(start).Round(time.Second), float64(p.peakRSS())/(1<<20))
		p.stop()
	}

	// 3a'. Days cached: no model cache, the day cache on (the default): after one request per window
	// has read its days, each request computes its model from the cached days (and reads the days
	// still open, none here: the live lane's as_of is the load time).
	if !cfg.skip["days"] {
		p, base := startCostAPI(b, env, rig.url, db, "api-days-"+db, "--cost-cache-ttl", "-1s")
		cpu0 := p.cpu()
		start := time.Now()
		for _, w := range windows {
			for _, ep := range eps {
				u := client.url(b, base, ep, w.from, w.to)
				first, status, body := client.fill(u) // reads the window's days (once per window)
				s := costSeries{failures: map[int]int{status: 1}, sent: 1,
					firstErr: fmt.Sprintf("the request that fills the day cache, after %s: %.200s", first, strings.TrimSpace(string(body)))}
				if status == http.StatusOK {
					s = client.series(u, cfg.coldN, 1, cfg.budget)
				}
				days[key(w.name, ep.name)] = s
				report("days cached %-4s %-43s p50 %8s p99 %8s (%d of %d requests; first request %s)%s", w.name, ep.name,
					s.cell(0.5), s.cell(0.99), s.sent, cfg.coldN, first, s.failed())
			}
		}
		report("           days-cached api process: %s CPU over %s, peak RSS %.0f MiB",
			(p.cpu() - cpu0).Round(time.Millisecond), time.Since(start).Round(time.Second), float64(p.peakRSS())/(1<<20))
		p.stop()
	}

	// 3b. Warm: the default cache (30 s), concurrent clients.
	if !cfg.skip["warm"] {
		p, base := startCostAPI(b, env, rig.url, db, "api-warm-"+db)
		for _, w := range windows {
			for _, ep := range eps {
				u := client.url(b, base, ep, w.from, w.to)
				first, status, body := client.fill(u) // fills the cache (when the model is not there yet)
				s := costSeries{failures: map[int]int{status: 1}, sent: 1,
					firstErr: fmt.Sprintf("the request that fills the cache, after %s: %.200s", first, strings.TrimSpace(string(body)))}
				if status == http.StatusOK { // otherwise there is nothing to keep warm: every request would compute
					s = client.series(u, cfg.warmN, cfg.clients, cfg.budget)
				}
				warm[key(w.name, ep.name)] = s
				report("warm       %-4s %-44s p50 %8s p99 %8s (%d of %d requests, %d clients; first request %s)%s", w.name, ep.name,
					s.cell(0.5), s.cell(0.99), s.sent, cfg.warmN, cfg.clients, first, s.failed())
			}
		}
		report("           warm api process: peak RSS %.0f MiB", float64(p.peakRSS())/(1<<20))
		p.stop()
	}

	// 3c. Warm after TTL expiry: a 1 s TTL, each request sent once the model is older than that.
	if !cfg.skip["stale"] {
		const ttl = time.Second
		// The refresh factor off: every request past the TTL finds the model expired, however
		// long it took to compute.
		p, base := startCostAPI(b, env, rig.url, db, "api-stale-"+db, "--cost-cache-ttl", ttl.String(), "--cost-cache-refresh-factor", "-1")
		for _, w := range windows {
			for _, ep := range eps {
				u := client.url(b, base, ep, w.from, w.to)
				first, status, body := client.fill(u)
				s := costSeries{failures: map[int]int{status: 1}, sent: 1,
					firstErr: fmt.Sprintf("the request that fills the cache, after %s: %.200s", first, strings.TrimSpace(string(body)))}
				if status == http.StatusOK {
					s = client.afterTTL(u, cfg.coldN, ttl, cfg.budget)
				}
				stale[key(w.name, ep.name)] = s
				report("after TTL  %-4s %-44s p50 %8s p99 %8s (%d of %d requests, each > %s after the previous answer; first request %s)%s",
					w.name, ep.name, s.cell(0.5), s.cell(0.99), s.sent, cfg.coldN, ttl, first, s.failed())
			}
		}
		report("           after-TTL api process: peak RSS %.0f MiB", float64(p.peakRSS())/(1<<20))
		p.stop()
	}

	// The table.
	type phase struct {
		name, metric string
		series       map[string]costSeries
	}
	phases := slices.DeleteFunc([]phase{{"cold", "cold", cold}, {"days cached", "days-cached", days}, {"warm", "warm", warm},
		{"after TTL", "after-ttl", stale}}, func(p phase) bool { return len(p.series) == 0 })
	if len(phases) > 0 {
		report("")
		head, rule := "| endpoint | window |", "| --- | --- |"
		for _, p := range phases {
			head += fmt.Sprintf(" %s p50 | %s p99 |", p.name, p.name)
			rule += " --- | --- |"
		}
		report("%s body | p99 < 100 ms |", head)
		report("%s --- | --- |", rule)
		for _, w := range windows {
			for _, ep := range eps {
				line := fmt.Sprintf("| %s | %s |", ep.name, w.name)
				var meets []string
				body := 0
				short := strings.NewReplacer("GET /v1/", "", "/", "-", "?", "-", "&", "-", "=", "-", "{id}", "id", "{rec}", "id").Replace(ep.name)
				for _, p := range phases {
					s := p.series[key(w.name, ep.name)]
					line += fmt.Sprintf(" %s | %s |", s.cell(0.5), s.cell(0.99))
					body = max(body, s.bytes)
					m := "no"
					switch {
					case len(s.lat) == 0 || len(s.failures) > 0:
						m = "no (failed)"
					case s.pct(0.99) < costBenchTarget:
						m = "yes"
					}
					meets = append(meets, p.name+" "+m)
					if len(s.lat) > 0 {
						b.ReportMetric(float64(s.pct(0.99))/1e6, short+"-"+w.name+"-"+p.metric+"-p99-ms")
					}
				}
				report("%s %s | %s |", line, fmtBytes(body), strings.Join(meets, ", "))
			}
		}
		report("")
	}

	// 4. Raw events against roll-ups, same answer, same run.
	if !cfg.skip["raw"] {
		runCostRawRatio(b, env, rig.url, cfg, to, report)
	}
}

func fmtBytes(n int) string {
	switch {
	case n == 0:
		return "-"
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// ---- the synthetic fleet of the year of roll-ups ----

// costPlan is one VPS plan of deploy/pricelist.example.yaml.
type costPlan struct {
	provider, region, plan string
	vcpus, memoryMB        uint32
}

var costPlans = []costPlan{
	{"hetzner", "fsn1", "cx22", 2, 4096}, {"hetzner", "nbg1", "cpx21", 3, 4096}, {"hetzner", "hel1", "cx32", 4, 8192},
	{"hetzner", "fsn1", "cpx31", 4, 8192}, {"hetzner", "nbg1", "cx42", 8, 16384}, {"hetzner", "fsn1", "ccx23", 4, 16384},
	{"hetzner", "ash", "cx52", 16, 32768}, {"hetzner", "fsn1", "ccx33", 8, 32768}, {"hetzner", "hel1", "ccx43", 16, 65536},
	{"ovh", "GRA11", "d2-4", 2, 4096}, {"ovh", "SBG5", "d2-8", 4, 8192}, {"ovh", "GRA11", "b2-7", 2, 7168},
	{"ovh", "BHS5", "b2-15", 4, 15360}, {"ovh", "WAW1", "c2-15", 4, 15360}, {"ovh", "GRA11", "b2-30", 8, 30720},
	{"ovh", "DE1", "b2-60", 16, 61440}, {"ovh", "UK1", "c2-60", 16, 61440},
	{"digitalocean", "nyc3", "s-1vcpu-2gb", 1, 2048}, {"digitalocean", "sfo3", "s-2vcpu-2gb", 2, 2048},
	{"digitalocean", "ams3", "s-2vcpu-4gb", 2, 4096}, {"digitalocean", "fra1", "s-4vcpu-8gb", 4, 8192},
	{"digitalocean", "lon1", "g-2vcpu-8gb", 2, 8192}, {"digitalocean", "sgp1", "c-4", 4, 8192},
	{"digitalocean", "nyc3", "s-8vcpu-16gb", 8, 16384}, {"digitalocean", "fra1", "c-8", 8, 16384},
	{"digitalocean", "ams3", "m-4vcpu-32gb", 4, 32768},
}

var costEmailProviders = []struct {
	name, region string
	bounce       float64
}{{"sendgrid", "us", 0.008}, {"mailgun", "eu", 0.045}, {"ses", "us-east-1", 0.011}}

var costTenantPlans = []string{generate.PlanFree, generate.PlanStarter, generate.PlanPro, generate.PlanEnterprise}

// Utilization profiles of the synthetic VPS (daily average CPU and memory, fractions).
const (
	costIdle = iota
	costSteady
	costBusy
	costSpiky
)

type costVPS struct {
	idx        int
	id, tenant string
	plan       costPlan
	profile    int
	users      []string // tenants whose workloads run on it (one unless shared)
	from, to   int      // days of the year it exists: [from, to)
}

type costIP struct {
	addr, tenant, provider, region, pool string
	bounce                               float64
	daily                                float64 // messages per day
	users                                []string
	from, to                             int
}

type costFleet struct {
	tenants              []string
	vps                  []costVPS
	ips                  []costIP
	sharedVPS, sharedIPs int
}

// costRand is a deterministic uniform [0,1) of its arguments (splitmix64).
func costRand(parts ...uint64) float64 {
	z := uint64(0x9e3779b97f4a7c15)
	for _, p := range parts {
		z ^= p + 0x9e3779b97f4a7c15 + (z << 6) + (z >> 2)
		z += 0x9e3779b97f4a7c15
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
	}
	return float64(z>>11) / (1 << 53)
}

// newCostFleet builds nTenants tenants and nResources resources: 90 % VPS spread round-robin over
// the tenants and every priced plan, 10 % sending IPs. 5 % of VPS and 10 % of IPs are shared by
// three tenants; 85 % of resources exist all year, the others are provisioned during it, and 5 %
// are decommissioned before its end.
func newCostFleet(nTenants, nResources, days int) costFleet {
	f := costFleet{}
	for i := range nTenants {
		f.tenants = append(f.tenants, fmt.Sprintf("t-%04d", i))
	}
	nIPs := max(nResources/10, 1)
	nVPS := nResources - nIPs
	life := func(salt, i uint64) (int, int) {
		from, to := 0, days
		if costRand(salt, i, 1) < 0.15 {
			from = int(costRand(salt, i, 2) * float64(days))
		}
		if costRand(salt, i, 3) < 0.05 {
			to = from + 1 + int(costRand(salt, i, 4)*float64(days-from-1))
		}
		return from, to
	}
	users := func(owner int, shared bool) []string {
		u := []string{f.tenants[owner]}
		if shared && nTenants >= 3 {
			u = append(u, f.tenants[(owner+1)%nTenants], f.tenants[(owner+7)%nTenants])
		}
		return u
	}
	for j := range nVPS {
		owner := j % nTenants
		r := costRand(1, uint64(j))
		profile := costSteady
		switch {
		case r < 0.30:
			profile = costIdle
		case r < 0.50:
			profile = costBusy
		case r < 0.60:
			profile = costSpiky
		}
		shared := costRand(5, uint64(j)) < 0.05
		if shared {
			f.sharedVPS++
		}
		from, to := life(6, uint64(j))
		f.vps = append(f.vps, costVPS{idx: j, id: fmt.Sprintf("vps-%05d", j), tenant: f.tenants[owner],
			plan: costPlans[(j/nTenants+j)%len(costPlans)], profile: profile, users: users(owner, shared), from: from, to: to})
	}
	for j := range nIPs {
		owner := (j * 3) % nTenants
		ep := costEmailProviders[j%len(costEmailProviders)]
		pool := generate.PoolTransactional
		if j%2 == 1 {
			pool = generate.PoolMarketing
		}
		daily := 1000 + costRand(7, uint64(j))*60_000
		if costRand(8, uint64(j)) < 0.10 {
			daily = 20 + costRand(9, uint64(j))*100 // quiet IPs
		}
		shared := costRand(10, uint64(j)) < 0.10
		if shared {
			f.sharedIPs++
		}
		from, to := life(11, uint64(j))
		f.ips = append(f.ips, costIP{addr: fmt.Sprintf("10.%d.%d.%d", 1+j/65536, (j/256)%256, j%256),
			tenant: f.tenants[owner], provider: ep.name, region: ep.region, pool: pool, bounce: ep.bounce,
			daily: daily, users: users(owner, shared), from: from, to: to})
	}
	return f
}

// dayPartial is a VPS day of 1,440 one-minute samples whose CPU and memory utilization spread over
// five histogram buckets around avg (a share `burst` of the CPU samples around burstAt instead).
func dayPartial(v costVPS, day int, user int) *aggregates.VPSPartial {
	const n = 1440
	h := costRand(12, uint64(v.idx), uint64(day), uint64(user))
	var cpu, mem, burst float64
	switch v.profile {
	case costIdle:
		cpu, mem = 0.02+0.04*h, 0.12+0.15*h
	case costSteady:
		cpu, mem = 0.30+0.20*h, 0.40+0.20*h
	case costBusy:
		cpu, mem = 0.70+0.22*h, 0.60+0.20*h
	case costSpiky:
		cpu, mem, burst = 0.05+0.05*h, 0.30+0.10*h, 0.08
	}
	if k := len(v.users); k > 1 { // a shared VPS: each tenant's workload reports its part of the whole
		cpu, mem = cpu/float64(k), mem/float64(k)
	}
	p := &aggregates.VPSPartial{Samples: n, VCPUs: v.plan.vcpus, MemoryMB: v.plan.memoryMB, IntervalSeconds: n * 60}
	spread := func(hist *aggregates.Hist, avg float64, count uint64) (sum uint64, top uint32) {
		weights := [5]uint64{1, 2, 4, 2, 1}
		c := min(max(int(avg*100), 2), 97)
		left := count
		for i, w := range weights {
			k := count * w / 10
			if i == len(weights)-1 {
				k = left
			}
			left -= k
			b := c - 2 + i
			hist[b] += uint32(k)
			sum += k * uint64(b*10_000+5_000)
			if k > 0 {
				top = uint32(b*10_000 + 9_000)
			}
		}
		return sum, top
	}
	bursts := uint64(burst * n)
	s1, m1 := spread(&p.CPUHist, cpu, n-bursts)
	p.CPUSum, p.CPUMax = s1, m1
	if bursts > 0 {
		s2, m2 := spread(&p.CPUHist, 0.85, bursts)
		p.CPUSum, p.CPUMax = p.CPUSum+s2, max(p.CPUMax, m2)
	}
	p.MemSum, p.MemMax = spread(&p.MemHist, mem, n)
	p.CPUCoreSeconds = p.CPUSum * uint64(v.plan.vcpus) * 60
	return p
}

func dayEmail(ip costIP, j, day, user int, date time.Time) *aggregates.EmailPartial {
	h := costRand(13, uint64(j), uint64(day), uint64(user))
	vol := ip.daily * (0.7 + 0.6*h)
	if wd := date.Weekday(); wd == time.Saturday || wd == time.Sunday {
		vol *= 0.6
	}
	vol /= float64(len(ip.users))
	sent := uint64(vol)
	bounced := uint64(float64(sent) * ip.bounce * (0.8 + 0.4*h))
	deferred := sent / 200
	complained := sent / 4000
	return &aggregates.EmailPartial{Sent: sent, Delivered: sent - bounced - deferred, Bounced: bounced,
		Deferred: deferred, Complained: complained, Reports: 288}
}

type costLoad struct {
	vpsRows, emailRows, invRows, segRows, inserts int
	total, writing                                time.Duration
}

func (l costLoad) rows() int { return l.vpsRows + l.emailRows + l.invRows + l.segRows }

// loadCostRollups writes the fleet's year (days ending at to) in inserts of about 50k rows, with
// `writers` inserts at a time while the next batches are built; then the positions and segments.
func loadCostRollups(b *testing.B, s *clickhouse.Store, f costFleet, to time.Time, days, writers int) costLoad {
	const batchRows = 50_000
	ctx := context.Background()
	start := to.Add(-time.Duration(days) * window.Step1d)
	dayOf := func(d int) time.Time { return start.Add(time.Duration(d) * window.Step1d) }
	var ld costLoad
	began := time.Now()
	batches := make(chan *aggregates.Batch, writers)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for bt := range batches {
				w := time.Now()
				err := s.WriteBatch(ctx, bt)
				mu.Lock()
				ld.writing += time.Since(w)
				ld.inserts++
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}

	// Inventory: provisioned (a day before the year for resources that exist from its start),
	// decommissioned at the end of their last day.
	bt := aggregates.NewBatch()
	inv := func(t time.Time, tenant, id string, kind events.ResourceKind, provider, region, plan string, action events.Action, shared bool) {
		bt.Inventory = append(bt.Inventory, aggregates.InventoryRecord{EventTime: t, EventID: fmt.Sprintf("inv-%s-%s-%d", id, action, t.Unix()),
			TenantID: tenant, ResourceID: id, Kind: kind, Provider: provider, Region: region, Plan: plan, Action: action, Shared: shared})
	}
	at := func(d int) time.Time {
		if d == 0 {
			return start.Add(-window.Step1d)
		}
		return dayOf(d)
	}
	for _, v := range f.vps {
		inv(at(v.from), v.tenant, v.id, events.KindVPS, v.plan.provider, v.plan.region, v.plan.plan, events.ActionProvisioned, len(v.users) > 1)
		if v.to < days {
			inv(dayOf(v.to), v.tenant, v.id, events.KindVPS, v.plan.provider, v.plan.region, v.plan.plan, events.ActionDecommissioned, len(v.users) > 1)
		}
	}
	for _, ip := range f.ips {
		inv(at(ip.from), ip.tenant, ip.addr, events.KindIP, ip.provider, ip.region, "dedicated-ip", events.ActionProvisioned, len(ip.users) > 1)
		if ip.to < days {
			inv(dayOf(ip.to), ip.tenant, ip.addr, events.KindIP, ip.provider, ip.region, "dedicated-ip", events.ActionDecommissioned, len(ip.users) > 1)
		}
	}
	ld.invRows = len(bt.Inventory)
	flush := func() {
		if bt.Rows() > 0 || len(bt.Positions) > 0 {
			bt.FlushedAt = time.Now().UTC()
			batches <- bt
		}
		bt = aggregates.NewBatch()
	}
	for d := range days {
		date := dayOf(d)
		for _, v := range f.vps {
			if d < v.from || d >= v.to {
				continue
			}
			for u, tenant := range v.users {
				bt.VPS[aggregates.VPSKey{WindowStart: date, TenantID: tenant, ResourceID: v.id, Provider: v.plan.provider,
					Region: v.plan.region, Plan: v.plan.plan}] = dayPartial(v, d, u)
				ld.vpsRows++
			}
			if bt.Rows() >= batchRows {
				flush()
			}
		}
		for j, ip := range f.ips {
			if d < ip.from || d >= ip.to {
				continue
			}
			for u, tenant := range ip.users {
				bt.Email[aggregates.EmailKey{WindowStart: date, TenantID: tenant, IP: ip.addr, Pool: ip.pool,
					Provider: ip.provider}] = dayEmail(ip, j, d, u, date)
				ld.emailRows++
			}
			if bt.Rows() >= batchRows {
				flush()
			}
		}
	}
	flush()
	// Every data insert has committed before the positions that cover it.
	close(batches)
	wg.Wait()
	require.NoError(b, firstErr)
	batches = make(chan *aggregates.Batch, 2)
	wg.Go(func() {
		for bt := range batches {
			mu.Lock()
			if firstErr == nil {
				firstErr = s.WriteBatch(ctx, bt)
				ld.inserts++
			}
			mu.Unlock()
		}
	})

	// The live lane's positions: aggregated_as_of is now for every partition.
	now := time.Now().UTC()
	perPart := uint64(ld.vpsRows+ld.emailRows+ld.invRows) / 4
	for p := range uint16(4) {
		bt.Positions = append(bt.Positions, aggregates.Position{Lane: events.LaneLive, Partition: p, StreamSeq: perPart, AsOf: now, Events: perPart})
	}
	flush()

	// Segment changes (posthog lane): every tenant's plan and tier from before the year, and a plan
	// change during it for every other tenant.
	for i, t := range f.tenants {
		plan := costTenantPlans[i%len(costTenantPlans)]
		seg := func(at time.Time, prop, value string) {
			bt.Segments = append(bt.Segments, aggregates.SegmentRecord{EffectiveFrom: at, EventUUID: fmt.Sprintf("seg-%s-%s-%d", t, prop, at.Unix()),
				TenantID: t, Property: prop, Value: value, Source: "group"})
		}
		seg(start.Add(-window.Step1d), cost.SegmentPlan, plan)
		seg(start.Add(-window.Step1d), cost.SegmentTier, fmt.Sprintf("tier-%d", 1+i%3))
		if i%2 == 0 {
			seg(dayOf(int(costRand(14, uint64(i))*float64(days))).Add(13*time.Hour), cost.SegmentPlan, costTenantPlans[(i+1)%len(costTenantPlans)])
		}
	}
	ld.segRows = len(bt.Segments)
	for p := range uint16(4) {
		bt.Positions = append(bt.Positions, aggregates.Position{Lane: events.LanePostHog, Partition: p, StreamSeq: 1, AsOf: now, Events: uint64(ld.segRows)})
	}
	flush()
	close(batches)
	wg.Wait()
	require.NoError(b, firstErr)
	ld.total = time.Since(began)
	return ld
}

// costBenchStore is a fresh database, dropped at the end, or SPENDSTREAM_BENCH_COST_DB, kept.
func costBenchStore(b *testing.B, env benchEnv, cfg costBenchConfig) (string, *clickhouse.Store) {
	if cfg.db == "" {
		db := fmt.Sprintf("bench_cost_%d", time.Now().UnixNano())
		return db, openStore(b, env.chAddr, db)
	}
	c := clickhouse.DefaultConfig()
	c.Addr, c.Database = env.chAddr, cfg.db
	s, err := clickhouse.Open(c, nil)
	require.NoError(b, err)
	b.Cleanup(func() { s.Close() })
	require.NoError(b, s.Migrate(context.Background()))
	return cfg.db, s
}

func tableRows(b *testing.B, addr, db, table string) uint64 {
	var n uint64
	_ = clickhouseConn(b, addr).QueryRow(context.Background(), "SELECT count() FROM "+db+"."+table).Scan(&n)
	return n
}

// costDirect times, in this process, what the api does for a cold model of w: the ClickHouse query
// of the daily VPS roll-up alone (its rows and histograms computed, not sent), then, when it has
// at most maxDirectRows rows, the four reads through clickhouse-go as the api makes them and
// cost.Compute.
func costDirect(b *testing.B, addr string, s *clickhouse.Store, w cost.Window, pl *pricelist.PriceList, name string, report func(string, ...any)) {
	const maxDirectRows = 1_500_000
	ctx := context.Background()
	all := aggregates.Scope{All: true}
	var rows, cpuLen, memLen uint64
	t0 := time.Now()
	// The histograms are merged as VPSDailyUsage merges them; only their lengths leave the server.
	err := clickhouseConn(b, addr).QueryRow(ctx, `SELECT count(), sum(length(ch)), sum(length(mh)) FROM (
 SELECT window_start, tenant_id, resource_id, provider, plan, sumMerge(samples), sumMerge(cpu_sum), maxMerge(cpu_max),
 sumMerge(mem_sum), maxMerge(mem_max), sumForEachMerge(cpu_hist) AS ch, sumForEachMerge(mem_hist) AS mh, sumMerge(cpu_core_seconds)
 FROM `+s.Database()+`.vps_util_1d WHERE window_start >= toDateTime(?) AND window_start < toDateTime(?)
 GROUP BY window_start, tenant_id, resource_id, provider, plan ORDER BY window_start, tenant_id, resource_id, provider, plan)`,
		w.From.Unix(), w.To.Unix()).Scan(&rows, &cpuLen, &memLen)
	chAlone := time.Since(t0)
	if err != nil {
		report("direct     %-4s ClickHouse alone, daily VPS roll-up query: FAILED after %s: %v", name, fmtMs(chAlone), err)
		return
	}
	report("direct     %-4s ClickHouse alone, daily VPS roll-up query: %d rows (histograms %.0f + %.0f buckets a row) in %s",
		name, rows, float64(cpuLen)/float64(max(rows, 1)), float64(memLen)/float64(max(rows, 1)), fmtMs(chAlone))
	if rows > maxDirectRows {
		report("           %-4s (more than %d rows: not read into this process; the api's series below show what it does with them)", name, maxDirectRows)
		return
	}
	in := cost.Input{Window: w, PriceList: pl}
	t0 = time.Now()
	inv, err := s.Inventory(ctx, all, aggregates.InventoryQuery{Until: w.To})
	require.NoError(b, err)
	tInv := time.Since(t0)
	for _, r := range inv {
		in.Inventory = append(in.Inventory, cost.InventoryEvent{Time: r.EventTime, TenantID: r.TenantID,
			ResourceID: r.ResourceID, Kind: pricelist.ResourceKind(r.Kind), Provider: r.Provider, Region: r.Region,
			Plan: r.Plan, Action: cost.Action(r.Action), Shared: r.Shared})
	}
	days := aggregates.RollupQuery{From: w.From, To: w.To, Step: window.Step1d}
	t0 = time.Now()
	vps, err := s.VPSDailyUsage(ctx, all, days) // p95 derived in ClickHouse: no histogram is read
	require.NoError(b, err)
	tVPS := time.Since(t0)
	for _, r := range vps {
		in.VPSUsage = append(in.VPSUsage, cost.VPSUsage{Day: r.WindowStart, TenantID: r.TenantID, ResourceID: r.ResourceID,
			Provider: r.Provider, Plan: r.Plan, Samples: r.Samples, CPUCoreSeconds: r.CPUCoreSeconds,
			CPUAvg: r.CPUAvg, CPUP95: r.CPUP95, MemAvg: r.MemAvg, MemP95: r.MemP95})
	}
	eq := aggregates.EmailQuery{RollupQuery: days}
	eq.GroupBy = []aggregates.Dimension{aggregates.DimTenantID, aggregates.DimIP, aggregates.DimPool, aggregates.DimProvider}
	t0 = time.Now()
	email, err := s.EmailVolume(ctx, all, eq)
	require.NoError(b, err)
	tEmail := time.Since(t0)
	for _, r := range email {
		in.EmailUsage = append(in.EmailUsage, cost.EmailUsage{Day: r.WindowStart, TenantID: r.TenantID, IP: r.IP,
			Pool: r.Pool, Provider: r.Provider, Sent: r.Sent, Delivered: r.Delivered, Bounced: r.Bounced,
			Deferred: r.Deferred, Complained: r.Complained})
	}
	t0 = time.Now()
	segs, err := s.SegmentHistory(ctx, all, aggregates.SegmentHistoryQuery{Until: w.To})
	require.NoError(b, err)
	tSegs := time.Since(t0)
	for _, r := range segs {
		in.Segments = append(in.Segments, cost.SegmentChange{TenantID: r.TenantID, Property: r.Property,
			Value: r.Value, EffectiveFrom: r.EffectiveFrom})
	}
	t0 = time.Now()
	_, err = cost.Compute(in)
	require.NoError(b, err)
	tCompute := time.Since(t0)
	total := tInv + tVPS + tEmail + tSegs + tCompute
	report("           %-4s the api's reads through clickhouse-go: VPS %d rows %s (%.0f %%), email %d rows %s, inventory %d %s, segments %d %s; cost.Compute %s (%.0f %%); total %s",
		name, len(vps), fmtMs(tVPS), 100*float64(tVPS)/float64(total), len(email), fmtMs(tEmail), len(inv), fmtMs(tInv),
		len(segs), fmtMs(tSegs), fmtMs(tCompute), 100*float64(tCompute)/float64(total), fmtMs(total))
}

func clickhouseConn(b *testing.B, addr string) ch.Conn {
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}, DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Minute})
	require.NoError(b, err)
	b.Cleanup(func() { conn.Close() })
	return conn
}

func clickhouseVersion(b *testing.B, addr string) string {
	var v string
	if err := clickhouseConn(b, addr).QueryRow(context.Background(), "SELECT version()").Scan(&v); err != nil {
		return "version unknown"
	}
	return "ClickHouse " + v
}

// waitMerges waits until ClickHouse runs no merge in db (at most within) and returns how long.
func waitMerges(b *testing.B, addr, db string, within time.Duration) time.Duration {
	conn := clickhouseConn(b, addr)
	start := time.Now()
	for time.Since(start) < within {
		var n uint64
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM system.merges WHERE database = ?", db).Scan(&n); err != nil || n == 0 {
			break
		}
		time.Sleep(time.Second)
	}
	return time.Since(start)
}

func tableStats(b *testing.B, addr, db, table string) string {
	var parts, rows, bytes uint64
	err := clickhouseConn(b, addr).QueryRow(context.Background(),
		"SELECT count(), sum(rows), sum(bytes) FROM system.parts WHERE database = ? AND table = ? AND active", db, table).Scan(&parts, &rows, &bytes)
	if err != nil {
		return "unknown: " + err.Error()
	}
	return fmt.Sprintf("%d rows in %d active parts, %s on disk", rows, parts, fmtBytes(int(bytes)))
}

// ---- raw events against roll-ups ----

type rawVPSKey struct {
	day                              time.Time
	tenant, resource, provider, plan string
}

type rawEmailKey struct {
	day                        time.Time
	tenant, ip, pool, provider string
}

// rawDaily folds events into the daily usage the cost model reads, the way the roll-ups are built:
// the event's window (aggregates.WindowOf), truncated to its UTC day.
type rawDaily struct {
	vps   map[rawVPSKey]*aggregates.VPSPartial
	email map[rawEmailKey]*aggregates.EmailPartial
}

func newRawDaily() *rawDaily {
	return &rawDaily{vps: map[rawVPSKey]*aggregates.VPSPartial{}, email: map[rawEmailKey]*aggregates.EmailPartial{}}
}

func (r *rawDaily) add(ev *events.Event) {
	w, _ := aggregates.WindowOf(ev)
	day := window.Assign(w, window.Step1d)
	switch ev.Type {
	case events.TypeVPSSample:
		k := rawVPSKey{day, ev.TenantID, ev.VPS.ResourceID, ev.VPS.Provider, ev.VPS.Plan}
		p := r.vps[k]
		if p == nil {
			p = &aggregates.VPSPartial{}
			r.vps[k] = p
		}
		p.Add(ev.VPS)
	case events.TypeEmailVolume:
		k := rawEmailKey{day, ev.TenantID, ev.Email.IP, ev.Email.Pool, ev.Email.Provider}
		p := r.email[k]
		if p == nil {
			p = &aggregates.EmailPartial{}
			r.email[k] = p
		}
		p.Add(ev.Email)
	}
}

// input is the model input the API would have read from the daily roll-ups.
func (r *rawDaily) input(w cost.Window, pl *pricelist.PriceList, inv []cost.InventoryEvent, segs []cost.SegmentChange) cost.Input {
	in := cost.Input{Window: w, PriceList: pl, Inventory: inv, Segments: segs}
	for k, p := range r.vps {
		var row aggregates.VPSRow
		row.SetTotals(aggregates.VPSTotals{Samples: p.Samples, CPUCoreSeconds: p.CPUCoreSeconds, CPUSum: p.CPUSum, CPUMax: p.CPUMax,
			MemSum: p.MemSum, MemMax: p.MemMax, CPUHist: p.CPUHist.Uint64s(), MemHist: p.MemHist.Uint64s()})
		in.VPSUsage = append(in.VPSUsage, cost.VPSUsage{Day: k.day, TenantID: k.tenant, ResourceID: k.resource, Provider: k.provider,
			Plan: k.plan, Samples: row.Samples, CPUCoreSeconds: row.CPUCoreSeconds, CPUAvg: row.CPUAvg, CPUP95: row.CPUP95,
			MemAvg: row.MemAvg, MemP95: row.MemP95})
	}
	for k, p := range r.email {
		in.EmailUsage = append(in.EmailUsage, cost.EmailUsage{Day: k.day, TenantID: k.tenant, IP: k.ip, Pool: k.pool, Provider: k.provider,
			Sent: p.Sent, Delivered: p.Delivered, Bounced: p.Bounced, Deferred: p.Deferred, Complained: p.Complained})
	}
	return in
}

// runCostRawRatio times the 30-day tenant breakdown of a small fleet computed from its raw events
// against the API answering it from that fleet's roll-ups, and checks both answers agree.
func runCostRawRatio(b *testing.B, env benchEnv, natsURL string, cfg costBenchConfig, to time.Time, report func(string, ...any)) {
	ctx := context.Background()
	pl, err := pricelist.Load(costBenchPriceList)
	require.NoError(b, err)
	g := generate.New(generate.Options{Seed: 4, Tenants: cfg.rawTenants, VPSPerTenant: 8, IPsPerTenant: 2,
		SampleEvery: time.Minute, EmailEvery: 5 * time.Minute})
	fleet := g.Fleet()
	from := to.Add(-time.Duration(cfg.rawDays) * window.Step1d)
	w := cost.Window{From: from, To: to}
	db := fmt.Sprintf("bench_costraw_%d", time.Now().UnixNano())
	store := openStore(b, env.chAddr, db)

	// The same inventory and segments for both sides.
	bt := aggregates.NewBatch()
	var inv []cost.InventoryEvent
	for _, it := range g.Inventory(from.Add(-window.Step1d)) {
		ev := it.Event
		bt.AddEvent(ev)
		r := ev.Inventory
		inv = append(inv, cost.InventoryEvent{Time: ev.Time, TenantID: ev.TenantID, ResourceID: r.ResourceID,
			Kind: pricelist.ResourceKind(r.Kind), Provider: r.Provider, Region: r.Region, Plan: r.Plan,
			Action: cost.Action(r.Action), Shared: r.Shared})
	}
	var segs []cost.SegmentChange
	seg := aggregates.NewBatch()
	for _, t := range fleet.Tenants {
		at := from.Add(-window.Step1d)
		seg.Segments = append(seg.Segments, aggregates.SegmentRecord{EffectiveFrom: at, EventUUID: "seg-" + t.ID,
			TenantID: t.ID, Property: cost.SegmentPlan, Value: t.Plan, Source: "group"})
		segs = append(segs, cost.SegmentChange{TenantID: t.ID, Property: cost.SegmentPlan, Value: t.Plan, EffectiveFrom: at})
	}
	require.NoError(b, store.WriteBatch(ctx, seg))

	// Raw events hour by hour: (untimed) fold into 5-minute partials and write them, as the
	// pipeline would; (timed) decode the raw bytes and fold into daily usage; (timed, separately)
	// fold the already-decoded events.
	decodeFold, fold := newRawDaily(), newRawDaily()
	var tDecodeFold, tFold, tGen time.Duration
	var nVPS, nEmail, rawBytes int
	lim := events.DefaultLimits()
	for h := from; h.Before(to); h = h.Add(time.Hour) {
		t0 := time.Now()
		items := g.Window(h, h.Add(time.Hour))
		tGen += time.Since(t0)
		t0 = time.Now()
		for _, it := range items {
			ev, err := events.Decode(it.Raw, lim)
			if err != nil {
				b.Fatalf("decode: %v", err)
			}
			decodeFold.add(&ev)
		}
		tDecodeFold += time.Since(t0)
		t0 = time.Now()
		for _, it := range items {
			fold.add(it.Event)
		}
		tFold += time.Since(t0)
		for _, it := range items {
			bt.AddEvent(it.Event)
			rawBytes += len(it.Raw)
			if it.Event.Type == events.TypeVPSSample {
				nVPS++
			} else {
				nEmail++
			}
		}
		if bt.Rows() >= 50_000 {
			bt.FlushedAt = time.Now().UTC()
			require.NoError(b, store.WriteBatch(ctx, bt))
			bt = aggregates.NewBatch()
		}
	}
	now := time.Now().UTC()
	for p := range uint16(4) {
		bt.Positions = append(bt.Positions, aggregates.Position{Lane: events.LaneLive, Partition: p, StreamSeq: uint64(nVPS + nEmail), AsOf: now, Events: uint64(nVPS+nEmail) / 4})
	}
	bt.FlushedAt = now
	require.NoError(b, store.WriteBatch(ctx, bt))

	// (i) from raw events: daily usage → cost.Compute → the tenant breakdown. Compute runs three
	// times; the median counts.
	var computes []time.Duration
	var raw *cost.Model
	for range 3 {
		t0 := time.Now()
		in := decodeFold.input(w, pl, inv, segs)
		m, err := cost.Compute(in)
		require.NoError(b, err)
		computes = append(computes, time.Since(t0))
		raw = m
	}
	slices.Sort(computes)
	compute := computes[1]
	fromRaw := tDecodeFold + compute
	fromDecoded := tFold + compute
	// The two folds must agree with each other.
	require.Equal(b, len(decodeFold.vps), len(fold.vps))

	// (ii) the API from the roll-ups, cold (no cache), sequential.
	p, base := startCostAPI(b, env, natsURL, db, "api-raw-"+db, "--cost-cache-ttl", "-1s")
	client := newCostClient(b, 1)
	u := costWindowURL(base, fmt.Sprintf("/v1/costs/breakdown?by=tenant&step=1d&limit=%d", api.MaxPageLimit), from, to)
	s := client.series(u, cfg.coldN, 1, cfg.budget)
	_, status, body := client.get(u)
	p.stop()
	require.Equal(b, http.StatusOK, status, "%.500s", body)
	var resp struct {
		Data struct {
			NextCursor string     `json:"next_cursor"`
			Total      cost.Money `json:"total"`
			Groups     []struct {
				Key  string         `json:"key"`
				Cost cost.Money     `json:"cost"`
				Days []cost.DayCost `json:"days"`
			} `json:"groups"`
		} `json:"data"`
	}
	require.NoError(b, json.Unmarshal(body, &resp))
	require.Empty(b, resp.Data.NextCursor, "every tenant on one page (at most %d)", api.MaxPageLimit)
	diff := 0
	if resp.Data.Total != raw.Totals.Total {
		diff++
	}
	type group struct {
		cost cost.Money
		days []cost.DayCost
	}
	fromAPI := map[string]group{}
	for _, g := range resp.Data.Groups {
		fromAPI[g.Key] = group{g.Cost, g.Days}
	}
	for _, g := range raw.Totals.ByTenant {
		a, ok := fromAPI[g.Key]
		if !ok || a.cost != g.Cost || len(a.days) != len(g.Days) {
			diff++
			continue
		}
		for i := range g.Days {
			if a.days[i].Cost != g.Days[i].Cost || !a.days[i].Day.Equal(g.Days[i].Day) {
				diff++
			}
		}
	}
	if len(fromAPI) != len(raw.Totals.ByTenant) {
		diff++
	}
	vpsRes := len(fleet.VPS)
	report("raw        %d tenants, %d VPS, %d IPs, %d days: %d VPS samples (every 60 s) + %d email reports (every 5 min), %s of JSON (generated in %s, not counted)",
		len(fleet.Tenants), vpsRes, len(fleet.IPs), cfg.rawDays, nVPS, nEmail, fmtBytes(rawBytes), tGen.Round(time.Millisecond))
	report("           from raw events: decode + fold into %d VPS and %d email day rows %s, + cost.Compute %s = %s (folding pre-decoded events instead: %s + %s = %s)",
		len(decodeFold.vps), len(decodeFold.email), tDecodeFold.Round(time.Millisecond), compute.Round(time.Millisecond), fromRaw.Round(time.Millisecond),
		tFold.Round(time.Millisecond), compute.Round(time.Millisecond), fromDecoded.Round(time.Millisecond))
	report("           from roll-ups (api, cold, HTTP included): p50 %s p99 %s over %d requests (%d 5-minute VPS rows in vps_util_5m)",
		fmtMs(s.pct(0.5)), fmtMs(s.pct(0.99)), len(s.lat), tableRows(b, env.chAddr, db, "vps_util_5m"))
	report("           ratio raw/roll-ups: %.0f× (decoded raw JSON), %.0f× (pre-decoded events), same answer: total %s vs %s, %d differing tenant figures (target 0)",
		float64(fromRaw)/float64(s.pct(0.5)), float64(fromDecoded)/float64(s.pct(0.5)), raw.Totals.Total, resp.Data.Total, diff)
	b.ReportMetric(float64(fromRaw)/float64(s.pct(0.5)), "raw/rollup")
	b.ReportMetric(float64(diff), "raw-answer-diff")
	require.Zero(b, diff, "the tenant breakdown from raw events differs from the API's")
}
