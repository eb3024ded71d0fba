package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendstream/spendstream/aggregates/auth"
	"github.com/spendstream/spendstream/consumers/streams"
	"github.com/spendstream/spendstream/schemas/events"
	"github.com/spendstream/spendstream/schemas/generate"
)

// sink sends generated items somewhere: JetStream directly or the HTTP gateway.
type sink func(ctx context.Context, items []generate.Item) error

// natsSink publishes items to their subjects with Nats-Msg-Id, as a direct NATS producer does.
// Malformed items have no subject of their own; they go to the first tenant's VPS subject so the
// consumers dead-letter them.
func natsSink(pub *streams.Publisher, fallbackTenant string) sink {
	return func(ctx context.Context, items []generate.Item) error {
		out := outgoing(items, fallbackTenant, fmt.Sprintf("malformed-%d", time.Now().UnixNano()))
		for _, r := range pub.Publish(ctx, out) {
			if r.Err != nil {
				return r.Err
			}
		}
		return nil
	}
}

// outgoing turns generated items into stream messages, each under its event's message id; a
// malformed item (no event) goes to fallbackTenant's VPS subject as <malformedID>-<index>.
func outgoing(items []generate.Item, fallbackTenant, malformedID string) []streams.Outgoing {
	out := make([]streams.Outgoing, 0, len(items))
	for i, it := range items {
		if it.Event == nil {
			out = append(out, streams.Outgoing{Subject: "usage.vps.sample." + fallbackTenant,
				MsgID: fmt.Sprintf("%s-%d", malformedID, i), Data: it.Raw})
			continue
		}
		out = append(out, streams.Outgoing{Subject: events.Subject(*it.Event), MsgID: events.MsgID(*it.Event), Data: it.Raw})
	}
	return out
}

// httpSink posts items as a JSON array to POST /v1/events.
func httpSink(client *http.Client, base, producerKey string) sink {
	return func(ctx context.Context, items []generate.Item) error {
		var buf bytes.Buffer
		buf.WriteByte('[')
		for i, it := range items {
			if i > 0 {
				buf.WriteByte(',')
			}
			if json.Valid(it.Raw) {
				buf.Write(it.Raw)
			} else {
				buf.WriteString(`{"malformed":true}`)
			}
		}
		buf.WriteByte(']')
		for attempt := 0; ; attempt++ {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/events", bytes.NewReader(buf.Bytes()))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+producerKey)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusBadRequest:
				return nil // 400: every event of the batch was invalid, which the fault mix can produce
			case (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) && attempt < 20:
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Second):
				}
			default:
				return fmt.Errorf("POST /v1/events: %s", resp.Status)
			}
		}
	}
}

// historical re-encodes items for the backfill lane.
func historical(items []generate.Item) []generate.Item {
	out := items[:0:0]
	for _, it := range items {
		if it.Event == nil {
			continue
		}
		ev := *it.Event
		ev.Historical = true
		raw, err := events.Encode(ev)
		if err != nil {
			continue
		}
		out = append(out, generate.Item{Raw: raw, Event: &ev, Kind: it.Kind})
	}
	return out
}

type demoOptions struct {
	gen           generate.Options
	skipInventory bool
	backfill      time.Duration
	live          bool
	tick          time.Duration
	rate          float64 // events/s cap on publishing (0: as fast as the sink takes them)
	// coarseHistory samples the history at most every 10 minutes (VPS) and every hour (email),
	// so that weeks of it publish in a minute (the demo of `run`).
	coarseHistory bool
}

// demoLoop publishes the fleet's inventory and history through the backfill lane, then live events
// as time passes.
func demoLoop(ctx context.Context, o demoOptions, send sink, log *slog.Logger) error {
	g := generate.New(o.gen)
	now := time.Now().UTC().Truncate(time.Minute)
	start := now
	if o.backfill > 0 {
		start = now.Add(-o.backfill).Truncate(time.Hour)
	}
	var inv []generate.Item
	if !o.skipInventory {
		inv = g.Inventory(start)
		if o.backfill > 0 {
			inv = historical(inv)
		}
	}
	if err := sendChunks(ctx, send, inv); err != nil {
		return err
	}
	sent := len(inv)
	hist := g
	if o.coarseHistory { // the same fleet, sampled less often
		ho := o.gen
		ho.SampleEvery, ho.EmailEvery = max(ho.SampleEvery, 10*time.Minute), max(ho.EmailEvery, time.Hour)
		hist = generate.New(ho)
	}
	for t := start; t.Before(now); t = t.Add(time.Hour) {
		end := t.Add(time.Hour)
		if end.After(now) {
			end = now
		}
		items := historical(hist.Window(t, end))
		if err := sendChunks(ctx, send, items); err != nil {
			return err
		}
		sent += len(items)
	}
	log.Info("demo history published through the backfill lane", "events", sent, "from", start, "to", now)
	if !o.live {
		return nil
	}
	last := now
	t := time.NewTicker(o.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cur := time.Now().UTC()
		items := g.Window(last, cur)
		last = cur
		if err := sendChunks(ctx, send, items); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Warn("demo publish failed", "err", err)
		}
	}
}

