// Package consumers runs spendstream's Watermill consumers: one handler per owned lane partition,
// each on its own durable JetStream pull consumer, folding events into a per-lane Batcher that
// commits partial aggregates and stream positions to ClickHouse in one insert. On start (and after
// a delivery gap) every owned consumer is re-created at the position ClickHouse holds, which makes
// the effect of each event exactly-once across crashes, redeliveries and restarts.
package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/window"
	"github.com/spendstream/spendstream/consumers/streams"
	"github.com/spendstream/spendstream/schemas/events"
	"github.com/spendstream/spendstream/schemas/posthog"
)

// Config of the consumers.
type Config struct {
	Streams           streams.Config
	InstanceIndex     int // this instance owns partitions p with p % InstanceCount == InstanceIndex
	InstanceCount     int
	Lanes             []events.Lane
	FlushInterval     time.Duration
	MaxBatchEvents    int
	MaxBufferedEvents int
	Rules             Rules
	PullBatch         int // a partition keeps twice this many messages asked for or buffered
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Streams:           streams.DefaultConfig(),
		InstanceCount:     1,
		Lanes:             []events.Lane{events.LaneLive, events.LaneBackfill, events.LanePostHog},
		FlushInterval:     time.Second,
		MaxBatchEvents:    200_000,
		MaxBufferedEvents: 400_000,
		Rules: Rules{Limits: events.DefaultLimits(), AllowedLateness: window.DefaultAllowedLateness,
			BackfillMaxAge: 400 * 24 * time.Hour, PostHogMaxAge: 400 * 24 * time.Hour,
			Segments: posthog.DefaultSegmentRules()},
		PullBatch: 1000,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if err := c.Streams.Validate(); err != nil {
		return err
	}
	if c.InstanceCount < 1 || c.InstanceIndex < 0 || c.InstanceIndex >= c.InstanceCount {
		return fmt.Errorf("instance %d of %d: want 0 <= index < count", c.InstanceIndex, c.InstanceCount)
	}
	if c.InstanceCount > c.Streams.Partitions {
		return fmt.Errorf("%d instances but only %d partitions: extra instances would idle", c.InstanceCount, c.Streams.Partitions)
	}
	if c.Rules.AllowedLateness <= 0 {
		return errors.New("allowed lateness must be positive")
	}
	return nil
}

// Wide reports whether this instance consumes whole lanes: a single instance owns every partition
// and reads each lane through one unfiltered consumer, which costs the broker less per message than
// a filtered consumer per partition.
func (c Config) Wide() bool { return c.InstanceCount == 1 }

// units are the consumers of a lane this instance runs: streams.AllPartitions, or its partitions.
func (c Config) units() []int {
	if c.Wide() {
		return []int{streams.AllPartitions}
	}
	return c.Owned()
}

// Owned lists the partitions of this instance.
func (c Config) Owned() []int {
	var out []int
	for p := 0; p < c.Streams.Partitions; p++ {
		if p%c.InstanceCount == c.InstanceIndex {
			out = append(out, p)
		}
	}
	return out
}

// Connect opens a NATS connection: one for administration and dead letters, one per owned
// partition for its pulls.
type Connect func(name string) (*nats.Conn, error)

// Consumer runs the roll-up consumers of this instance.
type Consumer struct {
	cfg     Config
	connect Connect
	store   Store
	metrics *Metrics
	log     *slog.Logger
	wmLog   watermill.LoggerAdapter
}

// New builds a Consumer.
func New(cfg Config, connect Connect, store Store, m *Metrics, log *slog.Logger) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	wmLog := wmLogger{l: log.With("component", "watermill")}
	return &Consumer{cfg: cfg, connect: connect, store: store, metrics: m, log: log, wmLog: wmLog}, nil
}

// Run consumes until ctx ends, restarting from the committed positions after a delivery gap.
func (c *Consumer) Run(ctx context.Context) error {
	for {
		err := c.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errRewind) {
			c.log.Warn("restarting consumers from committed positions", "err", err)
			continue
		}
		return err
	}
}

type lanePart struct {
	lane      events.Lane
	partition int
	consumer  jetstream.Consumer
}

