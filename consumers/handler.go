package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/window"
	"github.com/spendstream/spendstream/consumers/streams"
	"github.com/spendstream/spendstream/schemas/events"
	"github.com/spendstream/spendstream/schemas/posthog"
)

// ReasonSubjectMismatch rejects an event whose type or tenant differs from its subject's.
const ReasonSubjectMismatch events.Reason = "subject_mismatch"

// errRewind asks the consumer to restart from the committed position.
var errRewind = errors.New("rewinding to the committed position")

// Rules of the pipeline's validation.
type Rules struct {
	Limits          events.Limits
	AllowedLateness time.Duration // live lane
	BackfillMaxAge  time.Duration // backfill lane
	PostHogMaxAge   time.Duration // posthog lane: how old an event may be when accepted
	Segments        posthog.SegmentRules
}

// handler rolls up the batches of one consumer: of a lane partition, or of the whole lane
// (partition streams.AllPartitions: each message's partition is read from its subject). The
// subscriber hands it one batch at a time (the next only after the previous was acked), so messages
// are processed in stream order.
type handler struct {
	lane      events.Lane
	partition int
	streams   streams.Config
	rules     Rules
	batcher   *Batcher
	js        jetstream.JetStream
	metrics   *Metrics
	log       *slog.Logger
	rewind    context.CancelCauseFunc
	entries   []Entry  // reused between batches
	seen      []uint64 // per partition, reused between batches
}

// Handle is the Watermill handler. It returns nil once the effect of every message of the batch is
// in the current roll-up batch (or the message is in the dead-letter stream): the (Watermill) ack
// only lets the subscriber hand on the next batch; exactly-once comes from the position committed
// with each roll-up batch. Any failure rewinds the partition to the committed position instead of
// retrying in place.
func (h *handler) Handle(msg *message.Message) error {
	if err := h.handle(msg); err != nil {
		h.fail(err)
		return err
	}
	return nil
}

// fail rewinds the consumers to the committed positions because of err.
func (h *handler) fail(err error) {
	h.metrics.rewinds.WithLabelValues(string(h.lane)).Inc()
	h.log.Warn("rewinding consumers", "lane", h.lane, "partition", h.partition, "err", err)
	h.rewind(fmt.Errorf("%w: %w", errRewind, err))
}

func (h *handler) handle(msg *message.Message) error {
	wide := h.partition == streams.AllPartitions
	if wide {
		h.seen = h.batcher.SeenAll(h.seen)
	} else {
		h.seen = append(h.seen[:0], h.batcher.Seen(uint16(h.partition)))
	}
	h.entries = h.entries[:0]
	var pending uint64 // after the batch's last message
	for rest := msg.Payload; len(rest) > 0; {
		var f frame
		var err error
		if f, rest, err = nextFrame(rest); err != nil {
			return err
		}
		// The subscriber hands on only messages that follow each other in the consumer's
		// deliveries (see jsSubscriber), each with its position.
		pending = f.pending
		p, k := h.partition, 0
		if wide {
			p = streams.PartitionOf(h.streams, h.lane, f.subject)
			k = p
		}
		if k >= len(h.seen) {
			return fmt.Errorf("message of partition %d, which this consumer does not own", p)
		}
		stored := time.Unix(0, f.storedNanos).UTC()
		if f.streamSeq <= h.seen[k] {
			h.metrics.redelivered.WithLabelValues(string(h.lane)).Inc()
			if wide {
				// Not counted again, but the lane's position moves past it.
				e := h.nextEntry()
				e.Partition, e.Seq, e.Stored = uint16(p), f.streamSeq, stored
			}
			continue
		}
		h.seen[k] = f.streamSeq
		e := h.nextEntry()
		e.Partition, e.Seq, e.Stored = uint16(p), f.streamSeq, stored
		// The event borrows from the payload and from e: both stay as they are until the batch
		// was added (AddEvent copies what it keeps), which is before the ack.
		ev, cerr := h.check(f.data, f.subject, stored, &e.data)
		if cerr != nil {
			if err := h.deadLetter(msg.Context(), f, cerr); err != nil {
				return err
			}
		} else {
			e.Event = ev
			e.Counted = true
		}
	}
	if err := h.batcher.AddBatch(msg.Context(), h.entries); err != nil {
		return err
	}
	h.batcher.Backlog(h.partition, pending)
	if pending == 0 {
		h.batcher.Kick() // caught up: commit now rather than at the next tick
	}
	return nil
}

