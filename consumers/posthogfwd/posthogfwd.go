// Package posthogfwd forwards accepted PostHog events to an upstream PostHog
// with the posthog-go client, without ever blocking or failing ingestion.
//
// Forward puts events in a bounded queue and returns at once; when the queue
// is full the events are dropped and counted. One goroutine moves them from
// the queue into posthog-go, which batches them and POSTs them to
// {Endpoint}/batch/, retrying failed requests. Outcomes are counted in
// spendstream_posthog_forward_events_total{outcome} and failures are logged at
// Warn, rate-limited.
//
// Two bounds keep memory finite when upstream is slow or down: QueueSize
// events in the queue, and MaxInFlight events inside posthog-go. The second
// is needed because posthog-go itself has none: its Enqueue blocks while its
// 100-message channel is full, and each batch it sends runs in a goroutine of
// its own (up to 10 attempts, with 10 s HTTP timeouts and backoff), without a
// limit on how many run at once.
package posthogfwd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	phgo "github.com/posthog/posthog-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spendstream/spendstream/schemas/posthog"
)

// Config of the forwarder. Endpoint and APIKey are required; any other zero
// field takes its default.
type Config struct {
	// Endpoint is the upstream base URL, e.g. https://eu.i.posthog.com;
	// events are POSTed to Endpoint + "/batch/".
	Endpoint string
	// APIKey is the upstream project key; every event is re-keyed to it.
	APIKey string
	// QueueSize bounds the queue in front of posthog-go. Default 10000.
	QueueSize int
	// MaxInFlight bounds the events handed to posthog-go whose outcome is
	// not known yet (being batched, sent or retried). While it is reached,
	// the queue fills up and then Forward drops. Default 10000.
	MaxInFlight int
	// BatchSize is posthog-go's batch size. Default 250.
	BatchSize int
	// Interval is posthog-go's flush interval. Default 1 s.
	Interval time.Duration
	// RetryAfter returns how long posthog-go waits after failed attempt n
	// (0-based; 10 attempts per batch). Default: posthog-go's, 100 ms × 2ⁿ
	// capped at 10 s.
	RetryAfter func(attempt int) time.Duration
	// LogEvery is the least time between two Warn lines about failures.
	// Default 10 s.
	LogEvery time.Duration
}

// Defaults of Config.
const (
	DefaultQueueSize   = 10000
	DefaultMaxInFlight = 10000
	DefaultBatchSize   = phgo.DefaultBatchSize
	DefaultInterval    = time.Second
	DefaultLogEvery    = 10 * time.Second
)

func (c Config) withDefaults() Config {
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.LogEvery == 0 {
		c.LogEvery = DefaultLogEvery
	}
	return c
}

// Validate reports the first invalid field of c.
func (c Config) Validate() error {
	u, err := url.Parse(c.Endpoint)
	switch {
	case c.Endpoint == "":
		return errors.New("endpoint is required")
	case err != nil:
		return fmt.Errorf("endpoint: %w", err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return fmt.Errorf("endpoint %q is not an http(s) URL", c.Endpoint)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("endpoint %q has a query or fragment", c.Endpoint)
	case c.APIKey == "":
		return errors.New("api key is required")
	case strings.HasPrefix(c.APIKey, "phx_"):
		return errors.New("api key is a personal API key (phx_); capture needs the project key (phc_)")
	case c.QueueSize < 0, c.MaxInFlight < 0, c.BatchSize < 0:
		return errors.New("queue size, max in flight and batch size must not be negative")
	case c.Interval < 0, c.LogEvery < 0:
		return errors.New("interval and log interval must not be negative")
	}
	return nil
}

// Forwarder forwards events to an upstream PostHog. It is safe for
// concurrent use.
type Forwarder struct {
	apiKey  string
	metrics *metrics
	fails   *failureLog

	// live sends ordinary events, historical those of requests with
	// historical_migration: true, which posthog-go sets per client.
	live, historical phgo.Client

	mu     sync.RWMutex // guards closed and the closing of queue
	closed bool
	queue  chan posthog.Event

	inFlight chan struct{} // one token per event inside posthog-go

	pumped    chan struct{} // closed when pump has returned
	abort     chan struct{} // closed when a Close gives up: pump drops what is left
	abortOnce sync.Once
	finished  chan struct{} // closed when both clients are closed
	closeErr  error         // set before finished is closed
}

// New starts a forwarder and registers its metrics on reg (nil: a private
// registry). log receives failures (nil: discarded).
func New(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Forwarder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("posthogfwd: %w", err)
	}
	cfg = cfg.withDefaults()
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Forwarder{
		apiKey:   cfg.APIKey,
		fails:    &failureLog{log: log, every: cfg.LogEvery},
		queue:    make(chan posthog.Event, cfg.QueueSize),
		inFlight: make(chan struct{}, cfg.MaxInFlight),
		pumped:   make(chan struct{}),
		abort:    make(chan struct{}),
		finished: make(chan struct{}),
	}
	m, err := newMetrics(reg,
		func() float64 { return float64(len(f.queue)) },
		func() float64 { return float64(len(f.inFlight)) })
	if err != nil {
		return nil, fmt.Errorf("posthogfwd: %w", err)
	}
	f.metrics = m

	pcfg := phgo.Config{
		Endpoint:   strings.TrimRight(cfg.Endpoint, "/"),
		Interval:   cfg.Interval,
		BatchSize:  cfg.BatchSize,
		RetryAfter: cfg.RetryAfter,
		Logger:     slogLogger{log},
		Callback:   callback{f},
	}
	if f.live, err = phgo.NewWithConfig(cfg.APIKey, pcfg); err != nil {
		return nil, fmt.Errorf("posthogfwd: %w", err)
	}
	pcfg.HistoricalMigration = true
	if f.historical, err = phgo.NewWithConfig(cfg.APIKey, pcfg); err != nil {
		_ = f.live.Close()
		return nil, fmt.Errorf("posthogfwd: %w", err)
	}
	go f.pump()
	return f, nil
}

