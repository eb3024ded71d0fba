package consumers

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// Pull requests of the roll-up consumers: each asks for up to pullMax messages and lives at most
// pullExpires; while it waits, the server sends an idle heartbeat every pullHeartbeat.
const (
	pullExpires   = 30 * time.Second
	pullHeartbeat = 5 * time.Second
)

// jsSubscriber is a Watermill Subscriber over one durable JetStream pull consumer (ack policy
// "all") that spendstream created at the committed position. Each Watermill message is one batch of
// the stream messages received since the previous batch was taken (see frames.go); its ack
// acknowledges the batch's last message, and with it the whole batch. The next batch is delivered
// only after the previous one was acked, so a partition is handled in stream order.
//
// It speaks the JetStream pull protocol over a plain core NATS subscription instead of using the
// jetstream package's iterator, which costs a timer, a message wrapper and a channel hop per message:
// here the subscription's callback frames each message straight into the pending batch, reading the
// position from the message's reply subject. Pull requests keep at most pullMax messages asked for
// or buffered, so a slow handler stops the flow (and JetStream holds the rest).
//
// It is written here rather than taken from watermill-nats, whose pkg/jetstream closes its output
// channel from another goroutine than the one sending on it (a "send on closed channel" panic when
// a router closes under load) and delivers one stream message per Watermill message.
type jsSubscriber struct {
	nc      *nats.Conn
	reqSubj string // $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>
	pullMax int
	log     *slog.Logger

	closing   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup

	notify chan struct{} // a message was buffered (capacity 1)

	mu        sync.Mutex
	inbox     string
	buf       []byte // frames received and not yet handed to the handler
	count     int    // frames in buf
	lastReply string // ack subject of the last frame in buf
	lastSeq   uint64 // stream sequence of the last frame in buf
	pending   int    // messages asked for and not yet received
	activity  uint64 // messages and heartbeats received, for the heartbeat check
}

var _ message.Subscriber = (*jsSubscriber)(nil)

func newJSSubscriber(nc *nats.Conn, stream, consumer string, pullMax int, log *slog.Logger) *jsSubscriber {
	return &jsSubscriber{nc: nc, reqSubj: "$JS.API.CONSUMER.MSG.NEXT." + stream + "." + consumer, pullMax: max(pullMax, 2),
		log: log, closing: make(chan struct{}), notify: make(chan struct{}, 1)}
}

// Subscribe starts delivering batches. The topic is informational. Call it once.
func (s *jsSubscriber) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	s.inbox = s.nc.NewInbox()
	sub, err := s.nc.Subscribe(s.inbox, s.onMsg)
	if err != nil {
		return nil, err
	}
	reconnected := s.nc.StatusChanged(nats.CONNECTED)
	s.mu.Lock()
	s.askLocked()
	s.mu.Unlock()
	out := make(chan *message.Message)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(out)
		listener := reconnected
		defer func() {
			_ = sub.Unsubscribe()
			s.nc.RemoveStatusListener(listener)
		}()
		hb := time.NewTicker(pullHeartbeat)
		defer hb.Stop()
		var spare []byte
		seen := [2]uint64{^uint64(0), ^uint64(0)} // activity at the last two heartbeat ticks
		for {
			select {
			case <-s.notify:
			case <-hb.C:
				s.checkHeartbeat(&seen)
				continue
			case _, ok := <-reconnected:
				if !ok {
					reconnected = nil
					continue
				}
				// Pull requests do not survive a reconnect: ask again.
				s.mu.Lock()
				s.pending = 0
				s.askLocked()
				s.mu.Unlock()
				continue
			case <-ctx.Done():
				return
			case <-s.closing:
				return
			}
			s.mu.Lock()
			if s.count == 0 {
				s.mu.Unlock()
				continue
			}
			payload, reply, lastSeq := s.buf, s.lastReply, s.lastSeq
			s.buf, s.count, s.lastReply = spare[:0], 0, ""
			s.askLocked()
			s.mu.Unlock()

			// The payload buffer is reused: the handler is done with it once it acked or nacked,
			// which is before it is filled again (decoded events borrow from it only until the
			// batch was added to the roll-ups, before the ack).
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
				// Ack policy "all": acknowledging the last message acknowledges the batch.
				if err := s.nc.Publish(reply, ackPayload); err != nil {
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
			spare = payload
		}
	}()
	return out, nil
}

var ackPayload = []byte("+ACK")

