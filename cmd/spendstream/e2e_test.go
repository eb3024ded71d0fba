package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/auth"

	"github.com/spendstream/spendstream/consumers/streams"
	"github.com/spendstream/spendstream/schemas/events"
	"github.com/spendstream/spendstream/schemas/generate"
)

type envelope[T any] struct {
	Data           T          `json:"data"`
	AggregatedAsOf *time.Time `json:"aggregated_as_of"`
	GeneratedAt    time.Time  `json:"generated_at"`
	Freshness      struct {
		Status  string `json:"status"`
		Sources []struct {
			Pipeline       string     `json:"pipeline"`
			AggregatedAsOf *time.Time `json:"aggregated_as_of"`
		} `json:"sources"`
	} `json:"freshness"`
}

type vpsRowJSON struct {
	WindowStart time.Time `json:"window_start"`
	TenantID    string    `json:"tenant_id"`
	ResourceID  string    `json:"resource_id"`
	Provider    string    `json:"provider"`
	Plan        string    `json:"plan"`
	Region      string    `json:"region"`
	Samples     uint64    `json:"samples"`
	CPUAvg      float64   `json:"cpu_avg"`
	CPUMax      float64   `json:"cpu_max"`
	CPUP95      float64   `json:"cpu_p95"`
	MemAvg      float64   `json:"mem_avg"`
	MemMax      float64   `json:"mem_max"`
}

type emailRowJSON struct {
	WindowStart time.Time `json:"window_start"`
	TenantID    string    `json:"tenant_id"`
	IP          string    `json:"ip"`
	Pool        string    `json:"pool"`
	Provider    string    `json:"provider"`
	Sent        uint64    `json:"sent"`
	Delivered   uint64    `json:"delivered"`
	Bounced     uint64    `json:"bounced"`
	Deferred    uint64    `json:"deferred"`
	Complained  uint64    `json:"complained"`
	Reports     uint64    `json:"reports"`
}

