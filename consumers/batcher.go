package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/consumers/streams"
	"github.com/spendstream/spendstream/schemas/events"
)

// Store is what the batcher needs from the roll-up store: an atomic batch write and the committed
// positions. *clickhouse.Store satisfies it.
type Store interface {
	WriteBatch(ctx context.Context, b *aggregates.Batch) error
	Positions(ctx context.Context, lane events.Lane) (map[uint16]aggregates.Position, error)
	// AwaitInflightWrites waits for batch inserts already running on the server (a dead
	// predecessor's may still commit) so that positions read afterwards are final.
	AwaitInflightWrites(ctx context.Context) error
}

// BatcherConfig tunes flushing.
type BatcherConfig struct {
	Lane events.Lane
	// Wide: the owned partitions are consumed together, in stream order, by one whole-lane consumer
	// (AddBatch's entries carry each message's partition). Then having handled stream sequence s
	// means having handled every message of every partition up to s, so each flush commits the
	// lane's last sequence and as_of for every partition.
	Wide              bool
	FlushInterval     time.Duration // time trigger
	MaxBatchEvents    int           // size trigger
	MaxBufferedEvents int           // Add blocks above this while a flush is pending (backpressure)
	MinFlushGap       time.Duration // early flushes (Kick) wait this long after the previous flush
	// CatchUpInterval replaces FlushInterval while the consumers report a backlog of at least
	// MaxBatchEvents: then batches fill up (the size trigger flushes them), since every insert costs
	// ClickHouse a fixed amount (new parts in every roll-up table, merges), and a commit every second
	// would not make a lagging as_of fresh anyway.
	CatchUpInterval time.Duration
	RetryMin        time.Duration
	RetryMax        time.Duration
}

func (c *BatcherConfig) setDefaults() {
	if c.FlushInterval <= 0 {
		c.FlushInterval = time.Second
	}
	if c.MaxBatchEvents <= 0 {
		c.MaxBatchEvents = 200_000
	}
	if c.MaxBufferedEvents < c.MaxBatchEvents {
		c.MaxBufferedEvents = 4 * c.MaxBatchEvents
	}
	if c.MinFlushGap <= 0 {
		c.MinFlushGap = c.FlushInterval / 2
	}
	if c.CatchUpInterval < c.FlushInterval {
		c.CatchUpInterval = max(5*time.Second, c.FlushInterval)
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 5 * time.Second
	}
}

// errGaveUp is returned after a flush was abandoned (shutdown while ClickHouse failed): no later
// batch may be written, or it would claim the abandoned batch's positions.
var errGaveUp = errors.New("an earlier flush was abandoned; restart to replay from the committed position")

// partition is the batcher's view of one lane partition.
type partition struct {
	seq       uint64    // last stream sequence handled (added or dead-lettered)
	stored    time.Time // when that message was stored in the stream
	caughtUp  time.Time // a probe saw the consumer caught up with seq at this time
	upSeq     uint64    // the seq the caughtUp probe refers to
	events    uint64    // events added since the last snapshot
	committed aggregates.Position
}

// asOf is the ingest time up to which every message of the partition is handled.
func (p *partition) asOf() time.Time {
	t := p.stored
	if p.upSeq == p.seq && p.caughtUp.After(t) {
		t = p.caughtUp
	}
	t = t.Truncate(time.Second).UTC() // ClickHouse DateTime; rounding down keeps it true
	if t.Before(p.committed.AsOf) {
		t = p.committed.AsOf
	}
	return t
}

