// Package streams defines spendstream's JetStream topology and provisions it idempotently: the live
// and backfill usage streams and the PostHog capture stream (file storage, limits retention, a duplicate window keyed by
// Nats-Msg-Id = event id, subject-transform partitions), the dead-letter stream, and one durable
// pull consumer per lane partition, which consumers re-create at the position ClickHouse holds.
package streams

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
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

// AllPartitions names the consumer of a whole lane: one unfiltered consumer that delivers every
// partition in stream order. A single consumer instance uses it; filtered per-partition consumers
// are for instances that share a lane, and cost the broker more per message (each scans the stream
// for its own subjects).
const AllPartitions = -1

// ConsumerName is the durable consumer of a lane partition, or of the whole lane (AllPartitions).
func ConsumerName(l events.Lane, partition int) string {
	if partition == AllPartitions {
		return "rollup-" + string(l)
	}
	return fmt.Sprintf("rollup-%s-p%d", l, partition)
}

// ConsumerNames lists every roll-up consumer a lane may have: the whole-lane one, then one per
// partition. Only one kind exists at a time.
func ConsumerNames(c Config, l events.Lane) []string {
	out := []string{ConsumerName(l, AllPartitions)}
	for p := range c.Partitions {
		out = append(out, ConsumerName(l, p))
	}
	return out
}

// FilterSubject selects one partition of a lane as stored (the transform appends the partition);
// for AllPartitions it is empty: the whole stream.
func FilterSubject(c Config, l events.Lane, partition int) string {
	switch {
	case partition == AllPartitions:
		return ""
	case c.Partitions == 1:
		return l.SubjectPrefix() + ".*.*.*"
	}
	return fmt.Sprintf("%s.*.*.*.%d", l.SubjectPrefix(), partition)
}

var dot = []byte{'.'}

// PartitionOf returns the partition of a message of lane l as stored: the token the subject
// transform appends to <prefix>.<type>.<type>.<tenant>. A subject without it (one partition, or a
// message stored before partitions were configured) is in partition 0, and a partition at or above
// the configured count (the count was lowered) is folded into range: every message belongs to
// exactly one partition, so its position accounts for it once.
func PartitionOf(c Config, l events.Lane, subject []byte) int {
	if c.Partitions == 1 {
		return 0
	}
	prefix := l.SubjectPrefix()
	if len(subject) <= len(prefix) || string(subject[:len(prefix)]) != prefix || subject[len(prefix)] != '.' {
		return 0
	}
	rest := subject[len(prefix)+1:]
	if bytes.Count(rest, dot) != 3 {
		return 0
	}
	token := rest[bytes.LastIndexByte(rest, '.')+1:]
	if len(token) == 0 || len(token) > 9 {
		return 0
	}
	p := 0
	for _, ch := range token {
		if ch < '0' || ch > '9' {
			return 0
		}
		p = 10*p + int(ch-'0')
	}
	return p % c.Partitions
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

// ResetConsumer (re)creates the durable pull consumer of a lane partition (or of the whole lane,
// AllPartitions) so that it delivers from the message after committed (the stream sequence whose
// effect ClickHouse holds). A consumer's deliver policy cannot be updated, so an existing one is
// deleted first; only the partition's owner may call this.
func ResetConsumer(ctx context.Context, js jetstream.JetStream, c Config, l events.Lane, partition int, committed uint64) (jetstream.Consumer, error) {
	name := ConsumerName(l, partition)
	stream := StreamName(l)
	desc := fmt.Sprintf("spendstream roll-up, %s lane partition %d", l, partition)
	if partition == AllPartitions {
		desc = fmt.Sprintf("spendstream roll-up, %s lane, all partitions", l)
	}
	cc := jetstream.ConsumerConfig{
		Durable:       name,
		Description:   desc,
		FilterSubject: FilterSubject(c, l, partition),
		// No acks: the positions committed with the roll-ups are what a restart resumes from, and
		// the subscriber notices a lost delivery itself (see jsSubscriber).
		AckPolicy:     jetstream.AckNonePolicy,
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
		if err = DeleteConsumers(ctx, js, l, name); err == nil {
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

// RollupConsumerInfos returns the info of the roll-up consumers a lane has (whole-lane or
// per-partition, whichever exist), listed in one request rather than looked up name by name.
func RollupConsumerInfos(ctx context.Context, js jetstream.JetStream, c Config, l events.Lane) ([]*jetstream.ConsumerInfo, error) {
	s, err := js.Stream(ctx, StreamName(l))
	if err != nil {
		return nil, err
	}
	names := ConsumerNames(c, l)
	var out []*jetstream.ConsumerInfo
	list := s.ListConsumers(ctx)
	for info := range list.Info() {
		if slices.Contains(names, info.Name) {
			out = append(out, info)
		}
	}
	return out, list.Err()
}

// DeleteConsumers deletes the named consumers of a lane where they exist: the roll-up consumers of
// the other kind after an instance count change (a single instance consumes whole lanes, several
// share partitions).
func DeleteConsumers(ctx context.Context, js jetstream.JetStream, l events.Lane, names ...string) error {
	for _, name := range names {
		if err := js.DeleteConsumer(ctx, StreamName(l), name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("delete consumer %s: %w", name, err)
		}
	}
	return nil
}

// DeadLetterSubject is where a rejected event of a lane goes.
func DeadLetterSubject(l events.Lane, reason string) string {
	return DeadLetterPrefix + "." + string(l) + "." + reason
}
