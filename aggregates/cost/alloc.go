package cost

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"time"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

// Money and Fraction are the price list's exact types.
type (
	Money    = pricelist.Money
	Fraction = pricelist.Fraction
)

// allocate splits total (≥ 0) into parts proportional to weights (each ≥ 0) by the
// largest-remainder method, so that the parts sum to total exactly: each part is
// ⌊total × w / W⌋, and the micro-units left over go one each to the parts with the largest
// remainders (ties to the lower index). A part with weight 0 gets nothing. With W = 0 every part
// is 0 and ok is false (the caller decides where the total goes).
func allocate(total Money, weights []int64) (parts []Money, ok bool) {
	parts = make([]Money, len(weights))
	var sum uint64
	for _, w := range weights {
		sum += uint64(w)
	}
	if sum == 0 || total <= 0 {
		return parts, sum != 0
	}
	rem := make([]uint64, len(weights))
	left := total
	for i, w := range weights {
		if w == 0 {
			continue
		}
		hi, lo := bits.Mul64(uint64(total), uint64(w))
		q, r := bits.Div64(hi, lo, sum) // q ≤ total since w ≤ sum: hi < sum holds
		parts[i], rem[i] = Money(q), r
		left -= Money(q)
	}
	if left > 0 {
		order := make([]int, 0, len(weights))
		for i, r := range rem {
			if r > 0 {
				order = append(order, i)
			}
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rem[b], rem[a]) })
		for _, i := range order[:int(left)] { // left < len(order): the remainders sum to left × W
			parts[i]++
		}
	}
	return parts, true
}

// moneyWeights returns amounts as allocation weights.
func moneyWeights(a []Money) []int64 {
	w := make([]int64, len(a))
	for i, m := range a {
		w[i] = int64(m)
	}
	return w
}

// spread splits per-day pieces (summing to S) among parties whose totals are given (summing to S)
// into a parties × days matrix whose rows sum to totals and whose columns sum to pieces: day by
// day in order, each day's piece is allocated by the parties' remaining amounts (largest
// remainder). Each cell stays within one micro-unit-per-day of the proportional share, and the
// last day takes exactly what remains.
func spread(pieces, totals []Money) [][]Money {
	out := make([][]Money, len(totals))
	for i := range out {
		out[i] = make([]Money, len(pieces))
	}
	remaining := moneyWeights(totals)
	for d, p := range pieces {
		if p == 0 {
			continue
		}
		parts, _ := allocate(p, remaining)
		for i, x := range parts {
			out[i][d] = x
			remaining[i] -= int64(x)
		}
	}
	return out
}

// ratio returns num / den as a Fraction rounded half away from zero (0 when den is 0).
func ratio(num, den uint64) Fraction {
	if den == 0 {
		return 0
	}
	// Both fit int64 for any count the model accepts (see maxCount).
	v, err := Money(pricelist.FractionOne).MulDiv(int64(num), int64(den))
	if err != nil {
		return 0
	}
	return Fraction(v)
}

// moneyRatio returns a / b as a Fraction rounded half away from zero (0 when b is 0).
func moneyRatio(a, b Money) Fraction {
	if b == 0 {
		return 0
	}
	v, err := Money(pricelist.FractionOne).MulDiv(int64(a), int64(b))
	if err != nil {
		return 0
	}
	return Fraction(v)
}

// perMonth scales an amount over d to a 730-hour month: m × 730 h / d, rounded half away from
// zero.
func perMonth(m Money, d time.Duration) (Money, error) {
	return m.MulDiv(int64(hoursPerMonth), int64(d))
}

// hours returns d in hours as a float, for display.
func hours(d time.Duration) float64 { return d.Hours() }

// fmtHours formats d in hours without trailing zeros: "36", "0.5".
func fmtHours(d time.Duration) string {
	return strconv.FormatFloat(d.Hours(), 'f', -1, 64)
}

// fmtInt formats n with thousands separators: 12,345.
func fmtInt(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// fmtPct formats a fraction 0..1 as a percentage with one decimal: "4.2%".
func fmtPct(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }

// round6 rounds f to 6 decimal places, for display of measured (non-money) figures.
func round6(f float64) float64 { return math.Round(f*1e6) / 1e6 }

// day returns the UTC day (midnight) t falls on.
func day(t time.Time) time.Time { return t.UTC().Truncate(Day) }

// fmtDay formats a UTC day as 2006-01-02.
func fmtDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// fmtTime formats t as RFC 3339 UTC.
func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// overlap returns the length of [a1, b1) ∩ [a2, b2) (0 if empty).
func overlap(a1, b1, a2, b2 time.Time) time.Duration {
	a, b := later(a1, a2), earlier(b1, b2)
	if !a.Before(b) {
		return 0
	}
	return b.Sub(a)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
