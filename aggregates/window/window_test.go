package window

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestAssign(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*3600)
	cases := map[string]struct {
		in   time.Time
		step time.Duration
		want string
	}{
		"5m inside":            {ts("2026-03-10T12:03:59Z"), Step5m, "2026-03-10T12:00:00Z"},
		"5m on boundary":       {ts("2026-03-10T12:05:00Z"), Step5m, "2026-03-10T12:05:00Z"},
		"5m just before":       {ts("2026-03-10T12:04:59.999999999Z"), Step5m, "2026-03-10T12:00:00Z"},
		"1h":                   {ts("2026-03-10T12:59:59Z"), Step1h, "2026-03-10T12:00:00Z"},
		"1d utc midnight":      {ts("2026-03-10T23:59:59Z"), Step1d, "2026-03-10T00:00:00Z"},
		"1d from other zone":   {time.Date(2026, 3, 10, 0, 30, 0, 0, tokyo), Step1d, "2026-03-09T00:00:00Z"},
		"before epoch":         {ts("1969-12-31T23:59:00Z"), Step1h, "1969-12-31T23:00:00Z"},
		"sub-second truncated": {ts("2026-03-10T12:00:00.5Z"), Step5m, "2026-03-10T12:00:00Z"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := Assign(c.in, c.step)
			require.Equal(t, ts(c.want), got)
			require.Equal(t, time.UTC, got.Location())
		})
	}
}

func TestAssignInterval(t *testing.T) {
	require.Equal(t, ts("2026-03-10T12:00:00Z"), AssignInterval(ts("2026-03-10T12:05:00Z"), Step5m))
	require.Equal(t, ts("2026-03-10T12:05:00Z"), AssignInterval(ts("2026-03-10T12:05:00.001Z"), Step5m))
	require.Equal(t, ts("2026-03-10T11:00:00Z"), AssignInterval(ts("2026-03-10T12:00:00Z"), Step1h))
}

func TestRulesCheck(t *testing.T) {
	live := Rules{AllowedLateness: 10 * time.Minute, MaxFuture: 5 * time.Minute}
	backfill := Rules{MaxFuture: 5 * time.Minute, MaxAge: 400 * 24 * time.Hour}
	w := ts("2026-03-10T12:00:00Z") // window [12:00, 12:05), closes for late events at 12:15
	cases := map[string]struct {
		rules    Rules
		event    time.Time
		ingested time.Time
		wantErr  error
	}{
		"on time":                 {live, ts("2026-03-10T12:04:00Z"), ts("2026-03-10T12:04:01Z"), nil},
		"late but allowed":        {live, ts("2026-03-10T12:04:00Z"), ts("2026-03-10T12:14:59Z"), nil},
		"too late at the edge":    {live, ts("2026-03-10T12:04:00Z"), ts("2026-03-10T12:15:00Z"), ErrTooLate},
		"too late":                {live, ts("2026-03-10T12:01:00Z"), ts("2026-03-11T00:00:00Z"), ErrTooLate},
		"future within skew":      {live, ts("2026-03-10T12:04:00Z"), ts("2026-03-10T11:59:30Z"), nil},
		"future beyond skew":      {live, ts("2026-03-10T12:04:00Z"), ts("2026-03-10T11:58:59Z"), ErrFuture},
		"backfill old ok":         {backfill, ts("2026-03-10T12:04:00Z"), ts("2026-06-10T00:00:00Z"), nil},
		"backfill beyond horizon": {backfill, ts("2024-03-10T12:04:00Z"), ts("2026-06-10T00:00:00Z"), ErrTooOld},
		"backfill future":         {backfill, ts("2026-03-10T12:04:00Z"), ts("2026-03-10T11:00:00Z"), ErrFuture},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := c.rules.Check(c.event, w, Step5m, c.ingested)
			if c.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.True(t, errors.Is(err, c.wantErr), "got %v", err)
		})
	}
}

func TestParseStep(t *testing.T) {
	for _, s := range []string{"5m", "1h", "1d"} {
		d, err := ParseStep(s)
		require.NoError(t, err)
		require.Equal(t, s, StepName(d))
	}
	for _, s := range []string{"", "1m", "5M", "60m", "1w"} {
		_, err := ParseStep(s)
		require.Error(t, err, s)
	}
}

func TestRangeWindows(t *testing.T) {
	r := Range{From: ts("2026-03-10T10:30:00Z"), To: ts("2026-03-10T13:00:00Z"), Step: Step1h}
	require.Equal(t, []time.Time{ts("2026-03-10T10:00:00Z"), ts("2026-03-10T11:00:00Z"), ts("2026-03-10T12:00:00Z")}, r.Windows())
	require.Empty(t, Range{From: ts("2026-03-10T10:00:00Z"), To: ts("2026-03-10T10:00:00Z"), Step: Step1h}.Windows())
}

func BenchmarkAssign(b *testing.B) {
	t0 := ts("2026-03-10T12:03:59Z")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = AssignInterval(t0.Add(time.Duration(i)*time.Second), Step5m)
	}
}