func sendChunks(ctx context.Context, send sink, items []generate.Item) error {
	const chunk = 1000
	for i := 0; i < len(items); i += chunk {
		if err := send(ctx, items[i:min(i+chunk, len(items))]); err != nil {
			return err
		}
	}
	return nil
}

// paced caps a sink at rate events per second (0: no cap).
func paced(send sink, rate float64) sink {
	if rate <= 0 {
		return send
	}
	start := time.Now()
	var sent float64
	return func(ctx context.Context, items []generate.Item) error {
		sent += float64(len(items))
		if wait := time.Until(start.Add(time.Duration(sent / rate * float64(time.Second)))); wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		return send(ctx, items)
	}
}

// liveRateOptions shortens the sample interval so that the live fleet emits about rate events per
// second (the fleet's size otherwise sets it: one sample per VPS per SampleEvery).
func liveRateOptions(o generate.Options, rate float64) generate.Options {
	if rate <= 0 {
		return o
	}
	f := generate.New(o).Fleet()
	perSecond := float64(len(f.VPS)) // samples/s at a 1 s interval
	every := time.Duration(perSecond / rate * float64(time.Second)).Truncate(time.Second)
	o.SampleEvery = max(every, time.Second)
	return o
}

// demoGenOptions are the generator options of the demo and of `spendstream generate`
// (vpsPerTenant 0: the default).
func demoGenOptions(seed int64, tenants, vpsPerTenant int, faults float64) generate.Options {
	o := generate.DefaultOptions()
	o.Seed, o.Tenants = seed, tenants
	if vpsPerTenant > 0 {
		o.VPSPerTenant = vpsPerTenant
	}
	o.DuplicateRate, o.OutOfOrderRate, o.LateRate, o.MalformedRate = faults, faults, faults/2, faults/2
	return o
}

func runDemo(ctx context.Context, cfg Config, js jetstream.JetStream, log *slog.Logger) error {
	pub := streams.NewPublisher(js)
	o := demoOptions{gen: demoGenOptions(cfg.DemoSeed, cfg.DemoTenants, 0, cfg.DemoFaultRate),
		backfill: cfg.DemoBackfill, live: true, tick: 10 * time.Second, coarseHistory: true}
	// History is published once per data dir: event ids repeat across runs, and the stream's
	// duplicate window is minutes, so a second publication would count the history twice.
	if s, err := js.Stream(ctx, streams.StreamBackfill); err == nil {
		if info, err := s.Info(ctx); err == nil && info.State.LastSeq > 0 {
			log.Info("demo history already published in this data dir; publishing live events only")
			o.backfill, o.skipInventory = 0, true
		}
	}
	tenant := generate.New(o.gen).Fleet().Tenants[0].ID
	err := demoLoop(ctx, o, natsSink(pub, tenant), log)
	if err != nil && ctx.Err() == nil {
		log.Error("demo generator stopped", "err", err)
	}
	return nil
}

// cmdGenerate publishes seeded events to a running spendstream, over HTTP or straight to NATS.
func cmdGenerate(ctx context.Context, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	httpURL := fs.String("http-url", "", "POST events to this spendstream base URL (e.g. http://127.0.0.1:8080)")
	natsURL := fs.String("nats-url", "", "publish events directly to this NATS server instead")
	seed := fs.Int64("seed", 42, "generator seed")
	tenants := fs.Int("tenants", 8, "tenants in the fleet")
	vps := fs.Int("vps-per-tenant", 6, "VPS per tenant (varies with plan)")
	backfill := fs.Duration("backfill", 24*time.Hour, "history to publish through the backfill lane first")
	live := fs.Bool("live", true, "keep publishing live events as time passes")
	faults := fs.Float64("fault-rate", 0.002, "share of events that are duplicates, out of order, late or malformed")
	producerKey := fs.String("producer-key", auth.DemoProducerKey, "producer key for --http-url (default: the local demo key)")
	rate := fs.Float64("rate", 0, "events per second: caps publishing, and sets the live sample interval to reach it (0: fleet real time, publish unthrottled)")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	gen := liveRateOptions(demoGenOptions(*seed, *tenants, *vps, *faults), *rate)
	o := demoOptions{gen: gen, backfill: *backfill, live: *live, tick: time.Second, rate: *rate}
	var send sink
	switch {
	case *httpURL != "" && *natsURL == "":
		send = httpSink(&http.Client{Timeout: 30 * time.Second}, *httpURL, *producerKey)
	case *natsURL != "" && *httpURL == "":
		nc, err := nats.Connect(*natsURL, nats.Name("spendstream-generate"))
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := streams.NewJetStream(nc, 10*time.Second)
		if err != nil {
			return err
		}
		send = natsSink(streams.NewPublisher(js), generate.New(o.gen).Fleet().Tenants[0].ID)
	default:
		return errors.New("give exactly one of --http-url or --nats-url")
	}
	return demoLoop(ctx, o, paced(send, o.rate), log)
}
