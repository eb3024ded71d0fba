package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
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

// jsSubscriber is a Watermill Subscriber over one durable JetStream pull consumer that spendstream
// created at the committed position, with ack policy "none". Each Watermill message is one batch of
// the stream messages received since the previous batch was taken (see frames.go). The next batch is
// delivered only after the previous one was acked (in Watermill), so a partition is handled in
// stream order.
//
// Nothing is acknowledged to JetStream: exactly-once rests on the positions committed with each
// roll-up batch, and a restart or rewind creates the consumer afresh at them, so server-side acks
// would only cost the broker a pending entry per message and an ack to process (about 1 µs of
// nats-server CPU per event, measured in make bench). What acks would give instead — redelivery of a
// message that never arrived — the subscriber does itself: every delivery carries the consumer
// sequence, which must go up by one, and every idle heartbeat the sequence last delivered, which
// must not be beyond the last received. Either failing (a delivery lost on a reconnect, say) is
// reported to lost, which rewinds the consumers to the committed positions, and nothing after the
// gap is handed on.
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
	nc        *nats.Conn
	reqSubj   string // $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>
	pullMax   int
	heartbeat time.Duration // idle heartbeat asked for in pull requests
	lost      func(error)   // called once when a delivery is found missing
	log       *slog.Logger

	closing   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup

	notify chan struct{} // a message was buffered (capacity 1)

	mu       sync.Mutex
	inbox    string
	buf      []byte // frames received and not yet handed to the handler
	count    int    // frames in buf
	lastSeq  uint64 // stream sequence of the last frame in buf
	pending  int    // messages asked for and not yet received
	activity uint64 // messages and heartbeats received, for the heartbeat check
	received uint64 // consumer sequence of the last message received
	failed   bool   // a delivery went missing; nothing more is buffered
}

var _ message.Subscriber = (*jsSubscriber)(nil)

// newJSSubscriber returns a subscriber of a consumer that has delivered nothing yet (its first
// delivery must be consumer sequence 1). lost is called, once, when a delivery is found missing.
func newJSSubscriber(nc *nats.Conn, stream, consumer string, pullMax int, lost func(error), log *slog.Logger) *jsSubscriber {
	return &jsSubscriber{nc: nc, reqSubj: "$JS.API.CONSUMER.MSG.NEXT." + stream + "." + consumer, pullMax: max(pullMax, 2),
		heartbeat: pullHeartbeat, lost: lost, log: log, closing: make(chan struct{}), notify: make(chan struct{}, 1)}
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
		hb := time.NewTicker(s.heartbeat)
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
			payload, lastSeq := s.buf, s.lastSeq
			s.buf, s.count = spare[:0], 0
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
			case <-wm.Nacked():
				// The handler has asked for a rewind to the committed position.
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
	req = strconv.AppendInt(req, int64(s.heartbeat), 10)
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
	if s.failed {
		s.mu.Unlock()
		return
	}
	switch {
	case f.streamSeq == 0:
		s.failLocked(fmt.Errorf("message without jetstream metadata on %s (reply %q)", m.Subject, m.Reply))
		return
	case f.consumerSeq != s.received+1:
		s.failLocked(fmt.Errorf("%w: delivery %d after %d", errDeliveryLost, f.consumerSeq, s.received))
		return
	}
	s.received = f.consumerSeq
	s.buf = appendFrameSubject(s.buf, f, m.Subject)
	s.count++
	s.lastSeq = f.streamSeq
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

// lastConsumerSeqHeader of an idle heartbeat: the consumer sequence last delivered.
const lastConsumerSeqHeader = "Nats-Last-Consumer"

// errDeliveryLost: the consumer delivered a message that never arrived.
var errDeliveryLost = errors.New("jetstream delivery lost")

// failLocked stops buffering and reports err to lost, once. Called with mu held; releases it.
func (s *jsSubscriber) failLocked(err error) {
	first := !s.failed
	s.failed = true
	s.mu.Unlock()
	if first {
		s.lost(err)
	}
}

func (s *jsSubscriber) onStatus(m *nats.Msg, status string) {
	s.mu.Lock()
	s.activity++
	if status == "100" {
		// An idle heartbeat names the last consumer sequence delivered; every delivery before it
		// came over this connection ahead of it.
		if last, err := strconv.ParseUint(m.Header.Get(lastConsumerSeqHeader), 10, 64); err == nil && last > s.received {
			s.failLocked(fmt.Errorf("%w: delivered up to %d, received up to %d", errDeliveryLost, last, s.received))
			return
		}
		s.mu.Unlock()
		return
	}
	defer s.mu.Unlock()
	switch status {
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
	// The dots' offsets, the prefix's two included; after the prefix eight bytes at a time while
	// eight are left.
	dots := [16]int{3, 7}
	n := 2
	i := len(prefix)
	for ; len(reply)-i >= 8; i += 8 {
		for m := zeroBytes(load64(reply[i:]) ^ ('.' * ones)); m != 0; m &= m - 1 {
			if n == len(dots) {
				return 0, 0, 0, 0
			}
			dots[n] = i + bits.TrailingZeros64(m)>>3
			n++
		}
	}
	for ; i < len(reply); i++ {
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

// SWAR constants: one in every byte, seven low bits of every byte.
const (
	ones  = 0x0101010101010101
	lows7 = 0x7F7F7F7F7F7F7F7F
)

// load64 reads s[:8] as a little-endian word (the first byte lowest).
func load64(s string) uint64 {
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// zeroBytes sets the high bit of exactly the bytes of x that are zero (no carries between bytes).
func zeroBytes(x uint64) uint64 { return ^((x&lows7 + lows7) | x | lows7) }

// parseUint parses a decimal uint64 without sign or leading '+'.
func parseUint(s string) (uint64, bool) {
	// Up to 19 digits cannot overflow; 20 do when above the largest uint64 (for digits, the string
	// order is the numeric one).
	if len(s) == 0 || len(s) > 20 || len(s) == 20 && s > "18446744073709551615" {
		return 0, false
	}
	var v uint64
	// Eight digits at a time while eight are left (a timestamp has 19), then one at a time.
	for ; len(s) >= 8; s = s[8:] {
		d, ok := eightDigits(s)
		if !ok {
			return 0, false
		}
		v = v*1e8 + d
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// eightDigits parses s[:8] as eight decimal digits, all at once: the bytes are loaded as one
// little-endian word (the first digit lowest), checked to be '0' to '9' each, and combined in three
// multiply steps, pairs, then quads, then the two quads.
func eightDigits(s string) (uint64, bool) {
	x := load64(s)
	const hi = 0xF0F0F0F0F0F0F0F0
	// A digit's high nibble is 3 and its low nibble plus 6 stays below 0x10 (no byte carries over).
	if x&hi != 0x3030303030303030 || (x+0x0606060606060606)&hi != 0x3030303030303030 {
		return 0, false
	}
	x -= 0x3030303030303030
	x = x*10 + x>>8 // each 16-bit lane's low byte: two digits
	x = ((x&0x000000FF000000FF)*(100+1000000<<32) + (x>>16&0x000000FF000000FF)*(1+10000<<32)) >> 32
	return x, true
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