// Batcher accumulates partial aggregates of one lane across the partitions this process owns and
// flushes them, with the positions they complete, as one atomic write. Handlers call Add or Skip for
// every message in stream order; a message whose sequence is not above the partition's last one is a
// redelivery and is ignored, so the effect of each message is counted once.
type Batcher struct {
	cfg     BatcherConfig
	store   Store
	log     *slog.Logger
	metrics *Metrics

	mu       sync.Mutex
	cond     *sync.Cond
	cur      *aggregates.Batch
	curCount int
	parts    []*partition // by partition number; nil: not owned
	wide     partition    // Wide: the whole lane (seq, stored, caughtUp, upSeq)
	flushing bool
	gaveUp   bool
	kick     chan struct{}
	backlog  map[int]uint64                     // per consumer (partition or streams.AllPartitions): messages it had yet to deliver
	counters map[events.Type]prometheus.Counter // processed, by type; guarded by mu
}

// processed returns the lane's processed counter for t without label hashing on the hot path.
// Called with mu held.
func (b *Batcher) processed(t events.Type) prometheus.Counter {
	c := b.counters[t]
	if c == nil {
		c = b.metrics.processed.WithLabelValues(string(b.cfg.Lane), string(t))
		b.counters[t] = c
	}
	return c
}

// NewBatcher starts from the committed positions of the owned partitions.
func NewBatcher(cfg BatcherConfig, store Store, committed map[uint16]aggregates.Position, owned []int, m *Metrics, log *slog.Logger) *Batcher {
	cfg.setDefaults()
	b := &Batcher{cfg: cfg, store: store, log: log, metrics: m, cur: aggregates.NewBatch(),
		kick: make(chan struct{}, 1), backlog: map[int]uint64{}, counters: map[events.Type]prometheus.Counter{}}
	b.cond = sync.NewCond(&b.mu)
	for _, p := range owned {
		c := committed[uint16(p)]
		c.Lane, c.Partition = cfg.Lane, uint16(p)
		for len(b.parts) <= p {
			b.parts = append(b.parts, nil)
		}
		b.parts[p] = &partition{seq: c.StreamSeq, committed: c}
	}
	b.wide.seq = b.startSeqLocked()
	return b
}

// StartSeq is the last stream sequence every owned partition has handled: a whole-lane consumer
// resumes after it.
func (b *Batcher) StartSeq() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.startSeqLocked()
}

func (b *Batcher) startSeqLocked() uint64 {
	first := true
	var seq uint64
	for _, st := range b.parts {
		if st == nil {
			continue
		}
		if first || st.seq < seq {
			seq = st.seq
		}
		first = false
	}
	return seq
}

// Seen returns the last handled sequence of a partition.
func (b *Batcher) Seen(p uint16) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st := b.part(p); st != nil {
		return st.seq
	}
	return 0
}

// part returns the state of partition p, nil when it is not owned.
func (b *Batcher) part(p uint16) *partition {
	if int(p) < len(b.parts) {
		return b.parts[p]
	}
	return nil
}

// SeenAll fills seen[p] with the last handled sequence of every owned partition p (seen is grown
// to the highest owned partition + 1 and returned).
func (b *Batcher) SeenAll(seen []uint64) []uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	seen = seen[:0]
	for _, st := range b.parts {
		var seq uint64
		if st != nil {
			seq = st.seq
		}
		seen = append(seen, seq)
	}
	return seen
}

// Entry is one handled stream message of a partition: an event to count, or (Counted false) a
// message that was dead-lettered or is a redelivery, and only advances the position.
type Entry struct {
	Partition uint16
	Seq       uint64
	Stored    time.Time
	Counted   bool
	Event     events.Event
	data      events.Data // what Event's data points to when the handler decoded it
}