// postNDJSON posts items one per line and returns the gateway's answer.
func postNDJSON(t *testing.T, base string, items []generate.Item) (int, map[string]any) {
	var buf bytes.Buffer
	for _, it := range items {
		buf.Write(bytes.ReplaceAll(it.Raw, []byte("\n"), []byte(" ")))
		buf.WriteByte('\n')
	}
	req, err := http.NewRequest(http.MethodPost, base+"/v1/events", &buf)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", "Bearer "+auth.DemoProducerKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

// waitAggregated waits until the API says every event accepted before `after` is in the roll-ups,
// for the live pipeline (aggregated_as_of) and the backfill pipeline (its source entry).
func waitAggregated(t *testing.T, base string, after time.Time, within time.Duration) {
	require.Eventually(t, func() bool {
		var env envelope[json.RawMessage]
		if getJSON(t, base+"/v1/freshness", &env) != http.StatusOK || env.AggregatedAsOf == nil || env.AggregatedAsOf.Before(after) {
			return false
		}
		for _, s := range env.Freshness.Sources {
			if s.AggregatedAsOf == nil || s.AggregatedAsOf.Before(after) {
				return false
			}
		}
		return true
	}, within, 200*time.Millisecond, "roll-ups did not catch up with %s", after)
}

// TestEndToEnd sends a seeded dataset with duplicates, reordering, late and malformed events through
// POST /v1/events and through direct NATS publishing, live and backfill, and checks the roll-ups read
// back through the API against ground truth computed from the same events, and the dead-letter stream.
func TestEndToEnd(t *testing.T) {
	stack := newE2E(t, "e2e")
	base := stack.base

	stack.run(t, "--log-level", "warn")

	nc, err := nats.Connect(stack.nats.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	pub := streams.NewPublisher(js)

	g := generate.New(generate.Options{Seed: 7, Tenants: 4, VPSPerTenant: 3, IPsPerTenant: 2,
		SampleEvery: 30 * time.Second, EmailEvery: time.Minute,
		DuplicateRate: 0.03, OutOfOrderRate: 0.05, LateRate: 0.03, MalformedRate: 0.02})
	now := time.Now().UTC()
	live := g.Window(now.Add(-8*time.Minute), now)
	backfillFrom := now.Add(-30 * time.Hour).Truncate(time.Hour)
	backfill := historical(g.Window(backfillFrom, backfillFrom.Add(2*time.Hour)))
	inventory := historical(g.Inventory(backfillFrom))

	tr := newTruth()
	seen := map[string]bool{}
	tr.add(live, seen, false)
	tr.add(backfill, seen, true)
	tr.add(inventory, seen, true)
	lateIDs := map[string]bool{}
	var malformedViaNATS, malformedViaHTTP int
	for _, it := range live {
		if it.Kind == generate.KindLate {
			lateIDs[it.Event.ID] = true
		}
	}

	// Live events: alternate chunks over HTTP (NDJSON) and direct NATS publishing.
	const chunk = 200
	for i, n := 0, 0; i < len(live); i, n = i+chunk, n+1 {
		part := live[i:min(i+chunk, len(live))]
		if n%2 == 0 {
			status, body := postNDJSON(t, base, part)
			require.Equal(t, http.StatusAccepted, status, "body: %v", body)
			bad := 0
			for _, it := range part {
				if it.Kind == generate.KindMalformed {
					bad++
				}
			}
			require.Len(t, body["rejected"], bad, "the gateway rejects exactly the malformed events")
			malformedViaHTTP += bad
		} else {
			require.NoError(t, natsSink(pub, g.Fleet().Tenants[0].ID)(context.Background(), part))
			for _, it := range part {
				if it.Kind == generate.KindMalformed {
					malformedViaNATS++
				}
			}
		}
	}
	require.NoError(t, natsSink(pub, "")(context.Background(), append(inventory, backfill...)))
	sentAt := time.Now().UTC()
	require.Positive(t, len(lateIDs))
	require.Positive(t, malformedViaNATS+malformedViaHTTP)

	// aggregated_as_of has whole seconds: wait for the first second at or after every ack.
	asOfWanted := sentAt.Truncate(time.Second)
	if asOfWanted.Before(sentAt) {
		asOfWanted = asOfWanted.Add(time.Second)
	}
	waitAggregated(t, base, asOfWanted, 60*time.Second)

	// VPS utilization, 5-minute windows, every dimension.
	from := backfillFrom.Add(-3 * time.Hour) // late events of the backfill are 2h older
	to := now.Add(time.Hour).Truncate(time.Hour)
	q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}, "step": {"5m"},
		"group_by": {"tenant_id,resource_id,provider,plan,region"}}
	var vps envelope[[]vpsRowJSON]
	require.Equal(t, http.StatusOK, getJSON(t, base+"/v1/rollups/vps-utilization?"+q.Encode(), &vps))
	require.NotNil(t, vps.AggregatedAsOf)
	require.False(t, vps.AggregatedAsOf.Before(asOfWanted))
	got := map[vpsTruthKey]vpsRowJSON{}
	var samples uint64
	for _, r := range vps.Data {
		got[vpsTruthKey{r.WindowStart, r.TenantID, r.ResourceID}] = r
		samples += r.Samples
	}
	require.Equal(t, len(tr.vps), len(got), "one row per window and resource")
	var wantSamples uint64
	for k, w := range tr.vps {
		r, ok := got[k]
		require.True(t, ok, "missing row %s", k)
		n := uint64(len(w.cpu))
		wantSamples += n
		require.Equal(t, n, r.Samples, k.String())
		require.Equal(t, w.provider, r.Provider)
		require.Equal(t, w.plan, r.Plan)
		require.Equal(t, w.region, r.Region)
		require.InDelta(t, float64(sum(w.cpu))/float64(n)/1e6, r.CPUAvg, 1e-12, k.String())
		require.InDelta(t, float64(maxOf(w.cpu))/1e6, r.CPUMax, 1e-12, k.String())
		require.InDelta(t, float64(sum(w.mem))/float64(n)/1e6, r.MemAvg, 1e-12, k.String())
		require.InDelta(t, float64(maxOf(w.mem))/1e6, r.MemMax, 1e-12, k.String())
		require.InDelta(t, p95(w.cpu), r.CPUP95, 1e-12, k.String())
	}
	require.Equal(t, wantSamples, samples)

	// Coarser steps are derived from the same partials: per tenant, 1h and 1d totals agree with 5m.
	for _, step := range []string{"1h", "1d"} {
		q := url.Values{"from": {from.Truncate(24 * time.Hour).Format(time.RFC3339)},
			"to": {to.Truncate(24 * time.Hour).Add(24 * time.Hour).Format(time.RFC3339)}, "step": {step}, "group_by": {"tenant_id"}}
		var coarse envelope[[]vpsRowJSON]
		require.Equal(t, http.StatusOK, getJSON(t, base+"/v1/rollups/vps-utilization?"+q.Encode(), &coarse))
		var n uint64
		for _, r := range coarse.Data {
			n += r.Samples
		}
		require.Equal(t, wantSamples, n, "step %s", step)
	}

	// Email volume, 1-hour windows, every dimension.
	q = url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}, "step": {"1h"},
		"group_by": {"tenant_id,ip,pool,provider"}}
	var mail envelope[[]emailRowJSON]
	require.Equal(t, http.StatusOK, getJSON(t, base+"/v1/rollups/email-volume?"+q.Encode(), &mail))
	gotMail := map[emailTruthKey]emailRowJSON{}
	for _, r := range mail.Data {
		gotMail[emailTruthKey{r.WindowStart, r.TenantID, r.IP, r.Pool, r.Provider}] = r
	}
	require.Equal(t, len(tr.email), len(gotMail), "one row per window and IP")
	for k, w := range tr.email {
		r, ok := gotMail[k]
		require.True(t, ok, "missing email row %v", k)
		require.Equal(t, *w, emailTruth{r.Sent, r.Delivered, r.Bounced, r.Deferred, r.Complained, r.Reports}, "%v", k)
	}

	// Dead letters: every late event (too_late) and every malformed event published to NATS directly.
	dl := readDeadLetters(t, js)
	require.Equal(t, len(lateIDs), dl[string(events.ReasonTooLate)], "dead letters: %v", dl)
	total := 0
	for _, n := range dl {
		total += n
	}
	require.Equal(t, len(lateIDs)+malformedViaNATS, total, "dead letters: %v", dl)

	// Bad parameters are 400 naming the parameter.
	var bad struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	require.Equal(t, http.StatusBadRequest, getJSON(t, base+"/v1/rollups/email-volume?step=5m", &bad))
	require.Contains(t, bad.Error.Message, "step")
	require.Equal(t, http.StatusBadRequest, getJSON(t, base+"/v1/rollups/vps-utilization?from=yesterday", &bad))
	require.Contains(t, bad.Error.Message, "from")
}

