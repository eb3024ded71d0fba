package api

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/cost"
)

// TestSpliceDataMatchesEncoding: an envelope whose data was encoded ahead (a cached view) is
// written byte for byte as the envelope holding the data itself.
func TestSpliceDataMatchesEncoding(t *testing.T) {
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	asOf := jsonTime(now.Add(-time.Minute))
	data := []any{
		breakdownJSON{By: "tenant", Step: "1d", Total: 1234567, Currency: "USD", Groups: []cost.Group{
			{Key: "t-<&>", Cost: 5, Share: 1, Days: cost.DaySeries{{Day: now, Cost: -1}}}}, GroupCount: 1},
		map[string]any{"items": []string{}, "html": "<b>&</b>"},
		nil,
	}
	for _, d := range data {
		env := envelope{Data: d, AggregatedAsOf: &asOf, GeneratedAt: jsonTime(now),
			Window: &windowJSON{From: jsonTime(now), To: jsonTime(now), Step: "1d"}, Labels: cost.Labels()}
		var want bytes.Buffer
		require.NoError(t, encodeResponse(&want, env))

		pre, err := encodeData(d)
		require.NoError(t, err)
		env.Data = pre
		var got bytes.Buffer
		require.NoError(t, encodeResponse(&got, env)) // spliced
		require.Equal(t, want.String(), got.String())
	}
}