// AddBatch applies the entries of one delivery batch, in stream order, under one lock. Entries at
// or below their partition's last sequence are redeliveries and are ignored. It blocks while the
// buffer is full and a flush is pending.
func (b *Batcher) AddBatch(ctx context.Context, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.flushing && b.curCount >= b.cfg.MaxBufferedEvents {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.cond.Wait()
	}
	counted := 0
	// The processed counters are added to per run of one type rather than per event.
	var runType events.Type
	run := 0
	flushRun := func() {
		if run > 0 {
			b.processed(runType).Add(float64(run))
		}
	}
	for i := range entries {
		e := &entries[i]
		st, err := b.advance(e.Partition, e.Seq, e.Stored)
		if err != nil {
			flushRun()
			return err
		}
		if st == nil || !e.Counted {
			continue
		}
		b.cur.AddEvent(&e.Event)
		st.events++
		counted++
		if e.Event.Type != runType {
			flushRun()
			runType, run = e.Event.Type, 0
		}
		run++
	}
	flushRun()
	b.curCount += counted
	if b.curCount >= b.cfg.MaxBatchEvents {
		b.Kick()
	}
	return nil
}

// Backlog records how many messages consumer c (a partition, or streams.AllPartitions) had yet to
// deliver after its latest delivery.
func (b *Batcher) Backlog(c int, pending uint64) {
	b.mu.Lock()
	b.backlog[c] = pending
	b.mu.Unlock()
}

// catchingUp reports whether the consumers' backlog holds at least a full batch.
func (b *Batcher) catchingUp() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.catchingUpLocked()
}

func (b *Batcher) catchingUpLocked() bool {
	var n uint64
	for _, v := range b.backlog {
		n += v
	}
	return n >= uint64(b.cfg.MaxBatchEvents)
}

// earlyFlushDue reports whether a kick still calls for a flush: the batch is full, or the consumers
// are not catching up (a caught-up consumer kicks to commit at once). A handler keeps kicking while
// the batch is full and waits for its flush; such a kick must not flush the next batch early.
func (b *Batcher) earlyFlushDue() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.curCount >= b.cfg.MaxBatchEvents || !b.catchingUpLocked()
}

// Kick asks for a flush before the next tick (at most one per MinFlushGap).
func (b *Batcher) Kick() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

func (b *Batcher) advance(p uint16, seq uint64, stored time.Time) (*partition, error) {
	st := b.part(p)
	if st == nil {
		return nil, fmt.Errorf("partition %d is not owned by this batcher", p)
	}
	if b.cfg.Wide && seq > b.wide.seq {
		b.wide.seq, b.wide.stored = seq, stored
	}
	if seq <= st.seq {
		return nil, nil
	}
	st.seq, st.stored = seq, stored
	return st, nil
}

// Probe records a consumer-info reading of partition p (streams.AllPartitions: of the whole-lane
// consumer) taken at time at: when nothing is pending and everything delivered has been handled,
// every message stored before at is handled.
func (b *Batcher) Probe(p int, at time.Time, pending, deliveredSeq uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backlog[p] = pending
	if p == streams.AllPartitions {
		if b.cfg.Wide && pending == 0 && deliveredSeq <= b.wide.seq {
			b.wide.caughtUp, b.wide.upSeq = at, b.wide.seq
		}
		return
	}
	st := b.part(uint16(p))
	if st == nil || pending != 0 || deliveredSeq > st.seq {
		return
	}
	st.caughtUp, st.upSeq = at, st.seq
}

