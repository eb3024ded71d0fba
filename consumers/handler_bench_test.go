package consumers

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/spendstream/spendstream/schemas/events"
	"github.com/spendstream/spendstream/schemas/generate"
)

// BenchmarkHandleBatch measures the consumer's own work per event: frame parsing, decoding,
// validation and folding into the roll-up batch (no NATS, no ClickHouse).
//
//	go test -run XXX -bench BenchmarkHandleBatch -count 6 ./consumers/ | tee new.txt; benchstat old.txt new.txt
func BenchmarkHandleBatch(b *testing.B) {
	g := generate.New(generate.Options{Seed: 3, Tenants: 50, VPSPerTenant: 8, IPsPerTenant: 2,
		SampleEvery: 30 * time.Second, EmailEvery: time.Minute})
	now := time.Now().UTC()
	items := g.Window(now.Add(-5*time.Minute), now)
	const batch = 1000
	var payloads [][]byte
	for i := 0; i+batch <= len(items); i += batch {
		var p []byte
		for j, it := range items[i : i+batch] {
			f := frame{streamSeq: uint64(i + j + 1), consumerSeq: uint64(i + j + 1), storedNanos: now.UnixNano(),
				subject: []byte(events.Subject(*it.Event) + ".0"), data: it.Raw}
			p = appendFrame(p, f)
		}
		payloads = append(payloads, p)
	}
	if len(payloads) == 0 {
		b.Fatal("no batches generated")
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := NewMetrics(nil)
	newHandler := func() *handler {
		bt := NewBatcher(BatcherConfig{Lane: events.LaneLive, MaxBatchEvents: 1 << 30}, newMemStore(), nil, []int{0}, m, log)
		return &handler{lane: events.LaneLive, partition: 0, batcher: bt, metrics: m, log: log,
			rules: Rules{Limits: events.DefaultLimits(), AllowedLateness: time.Hour}}
	}
	var h *handler
	handled := 0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := i % len(payloads)
		if k == 0 { // a fresh handler per pass, so stream sequences start over
			b.StopTimer()
			h = newHandler()
			b.StartTimer()
		}
		msg := message.NewMessage("x", payloads[k])
		msg.SetContext(context.Background())
		if err := h.handle(msg); err != nil {
			b.Fatal(err)
		}
		handled += batch
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(handled), "ns/event")
}
