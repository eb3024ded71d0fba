package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/clickhouse"
	"github.com/spendstream/spendstream/consumers/streams"
)

// TestConsumerCrashExactlyOnce proves design property 2 (exactly-once effect) with real processes:
// `spendstream consume` instances are SIGKILLed at random moments while events flow, and restarted at
// once, so crashes land before, during and after inserts and acks. Once the stream has been
// published and the consumers have caught up, the ClickHouse roll-ups must equal the ground truth
// exactly: a crash between insert and ack must not double count, a crash before the insert must not
// lose anything.
func TestConsumerCrashExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs real processes for ~40s")
	}
	chAddr := clickhouseAddr(t)
	bin := chaosBinary(t)

	for _, tc := range []struct {
		name      string
		instances int
		minKills  int
	}{
		{name: "two_instances", instances: 2, minKills: 10},
		{name: "one_instance", instances: 1, minKills: 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := time.Now().UnixNano()
			t.Logf("seed %d", seed)
			runCrashFlow(t, bin, chAddr, tc.instances, tc.minKills, seed)
		})
	}
}

func runCrashFlow(t *testing.T, bin, chAddr string, instances, minKills int, seed int64) {
	const partitions = 4
	const publishFor = 16 * time.Second
	start := time.Now()
	rng := rand.New(rand.NewPCG(uint64(seed), 0xc4a54))

	db := testDatabase(t, chAddr, "crash")
	cfg := clickhouse.DefaultConfig()
	cfg.Addr, cfg.Database = chAddr, db
	store, err := clickhouse.Open(cfg, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	require.NoError(t, store.Migrate(ctx))

	emb := startNATS(t)
	js := chaosJS(t, emb.URL())
	scfg := streams.DefaultConfig()
	scfg.Partitions = partitions
	require.NoError(t, streams.Provision(ctx, js, scfg))

	d := newChaosDataset(seed, time.Second)
	t.Logf("dataset: %d items, %d distinct events to count, %d malformed", len(d.items), d.truth.counted, d.malformed)

	procs := make([]*chaosProc, instances)
	for i := range procs {
		procs[i] = newChaosProc(t, fmt.Sprintf("consume-%d", i), bin, chaosConsumeArgs(emb.URL(), chAddr, db, partitions, i, instances)...)
		procs[i].start()
	}

	published := d.publishPaced(ctx, streams.NewPublisher(js), publishFor, 160)

	// Kill an instance at random every 0.3–1.5 s while the publisher runs, and restart it at once.
	kills := make([]int, instances)
	total := 0
	const maxKills = 60
	pubErr, pubDone := error(nil), false
	for !pubDone && total < maxKills {
		select {
		case err, ok := <-published:
			pubDone = true
			if ok {
				pubErr = err
			}
			continue
		case <-time.After(chaosJitter(rng, 300*time.Millisecond, 1500*time.Millisecond)):
		}
		for _, p := range procs {
			gone, err := p.exited()
			require.False(t, gone, "%s exited by itself: %v", p.name, err)
		}
		i := rng.IntN(instances)
		procs[i].kill()
		procs[i].start()
		kills[i]++
		total++
	}
	if !pubDone {
		err, ok := <-published
		if ok {
			pubErr = err
		}
	}
	require.NoError(t, pubErr)
	t.Logf("published in %s; %d kills (per instance %v)", time.Since(start).Round(time.Millisecond), total, kills)
	require.GreaterOrEqual(t, total, minKills, "too few crashes to prove anything")

	// Let the survivors catch up: every partition's committed position reaches the stream's last
	// message of that partition.
	last := chaosLastSeqs(t, js, scfg)
	t.Logf("stream last sequences per partition: %v", last)
	chaosWaitCommitted(t, store, last, 40*time.Second)
	for _, p := range procs {
		gone, err := p.exited()
		require.False(t, gone, "%s exited by itself: %v", p.name, err)
	}

	// Dead-lettering is exactly-once too (within the duplicate window): one dead letter per
	// malformed payload, however often its message was replayed.
	dl := readDeadLetters(t, js)
	n := 0
	for _, c := range dl {
		n += c
	}
	t.Logf("dead letters by reason: %v", dl)

	samples, sent := chaosRequireRollups(t, store, d)
	_, counted, err := chaosCommitted(ctx, store)
	require.NoError(t, err)
	require.Equal(t, uint64(d.truth.counted), counted, "events accounted for by the committed positions")

	require.Equal(t, d.malformed, n, "dead letters by reason: %v", dl)

	for _, p := range procs {
		require.NoError(t, p.stop(30*time.Second), p.name)
	}
	t.Logf("%d instance(s), %d kills: %d VPS samples, %d emails sent, %d events, %d dead letters — equal to ground truth; took %s",
		instances, total, samples, sent, counted, n, time.Since(start).Round(time.Millisecond))
}
