package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/clickhouse"
	"github.com/spendstream/spendstream/aggregates/window"
	"github.com/spendstream/spendstream/consumers/streams"
	"github.com/spendstream/spendstream/schemas/events"
	"github.com/spendstream/spendstream/schemas/generate"
)

// Helpers of the tests that run spendstream as real processes (crash_test.go, chrestart_test.go).

var (
	chaosBinOnce sync.Once
	chaosBinPath string
	chaosBinErr  error
)

// chaosBinary builds cmd/spendstream once per test process. The binary goes to
// .local/testbin under the module root (git-ignored, removed by `make clean`), written under a
// temporary name and renamed, so concurrent test runs never execute a half-written file.
func chaosBinary(t testing.TB) string {
	t.Helper()
	chaosBinOnce.Do(func() {
		root, err := filepath.Abs("../..")
		if err != nil {
			chaosBinErr = err
			return
		}
		dir := filepath.Join(root, ".local", "testbin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			chaosBinErr = err
			return
		}
		final := filepath.Join(dir, "spendstream")
		tmp := fmt.Sprintf("%s.tmp-%d", final, os.Getpid())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, ".")
		out, err := cmd.CombinedOutput()
		if err != nil {
			_ = os.Remove(tmp)
			chaosBinErr = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		if err := os.Rename(tmp, final); err != nil {
			chaosBinErr = err
			return
		}
		chaosBinPath = final
	})
	require.NoError(t, chaosBinErr)
	return chaosBinPath
}

// chaosProc is one spendstream subprocess that can be killed and started again; every run appends its
// stdout and stderr to the same log file.
type chaosProc struct {
	t       testing.TB
	name    string
	bin     string
	args    []string
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when the current run has exited
	err    error         // the current run's exit status, valid after done
	runs   int
	killed bool // the current run was ended by the test
}

// newChaosProc prepares a subprocess; it is stopped (SIGTERM) when the test ends, and its log tail is
// printed if the test failed.
func newChaosProc(t testing.TB, name, bin string, args ...string) *chaosProc {
	p := &chaosProc{t: t, name: name, bin: bin, args: args, logPath: filepath.Join(t.TempDir(), name+".log")}
	t.Cleanup(func() {
		if err := p.stop(30 * time.Second); err != nil {
			t.Errorf("%s: %v", p.name, err)
		}
		if t.Failed() {
			t.Logf("---- last lines of %s (%s) ----\n%s", p.name, p.logPath, p.tail(40))
		}
	})
	return p
}

// chaosEnv is the test's environment without SPENDSTREAM_* variables, so only the flags the
// test passes configure the process.
func chaosEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SPENDSTREAM_") {
			env = append(env, kv)
		}
	}
	return env
}

// start starts a new run; the previous one must have exited.
func (p *chaosProc) start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		select {
		case <-p.done:
		default:
			p.t.Fatalf("%s: start while running", p.name)
		}
	}
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(p.t, err)
	p.runs++
	fmt.Fprintf(f, "==== %s run %d at %s\n", p.name, p.runs, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = chaosEnv()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		p.t.Fatalf("%s: start: %v", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.killed, p.err = cmd, done, false, nil
	go func() {
		err := cmd.Wait()
		_ = f.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
}

// pid is the process id of the current run.
func (p *chaosProc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

// exited reports whether the current run ended without the test ending it, and how.
func (p *chaosProc) exited() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil || p.killed {
		return false, nil
	}
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// signal sends sig to the current run and waits up to within for it to exit.
func (p *chaosProc) signal(sig syscall.Signal, within time.Duration) (bool, error) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	if done == nil {
		p.mu.Unlock()
		return true, nil
	}
	select {
	case <-done:
		p.mu.Unlock()
		return true, p.err
	default:
	}
	p.killed = true
	p.mu.Unlock()
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.err
	case <-time.After(within):
		return false, nil
	}
}

// kill ends the current run with SIGKILL (a crash: no final flush, no cleanup).
func (p *chaosProc) kill() {
	p.t.Helper()
	if ok, _ := p.signal(syscall.SIGKILL, 10*time.Second); !ok {
		p.t.Fatalf("%s: still running 10s after SIGKILL", p.name)
	}
}

// stop ends the current run with SIGTERM (a graceful stop with a final flush) and reports an
// unclean exit; it falls back to SIGKILL after within.
func (p *chaosProc) stop(within time.Duration) error {
	p.mu.Lock()
	done, killed := p.done, p.killed
	p.mu.Unlock()
	if done == nil {
		return nil
	}
	if killed {
		select {
		case <-done:
			return nil // the test ended this run itself (a crash it made)
		default:
		}
	}
	ok, err := p.signal(syscall.SIGTERM, within)
	if !ok {
		p.kill()
		return fmt.Errorf("did not stop within %s of SIGTERM; killed", within)
	}
	if err != nil {
		return fmt.Errorf("unclean exit: %w", err)
	}
	return nil
}

// tail returns the last n lines of the log.
func (p *chaosProc) tail(n int) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// countLog counts the log lines containing s.
func (p *chaosProc) countLog(s string) int {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), s)
}

