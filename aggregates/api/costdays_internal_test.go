package api

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/cost"
)

func TestDayRowsByDay(t *testing.T) {
	d := func(n int) time.Time { return time.Date(2026, 5, n, 0, 0, 0, 0, time.UTC) }
	vps := func(days ...int) []cost.VPSUsage {
		var out []cost.VPSUsage
		for _, n := range days {
			out = append(out, cost.VPSUsage{Day: d(n), ResourceID: "v"})
		}
		return out
	}
	count := func(r *dayRows, from, to time.Time) (days []time.Time, sizes []int) {
		for c := range r.byDay(from, to) {
			days, sizes = append(days, c.day), append(sizes, c.rows.len())
		}
		return days, sizes
	}
	r := &dayRows{vps: vps(1, 1, 3), email: []cost.EmailUsage{{Day: d(2)}, {Day: d(3)}}}
	days, sizes := count(r, d(1), d(5))
	require.Equal(t, []time.Time{d(1), d(2), d(3), d(4)}, days, "one chunk per day, empty days too")
	require.Equal(t, []int{2, 1, 2, 0}, sizes)
	for c := range r.byDay(d(1), d(5)) {
		require.Equal(t, len(c.rows.vps), cap(c.rows.vps), "a chunk cannot grow into the next day")
	}

	for name, bad := range map[string]*dayRows{
		"out of order":    {vps: vps(2, 1)},
		"before the days": {vps: vps(0, 1)},
		"after the days":  {vps: vps(1, 5)},
		"not a day start": {email: []cost.EmailUsage{{Day: d(2).Add(time.Hour)}}},
	} {
		days, _ := count(bad, d(1), d(5))
		require.Empty(t, days, name)
	}
}

func TestDayCacheBounds(t *testing.T) {
	d := func(n int) time.Time { return time.Date(2026, 5, n, 0, 0, 0, 0, time.UTC) }
	rows := func(n int) *dayRows { return &dayRows{vps: make([]cost.VPSUsage, n)} }
	c := &dayCache{max: 10}
	has := func(backfill string, days ...int) {
		t.Helper()
		for n := 1; n <= 5; n++ {
			_, ok := c.get(d(n), backfill)
			require.Equal(t, slices.Contains(days, n), ok, "day %d", n)
		}
	}
	has("b1")
	c.put(d(1), rows(4), "b1")
	c.put(d(2), rows(4), "b1")
	c.put(d(2), rows(1), "b1") // already there: kept as is
	c.put(d(3), rows(0), "b0") // read at other backfill positions: not kept
	has("b1", 1, 2)
	require.Equal(t, 8, c.cachedVPSRows(d(1), d(5)))
	require.Equal(t, 4, c.cachedVPSRows(d(2), d(5)))
	c.put(d(3), rows(4), "b1") // 12 rows > 10: the oldest day goes
	require.Equal(t, 8, c.rows)
	has("b1", 2, 3)
	c.put(d(4), rows(11), "b1") // larger than the whole cache: not kept
	require.Equal(t, 8, c.rows)
	has("b2") // the backfill moved: everything goes
	require.Zero(t, c.rows)

	off := &dayCache{max: -1}
	off.put(d(1), rows(1), "")
	_, ok := off.get(d(1), "")
	require.False(t, ok)
}
