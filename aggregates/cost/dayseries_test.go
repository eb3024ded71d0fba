package cost

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDaySeriesJSONMatchesEncodingJSON: the hand-written encoding is byte for byte what
// encoding/json writes for the same []DayCost, inside a struct too.
func TestDaySeriesJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	day := time.Date(2025, 11, 27, 0, 0, 0, 0, time.UTC)
	series := []DaySeries{nil, {}, {{Day: day, Cost: 0}}, {{Day: day.Add(90 * time.Minute).In(time.FixedZone("x", 5*3600)), Cost: -1}},
		{{Day: day.Add(1234567 * time.Nanosecond), Cost: 4_590_000}}}
	for n := range 50 {
		s := make(DaySeries, n*8)
		for i := range s {
			s[i] = DayCost{Day: day.AddDate(0, 0, i), Cost: Money(r.Int64N(1e12) - 1e11)}
		}
		series = append(series, s)
	}
	type wrapped struct {
		Days  DaySeries `json:"days,omitempty"`
		ByDay DaySeries `json:"by_day"`
	}
	type plain struct {
		Days  []DayCost `json:"days,omitempty"`
		ByDay []DayCost `json:"by_day"`
	}
	for _, s := range series {
		got, err := json.Marshal(s)
		require.NoError(t, err)
		want, err := json.Marshal([]DayCost(s))
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
		got, err = json.Marshal(wrapped{s, s})
		require.NoError(t, err)
		want, err = json.Marshal(plain{s, s})
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
}