// chaosConsumeArgs are the flags of a `spendstream consume` instance.
func chaosConsumeArgs(natsURL, chAddr, db string, partitions, index, count int) []string {
	return []string{"consume", "--nats-url", natsURL, "--clickhouse-addr", chAddr, "--clickhouse-database", db,
		"--partitions", fmt.Sprint(partitions), "--instance-count", fmt.Sprint(count), "--instance-index", fmt.Sprint(index),
		"--flush-interval", "100ms", "--allowed-lateness", "2h", "--log-level", "warn"}
}

// chaosDataset is a seeded live dataset whose event times lie in the last ten minutes, with
// duplicates, reordering and malformed payloads but no late events, and its ground truth.
type chaosDataset struct {
	gen       *generate.Generator
	items     []generate.Item
	truth     *truth
	malformed int
	from, to  time.Time // event times
}

func newChaosDataset(seed int64, sampleEvery time.Duration) *chaosDataset {
	g := generate.New(generate.Options{Seed: seed, Tenants: 8, VPSPerTenant: 3, IPsPerTenant: 2,
		SampleEvery: sampleEvery, EmailEvery: 20 * time.Second,
		DuplicateRate: 0.03, OutOfOrderRate: 0.05, MalformedRate: 0.005})
	to := time.Now().UTC().Add(-time.Second)
	from := to.Add(-10 * time.Minute)
	d := &chaosDataset{gen: g, items: g.Window(from, to), truth: newTruth(), from: from, to: to}
	d.truth.add(d.items, map[string]bool{}, false)
	for _, it := range d.items {
		if it.Kind == generate.KindMalformed {
			d.malformed++
		}
	}
	return d
}

// publishPaced publishes the dataset straight to JetStream in chunks, one every over/chunks, so it
// takes about `over`; once hurry is closed (nil: never) the rest goes out without pauses. The
// returned channel is closed, after carrying any error, when everything is published.
func (d *chaosDataset) publishPaced(ctx context.Context, pub *streams.Publisher, over time.Duration, chunks int, hurry <-chan struct{}) <-chan error {
	return d.publishPacedBy(ctx, natsSink(pub, d.gen.Fleet().Tenants[0].ID), over, chunks, hurry)
}

// publishPacedBy is publishPaced through send.
func (d *chaosDataset) publishPacedBy(ctx context.Context, send sink, over time.Duration, chunks int, hurry <-chan struct{}) <-chan error {
	out := make(chan error, 1)
	go func() {
		defer close(out)
		size := max(1, (len(d.items)+chunks-1)/chunks)
		pause := over / time.Duration(chunks)
		for i := 0; i < len(d.items); i += size {
			if err := send(ctx, d.items[i:min(i+size, len(d.items))]); err != nil {
				out <- fmt.Errorf("publish chunk at %d: %w", i, err)
				return
			}
			select {
			case <-ctx.Done():
				out <- ctx.Err()
				return
			case <-hurry:
			case <-time.After(pause):
			}
		}
	}()
	return out
}

