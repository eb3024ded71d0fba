package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spendstream/spendstream/schemas/events"
)

// Outgoing is one message to publish.
type Outgoing struct {
	Subject string
	MsgID   string // Nats-Msg-Id (events.MsgID: tenant:event id), so the stream drops producer retries
	Data    []byte
}

// Result is the broker's answer for one Outgoing.
type Result struct {
	Seq       uint64
	Duplicate bool // the stream already held this id within its duplicate window
	Err       error
}

// ErrNotAcked is returned for messages whose ack did not arrive before the context ended.
var ErrNotAcked = errors.New("jetstream did not acknowledge")

// Publisher publishes events to JetStream and waits for the stream's acknowledgement. It is what
// the HTTP gateway uses, and what Go producers can import to publish directly.
type Publisher struct {
	js jetstream.JetStream
}

// NewJetStream is the JetStream context spendstream publishes with: an acknowledgement that never
// arrives (say, a stream without a leader while the connection stays up) expires after ackTimeout
// instead of staying pending until the client refuses every further asynchronous publish.
func NewJetStream(nc *nats.Conn, ackTimeout time.Duration) (jetstream.JetStream, error) {
	return jetstream.New(nc, jetstream.WithPublishAsyncTimeout(ackTimeout),
		jetstream.WithPublishAsyncMaxPending(4*publishWindow))
}

// NewPublisher wraps a JetStream context (preferably one from NewJetStream).
func NewPublisher(js jetstream.JetStream) *Publisher { return &Publisher{js: js} }

// publishWindow bounds the asynchronous publishes in flight per call (the client's own limit
// stalls above 4,000).
const publishWindow = 1000

// Publish sends every message asynchronously and waits until each is acknowledged or failed, so a
// caller can answer "accepted" only for what the stream durably holds.
func (p *Publisher) Publish(ctx context.Context, msgs []Outgoing) []Result {
	res := make([]Result, len(msgs))
	for i := 0; i < len(msgs); i += publishWindow {
		j := min(i+publishWindow, len(msgs))
		if err := ctx.Err(); err != nil {
			for k := i; k < len(msgs); k++ {
				res[k].Err = fmt.Errorf("%w: %w", ErrNotAcked, err)
			}
			break
		}
		p.publish(ctx, msgs[i:j], res[i:j])
	}
	return res
}

// defaultStallWait bounds how long a publish waits for room among the client's pending
// acknowledgements when the caller's context has no deadline.
const defaultStallWait = 5 * time.Second

// stallWait is how long one publish may wait for room among the client's pending acknowledgements
// (concurrent requests share that window): as long as the caller's context allows, not the client's
// 200 ms default, which turns a burst of concurrent batches on a slow machine into failures.
func stallWait(ctx context.Context) time.Duration {
	d, ok := ctx.Deadline()
	if !ok {
		return defaultStallWait
	}
	return max(time.Until(d), time.Millisecond)
}

func (p *Publisher) publish(ctx context.Context, msgs []Outgoing, res []Result) {
	futs := make([]jetstream.PubAckFuture, len(msgs))
	for i, m := range msgs {
		nm := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: nats.Header{}}
		if m.MsgID != "" {
			nm.Header.Set(jetstream.MsgIDHeader, m.MsgID)
		}
		f, err := p.js.PublishMsgAsync(nm, jetstream.WithStallWait(stallWait(ctx)))
		if err != nil {
			res[i].Err = fmt.Errorf("publish: %w", err)
			continue
		}
		futs[i] = f
	}
	for i, f := range futs {
		if f == nil {
			continue
		}
		select {
		case ack := <-f.Ok():
			res[i] = Result{Seq: ack.Sequence, Duplicate: ack.Duplicate}
		case err := <-f.Err():
			if errors.Is(err, jetstream.ErrAsyncPublishTimeout) {
				res[i].Err = fmt.Errorf("%w: %w", ErrNotAcked, err)
			} else {
				res[i].Err = fmt.Errorf("publish: %w", err)
			}
		case <-ctx.Done():
			res[i].Err = fmt.Errorf("%w: %w", ErrNotAcked, ctx.Err())
		}
	}
}

// PublishEvent encodes one event and publishes it to its lane subject, waiting for the ack.
func (p *Publisher) PublishEvent(ctx context.Context, ev events.Event) (Result, error) {
	b, err := events.Encode(ev)
	if err != nil {
		return Result{}, err
	}
	r := p.Publish(ctx, []Outgoing{{Subject: events.Subject(ev), MsgID: events.MsgID(ev), Data: b}})[0]
	return r, r.Err
}
