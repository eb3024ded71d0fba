package auth

import (
	"container/list"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LimiterConfig configures a Limiter.
type LimiterConfig struct {
	// Rate is the sustained rate per key, in events per second (> 0).
	Rate float64
	// Burst is how many events a key may spend at once (>= 1).
	Burst int
	// MaxKeys bounds the keys tracked; past it the least recently used key is forgotten
	// (default 10,000).
	MaxKeys int
	// TTL is how long an unused key is remembered (default and minimum: the time a bucket takes to
	// refill, so forgetting an idle key never grants more than it already had).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultLimiterMaxKeys is the default LimiterConfig.MaxKeys.
const DefaultLimiterMaxKeys = 10_000

// Limiter is a token-bucket rate limiter per key (a subject, a producer name, a client address),
// over golang.org/x/time/rate, remembering a bounded number of keys. Safe for concurrent use.
//
// A key forgotten before its bucket refilled (only when more than MaxKeys keys are active within
// a TTL) starts again with a full bucket; size MaxKeys above the number of legitimate callers.
type Limiter struct {
	cfg  LimiterConfig
	mu   sync.Mutex
	lru  *list.List // of *limitEntry, most recently used at the front
	keys map[string]*list.Element
}

type limitEntry struct {
	key      string
	lim      *rate.Limiter
	lastUsed time.Time
}

// NewLimiter returns a Limiter.
func NewLimiter(cfg LimiterConfig) (*Limiter, error) {
	if cfg.Rate <= 0 || math.IsInf(cfg.Rate, 0) || math.IsNaN(cfg.Rate) {
		return nil, fmt.Errorf("rate limit: rate %v, want > 0", cfg.Rate)
	}
	if cfg.Burst < 1 {
		return nil, errors.New("rate limit: burst must be at least 1")
	}
	if cfg.MaxKeys < 0 {
		return nil, errors.New("rate limit: negative max keys")
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultLimiterMaxKeys
	}
	refill := time.Duration(float64(cfg.Burst) / cfg.Rate * float64(time.Second))
	if cfg.TTL < refill {
		cfg.TTL = refill
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{cfg: cfg, lru: list.New(), keys: map[string]*list.Element{}}, nil
}

// Allow spends one event of key's budget. When the budget is spent it returns false and how long
// until the next event would be allowed (> 0), for a Retry-After header.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expire(now)
	var e *limitEntry
	if el, found := l.keys[key]; found {
		l.lru.MoveToFront(el)
		e = el.Value.(*limitEntry)
	} else {
		for l.lru.Len() >= l.cfg.MaxKeys {
			l.remove(l.lru.Back())
		}
		e = &limitEntry{key: key, lim: rate.NewLimiter(rate.Limit(l.cfg.Rate), l.cfg.Burst)}
		l.keys[key] = l.lru.PushFront(e)
	}
	e.lastUsed = now
	if e.lim.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - e.lim.TokensAt(now)
	wait := time.Duration(math.Ceil(missing / l.cfg.Rate * float64(time.Second)))
	return false, max(wait, time.Nanosecond)
}

// Len returns the number of keys remembered.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// expire forgets the keys unused for longer than the TTL (from the least recently used end).
func (l *Limiter) expire(now time.Time) {
	for el := l.lru.Back(); el != nil; el = l.lru.Back() {
		if now.Sub(el.Value.(*limitEntry).lastUsed) <= l.cfg.TTL {
			return
		}
		l.remove(el)
	}
}

func (l *Limiter) remove(el *list.Element) {
	delete(l.keys, el.Value.(*limitEntry).key)
	l.lru.Remove(el)
}