// askLocked sends a pull request when the messages asked for and buffered are at most half of
// pullMax, for as many as bring them back to pullMax. Called with mu held.
func (s *jsSubscriber) askLocked() {
	if s.pending+s.count > s.pullMax/2 {
		return
	}
	n := s.pullMax - s.pending - s.count
	var b [96]byte
	req := append(b[:0], `{"batch":`...)
	req = strconv.AppendInt(req, int64(n), 10)
	req = append(req, `,"expires":`...)
	req = strconv.AppendInt(req, int64(pullExpires), 10)
	req = append(req, `,"idle_heartbeat":`...)
	req = strconv.AppendInt(req, int64(pullHeartbeat), 10)
	req = append(req, '}')
	if err := s.nc.PublishRequest(s.reqSubj, s.inbox, req); err != nil {
		// Asked again at the next heartbeat check.
		s.log.Warn("jetstream pull request failed", "err", err)
		return
	}
	s.pending += n
}

// checkHeartbeat forgets the outstanding pull requests when nothing (not even a heartbeat) arrived
// for two heartbeat intervals although messages were asked for, and asks again.
func (s *jsSubscriber) checkHeartbeat(seen *[2]uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.activity
	if s.pending > 0 && now == seen[0] {
		s.log.Debug("jetstream pull: no heartbeat; asking again", "subject", s.reqSubj)
		s.pending = 0
	}
	seen[0], seen[1] = seen[1], now
	s.askLocked()
}

// onMsg is the subscription's callback: it frames a stream message into the pending batch, or
// accounts for a status message (heartbeat, an expired or ended pull request).
func (s *jsSubscriber) onMsg(m *nats.Msg) {
	if len(m.Data) == 0 && len(m.Header) > 0 {
		if status := m.Header.Get("Status"); status != "" {
			s.onStatus(m, status)
			return
		}
	}
	f := frame{data: m.Data}
	f.streamSeq, f.consumerSeq, f.storedNanos, f.pending = parseAckSubject(m.Reply)
	s.mu.Lock()
	s.buf = appendFrameSubject(s.buf, f, m.Subject)
	s.count++
	s.lastReply, s.lastSeq = m.Reply, f.streamSeq
	if s.pending > 0 {
		s.pending--
	}
	s.activity++
	s.askLocked()
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *jsSubscriber) onStatus(m *nats.Msg, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.activity++
	switch status {
	case "100": // idle heartbeat or flow control
		return
	case "408":
		// A pull request expired; the server says how many of its messages it did not deliver.
		if left, err := strconv.Atoi(m.Header.Get("Nats-Pending-Messages")); err == nil && left >= 0 {
			s.pending = max(0, s.pending-left)
		} else {
			s.pending = 0
		}
		s.askLocked() // a new request expires only after pullExpires
		return
	case "404", "409":
		// A pull request was cut short or refused. Ask again at the next heartbeat check rather
		// than at once: a request refused for a lasting reason would be refused again.
		if left, err := strconv.Atoi(m.Header.Get("Nats-Pending-Messages")); err == nil && left >= 0 {
			s.pending = max(0, s.pending-left)
			return
		}
		s.log.Debug("jetstream pull request ended", "subject", s.reqSubj, "status", status,
			"description", m.Header.Get("Description"))
	default:
		s.log.Warn("jetstream pull: unexpected status", "subject", s.reqSubj, "status", status,
			"description", m.Header.Get("Description"))
	}
	s.pending = 0 // unknown: ask afresh at the next heartbeat check
}

// parseAckSubject reads the position of a JetStream message from its reply subject:
//
//	$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<unix nanos>.<pending>
//	$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<unix nanos>.<pending>[.<token>...]
//
// It returns zeros for anything else (a message without JetStream metadata, which the handler
// refuses).
func parseAckSubject(reply string) (streamSeq, consumerSeq uint64, storedNanos int64, pending uint64) {
	const prefix = "$JS.ACK."
	if len(reply) <= len(prefix) || reply[:len(prefix)] != prefix {
		return 0, 0, 0, 0
	}
	var dots [16]int
	n := 0
	for i := 0; i < len(reply); i++ {
		if reply[i] == '.' {
			if n == len(dots) {
				return 0, 0, 0, 0
			}
			dots[n] = i
			n++
		}
	}
	tokens := n + 1
	var first int // token index of <delivered>
	switch {
	case tokens == 9:
		first = 4
	case tokens >= 11:
		first = 6
	default:
		return 0, 0, 0, 0
	}
	token := func(k int) string {
		end := len(reply)
		if k < n {
			end = dots[k]
		}
		return reply[dots[k-1]+1 : end]
	}
	var ok [4]bool
	streamSeq, ok[0] = parseUint(token(first + 1))
	consumerSeq, ok[1] = parseUint(token(first + 2))
	ts, okTS := parseUint(token(first + 3))
	pending, ok[3] = parseUint(token(first + 4))
	ok[2] = okTS && ts <= 1<<63-1
	if !ok[0] || !ok[1] || !ok[2] || !ok[3] {
		return 0, 0, 0, 0
	}
	return streamSeq, consumerSeq, int64(ts), pending
}

func parseUint(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
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
