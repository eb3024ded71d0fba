package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/window"
	"github.com/spendstream/spendstream/consumers/streams"
	"github.com/spendstream/spendstream/schemas/events"
)

// Metadata keys set by jsUnmarshaler on every Watermill message.
const (
	mdSeq      = "js_stream_seq"
	mdConsSeq  = "js_consumer_seq"
	mdStored   = "js_stored_unix_nano"
	mdSubject  = "js_subject"
	mdMetaErr  = "js_metadata_error"
	mdDelivers = "js_num_delivered"
)

// ReasonSubjectMismatch rejects an event whose type or tenant differs from its subject's.
const ReasonSubjectMismatch events.Reason = "subject_mismatch"

// errRewind asks the consumer to restart from the committed position.
var errRewind = errors.New("delivery gap: rewinding to the committed position")

// jsUnmarshaler turns a JetStream message into a Watermill message carrying its stream position.
// It never fails: watermill-nats dereferences the message even when Unmarshal returns an error, so
// problems travel as metadata and the handler dead-letters them.
type jsUnmarshaler struct{}

func (jsUnmarshaler) Unmarshal(m jetstream.Msg) (*message.Message, error) {
	wm := message.NewMessage(m.Headers().Get(jetstream.MsgIDHeader), m.Data())
	wm.Metadata = make(message.Metadata, 6)
	wm.Metadata[mdSubject] = m.Subject()
	md, err := m.Metadata()
	if err != nil {
		wm.Metadata[mdMetaErr] = err.Error()
		return wm, nil
	}
	wm.Metadata[mdSeq] = strconv.FormatUint(md.Sequence.Stream, 10)
	wm.Metadata[mdConsSeq] = strconv.FormatUint(md.Sequence.Consumer, 10)
	wm.Metadata[mdStored] = strconv.FormatInt(md.Timestamp.UnixNano(), 10)
	wm.Metadata[mdDelivers] = strconv.FormatUint(md.NumDelivered, 10)
	return wm, nil
}

// Rules of the pipeline's validation.
type Rules struct {
	Limits          events.Limits
	AllowedLateness time.Duration // live lane
	BackfillMaxAge  time.Duration // backfill lane
}

// handler rolls up the messages of one lane partition. Watermill hands it one message at a time
// (the subscriber waits for each ack), so the partition is processed in stream order.
type handler struct {
	lane      events.Lane
	partition uint16
	rules     Rules
	batcher   *Batcher
	js        jetstream.JetStream
	metrics   *Metrics
	log       *slog.Logger
	rewind    context.CancelCauseFunc
	lastCons  atomic.Uint64
}

// Handle is the Watermill handler. It returns nil once the message's effect is in the batch (or the
// message is in the dead-letter stream): the ack only lets JetStream move on; exactly-once comes
// from the position committed with each batch.
func (h *handler) Handle(msg *message.Message) error {
	md := msg.Metadata
	if e := md[mdMetaErr]; e != "" {
		return fmt.Errorf("message without jetstream metadata: %s", e)
	}
	seq, err1 := strconv.ParseUint(md[mdSeq], 10, 64)
	cons, err2 := strconv.ParseUint(md[mdConsSeq], 10, 64)
	storedNs, err3 := strconv.ParseInt(md[mdStored], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("bad position metadata: %w", err)
	}
	stored := time.Unix(0, storedNs).UTC()
	// Every delivery increments the consumer sequence. A jump means a delivery never reached us
	// (e.g. dropped by a slow client); skipping past it could lose the message, so start over from
	// the committed position.
	if prev := h.lastCons.Swap(cons); prev != 0 && cons != prev+1 {
		h.metrics.rewinds.WithLabelValues(string(h.lane)).Inc()
		h.log.Warn("consumer sequence gap", "lane", h.lane, "partition", h.partition, "after", prev, "got", cons)
		h.rewind(errRewind)
		return errRewind
	}
	if seq <= h.batcher.Seen(h.partition) {
		h.metrics.redelivered.WithLabelValues(string(h.lane)).Inc()
		return nil
	}

	ev, err := h.check(msg.Payload, md[mdSubject], stored)
	if err != nil {
		return h.deadLetter(msg, seq, stored, err)
	}
	added, err := h.batcher.Add(msg.Context(), h.partition, seq, stored, &ev)
	if err != nil {
		return err
	}
	if added {
		h.metrics.processed.WithLabelValues(string(h.lane), string(ev.Type)).Inc()
	}
	return nil
}

// check decodes and validates one event against its subject and the lane's time rules.
func (h *handler) check(payload []byte, subject string, stored time.Time) (events.Event, error) {
	ev, err := events.Decode(payload, h.rules.Limits)
	if err != nil {
		return ev, err
	}
	_, typ, tenant, _, err := events.ParseSubject(subject)
	if err != nil || typ != ev.Type || tenant != ev.TenantID {
		return ev, &events.RejectError{Reason: ReasonSubjectMismatch, Field: "subject",
			Detail: fmt.Sprintf("event of type %s for tenant %s published on %s", ev.Type, ev.TenantID, subject)}
	}
	r := window.Rules{MaxFuture: h.rules.Limits.MaxFuture}
	if h.lane == events.LaneBackfill {
		r.MaxAge = h.rules.BackfillMaxAge
	} else if ev.Type != events.TypeInventoryResource {
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

// deadLetter publishes the original bytes to deadletter.<lane>.<reason> with reason headers, then
// records the message as handled. The publish is de-duplicated by the source sequence, so a replay
// after a crash does not dead-letter twice.
func (h *handler) deadLetter(msg *message.Message, seq uint64, stored time.Time, cause error) error {
	reason := string(events.ReasonOf(cause))
	if reason == "" {
		reason = "invalid"
	}
	src := msg.Metadata[mdSubject]
	dl := &nats.Msg{Subject: streams.DeadLetterSubject(h.lane, reason), Data: msg.Payload, Header: nats.Header{}}
	dl.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s-%d", streams.StreamName(h.lane), seq))
	dl.Header.Set(streams.HeaderReason, reason)
	dl.Header.Set(streams.HeaderDetail, cause.Error())
	dl.Header.Set(streams.HeaderSourceSubject, src)
	dl.Header.Set(streams.HeaderSourceSeq, strconv.FormatUint(seq, 10))
	if id := msg.UUID; id != "" {
		dl.Header.Set(streams.HeaderEventID, truncate(id, 256))
	}
	ctx, cancel := context.WithTimeout(msg.Context(), 10*time.Second)
	defer cancel()
	if _, err := h.js.PublishMsg(ctx, dl); err != nil {
		return fmt.Errorf("dead-letter publish: %w", err)
	}
	if ok, err := h.batcher.Skip(h.partition, seq, stored); err != nil || !ok {
		return err
	}
	h.metrics.rejected.WithLabelValues(string(h.lane), reason).Inc()
	h.log.Debug("event dead-lettered", "lane", h.lane, "subject", src, "reason", reason, "err", cause)
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
