package cost

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAllocate(t *testing.T) {
	tests := map[string]struct {
		total   Money
		weights []int64
		want    []Money
		wantOK  bool
	}{
		"2:1 exact":                  {total: 3_600_000, weights: []int64{2, 1}, want: []Money{2_400_000, 1_200_000}, wantOK: true},
		"thirds: remainder to first": {total: 10, weights: []int64{1, 1, 1}, want: []Money{4, 3, 3}, wantOK: true},
		// 100 × 1/6 = 16.67, × 2/6 = 33.33, × 3/6 = 50: floors 16 + 33 + 50 = 99, the micro-unit
		// left goes to the largest remainder (16.67).
		"largest remainder":   {total: 100, weights: []int64{1, 2, 3}, want: []Money{17, 33, 50}, wantOK: true},
		"zero weight gets 0":  {total: 7, weights: []int64{0, 1, 0, 1}, want: []Money{0, 4, 0, 3}, wantOK: true},
		"all zero":            {total: 7, weights: []int64{0, 0}, want: []Money{0, 0}, wantOK: false},
		"no parties":          {total: 7, weights: nil, want: []Money{}, wantOK: false},
		"zero total":          {total: 0, weights: []int64{1, 2}, want: []Money{0, 0}, wantOK: true},
		"huge weights":        {total: 1_000_000_007, weights: []int64{1 << 62, 1 << 61}, want: []Money{666_666_671, 333_333_336}, wantOK: true},
		"huge total":          {total: 1 << 62, weights: []int64{3, 1}, want: []Money{3 << 60, 1 << 60}, wantOK: true},
		"ties to lower index": {total: 1, weights: []int64{5, 5}, want: []Money{1, 0}, wantOK: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := allocate(tc.total, tc.weights)
			require.Equal(t, tc.wantOK, ok)
			if len(tc.want) == 0 {
				require.Empty(t, got)
				return
			}
			require.Equal(t, tc.want, got)
			if ok {
				require.Equal(t, tc.total, sum(got))
			}
		})
	}
}

func TestSpread(t *testing.T) {
	tests := map[string]struct {
		pieces, totals []Money
		want           [][]Money
	}{
		"proportional": {pieces: []Money{24, 24}, totals: []Money{32, 16}, want: [][]Money{{16, 16}, {8, 8}}},
		"uneven days":  {pieces: []Money{10, 0, 5}, totals: []Money{9, 6}, want: [][]Money{{6, 0, 3}, {4, 0, 2}}},
		// Day 1: 7 split 3:3:1 of remaining (3,3,1) → 3,3,1; nothing left for day 2 but 0.
		"one day": {pieces: []Money{7}, totals: []Money{3, 3, 1}, want: [][]Money{{3}, {3}, {1}}},
		// Day 1: 2/3 vs 1/3 → the first; day 2: remaining 1:1, a tie → the lower index; day 3 the rest.
		"rounding":   {pieces: []Money{1, 1, 1}, totals: []Money{2, 1}, want: [][]Money{{1, 1, 0}, {0, 0, 1}}},
		"one tenant": {pieces: []Money{5, 6}, totals: []Money{11}, want: [][]Money{{5, 6}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := spread(tc.pieces, tc.totals)
			require.Equal(t, tc.want, got)
			for i, row := range got {
				require.Equal(t, tc.totals[i], sum(row), "row %d", i)
			}
			for d := range tc.pieces {
				var col Money
				for _, row := range got {
					col += row[d]
				}
				require.Equal(t, tc.pieces[d], col, "day %d", d)
			}
		})
	}
}

func TestRatiosAndFormatting(t *testing.T) {
	require.Equal(t, fr(t, "0.333333"), ratio(1, 3))
	require.Equal(t, fr(t, "0.666667"), ratio(2, 3))
	require.Zero(t, ratio(1, 0))
	require.Zero(t, moneyRatio(1, 0))
	require.Equal(t, fr(t, "0.5"), moneyRatio(5, 10))
	require.Equal(t, "1,234,567", fmtInt(1234567))
	require.Equal(t, "999", fmtInt(999))
	require.Equal(t, "36", fmtHours(36*time.Hour))
	require.Equal(t, "0.5", fmtHours(30*time.Minute))
	require.Equal(t, "4.2%", fmtPct(0.042))
	mo, err := perMonth(m(t, "3.6"), 36*time.Hour)
	require.NoError(t, err)
	require.Equal(t, m(t, "73"), mo) // 3.6 × 730 / 36
	require.Equal(t, time.Duration(0), overlap(at(1, 0), at(1, 1), at(1, 2), at(1, 3)))
	require.Equal(t, time.Hour, overlap(at(1, 0), at(1, 3), at(1, 2), at(1, 5)))
}

func TestGridAmortizeDays(t *testing.T) {
	// Window 2026-03-01 06:00 to 03-03 18:00: three partial or whole days.
	g := newGrid(Window{From: at(1, 6), To: at(3, 18)})
	require.Equal(t, 3, g.n)
	a, b := g.bounds(0)
	require.Equal(t, []time.Time{at(1, 6), at(2, 0)}, []time.Time{a, b})
	a, b = g.bounds(2)
	require.Equal(t, []time.Time{at(3, 0), at(3, 18)}, []time.Time{a, b})
	i, j := g.within(at(1, 0), at(2, 1))
	require.Equal(t, []int{0, 2}, []int{i, j})
	i, j = g.within(at(4, 0), at(5, 0))
	require.Equal(t, []int{0, 0}, []int{i, j})
	_, ok := g.index(at(1, 0).Add(-time.Nanosecond))
	require.False(t, ok)

	// 1/month over 1 h is 1/730 = 0.00136986…: each hour's piece rounds, the whole span once.
	// 10:00 day 1 → 03:00 day 3 is 41 h: 1 × 41 / 730 = 0.056164383… → 0.056164. Day 1 has 14 h:
	// cumulative 0.019178 (0.0191780…); day 2 +24 h: cumulative at 38 h 0.052055 (0.0520547…) →
	// 0.032877; day 3 the rest 0.056164 − 0.052055 = 0.004109.
	days := make([]Money, g.n)
	total, err := g.amortizeDays(m(t, "1"), at(1, 10), at(3, 3), days)
	require.NoError(t, err)
	require.Equal(t, m(t, "0.056164"), total)
	require.Equal(t, []Money{m(t, "0.019178"), m(t, "0.032877"), m(t, "0.004109")}, days)
}
