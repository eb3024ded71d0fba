package main

// End-to-end benchmark of the PostHog capture path, run by `make bench` after BenchmarkPipeline:
//
//	go test -run XXX -bench BenchmarkCapture -benchtime 1x -timeout 20m ./cmd/spendstream/
//
// Same process model as BenchmarkPipeline: nats-server, `spendstream ingest` (POST /v1/events and
// the capture routes), `spendstream consume` and ClickHouse are separate processes; the load
// generator is this test. In one run, the same number of events goes through
//
//  1. the direct path: CloudEvents as NDJSON to POST /v1/events → USAGE stream → live lane, and
//  2. the capture path: PostHog captures as posthog-go sends them (JSON to POST /batch/) →
//     POSTHOG stream → posthog lane,
//
// each timed from the first request until consumer_progress says the lane has committed every
// event, and the ratio capture/direct is printed with the CPU time per event of each process.
//
// Environment (besides benchEnvFrom's): SPENDSTREAM_BENCH_CAPTURE_EVENTS (events per phase;
// default SPENDSTREAM_BENCH_EVENTS), SPENDSTREAM_BENCH_CAPTURE_BATCH (events per request, default
// 1000; posthog-go's default BatchSize is 250), SPENDSTREAM_BENCH_CLIENTS (concurrent HTTP
// clients, default 4), SPENDSTREAM_BENCH_CAPTURE_PROJECTS (PostHog project keys = tenants the
// captures are spread over, default 16; 1 sends everything as phc_bench → tenant t-bench, which
// puts the whole capture phase on one partition), SPENDSTREAM_BENCH_PROFILE_DIR (CPU profiles of
// the spendstream processes).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	phgo "github.com/posthog/posthog-go"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/auth"

	"github.com/spendstream/spendstream/aggregates/clickhouse"
	"github.com/spendstream/spendstream/schemas/events"
)

func BenchmarkCapture(b *testing.B) {
	env := benchEnvFrom(b)
	for b.Loop() {
		runCaptureBench(b, env)
	}
}

func benchEnvInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// benchBody is one request body and the number of events in it.
type benchBody struct {
	data   []byte
	events int
}

// phaseCPU is the CPU time of the three server processes at one moment.
type phaseCPU struct{ ingest, consume, nats time.Duration }

