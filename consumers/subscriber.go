package consumers

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"
)

// jsSubscriber is a Watermill Subscriber over one durable JetStream pull consumer (ack policy
// "all") that spendstream created at the committed position. Each Watermill message is one batch of
// up to maxBatch stream messages already received (see frames.go); its ack acknowledges the batch's
// last message, and with it the whole batch. The next batch is delivered only after the previous
// one was acked, so a partition is handled in stream order.
//
// It is written here rather than taken from watermill-nats, whose pkg/jetstream closes its output
// channel from another goroutine than the one sending on it (a "send on closed channel" panic when
// a router closes under load) and delivers one stream message per Watermill message.
type jsSubscriber struct {
	cons     jetstream.Consumer
	pullMax  int
	maxBatch int
	log      *slog.Logger

	closing   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

var _ message.Subscriber = (*jsSubscriber)(nil)

func newJSSubscriber(cons jetstream.Consumer, pullMax, maxBatch int, log *slog.Logger) *jsSubscriber {
	return &jsSubscriber{cons: cons, pullMax: pullMax, maxBatch: maxBatch, log: log, closing: make(chan struct{})}
}

// Subscribe starts delivering batches. The topic is informational.
func (s *jsSubscriber) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	it, err := s.cons.Messages(jetstream.PullMaxMessages(s.pullMax))
	if err != nil {
		return nil, err
	}
	in := make(chan jetstream.Msg, s.maxBatch)
	out := make(chan *message.Message)
	s.wg.Add(3)
	go func() { // stop the iterator when the subscription ends; this unblocks Next
		defer s.wg.Done()
		select {
		case <-ctx.Done():
		case <-s.closing:
		}
		it.Stop()
	}()
	go func() { // pump: the iterator prefetches; buffered messages are batched by the loop below
		defer s.wg.Done()
		defer close(in)
		for {
			m, err := it.Next()
			if err != nil {
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					return
				}
				s.log.Warn("jetstream pull failed", "err", err)
				continue
			}
			select {
			case in <- m:
			case <-s.closing:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		defer s.wg.Done()
		defer close(out)
		batch := make([]jetstream.Msg, 0, s.maxBatch)
		var payload []byte
		for {
			batch = batch[:0]
			m, ok := <-in
			if !ok {
				return
			}
			batch = append(batch, m)
		fill:
			for len(batch) < s.maxBatch {
				select {
				case m, ok := <-in:
					if !ok {
						break fill
					}
					batch = append(batch, m)
				default:
					break fill
				}
			}
			payload = payload[:0]
			var lastSeq uint64
			for _, m := range batch {
				payload, lastSeq = appendMsgFrame(payload, m)
			}
			last := batch[len(batch)-1]
			// The payload buffer is reused: the handler is done with it once it acked or nacked,
			// which is before the next batch is framed (decoded events do not alias it).
			wm := message.NewMessage(strconv.FormatUint(lastSeq, 10), payload)
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
				if err := last.Ack(); err != nil {
					s.log.Warn("jetstream ack failed", "err", err)
				}
			case <-wm.Nacked():
				// The handler has asked for a rewind to the committed position; leave the batch
				// unacknowledged.
			case <-ctx.Done():
				return
			case <-s.closing:
				return
			}
		}
	}()
	return out, nil
}

// appendMsgFrame frames one stream message and returns its stream sequence. A message without
// JetStream metadata (which a pull consumer never delivers) gets sequence 0, which the handler
// refuses.
func appendMsgFrame(b []byte, m jetstream.Msg) ([]byte, uint64) {
	f := frame{data: m.Data()}
	if md, err := m.Metadata(); err == nil {
		f.streamSeq, f.consumerSeq, f.storedNanos = md.Sequence.Stream, md.Sequence.Consumer, md.Timestamp.UnixNano()
		f.pending = md.NumPending
	}
	return appendFrameSubject(b, f, m.Subject()), f.streamSeq
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
