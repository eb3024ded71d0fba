package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/schemas/generate"
)

func TestLiveRateOptions(t *testing.T) {
	base := demoGenOptions(1, 8, 6, 0)
	nVPS := len(generate.New(base).Fleet().VPS)
	cases := map[string]struct {
		rate float64
		want time.Duration
	}{
		"no rate keeps the default":     {0, base.SampleEvery},
		"one sample per VPS per second": {float64(nVPS), time.Second},
		"faster than the fleet can go":  {10 * float64(nVPS), time.Second},
		"one event per second":          {1, time.Duration(nVPS) * time.Second},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, c.want, liveRateOptions(base, c.rate).SampleEvery)
		})
	}
}

func TestPacedSink(t *testing.T) {
	var got int
	send := paced(func(_ context.Context, items []generate.Item) error { got += len(items); return nil }, 2000)
	start := time.Now()
	for range 3 {
		require.NoError(t, send(context.Background(), make([]generate.Item, 100)))
	}
	require.Equal(t, 300, got)
	// 300 events at 2,000/s cannot be sent in less than 150 ms.
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, paced(send, 1)(ctx, make([]generate.Item, 10)), context.Canceled)
}
