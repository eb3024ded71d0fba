package posthogfwd

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes counted by spendstream_posthog_forward_events_total.
const (
	outcomeQueued  = "queued"  // taken into the forwarder's queue
	outcomeDropped = "dropped" // queue full, forwarder closed, or Close gave up
	outcomeSent    = "sent"    // upstream answered 2xx
	outcomeFailed  = "failed"  // posthog-go gave up (retries exhausted, closed, rejected)
)

type metrics struct {
	queued, dropped, sent, failed prometheus.Counter
}

// newMetrics registers the forwarder's metrics on reg. queueLen and inFlight
// are read at scrape time.
func newMetrics(reg prometheus.Registerer, queueLen, inFlight func() float64) (*metrics, error) {
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "spendstream_posthog_forward_events_total",
		Help: "PostHog events forwarded upstream, by outcome (queued, dropped, sent, failed).",
	}, []string{"outcome"})
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "spendstream_posthog_forward_queue_length",
		Help: "Events waiting in the forwarder's queue for posthog-go.",
	}, queueLen)
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "spendstream_posthog_forward_in_flight_events",
		Help: "Events handed to posthog-go whose outcome (sent or failed) is not known yet.",
	}, inFlight)
	for _, c := range []prometheus.Collector{events, queue, pending} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return &metrics{
		queued:  events.WithLabelValues(outcomeQueued),
		dropped: events.WithLabelValues(outcomeDropped),
		sent:    events.WithLabelValues(outcomeSent),
		failed:  events.WithLabelValues(outcomeFailed),
	}, nil
}

// failureLog logs forwarding failures at Warn, at most one line per every,
// with the number of events that failed since the previous line, so that a
// dead upstream does not flood the log.
type failureLog struct {
	log   *slog.Logger
	every time.Duration

	mu      sync.Mutex
	last    time.Time // of the last line
	pending int       // failed events not logged yet
	lastErr error
}

// add records n failed events.
func (l *failureLog) add(n int, err error) {
	l.mu.Lock()
	l.pending += n
	l.lastErr = err
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.mu.Unlock()
		return
	}
	count, lastErr := l.take(now)
	l.mu.Unlock()
	l.write(count, lastErr)
}

// flush logs the failures not logged yet, if any.
func (l *failureLog) flush() {
	l.mu.Lock()
	count, lastErr := l.take(time.Now())
	l.mu.Unlock()
	if count > 0 {
		l.write(count, lastErr)
	}
}

// take resets the pending count; l.mu must be held.
func (l *failureLog) take(now time.Time) (int, error) {
	count, err := l.pending, l.lastErr
	l.pending, l.lastErr, l.last = 0, nil, now
	return count, err
}

func (l *failureLog) write(count int, err error) {
	l.log.Warn("posthog forward failed; events dropped", "events", count, "err", err)
}

// slogLogger routes posthog-go's own log lines (one per failed attempt) to
// Debug: the forwarder reports outcomes itself, rate-limited.
type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Logf(format string, args ...any) { l.debugf(format, args...) }

func (l slogLogger) Errorf(format string, args ...any) { l.debugf(format, args...) }

func (l slogLogger) debugf(format string, args ...any) {
	l.log.Debug("posthog-go: " + fmt.Sprintf(format, args...))
}