// nextEntry appends an entry to h.entries and returns it, reset but for its data storage (which
// decoding overwrites).
func (h *handler) nextEntry() *Entry {
	n := len(h.entries)
	if n == cap(h.entries) {
		// Entries already made keep pointing at their data in the old array, which stays as it is.
		grown := make([]Entry, n+1, max(2*n, 1024))
		copy(grown, h.entries)
		h.entries = grown
	} else {
		h.entries = h.entries[:n+1]
	}
	e := &h.entries[n]
	e.Partition, e.Seq, e.Stored, e.Counted, e.Event = 0, 0, time.Time{}, false, events.Event{}
	return e
}

// decode parses one message of the lane: a CloudEvent (borrowing from payload and into), or a
// PostHog record.
func (h *handler) decode(payload []byte, into *events.Data) (events.Event, error) {
	if h.lane != events.LanePostHog {
		return events.DecodeBorrowed(payload, h.rules.Limits, into)
	}
	r, err := posthog.DecodeRecord(payload)
	if err != nil {
		return events.Event{}, &events.RejectError{Reason: events.ReasonMalformed, Field: "record", Detail: err.Error()}
	}
	a := &events.Analytics{DistinctID: r.DistinctID, Event: r.Event}
	for _, s := range h.rules.Segments.Segments(&r) {
		a.Segments = append(a.Segments, events.SegmentUpdate{Property: s.Property, Value: s.Value, Source: s.Source})
	}
	return events.Event{ID: r.UUID, Type: events.TypeAnalytics, Time: r.Timestamp, TenantID: r.TenantID,
		Historical: r.Historical, Analytics: a}, nil
}

// check decodes and validates one event against its subject and the lane's time rules.
func (h *handler) check(payload []byte, subject []byte, stored time.Time, into *events.Data) (events.Event, error) {
	ev, err := h.decode(payload, into)
	if err != nil {
		return ev, err
	}
	if !events.SubjectMatches(subject, h.lane, ev.Type, ev.TenantID) {
		return ev, &events.RejectError{Reason: ReasonSubjectMismatch, Field: "subject",
			Detail: fmt.Sprintf("event of type %s for tenant %s published on %s", ev.Type, ev.TenantID, subject)}
	}
	r := window.Rules{MaxFuture: h.rules.Limits.MaxFuture}
	switch {
	case h.lane == events.LaneBackfill:
		r.MaxAge = h.rules.BackfillMaxAge
	case h.lane == events.LanePostHog:
		// SDKs send buffered events late (mobile, offline); PostHog counts them whenever they
		// arrive, and so do the mergeable event roll-ups.
		r.MaxAge = h.rules.PostHogMaxAge
	case ev.Type != events.TypeInventoryResource:
		r.AllowedLateness = h.rules.AllowedLateness
	}
	w, step := aggregates.WindowOf(&ev)
	if err := r.Check(ev.Time, w, step, stored); err != nil {
		reason := events.ReasonTooLate
		switch {
		case errors.Is(err, window.ErrFuture):
			reason = events.ReasonFutureTime
		case errors.Is(err, window.ErrTooOld):
			reason = events.ReasonTooOld
		}
		return ev, &events.RejectError{Reason: reason, Field: "time", Detail: err.Error()}
	}
	return ev, nil
}

// deadLetter publishes the original bytes to deadletter.<lane>.<reason> with reason headers. The
// publish is de-duplicated by the source sequence, so a replay after a crash does not dead-letter
// twice.
func (h *handler) deadLetter(ctx context.Context, f frame, cause error) error {
	reason := string(events.ReasonOf(cause))
	if reason == "" {
		reason = "invalid"
	}
	seq := strconv.FormatUint(f.streamSeq, 10)
	dl := &nats.Msg{Subject: streams.DeadLetterSubject(h.lane, reason), Data: f.data, Header: nats.Header{}}
	dl.Header.Set(jetstream.MsgIDHeader, streams.StreamName(h.lane)+"-"+seq)
	dl.Header.Set(streams.HeaderReason, reason)
	dl.Header.Set(streams.HeaderDetail, cause.Error())
	dl.Header.Set(streams.HeaderSourceSubject, truncate(string(f.subject), 256))
	dl.Header.Set(streams.HeaderSourceSeq, seq)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := h.js.PublishMsg(ctx, dl); err != nil {
		return fmt.Errorf("dead-letter publish: %w", err)
	}
	h.metrics.rejected.WithLabelValues(string(h.lane), reason).Inc()
	h.log.Debug("event dead-lettered", "lane", h.lane, "subject", string(f.subject), "reason", reason, "err", cause)
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
