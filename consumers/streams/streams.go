// Package streams defines spendstream's JetStream topology and provisions it idempotently: the live
// and backfill usage streams and the PostHog capture stream (file storage, limits retention, a duplicate window keyed by
// Nats-Msg-Id = event id, subject-transform partitions), the dead-letter stream, and one durable
// pull consumer per lane partition, which consumers re-create at the position ClickHouse holds.
package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendstream/spendstream/schemas/events"
)

// Stream names.
const (
	StreamLive       = "USAGE"
	StreamBackfill   = "BACKFILL"
	StreamPostHog    = "POSTHOG"
	StreamDeadLetter = "DEADLETTER"
)

// DeadLetterPrefix is the subject prefix of rejected events: deadletter.<lane>.<reason>.
const DeadLetterPrefix = "deadletter"

// Dead-letter headers.
const (
	HeaderReason        = "Spendstream-Reason"
	HeaderDetail        = "Spendstream-Detail"
	HeaderSourceSubject = "Spendstream-Source-Subject"
	HeaderSourceSeq     = "Spendstream-Source-Seq"
	HeaderEventID       = "Spendstream-Event-Id"
)

// Config of the topology.
type Config struct {
	// Partitions splits each lane by a hash of the tenant id, so that several consumer instances
	// share the load with one owner per partition. More than 1 needs nats-server 2.10+ (stream
	// subject transforms).
	Partitions      int
	Replicas        int
	DuplicateWindow time.Duration
	LiveMaxAge      time.Duration
	BackfillMaxAge  time.Duration
	DeadLetterAge   time.Duration
	MaxBytes        int64 // per stream; -1 unlimited
	AckWait         time.Duration
	MaxAckPending   int
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Partitions:      4,
		Replicas:        1,
		DuplicateWindow: 2 * time.Minute,
		LiveMaxAge:      7 * 24 * time.Hour,
		BackfillMaxAge:  7 * 24 * time.Hour,
		DeadLetterAge:   30 * 24 * time.Hour,
		MaxBytes:        -1,
		AckWait:         2 * time.Minute,
		MaxAckPending:   20000,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Partitions < 1 || c.Partitions > 256 {
		return fmt.Errorf("partitions %d: want 1..256", c.Partitions)
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		return fmt.Errorf("replicas %d: want 1..5", c.Replicas)
	}
	if c.DuplicateWindow <= 0 {
		return errors.New("duplicate window must be positive")
	}
	if c.MaxAckPending < 1 {
		return errors.New("max ack pending must be positive")
	}
	return nil
}

// StreamName is the stream of a lane.
func StreamName(l events.Lane) string {
	switch l {
	case events.LaneBackfill:
		return StreamBackfill
	case events.LanePostHog:
		return StreamPostHog
	}
	return StreamLive
}

// ConsumerName is the durable consumer of a lane partition.
func ConsumerName(l events.Lane, partition int) string {
	return fmt.Sprintf("rollup-%s-p%d", l, partition)
}

// FilterSubject selects one partition of a lane as stored (the transform appends the partition).
func FilterSubject(c Config, l events.Lane, partition int) string {
	if c.Partitions == 1 {
		return l.SubjectPrefix() + ".*.*.*"
	}
	return fmt.Sprintf("%s.*.*.*.%d", l.SubjectPrefix(), partition)
}

func streamConfig(c Config, l events.Lane) jetstream.StreamConfig {
	p := l.SubjectPrefix()
	maxAge := c.LiveMaxAge
	desc := fmt.Sprintf("spendstream %s usage and inventory events", l)
	switch l {
	case events.LaneBackfill:
		maxAge = c.BackfillMaxAge
	case events.LanePostHog:
		desc = "spendstream PostHog capture events (de-duplicated by tenant and uuid)"
	}
	sc := jetstream.StreamConfig{
		Name:        StreamName(l),
		Description: desc,
		Subjects:    []string{p + ".*.*.*"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
		MaxAge:      maxAge,
		MaxBytes:    c.MaxBytes,
		Duplicates:  c.DuplicateWindow,
		Discard:     jetstream.DiscardOld,
	}
	if c.Partitions > 1 {
		sc.SubjectTransform = &jetstream.SubjectTransformConfig{
			Source:      p + ".*.*.*",
			Destination: fmt.Sprintf("%s.{{wildcard(1)}}.{{wildcard(2)}}.{{wildcard(3)}}.{{partition(%d,3)}}", p, c.Partitions),
		}
	}
	return sc
}

// Provision creates or updates the streams. It is idempotent and safe to run from every process.
func Provision(ctx context.Context, js jetstream.JetStream, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	for _, l := range events.Lanes {
		if _, err := js.CreateOrUpdateStream(ctx, streamConfig(c, l)); err != nil {
			return fmt.Errorf("provision stream %s: %w", StreamName(l), err)
		}
	}
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamDeadLetter,
		Description: "spendstream rejected events with reason headers",
		Subjects:    []string{DeadLetterPrefix + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
		MaxAge:      c.DeadLetterAge,
		MaxBytes:    c.MaxBytes,
		Duplicates:  c.DuplicateWindow,
	})
	if err != nil {
		return fmt.Errorf("provision stream %s: %w", StreamDeadLetter, err)
	}
	return nil
}

// ResetConsumer (re)creates the durable pull consumer of a lane partition so that it delivers from
// the message after committed (the stream sequence whose effect ClickHouse holds). A consumer's
// deliver policy cannot be updated, so an existing one is deleted first; only the partition's owner
// may call this.
func ResetConsumer(ctx context.Context, js jetstream.JetStream, c Config, l events.Lane, partition int, committed uint64) (jetstream.Consumer, error) {
	name := ConsumerName(l, partition)
	stream := StreamName(l)
	cc := jetstream.ConsumerConfig{
		Durable:       name,
		Description:   fmt.Sprintf("spendstream roll-up, %s lane partition %d", l, partition),
		FilterSubject: FilterSubject(c, l, partition),
		AckPolicy:     jetstream.AckAllPolicy, // a batch is acked by its last message
		AckWait:       c.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: c.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if committed > 0 {
		cc.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cc.OptStartSeq = committed + 1
	}
	// The server removes a deleted consumer's files asynchronously; creating one of the same name
	// right after can fail while it does (seen: "rename .../o.dat.tmp: no such file or directory").
	// Delete and create again after a pause.
	var err error
	for attempt := 1; attempt <= 5; attempt++ {
		if err = js.DeleteConsumer(ctx, stream, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			err = fmt.Errorf("delete consumer %s: %w", name, err)
		} else {
			var cons jetstream.Consumer
			if cons, err = js.CreateConsumer(ctx, stream, cc); err == nil {
				return cons, nil
			}
			err = fmt.Errorf("create consumer %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
	return nil, err
}

// DeadLetterSubject is where a rejected event of a lane goes.
func DeadLetterSubject(l events.Lane, reason string) string {
	return DeadLetterPrefix + "." + string(l) + "." + reason
}
