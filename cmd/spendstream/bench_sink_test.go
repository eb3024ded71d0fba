package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/schemas/events"
)

// BenchmarkSinkBatches writes the pipeline benchmark's events, folded into roll-up batches of N
// events as the consumer folds them, straight into a fresh database, and prints the ClickHouse
// server's CPU per event for each N: what the consumer's batch size costs ClickHouse (every insert
// creates parts in each roll-up table and merges follow). Sizes from SPENDSTREAM_BENCH_SINK_BATCHES
// (default "50000 200000"), events from SPENDSTREAM_BENCH_EVENTS (default 1,000,000):
//
//	SPENDSTREAM_CLICKHOUSE_ADDR=127.0.0.1:19000 go test -run XXX -bench BenchmarkSinkBatches -benchtime 1x ./cmd/spendstream/
func BenchmarkSinkBatches(b *testing.B) {
	addr := os.Getenv("SPENDSTREAM_CLICKHOUSE_ADDR")
	if addr == "" {
		b.Skip("needs SPENDSTREAM_CLICKHOUSE_ADDR")
	}
	chpid := clickhouseServerPID()
	if chpid == 0 {
		b.Skip("needs exactly one local ClickHouse server, to read its CPU time")
	}
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("SPENDSTREAM_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	sizes := strings.Fields(os.Getenv("SPENDSTREAM_BENCH_SINK_BATCHES"))
	if len(sizes) == 0 {
		sizes = []string{"50000", "200000"}
	}
	// The pipeline benchmark's events, in its stream order.
	end := time.Now().UTC()
	var evs []*events.Event
	for _, it := range benchItems(n, end) {
		evs = append(evs, it.Event)
	}
	for b.Loop() {
		for _, f := range sizes {
			size, err := strconv.Atoi(f)
			require.NoError(b, err)
			var batches []*aggregates.Batch
			for i := 0; i < n; i += size {
				bt := aggregates.NewBatch()
				for _, ev := range evs[i:min(i+size, n)] {
					bt.AddEvent(ev)
				}
				bt.Positions = []aggregates.Position{{Lane: events.LaneLive, StreamSeq: uint64(min(i+size, n)), AsOf: end,
					Events: uint64(min(size, n-i))}}
				batches = append(batches, bt)
			}
			s := openStore(b, addr, fmt.Sprintf("bench_sinkb_%d", time.Now().UnixNano()))
			time.Sleep(2 * time.Second) // the schema's own parts settle
			c0 := pidCPU(chpid)
			start := time.Now()
			rows := 0
			for _, bt := range batches {
				rows += bt.Rows()
				require.NoError(b, s.WriteBatch(context.Background(), bt))
			}
			wall := time.Since(start)
			c1 := pidCPU(chpid)
			time.Sleep(5 * time.Second) // merges the inserts started
			c2 := pidCPU(chpid)
			per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(n) / 1000 }
			fmt.Printf("sink batches of %7d events: %3d inserts, %6d rows, %s; ClickHouse CPU %.2f µs per event (%.2f while inserting, %.2f in the 5 s after)\n",
				size, len(batches), rows, wall.Round(time.Millisecond), per(c2-c0), per(c1-c0), per(c2-c1))
		}
	}
}
