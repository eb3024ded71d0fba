package pricelist

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// formatDecimalStrings is the string-building formatDecimal that appendDecimal replaced: the
// reference it must match digit for digit.
func formatDecimalStrings(v int64, scale int) string {
	u := uint64(v)
	sign := ""
	if v < 0 {
		u, sign = -u, "-"
	}
	pow := uint64(1)
	for range scale {
		pow *= 10
	}
	s := sign + strconv.FormatUint(u/pow, 10)
	if f := u % pow; f != 0 {
		digits := strconv.FormatUint(f, 10)
		digits = strings.Repeat("0", scale-len(digits)) + digits
		s += "." + strings.TrimRight(digits, "0")
	}
	return s
}

func TestAppendDecimalMatchesReference(t *testing.T) {
	values := []int64{0, 1, -1, 9, 10, 99, 100, 999_999, 1_000_000, 1_000_001, -1_000_001, 4_590_000, 12_000_000,
		100_000, 10_000, 1_010_101, math.MaxInt64, math.MinInt64, math.MinInt64 + 1}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		values = append(values, r.Int64(), -r.Int64N(1e12), r.Int64N(1e9))
	}
	for _, scale := range []int{0, 1, 6} {
		for _, v := range values {
			want := formatDecimalStrings(v, scale)
			if got := string(appendDecimal(nil, v, scale)); got != want {
				t.Fatalf("appendDecimal(%d, %d) = %q, want %q", v, scale, got, want)
			}
		}
	}
	if got := string(Money(-1).AppendJSON([]byte("x"))); got != "x-0.000001" {
		t.Fatalf("AppendJSON appends: got %q", got)
	}
}