// chaosJS connects to NATS (with opts) for the test's own publishing and inspection, and provisions
// the streams with the given number of partitions; it returns the streams' config too.
func chaosJS(ctx context.Context, t testing.TB, url string, partitions int, opts ...nats.Option) (jetstream.JetStream, streams.Config) {
	t.Helper()
	nc, err := nats.Connect(url, append([]nats.Option{nats.Name("spendstream-test")}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	scfg := streams.DefaultConfig()
	scfg.Partitions = partitions
	require.NoError(t, streams.Provision(ctx, js, scfg))
	return js, scfg
}

// chaosLastSeqs returns the stream sequence of the last message of every partition of the live lane (0
// for an empty partition).
func chaosLastSeqs(t testing.TB, js jetstream.JetStream, cfg streams.Config) map[uint16]uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, streams.StreamLive)
	require.NoError(t, err)
	out := map[uint16]uint64{}
	for p := 0; p < cfg.Partitions; p++ {
		m, err := s.GetLastMsgForSubject(ctx, streams.FilterSubject(cfg, events.LaneLive, p))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			out[uint16(p)] = 0
			continue
		}
		require.NoError(t, err)
		out[uint16(p)] = m.Sequence
	}
	return out
}

// chaosCommitted reads the live lane's committed positions from ClickHouse, and the events they
// account for in total.
func chaosCommitted(ctx context.Context, store *clickhouse.Store) (map[uint16]uint64, uint64, error) {
	all, err := store.Progress(ctx)
	if err != nil {
		return nil, 0, err
	}
	out := map[uint16]uint64{}
	var n uint64
	for _, p := range all {
		if p.Lane == events.LaneLive {
			out[p.Partition] = p.StreamSeq
			n += p.Events
		}
	}
	return out, n, nil
}

// chaosWaitCommitted waits until ClickHouse holds, for every partition, a position at or past want.
func chaosWaitCommitted(t testing.TB, store *clickhouse.Store, want map[uint16]uint64, within time.Duration) {
	t.Helper()
	var last map[uint16]uint64
	var lastErr error
	ok := chaosEventually(within, 200*time.Millisecond, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		have, _, err := chaosCommitted(ctx, store)
		last, lastErr = have, err
		if err != nil {
			return false
		}
		for p, seq := range want {
			if have[p] < seq {
				return false
			}
		}
		return true
	})
	require.True(t, ok, "ClickHouse positions did not reach the stream's last sequences within %s: want %v, have %v (err %v)",
		within, want, last, lastErr)
}

func chaosEventually(within, every time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(every)
	}
}