// Forward queues evs for upstream and returns at once, whatever the state of
// upstream: the events that do not fit in the queue, or that come after
// Close, are dropped and counted. The events must not be modified afterwards
// (their maps are read later, when posthog-go serialises them).
func (f *Forwarder) Forward(evs []posthog.Event) {
	if len(evs) == 0 {
		return
	}
	queued := 0
	f.mu.RLock()
	if !f.closed {
	loop:
		for _, ev := range evs {
			ev.Raw = nil // not forwarded; do not hold it in the queue
			select {
			case f.queue <- ev:
				queued++
			default:
				break loop
			}
		}
	}
	f.mu.RUnlock()
	f.metrics.queued.Add(float64(queued))
	if dropped := len(evs) - queued; dropped > 0 {
		f.metrics.dropped.Add(float64(dropped))
	}
}

// Close stops accepting events, hands those still queued to posthog-go and
// closes it, which sends what it holds (one attempt for a batch that fails).
// When ctx ends first, the events not yet handed over are dropped and counted,
// Close returns ctx's error, and posthog-go finishes in the background: at
// most one HTTP attempt per batch, each bounded by posthog-go's 10 s timeout.
// Close may be called more than once.
func (f *Forwarder) Close(ctx context.Context) error {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		close(f.queue)
		go f.shutdown()
	}
	f.mu.Unlock()

	select {
	case <-f.finished:
		return f.closeErr
	case <-ctx.Done():
		f.abortOnce.Do(func() { close(f.abort) })
		return fmt.Errorf("posthogfwd: close: %w", ctx.Err())
	}
}

func (f *Forwarder) shutdown() {
	<-f.pumped
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, c := range []phgo.Client{f.live, f.historical} {
		wg.Go(func() { errs[i] = c.Close() })
	}
	wg.Wait()
	f.fails.flush()
	if err := errors.Join(errs...); err != nil {
		f.closeErr = fmt.Errorf("posthogfwd: close: %w", err)
	}
	close(f.finished)
}

// pump moves events from the queue into posthog-go until the queue is closed
// and empty, or Close gives up.
func (f *Forwarder) pump() {
	defer close(f.pumped)
	for ev := range f.queue {
		select {
		case f.inFlight <- struct{}{}:
		case <-f.abort:
			n := 1
			for range f.queue {
				n++
			}
			f.metrics.dropped.Add(float64(n))
			return
		}
		c := f.live
		if ev.Historical {
			c = f.historical
		}
		// Enqueue does not wait on the network (posthog-go sends from its own
		// goroutines) but blocks while its 100-message channel is full.
		if err := c.Enqueue(toCapture(ev, f.apiKey)); err != nil {
			f.done(false, err)
		}
	}
}

// done records the outcome of one event handed to posthog-go.
func (f *Forwarder) done(sent bool, err error) {
	select {
	case <-f.inFlight:
	default: // not ours; cannot happen without feature flags
	}
	if sent {
		f.metrics.sent.Inc()
		return
	}
	f.metrics.failed.Inc()
	f.fails.add(1, err)
}

// callback receives posthog-go's outcome of every message, from its goroutines.
type callback struct{ f *Forwarder }

func (c callback) Success(phgo.APIMessage) { c.f.done(true, nil) }

func (c callback) Failure(_ phgo.APIMessage, err error) { c.f.done(false, err) }
