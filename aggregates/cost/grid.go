package cost

import (
	"time"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

// grid is the window's UTC days: day i is [start + i days, start + (i+1) days) clipped to the
// window, so the first and last days may be partial.
type grid struct {
	w     Window
	start time.Time // UTC midnight of the window's first day
	n     int
}

func newGrid(w Window) grid {
	start := day(w.From)
	n := int((w.To.Sub(start) + Day - 1) / Day)
	return grid{w: w, start: start, n: n}
}

// bounds returns day i clipped to the window.
func (g grid) bounds(i int) (time.Time, time.Time) {
	a := g.start.Add(time.Duration(i) * Day)
	return later(a, g.w.From), earlier(a.Add(Day), g.w.To)
}

// dayStart returns the UTC midnight starting day i.
func (g grid) dayStart(i int) time.Time { return g.start.Add(time.Duration(i) * Day) }

// index returns the day t falls on, and false when t is outside the window's days.
func (g grid) index(t time.Time) (int, bool) {
	if t.Before(g.start) {
		return 0, false
	}
	i := int(t.Sub(g.start) / Day)
	return i, i < g.n
}

// days returns the window's days as UTC midnights.
func (g grid) days() []time.Time {
	out := make([]time.Time, g.n)
	for i := range out {
		out[i] = g.dayStart(i)
	}
	return out
}

// amortizeDays adds the amortized cost of price over [a, b) (inside the window) into the per-day
// vector into, and returns the whole cost. The whole span is amortized in one call (one rounding);
// each day's piece is the difference of the cumulative amortized cost at its ends, so the pieces
// sum to the whole exactly and each is within one micro-unit of its exact value.
func (g grid) amortizeDays(price Money, a, b time.Time, into []Money) (Money, error) {
	total, err := price.Amortize(b.Sub(a))
	if err != nil || total == 0 {
		return total, err
	}
	first, _ := g.index(a)
	var prev Money
	for i := first; i < g.n; i++ {
		_, de := g.bounds(i)
		end := earlier(de, b)
		cum, err := price.Amortize(end.Sub(a))
		if err != nil {
			return 0, err
		}
		into[i] += cum - prev
		prev = cum
		if !end.Before(b) {
			break
		}
	}
	return total, nil
}

// within returns the days (indices) overlapping [a, b), as a half-open index range.
func (g grid) within(a, b time.Time) (int, int) {
	a, b = later(a, g.w.From), earlier(b, g.w.To)
	if !a.Before(b) {
		return 0, 0
	}
	i, _ := g.index(a)
	j, _ := g.index(b.Add(-time.Nanosecond))
	return i, j + 1
}

// hoursPerMonth is the amortization month as a duration.
const hoursPerMonth = pricelist.HoursPerMonth * time.Hour
