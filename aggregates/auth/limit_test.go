package auth

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLimiterBurstThenRefuse(t *testing.T) {
	clk := newClock(testNow)
	l, err := NewLimiter(LimiterConfig{Rate: 2, Burst: 5, Now: clk.Now})
	require.NoError(t, err)
	for i := range 5 {
		ok, wait := l.Allow("sub:alice")
		require.True(t, ok, "event %d of the burst", i)
		require.Zero(t, wait)
	}
	ok, wait := l.Allow("sub:alice")
	require.False(t, ok)
	assert.Equal(t, 500*time.Millisecond, wait, "one token at 2/s")

	ok, _ = l.Allow("sub:bob")
	assert.True(t, ok, "keys are independent")

	clk.Advance(200 * time.Millisecond)
	ok, wait = l.Allow("sub:alice")
	require.False(t, ok)
	assert.Equal(t, 300*time.Millisecond, wait)

	clk.Advance(300 * time.Millisecond)
	ok, _ = l.Allow("sub:alice")
	assert.True(t, ok, "refilled after retryAfter")
	ok, wait = l.Allow("sub:alice")
	assert.False(t, ok)
	assert.Positive(t, wait)
}

func TestLimiterKeyBound(t *testing.T) {
	clk := newClock(testNow)
	l, err := NewLimiter(LimiterConfig{Rate: 1, Burst: 1, MaxKeys: 3, Now: clk.Now})
	require.NoError(t, err)
	for _, k := range []string{"a", "b", "c"} {
		ok, _ := l.Allow(k)
		require.True(t, ok)
	}
	require.Equal(t, 3, l.Len())
	clk.Advance(10 * time.Millisecond)
	ok, _ := l.Allow("a") // a is now the most recently used; b the least
	require.False(t, ok)
	ok, _ = l.Allow("d") // evicts b
	require.True(t, ok)
	assert.Equal(t, 3, l.Len())
	ok, _ = l.Allow("c")
	assert.False(t, ok, "c was kept, its bucket still empty")
	ok, _ = l.Allow("a")
	assert.False(t, ok, "a was kept")
	ok, _ = l.Allow("b")
	assert.True(t, ok, "b was forgotten and starts full")
	assert.Equal(t, 3, l.Len())
}

func TestLimiterTTL(t *testing.T) {
	clk := newClock(testNow)
	l, err := NewLimiter(LimiterConfig{Rate: 10, Burst: 10, TTL: time.Millisecond, Now: clk.Now})
	require.NoError(t, err)
	for i := range 100 {
		l.Allow(fmt.Sprint("k", i))
	}
	require.Equal(t, 100, l.Len())
	clk.Advance(500 * time.Millisecond) // below the refill time (1s), which is the TTL's floor
	l.Allow("x")
	require.Equal(t, 101, l.Len())
	clk.Advance(600 * time.Millisecond)
	l.Allow("x")
	assert.Equal(t, 1, l.Len(), "keys idle for longer than the TTL are forgotten")
}

func TestNewLimiterRefuses(t *testing.T) {
	for name, cfg := range map[string]LimiterConfig{
		"zero rate":     {Burst: 1},
		"negative rate": {Rate: -1, Burst: 1},
		"zero burst":    {Rate: 1},
		"negative keys": {Rate: 1, Burst: 1, MaxKeys: -1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewLimiter(cfg)
			require.Error(t, err)
		})
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l, err := NewLimiter(LimiterConfig{Rate: 1e-3, Burst: 10, MaxKeys: 8})
	require.NoError(t, err)
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if ok, _ := l.Allow("shared"); ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 10, allowed)
}