// Run flushes on the interval and when a batch is full, until stop is closed (a flush in progress
// completes) or ctx ends (a flush in progress is abandoned). The caller makes a final Flush after
// the handlers have stopped.
func (b *Batcher) Run(ctx context.Context, stop <-chan struct{}) error {
	t := time.NewTicker(b.cfg.FlushInterval)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-stop:
			return nil
		case <-t.C:
			if b.catchingUp() && time.Since(last) < b.cfg.CatchUpInterval {
				continue // the size trigger flushes
			}
		case <-b.kick:
			// Caught up or a full batch: flush early, but keep inserts at most one per gap.
			if wait := b.cfg.MinFlushGap - time.Since(last); wait > 0 {
				select {
				case <-ctx.Done():
					return nil
				case <-stop:
					return nil
				case <-time.After(wait):
				}
			}
			if !b.earlyFlushDue() {
				continue // a kick left from the batch just flushed
			}
		}
		last = time.Now()
		if err := b.Flush(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// Flush writes the current batch with the positions it completes, retrying until it is committed or
// ctx ends. Writes are strictly sequential: a batch is only written after the previous one committed.
func (b *Batcher) Flush(ctx context.Context) error {
	b.mu.Lock()
	for b.flushing {
		b.cond.Wait()
	}
	if b.gaveUp {
		b.mu.Unlock()
		return errGaveUp
	}
	snap := b.cur
	for p, st := range b.parts {
		if st == nil {
			continue
		}
		seq, asOf := st.seq, st.asOf()
		if b.cfg.Wide {
			// Every message of the lane up to wide.seq is handled, this partition's included.
			seq = max(seq, b.wide.seq)
			if t := b.wide.asOf(); t.After(asOf) {
				asOf = t
			}
		}
		if seq == st.committed.StreamSeq && !asOf.After(st.committed.AsOf) {
			continue
		}
		snap.Positions = append(snap.Positions, aggregates.Position{Lane: b.cfg.Lane, Partition: uint16(p),
			StreamSeq: seq, AsOf: asOf, Events: st.events})
		st.events = 0
	}
	if len(snap.Positions) == 0 {
		b.mu.Unlock()
		return nil
	}
	count := b.curCount
	b.cur, b.curCount = aggregates.NewBatch(), 0
	b.flushing = true
	b.cond.Broadcast()
	b.mu.Unlock()

	err := b.write(ctx, snap, count)

	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushing = false
	b.cond.Broadcast()
	if err != nil {
		b.gaveUp = true
		return err
	}
	for _, pos := range snap.Positions {
		b.parts[pos.Partition].committed = pos
		b.metrics.watermark.WithLabelValues(string(b.cfg.Lane), itoa(int(pos.Partition))).Set(float64(pos.AsOf.Unix()))
	}
	return nil
}

func (b *Batcher) write(ctx context.Context, snap *aggregates.Batch, count int) error {
	lane := string(b.cfg.Lane)
	done := func(start time.Time) {
		b.metrics.flushDuration.WithLabelValues(lane).Observe(time.Since(start).Seconds())
		b.metrics.flushedEvents.WithLabelValues(lane).Add(float64(count))
		b.metrics.flushedRows.WithLabelValues(lane).Observe(float64(snap.Rows()))
	}
	delay := b.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		start := time.Now()
		snap.FlushedAt = start
		err := b.store.WriteBatch(ctx, snap)
		if err == nil {
			done(start)
			return nil
		}
		b.metrics.insertErrors.WithLabelValues(lane).Inc()
		// The insert may have been committed although the answer was lost (connection reset after
		// Send), or may still be running on the server. Once it is done, the positions tell: they
		// are written by the same block.
		if ok, cerr := b.committed(ctx, snap.Positions); cerr == nil && ok {
			b.log.Warn("insert reported an error but was committed", "lane", lane, "err", err)
			done(start)
			return nil
		}
		b.log.Error("flush failed; retrying", "lane", lane, "attempt", attempt, "rows", snap.Rows(), "retry_in", delay, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("flush abandoned after %d attempts: %w", attempt, err)
		case <-time.After(delay):
		}
		delay = min(2*delay, b.cfg.RetryMax)
	}
}

// committed reports whether the positions of a batch are already in the store.
func (b *Batcher) committed(ctx context.Context, want []aggregates.Position) (bool, error) {
	if err := b.store.AwaitInflightWrites(ctx); err != nil {
		return false, err
	}
	have, err := b.store.Positions(ctx, b.cfg.Lane)
	if err != nil {
		return false, err
	}
	for _, w := range want {
		h, ok := have[w.Partition]
		if !ok || h.StreamSeq < w.StreamSeq || h.AsOf.Before(w.AsOf) {
			return false, nil
		}
	}
	return true, nil
}

// Buffered is the number of events added and not yet flushed.
func (b *Batcher) Buffered() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.curCount
}
