package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/consumers/streams"
)

// TestConsumerCrashExactlyOnce proves design property 2 (exactly-once effect) with real processes:
// `spendstream consume` instances are SIGKILLed at random moments while events flow and restarted at
// once, as a supervisor would, so crashes land before, during and after inserts (every other crash
// waits for an INSERT of the victim to be running on the server). Once everything is published and
// the consumers have caught up, the ClickHouse roll-ups must equal the ground truth exactly: a crash
// after rows were inserted (the design's "between rows inserted and message acked"; the roll-up
// consumers do not ack, they resume from the positions inserted with the rows) must not double
// count, a crash before the insert must not lose anything.
//
// An INSERT sent just before the crash can commit after the process is gone; the product fences it
// (a starting consumer waits for the batch inserts running on the server before it reads the
// positions). With SPENDSTREAM_TEST_CRASH_FENCE=1 the test also waits for them itself before
// restarting a killed instance, which tells that race apart from other causes of a difference.
func TestConsumerCrashExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs real processes for ~40s")
	}
	chAddr := clickhouseAddr(t)
	bin := chaosBinary(t)
	fence := os.Getenv("SPENDSTREAM_TEST_CRASH_FENCE") != ""

	for _, tc := range []struct {
		name      string
		instances int
		rescale   bool
		minKills  int
	}{
		{name: "two_instances", instances: 2, minKills: 10},
		{name: "one_instance", instances: 1, minKills: 10},
		// Every crash kills all instances and starts the other deployment: one instance (whole-lane
		// consumers) after two (per-partition consumers) and back, both resuming from the positions
		// the other committed.
		{name: "rescale_one_two", instances: 1, rescale: true, minKills: 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := time.Now().UnixNano()
			t.Logf("seed %d, fence %v", seed, fence)
			runCrashFlow(t, bin, chAddr, tc.instances, tc.rescale, tc.minKills, seed, fence)
		})
	}
}

func runCrashFlow(t *testing.T, bin, chAddr string, instances int, rescale bool, minKills int, seed int64, fence bool) {
	const partitions = 4
	const publishFor = 16 * time.Second
	start := time.Now()
	rng := rand.New(rand.NewPCG(uint64(seed), 0xc4a54))
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()

	db := testDatabase(t, chAddr, "crash")
	store := chaosStore(ctx, t, chAddr, db)
	inflight, waitInflight := chaosInflight(t, chAddr, db)

	emb := startNATS(t)
	js, scfg := chaosJS(ctx, t, emb.URL(), partitions)

	d := newChaosDataset(seed, time.Second)
	t.Logf("dataset: %d items, %d distinct events to count, %d malformed", len(d.items), d.truth.counted, d.malformed)

	deployment := func(n int) []*chaosProc {
		ps := make([]*chaosProc, n)
		for i := range ps {
			ps[i] = newChaosProc(t, fmt.Sprintf("consume-%d-of-%d", i, n), bin, chaosConsumeArgs(emb.URL(), chAddr, db, partitions, i, n)...)
		}
		return ps
	}
	procs := deployment(instances)
	other := procs // rescale: the deployment started after the next crash
	if rescale {
		other = deployment(3 - instances)
	}
	for _, p := range procs {
		p.start()
	}
	requireAlive := func() {
		t.Helper()
		for _, p := range procs {
			gone, err := p.exited()
			require.False(t, gone, "%s exited by itself: %v", p.name, err)
		}
	}

	published := d.publishPaced(ctx, streams.NewPublisher(js), publishFor, 160, nil)

	// Kill an instance at random every 0.3–1.5 s while the publisher runs, and restart it at once.
	const maxKills = 60
	kills := make([]int, max(len(procs), len(other))) // per instance; rescale: per deployment size - 1
	total, aimed, hit := 0, 0, 0
	var midInsert atomic.Int32
	var checks sync.WaitGroup
	var pubErr error
	for pubDone := false; !pubDone; {
		select {
		case err, ok := <-published:
			pubDone = true
			if ok {
				pubErr = err
			}
			continue
		case <-time.After(chaosJitter(rng, 300*time.Millisecond, 1500*time.Millisecond)):
		}
		if total >= maxKills {
			continue
		}
		requireAlive()
		i := rng.IntN(instances)
		// Every other crash is aimed at an insert: the instance dies while the server runs one of
		// its INSERTs (rows inserted, the process gone before it learnt so: property 2's moment).
		if rng.IntN(2) == 0 {
			aimed++
			if chaosAwaitInsert(procs[i].pid(), inflight, time.Second) {
				hit++
			}
		}
		if rescale {
			for _, p := range procs {
				p.kill()
			}
		} else {
			procs[i].kill()
		}
		// Which INSERTs did the server still run once the process was gone (with two instances,
		// some may be the other instance's)? Asked off the restart path, so as not to delay it,
		// unless the fence is on.
		if fence {
			if ins := inflight(); len(ins) > 0 {
				midInsert.Add(1)
				require.True(t, waitInflight(ins, 10*time.Second), "INSERTs %v still running 10s after the kill", ins)
			}
		} else {
			checks.Add(1)
			go func() {
				defer checks.Done()
				if len(inflight()) > 0 {
					midInsert.Add(1)
				}
			}()
		}
		if rescale {
			kills[len(procs)-1]++
			procs, other = other, procs
			for _, p := range procs {
				p.start()
			}
		} else {
			kills[i]++
			procs[i].start()
		}
		total++
	}
	checks.Wait()
	require.NoError(t, pubErr)
	t.Logf("published in %s; %d kills (per instance, or with rescale per deployment of 1 and 2: %v), %d aimed at an insert of which %d hit one; %d kills left an INSERT running on the server after the process had died",
		time.Since(start).Round(time.Millisecond), total, kills, aimed, hit, midInsert.Load())
	require.GreaterOrEqual(t, total, minKills, "too few crashes to prove anything")

	// Let the survivors catch up: every partition's committed position reaches the stream's last
	// message of that partition.
	last := chaosLastSeqs(t, js, scfg)
	t.Logf("stream last sequences per partition: %v", last)
	chaosWaitCommitted(t, store, last, 40*time.Second)
	requireAlive()

	samples, sent, counted, n := chaosRequireTruth(ctx, t, store, js, d,
		"; more means some events were committed twice (compare a run with SPENDSTREAM_TEST_CRASH_FENCE=1)")

	for _, p := range procs {
		require.NoError(t, p.stop(30*time.Second), p.name)
	}
	if rescale {
		instances = len(procs) // the deployment that caught up
	}
	t.Logf("%d instance(s), %d kills: %d VPS samples, %d messages sent, %d events, %d dead letters, all equal to the ground truth; took %s",
		instances, total, samples, sent, counted, n, time.Since(start).Round(time.Millisecond))
}

// chaosAwaitInsert polls the server until it runs an INSERT sent by process pid, or within passes.
func chaosAwaitInsert(pid int, inflight func() []chaosInsert, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		ins := inflight()
		if len(ins) > 0 {
			ports := chaosLocalPorts(pid)
			for _, in := range ins {
				if ports[in.port] {
					return true
				}
			}
		}
		time.Sleep(time.Millisecond)
	}
	return false
}