func runCaptureBench(b *testing.B, env benchEnv) {
	n := benchEnvInt("SPENDSTREAM_BENCH_CAPTURE_EVENTS", env.events)
	batch := benchEnvInt("SPENDSTREAM_BENCH_CAPTURE_BATCH", 1000)
	clients := benchEnvInt("SPENDSTREAM_BENCH_CLIENTS", 4)
	nProjects := benchEnvInt("SPENDSTREAM_BENCH_CAPTURE_PROJECTS", 16)
	report := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }

	// Both phases' bodies are built before anything is timed.
	msgs, truth := benchEvents(n)
	var direct []benchBody
	for i := 0; i < len(msgs); i += batch {
		chunk := msgs[i:min(i+batch, len(msgs))]
		var buf bytes.Buffer
		for _, m := range chunk {
			buf.Write(m.Data)
			buf.WriteByte('\n')
		}
		direct = append(direct, benchBody{data: buf.Bytes(), events: len(chunk)})
	}
	keys, projects := captureProjects(nProjects)
	capture := captureBodies(b, n, batch, keys)

	rig := newBenchRig(b, env)
	rig.fresh()
	db := fmt.Sprintf("bench_capture_%d", time.Now().UnixNano())
	store := openStore(b, env.chAddr, db)
	httpAddr := freePort(b)
	base := "http://" + httpAddr
	parts := strconv.Itoa(rig.scfg.Partitions)
	ingestProc := startProc(b, env.dir, "ingest-"+db, env.spendBin, append([]string{"ingest", "--local-demo-auth", "--nats-url", rig.url,
		"--http-addr", httpAddr, "--partitions", parts, "--posthog-projects", projects, "--log-level", "warn"},
		profileArgs(db+"-ingest")...)...)
	consProc := startProc(b, env.dir, "consume-"+db, env.spendBin, append([]string{"consume", "--nats-url", rig.url,
		"--clickhouse-addr", env.chAddr, "--clickhouse-database", db, "--allowed-lateness", "24h",
		"--partitions", parts, "--log-level", "warn"}, profileArgs(db+"-consume")...)...)
	waitReady(b, base, 60*time.Second)
	waitReadyConsumer(b, store)

	report("spendstream capture benchmark: %d events per phase, %d events per request, %d clients, %d PostHog project(s), %s partitions, NATS %s, ClickHouse %s",
		n, batch, clients, nProjects, parts, rig.url, env.chAddr)
	report("  direct bodies: %d × NDJSON, ~%d bytes/event | capture bodies: %d × posthog-go JSON (uuid \"\"), ~%d bytes/event",
		len(direct), len(direct[0].data)/direct[0].events, len(capture), len(capture[0].data)/capture[0].events)

	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	cpuNow := func() phaseCPU { return phaseCPU{ingestProc.cpu(), consProc.cpu(), rig.nats.cpu()} }
	type phase struct {
		name            string
		accepted, total time.Duration
		cpu             phaseCPU
		retries         int
	}
	runPhase := func(name string, lane events.Lane, path, contentType string, want int, bodies []benchBody) phase {
		before := cpuNow()
		start := time.Now()
		retries, err := postAll(client, base+path, contentType, want, bodies, clients)
		require.NoError(b, err, "%s phase", name)
		accepted := time.Since(start)
		end := waitLaneFlushed(b, store, lane, n, 10*time.Minute)
		after := cpuNow()
		return phase{name: name, accepted: accepted, total: end.Sub(start), retries: retries,
			cpu: phaseCPU{after.ingest - before.ingest, after.consume - before.consume, after.nats - before.nats}}
	}

	// 1. Direct path: POST /v1/events (202 Accepted) → live lane.
	d := runPhase("direct", events.LaneLive, "/v1/events", "application/x-ndjson", http.StatusAccepted, direct)
	diff := checkBenchTruth(b, store, truth)
	// 2. Capture path: POST /batch/ (200) → posthog lane.
	c := runPhase("capture", events.LanePostHog, "/batch/", "application/json", http.StatusOK, capture)
	counted := analyticsCount(b, env.chAddr, db)
	spread := lanePartitions(b, store, events.LanePostHog)

	rate := func(p phase) float64 { return float64(n) / p.total.Seconds() }
	perEv := func(d time.Duration) time.Duration { return d / time.Duration(n) }
	for _, p := range []phase{d, c} {
		report("%-8s %8.0f ev/s end to end (%s; all requests answered after %s = %.0f ev/s; %d retried requests) | CPU/event: ingest %s, consume %s, nats-server %s",
			p.name, rate(p), p.total.Round(time.Millisecond), p.accepted.Round(time.Millisecond), float64(n)/p.accepted.Seconds(),
			p.retries, perEv(p.cpu.ingest), perEv(p.cpu.consume), perEv(p.cpu.nats))
	}
	ratio := rate(c) / rate(d)
	report("ratio    capture/direct %.2f end to end, %.2f for the HTTP requests alone", ratio, d.accepted.Seconds()/c.accepted.Seconds())
	report("truth    direct: difference from generated truth %d (target 0) | capture: sumMerge(count) in analytics_events_1h %d of %d sent; posthog lane events per partition %v",
		diff, counted, n, spread)
	report("memory   peak RSS ingest %.0f MiB, consume %.0f MiB (both phases)",
		float64(ingestProc.peakRSS())/(1<<20), float64(consProc.peakRSS())/(1<<20))

	b.ReportMetric(rate(d), "direct_ev/s")
	b.ReportMetric(rate(c), "capture_ev/s")
	b.ReportMetric(ratio, "capture/direct")
	b.ReportMetric(float64((d.cpu.ingest+d.cpu.consume).Nanoseconds())/float64(n), "direct_cpu-ns/ev")
	b.ReportMetric(float64((c.cpu.ingest+c.cpu.consume).Nanoseconds())/float64(n), "capture_cpu-ns/ev")
	require.Zero(b, diff, "direct path: roll-ups differ from the generated truth")
	require.Equal(b, uint64(n), counted, "capture path: event count in analytics_events_1h")
}

// captureProjects returns k project keys and the --posthog-projects value mapping them to tenants.
func captureProjects(k int) (keys []string, flag string) {
	if k == 1 {
		return []string{"phc_bench"}, "phc_bench=t-bench"
	}
	var pairs []string
	for i := range k {
		key := fmt.Sprintf("phc_bench_%02d", i)
		keys = append(keys, key)
		pairs = append(pairs, fmt.Sprintf("%s=t-bench-%02d", key, i))
	}
	return keys, strings.Join(pairs, ",")
}