// runOnce resumes every owned lane partition from ClickHouse, runs the router and the batchers, and
// on the way out stops the handlers before the final flush.
func (c *Consumer) runOnce(parent context.Context) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)

	admin, err := c.connect("spendstream-consumer-admin")
	if err != nil {
		return fmt.Errorf("connect nats: %w", err)
	}
	defer admin.Close()
	js, err := jetstream.New(admin)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}

	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 15 * time.Second}, c.wmLog)
	if err != nil {
		return err
	}
	router.AddMiddleware(middleware.Recoverer)

	batchers := map[events.Lane]*Batcher{}
	var parts []lanePart
	for _, lane := range c.cfg.Lanes {
		committed, err := c.positions(ctx, lane)
		if err != nil {
			return err
		}
		b := NewBatcher(BatcherConfig{Lane: lane, Wide: c.cfg.Wide(), FlushInterval: c.cfg.FlushInterval,
			MaxBatchEvents: c.cfg.MaxBatchEvents, MaxBufferedEvents: c.cfg.MaxBufferedEvents},
			c.store, committed, c.cfg.Owned(), c.metrics, c.log)
		batchers[lane] = b
		// The consumers of the other kind, left by a run with another instance count, go: their
		// positions live on in ClickHouse, which both kinds resume from.
		others := []string{streams.ConsumerName(lane, streams.AllPartitions)}
		if c.cfg.Wide() {
			others = streams.ConsumerNames(c.cfg.Streams, lane)[1:]
		}
		if err := streams.DeleteConsumers(ctx, js, lane, others...); err != nil {
			return err
		}
		for _, p := range c.cfg.units() {
			var start uint64
			if p == streams.AllPartitions {
				start = b.StartSeq()
			} else {
				start = committed[uint16(p)].StreamSeq
			}
			if _, err := streams.ResetConsumer(ctx, js, c.cfg.Streams, lane, p, start); err != nil {
				return err
			}
			// Each consumer pulls over its own connection, so message parsing (one read loop per
			// connection) spreads over the cores.
			nc, err := c.connect(fmt.Sprintf("spendstream-%s", streams.ConsumerName(lane, p)))
			if err != nil {
				return fmt.Errorf("connect nats: %w", err)
			}
			defer nc.Close()
			pjs, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			cons, err := pjs.Consumer(ctx, streams.StreamName(lane), streams.ConsumerName(lane, p))
			if err != nil {
				return fmt.Errorf("bind consumer %s: %w", streams.ConsumerName(lane, p), err)
			}
			parts = append(parts, lanePart{lane: lane, partition: p, consumer: cons})
			c.addHandler(router, js, nc, b, lane, p, cancel)
		}
	}
	c.log.Info("consumers resumed from committed positions", "partitions", c.cfg.Owned(), "lanes", c.cfg.Lanes)

	// The batchers keep flushing until the router has stopped, so handlers blocked on a full buffer
	// can finish; then one final flush commits what they added. A flush that cannot reach
	// ClickHouse is abandoned after a grace period: its events are replayed on the next start.
	flushCtx, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	stop := make(chan struct{})
	var fg errgroup.Group
	for _, b := range batchers {
		fg.Go(func() error { return b.Run(flushCtx, stop) })
	}
	go c.probe(ctx, parts, batchers)

	runErr := router.Run(ctx) // returns once ctx ends and the handlers have stopped
	cancel(runErr)
	close(stop)
	grace := time.AfterFunc(30*time.Second, abandon)
	defer grace.Stop()
	_ = fg.Wait()
	if !errors.Is(context.Cause(ctx), errRewind) {
		for lane, b := range batchers {
			if err := b.Flush(flushCtx); err != nil {
				c.log.Error("final flush failed; events will be replayed on restart", "lane", lane, "err", err)
			}
		}
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return runErr
	}
	return nil
}

func (c *Consumer) addHandler(router *message.Router, js jetstream.JetStream, nc *nats.Conn, b *Batcher, lane events.Lane, p int,
	rewind context.CancelCauseFunc) {
	name := streams.ConsumerName(lane, p)
	h := &handler{lane: lane, partition: p, streams: c.cfg.Streams, rules: c.cfg.Rules, batcher: b, js: js,
		metrics: c.metrics, log: c.log, rewind: rewind}
	sub := newJSSubscriber(nc, streams.StreamName(lane), name, 2*c.cfg.PullBatch, h.fail, c.log)
	router.AddConsumerHandler(name, streams.StreamName(lane), sub, h.Handle)
}

// positions reads the committed positions once no insert of a predecessor can still land, waiting
// for ClickHouse while it is unreachable.
func (c *Consumer) positions(ctx context.Context, lane events.Lane) (map[uint16]aggregates.Position, error) {
	delay := 200 * time.Millisecond
	for {
		err := c.store.AwaitInflightWrites(ctx)
		if err == nil {
			var pos map[uint16]aggregates.Position
			if pos, err = c.store.Positions(ctx, lane); err == nil {
				return pos, nil
			}
		}
		c.log.Error("reading committed positions failed; retrying", "lane", lane, "retry_in", delay, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// partitionLabel is the metrics label of a consumer's partition: its number, or "all" for a
// whole-lane consumer.
func partitionLabel(p int) string {
	if p == streams.AllPartitions {
		return "all"
	}
	return itoa(p)
}

// probe reads consumer info periodically: the pending counts are the lag metrics, and a caught-up
// consumer lets the watermark advance while no events arrive.
func (c *Consumer) probe(ctx context.Context, parts []lanePart, batchers map[events.Lane]*Batcher) {
	t := time.NewTicker(max(c.cfg.FlushInterval/2, 50*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, lp := range parts {
			at := time.Now()
			info, err := lp.consumer.Info(ctx)
			if err != nil {
				if ctx.Err() == nil {
					c.log.Warn("consumer info failed", "consumer", streams.ConsumerName(lp.lane, lp.partition), "err", err)
				}
				continue
			}
			ps := partitionLabel(lp.partition)
			c.metrics.pending.WithLabelValues(string(lp.lane), ps).Set(float64(info.NumPending))
			batchers[lp.lane].Probe(lp.partition, at, info.NumPending, info.Delivered.Stream)
		}
		for lane, b := range batchers {
			c.metrics.buffered.WithLabelValues(string(lane)).Set(float64(b.Buffered()))
		}
	}
}
