package consumers

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"
)

// jsSubscriber is a Watermill Subscriber over one durable JetStream pull consumer that spendstream
// created at the committed position. It is written here rather than taken from watermill-nats,
// whose pkg/jetstream closes its output channel from another goroutine than the one sending on it
// and so can panic ("send on closed channel") when a router closes under load. Here one goroutine
// sends, waits for the ack or nack, and closes.
type jsSubscriber struct {
	cons     jetstream.Consumer
	pullMax  int
	nakDelay time.Duration
	log      *slog.Logger

	closing   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

var _ message.Subscriber = (*jsSubscriber)(nil)

func newJSSubscriber(cons jetstream.Consumer, pullMax int, log *slog.Logger) *jsSubscriber {
	return &jsSubscriber{cons: cons, pullMax: pullMax, nakDelay: time.Second, log: log, closing: make(chan struct{})}
}

// Subscribe delivers the consumer's messages one at a time: the next only after the previous was
// acked or nacked, so a partition is handled in stream order. The topic is informational.
func (s *jsSubscriber) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	it, err := s.cons.Messages(jetstream.PullMaxMessages(s.pullMax))
	if err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		select {
		case <-ctx.Done():
		case <-s.closing:
		}
		it.Stop() // unblocks Next
	}()
	go func() {
		defer s.wg.Done()
		defer close(out)
		for {
			jm, err := it.Next()
			if err != nil {
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					return
				}
				s.log.Warn("jetstream pull failed", "err", err)
				continue
			}
			wm, _ := jsUnmarshaler{}.Unmarshal(jm)
			wm.SetContext(ctx)
			select {
			case out <- wm:
			case <-ctx.Done():
				return
			case <-s.closing:
				return
			}
			select {
			case <-wm.Acked():
				if err := jm.Ack(); err != nil {
					s.log.Warn("jetstream ack failed", "err", err)
				}
			case <-wm.Nacked():
				if err := jm.NakWithDelay(s.nakDelay); err != nil {
					s.log.Warn("jetstream nak failed", "err", err)
				}
			case <-ctx.Done():
				return
			case <-s.closing:
				return
			}
		}
	}()
	return out, nil
}

// Close stops delivery and waits for the subscription goroutines.
func (s *jsSubscriber) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("jetstream subscriber did not stop within 10s")
	}
}