// captureBodies encodes n distinct captures exactly as posthog-go v1.5.2 sends them ({"api_key",
// "batch": [CaptureInApi...]}, uuid "" so that spendstream derives it), batch events per request,
// the requests' project keys taking turns. Timestamps are distinct (spread over the last hour),
// so no event is a duplicate of another.
func captureBodies(b *testing.B, n, batch int, keys []string) []benchBody {
	names := []string{"$pageview", "$autocapture", "report_generated", "invoice_viewed"}
	browsers := []string{"Chrome", "Firefox", "Safari"}
	t0 := time.Now().UTC().Add(-time.Hour)
	step := time.Hour / time.Duration(n)
	var out []benchBody
	for r, i := 0, 0; i < n; r++ {
		key := keys[r%len(keys)]
		msgs := make([]phgo.APIMessage, 0, batch)
		for ; i < n && len(msgs) < batch; i++ {
			msgs = append(msgs, phgo.Capture{Type: "capture", DistinctId: fmt.Sprintf("user-%d", i%5000),
				Event: names[i%len(names)], Timestamp: t0.Add(time.Duration(i) * step),
				Properties: phgo.NewProperties().
					Set("$current_url", fmt.Sprintf("https://app.example.com/reports/%d", i%50)).
					Set("$browser", browsers[i%len(browsers)]).
					Set("$os", "Linux").
					Set("duration_ms", i%1000)}.APIfy())
		}
		data, err := json.Marshal(struct {
			APIKey   string            `json:"api_key"`
			Messages []phgo.APIMessage `json:"batch"`
		}{key, msgs})
		require.NoError(b, err)
		out = append(out, benchBody{data: data, events: len(msgs)})
	}
	return out
}

// postAll posts every body with `clients` concurrent clients; each response must have status want
// and accept every event of its body as new. 429 and 503 are retried after a second, as the
// SDKs do.
func postAll(client *http.Client, url, contentType string, want int, bodies []benchBody, clients int) (retries int, err error) {
	var next, retried atomic.Int64
	var once sync.Once
	var failed atomic.Bool
	var firstErr error
	fail := func(e error) { once.Do(func() { firstErr = e; failed.Store(true) }) }
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) || failed.Load() {
					return
				}
				for {
					status, body, err := post(client, url, contentType, bodies[i].data)
					if err != nil {
						fail(err)
						return
					}
					if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
						retried.Add(1)
						time.Sleep(time.Second)
						continue
					}
					var resp struct {
						Accepted   int               `json:"accepted"`
						Duplicates int               `json:"duplicates"`
						Rejected   []json.RawMessage `json:"rejected"`
					}
					if status != want || json.Unmarshal(body, &resp) != nil || resp.Accepted != bodies[i].events ||
						resp.Duplicates != 0 || len(resp.Rejected) != 0 {
						fail(fmt.Errorf("request %d: status %d (want %d), body %.500s", i, status, want, body))
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	return int(retried.Load()), firstErr
}

func post(client *http.Client, url, contentType string, data []byte) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+auth.DemoProducerKey)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// laneEvents is the number of events of a lane whose effect is committed (consumer_progress).
func laneEvents(s *clickhouse.Store, lane events.Lane) uint64 {
	ps, err := s.Progress(context.Background())
	if err != nil {
		return 0
	}
	var n uint64
	for _, p := range ps {
		if p.Lane == lane {
			n += p.Events
		}
	}
	return n
}

func waitLaneFlushed(b *testing.B, s *clickhouse.Store, lane events.Lane, n int, within time.Duration) time.Time {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if laneEvents(s, lane) >= uint64(n) {
			return time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("lane %s: only %d of %d events committed within %s", lane, laneEvents(s, lane), n, within)
	return time.Time{}
}

// lanePartitions lists the committed events of a lane per partition.
func lanePartitions(b *testing.B, s *clickhouse.Store, lane events.Lane) []uint64 {
	ps, err := s.Progress(context.Background())
	require.NoError(b, err)
	var out []uint64
	for _, p := range ps {
		if p.Lane == lane {
			for int(p.Partition) >= len(out) {
				out = append(out, 0)
			}
			out[p.Partition] = p.Events
		}
	}
	return out
}

// analyticsCount is the total event count in the hourly PostHog roll-up.
func analyticsCount(b *testing.B, addr, db string) uint64 {
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}, DialTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second})
	require.NoError(b, err)
	defer conn.Close()
	var n uint64
	require.NoError(b, conn.QueryRow(context.Background(), "SELECT sumMerge(count) FROM "+db+".analytics_events_1h").Scan(&n))
	return n
}