// readDeadLetters counts the dead-letter stream by reason header.
func readDeadLetters(t *testing.T, js jetstream.JetStream) map[string]int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, streams.StreamDeadLetter)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	out := map[string]int{}
	if info.State.Msgs == 0 {
		return out
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	for i := uint64(0); i < info.State.Msgs; i++ {
		m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		require.NoError(t, err)
		reason := m.Headers().Get(streams.HeaderReason)
		require.NotEmpty(t, reason, "dead letter without a reason: %s", m.Subject())
		require.NotEmpty(t, m.Headers().Get(streams.HeaderDetail))
		out[reason]++
	}
	return out
}

// TestGenerateCommand runs `spendstream generate` against a running spendstream over HTTP and
// checks that what it published is rolled up.
func TestGenerateCommand(t *testing.T) {
	stack := newE2E(t, "gen")
	base := stack.base
	none := func(string) string { return "" }

	stack.run(t, "--log-level", "warn")

	require.NoError(t, run(context.Background(), []string{"generate", "--http-url", base, "--tenants", "2",
		"--vps-per-tenant", "2", "--backfill", "2h", "--live=false", "--fault-rate", "0"}, none))
	sentAt := time.Now().UTC().Truncate(time.Second).Add(time.Second)
	waitAggregated(t, base, sentAt, 60*time.Second)

	want := newTruth()
	g := generate.New(demoGenOptions(42, 2, 2, 0))
	now := time.Now().UTC()
	start := now.Add(-2 * time.Hour).Truncate(time.Hour)
	want.add(g.Window(start, now.Add(-time.Minute)), map[string]bool{}, true)

	q := url.Values{"from": {start.Add(-time.Hour).Format(time.RFC3339)}, "to": {now.Add(time.Hour).Format(time.RFC3339)},
		"step": {"1h"}, "group_by": {"tenant_id"}}
	var vps envelope[[]vpsRowJSON]
	require.Equal(t, http.StatusOK, getJSON(t, base+"/v1/rollups/vps-utilization?"+q.Encode(), &vps))
	var samples uint64
	for _, r := range vps.Data {
		samples += r.Samples
	}
	var wantAtLeast uint64
	for _, v := range want.vps {
		wantAtLeast += uint64(len(v.cpu))
	}
	// The command ran a moment before this test's truth window ended; it holds at least that much.
	require.GreaterOrEqual(t, samples, wantAtLeast)
	require.Positive(t, wantAtLeast)
}