// chaosStore opens database db on the ClickHouse at addr, with the schema applied (the consumers
// migrate too; the test reads progress from the start).
func chaosStore(ctx context.Context, t testing.TB, addr, db string) *clickhouse.Store {
	t.Helper()
	cfg := clickhouse.DefaultConfig()
	cfg.Addr, cfg.Database = addr, db
	store, err := clickhouse.Open(cfg, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	require.NoError(t, store.Migrate(ctx))
	return store
}

// chaosRequireTruth checks what a flow left, once the consumers have caught up, against the
// dataset's ground truth: the events the committed positions account for (a difference is an
// error, explained by hint), the roll-ups (chaosRequireRollups), and one dead letter per malformed
// payload, however often its message was replayed (dead-lettering is de-duplicated by the source
// sequence within the duplicate window). It returns the totals for the test's log.
func chaosRequireTruth(ctx context.Context, t *testing.T, store *clickhouse.Store, js jetstream.JetStream, d *chaosDataset,
	hint string) (samples, sent, counted uint64, deadLetters int) {
	t.Helper()
	_, counted, err := chaosCommitted(ctx, store)
	require.NoError(t, err)
	if counted != uint64(d.truth.counted) {
		t.Errorf("the committed positions account for %d events, the ground truth has %d (%+d)%s",
			counted, d.truth.counted, int64(counted)-int64(d.truth.counted), hint)
	}
	samples, sent = chaosRequireRollups(t, store, d)
	dl := readDeadLetters(t, js)
	for _, c := range dl {
		deadLetters += c
	}
	require.Equal(t, d.malformed, deadLetters, "dead letters by reason: %v", dl)
	return samples, sent, counted, deadLetters
}

// chaosRequireRollups compares the roll-ups with the ground truth (chaosDiffRollups) and fails on
// any difference. It returns the total VPS samples and messages sent.
//
// The roll-ups are compared once: ClickHouse pushes an insert to the views of rollup_in in name
// order and the progress view (zz_consumer_progress_mv) is pushed last, so a committed position is
// never visible before the data it covers.
func chaosRequireRollups(t testing.TB, store *clickhouse.Store, d *chaosDataset) (samples, sent uint64) {
	t.Helper()
	var first []string
	began := time.Now()
	deadline := began
	for {
		diffs, samples, sent, err := chaosDiffRollups(store, d)
		require.NoError(t, err)
		if len(diffs) == 0 {
			if first != nil {
				t.Logf("roll-ups lagged the committed positions by up to %s (progress visible before data); first read had %d differences:\n%s",
					time.Since(began).Round(10*time.Millisecond), len(first), chaosShow(first))
			}
			return samples, sent
		}
		if first == nil {
			first = diffs
		}
		if time.Now().After(deadline) {
			t.Fatalf("roll-ups differ from the ground truth in %d places:\n%s", len(diffs), chaosShow(diffs))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func chaosShow(diffs []string) string {
	if len(diffs) > 25 {
		diffs = append(diffs[:20:20], fmt.Sprintf("... and %d more", len(diffs)-20))
	}
	return strings.Join(diffs, "\n")
}

// chaosDiffRollups reads the 5-minute VPS and 1-hour email roll-ups of the dataset's time range
// straight from the store and compares them with the ground truth, row by row, collecting every
// difference, so a failure shows whether events were lost or counted twice.
func chaosDiffRollups(store *clickhouse.Store, d *chaosDataset) (diffs []string, samples, sent uint64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	all := aggregates.Scope{All: true}
	diff := func(format string, args ...any) {
		diffs = append(diffs, fmt.Sprintf(format, args...))
	}

	vq := aggregates.VPSQuery{RollupQuery: aggregates.RollupQuery{
		From: window.Assign(d.from, window.Step5m).Add(-window.Step5m), To: window.Assign(d.to, window.Step5m).Add(2 * window.Step5m),
		Step: window.Step5m, GroupBy: aggregates.VPSDimensions}}
	vps, err := store.VPSUtilization(ctx, all, vq)
	if err != nil {
		return nil, 0, 0, err
	}
	got := map[vpsTruthKey]aggregates.VPSRow{}
	for _, r := range vps {
		k := vpsTruthKey{r.WindowStart, r.TenantID, r.ResourceID}
		if _, dup := got[k]; dup {
			diff("vps %s: two rows (dimensions differ: %+v)", k, r)
		}
		got[k] = r
		samples += r.Samples
	}
	var wantSamples uint64
	for k, w := range d.truth.vps {
		n := uint64(len(w.cpu))
		wantSamples += n
		r, ok := got[k]
		if !ok {
			diff("vps %s: missing row (want %d samples)", k, n)
			continue
		}
		// cpu_avg × samples is the exact sum of utilization in millionths.
		cpuSum := uint64(r.CPUAvg*float64(r.Samples)*aggregates.UtilScale + 0.5)
		memSum := uint64(r.MemAvg*float64(r.Samples)*aggregates.UtilScale + 0.5)
		switch {
		case r.Samples != n:
			diff("vps %s: %d samples, want %d", k, r.Samples, n)
		case cpuSum != sum(w.cpu) || memSum != sum(w.mem):
			diff("vps %s: cpu sum %d mem sum %d, want %d and %d", k, cpuSum, memSum, sum(w.cpu), sum(w.mem))
		case r.CPUMax != float64(maxOf(w.cpu))/1e6 || r.MemMax != float64(maxOf(w.mem))/1e6:
			diff("vps %s: cpu max %v mem max %v, want %v and %v", k, r.CPUMax, r.MemMax, float64(maxOf(w.cpu))/1e6, float64(maxOf(w.mem))/1e6)
		case r.Provider != w.provider || r.Plan != w.plan || r.Region != w.region:
			diff("vps %s: provider/plan/region %s/%s/%s, want %s/%s/%s", k, r.Provider, r.Plan, r.Region, w.provider, w.plan, w.region)
		}
	}
	for k, r := range got {
		if _, ok := d.truth.vps[k]; !ok {
			diff("vps %s: unexpected row with %d samples", k, r.Samples)
		}
	}
	if samples != wantSamples {
		diff("vps: %d samples in total, want %d (%+d)", samples, wantSamples, int64(samples)-int64(wantSamples))
	}

	eq := aggregates.EmailQuery{RollupQuery: aggregates.RollupQuery{
		From: window.Assign(d.from, window.Step1h).Add(-window.Step1h), To: window.Assign(d.to, window.Step1h).Add(2 * window.Step1h),
		Step: window.Step1h, GroupBy: aggregates.EmailDimensions}}
	mail, err := store.EmailVolume(ctx, all, eq)
	if err != nil {
		return nil, 0, 0, err
	}
	gotMail := map[emailTruthKey]aggregates.EmailRow{}
	for _, r := range mail {
		k := emailTruthKey{r.WindowStart, r.TenantID, r.IP, r.Pool, r.Provider}
		if _, dup := gotMail[k]; dup {
			diff("email %v: two rows", k)
		}
		gotMail[k] = r
		sent += r.Sent
	}
	var wantSent uint64
	for k, w := range d.truth.email {
		wantSent += w.sent
		r, ok := gotMail[k]
		if !ok {
			diff("email %s: missing row (want %+v)", emailKeyString(k), *w)
			continue
		}
		if have := (emailTruth{r.Sent, r.Delivered, r.Bounced, r.Deferred, r.Complained, r.Reports}); have != *w {
			diff("email %s: %+v, want %+v", emailKeyString(k), have, *w)
		}
	}
	for k, r := range gotMail {
		if _, ok := d.truth.email[k]; !ok {
			diff("email %s: unexpected row %+v", emailKeyString(k), r.EmailPartial)
		}
	}
	if sent != wantSent {
		diff("email: %d sent in total, want %d (%+d)", sent, wantSent, int64(sent)-int64(wantSent))
	}
	return diffs, samples, sent, nil
}

func emailKeyString(k emailTruthKey) string {
	return fmt.Sprintf("%s/%s/%s/%s/%s", k.window.Format(time.RFC3339), k.tenant, k.ip, k.pool, k.provider)
}

// chaosJitter returns a random duration in [lo, hi).
func chaosJitter(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}

// chaosInsert is an INSERT into rollup_in the server is running.
type chaosInsert struct {
	id          string
	port        uint16 // the client's port
	writtenRows uint64
}

// chaosInflight returns a function that lists the INSERTs into db.rollup_in the server is running
// right now, and one that waits until none of the given ones runs any more.
func chaosInflight(t testing.TB, addr, db string) (list func() []chaosInsert, wait func(ins []chaosInsert, within time.Duration) bool) {
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}, DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	pattern := "INSERT INTO " + db + ".rollup_in%"
	list = func() []chaosInsert {
		var out []chaosInsert
		rows, err := conn.Query(context.Background(), "SELECT query_id, port, written_rows FROM system.processes WHERE query LIKE ?", pattern)
		if err != nil {
			return nil
		}
		defer rows.Close()
		for rows.Next() {
			var in chaosInsert
			if rows.Scan(&in.id, &in.port, &in.writtenRows) == nil {
				out = append(out, in)
			}
		}
		return out
	}
	wait = func(ins []chaosInsert, within time.Duration) bool {
		return chaosEventually(within, 5*time.Millisecond, func() bool {
			running := map[string]bool{}
			for _, in := range list() {
				running[in.id] = true
			}
			for _, in := range ins {
				if running[in.id] {
					return false
				}
			}
			return true
		})
	}
	return list, wait
}

// chaosLocalPorts returns the local TCP ports of the sockets process pid has open (Linux /proc).
func chaosLocalPorts(pid int) map[uint16]bool {
	inodes := map[string]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	ports := map[uint16]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			if i := strings.LastIndexByte(f[1], ':'); i >= 0 {
				var port uint16
				if _, err := fmt.Sscanf(f[1][i+1:], "%X", &port); err == nil {
					ports[port] = true
				}
			}
		}
	}
	return ports
}
