package pricelist

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Money is an exact amount of the price list's currency in micro-units (1e-6 of the currency
// unit): Money(4_590_000) is 4.59. Sums and differences are plain integer + and -; products and
// quotients go through MulDiv, which rounds half away from zero and reports overflow.
type Money int64

// Money constants.
const (
	// MicrosPerUnit is the number of micro-units in one currency unit.
	MicrosPerUnit = 1_000_000
	// Unit is one currency unit (1.00).
	Unit Money = MicrosPerUnit
	// moneyDecimals is the number of decimal places Money holds.
	moneyDecimals = 6
)

// HoursPerMonth is the length of a month for amortization: 730 hours (365 days × 24 h / 12),
// the convention AWS uses to turn hourly prices into monthly ones. A monthly price is amortized
// over a duration d as price × d / 730 h, whatever the calendar month.
const HoursPerMonth = 730

// month is HoursPerMonth as a time.Duration (2.628e15 ns, well inside int64).
const month = HoursPerMonth * time.Hour

// Errors of Money arithmetic.
var (
	// ErrOverflow is returned when a result does not fit in Money.
	ErrOverflow = errors.New("money overflow")
	// ErrZeroDenominator is returned by MulDiv for a zero denominator.
	ErrZeroDenominator = errors.New("zero denominator")
)

// ParseMoney parses a plain decimal ("4.59", "0", "-1.5", ".25", "+3") exactly, without going
// through float64. At most 6 decimal places may be non-zero ("1.2345678" is refused, since it
// cannot be held without rounding; "1.2300000" is accepted). Exponents, digit separators,
// hexadecimal, "Inf" and "NaN" are refused. Surrounding spaces are not allowed.
func ParseMoney(s string) (Money, error) {
	v, err := parseDecimal(s, moneyDecimals)
	if err != nil {
		return 0, fmt.Errorf("invalid amount %q: %w", s, err)
	}
	return Money(v), nil
}

// errDecimal* are the reasons parseDecimal gives.
var (
	errDecimalSyntax    = errors.New("want a plain decimal such as 4.59")
	errDecimalPrecision = errors.New("more than 6 decimal places")
	errDecimalRange     = errors.New("out of range")
)

// parseDecimal parses s as a decimal with at most scale significant fractional digits and
// returns it multiplied by 10^scale.
func parseDecimal(s string, scale int) (int64, error) {
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	intPart, frac, hasPoint := strings.Cut(s, ".")
	if (intPart == "" && frac == "") || (hasPoint && frac == "") || !allDigits(intPart) || !allDigits(frac) {
		return 0, errDecimalSyntax
	}
	trimmed := strings.TrimRight(frac, "0")
	if len(trimmed) > scale {
		return 0, errDecimalPrecision
	}
	var v uint64
	for _, c := range intPart + trimmed + strings.Repeat("0", scale-len(trimmed)) {
		hi, lo := bits.Mul64(v, 10)
		lo, carry := bits.Add64(lo, uint64(c-'0'), 0)
		if hi != 0 || carry != 0 {
			return 0, errDecimalRange
		}
		v = lo
	}
	if neg {
		if v > 1<<63 {
			return 0, errDecimalRange
		}
		return int64(-v), nil // -v wraps to MinInt64 for v = 1<<63, which is exact
	}
	if v > math.MaxInt64 {
		return 0, errDecimalRange
	}
	return int64(v), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String returns m as a plain decimal with no trailing zeros: "4.59", "0", "-0.000001", "12".
func (m Money) String() string { return formatDecimal(int64(m), moneyDecimals) }

// AppendJSON appends m as MarshalJSON encodes it (a JSON number) to dst.
func (m Money) AppendJSON(dst []byte) []byte { return appendDecimal(dst, int64(m), moneyDecimals) }

// formatDecimal formats v / 10^scale as a plain decimal without trailing zeros.
func formatDecimal(v int64, scale int) string {
	var buf [32]byte
	return string(appendDecimal(buf[:0], v, scale))
}

// appendDecimal appends v / 10^scale as a plain decimal without trailing zeros to dst.
func appendDecimal(dst []byte, v int64, scale int) []byte {
	u := uint64(v)
	if v < 0 {
		u = -u
		dst = append(dst, '-')
	}
	pow := uint64(1)
	for range scale {
		pow *= 10
	}
	dst = strconv.AppendUint(dst, u/pow, 10)
	f := u % pow
	if f == 0 {
		return dst
	}
	dst = append(dst, '.')
	for d := pow / 10; d > 0 && f > 0; d /= 10 { // leading zeros, then digits until the rest is 0
		dst = append(dst, byte('0'+f/d))
		f %= d
	}
	return dst
}

// MarshalJSON encodes m as a JSON number with up to 6 decimals (4.59, not "4.59").
func (m Money) MarshalJSON() ([]byte, error) { return m.AppendJSON(nil), nil }

// UnmarshalJSON decodes a JSON number or a JSON string holding a decimal, exactly, with the rules
// of ParseMoney.
func (m *Money) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" { // like the standard decoder: null leaves the value alone
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		u, err := strconv.Unquote(s)
		if err != nil {
			return fmt.Errorf("invalid amount %s: %w", s, err)
		}
		s = u
	}
	v, err := ParseMoney(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// MulDiv returns m × num / den, computed exactly on a 128-bit intermediate and rounded half away
// from zero (2.5 micro-units → 3, −2.5 → −3). It fails with ErrZeroDenominator when den is 0
// and with ErrOverflow when the result does not fit in Money.
func (m Money) MulDiv(num, den int64) (Money, error) {
	if den == 0 {
		return 0, ErrZeroDenominator
	}
	neg := (m < 0) != (num < 0) != (den < 0)
	a, b, c := absU(int64(m)), absU(num), absU(den)
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return 0, ErrOverflow
	}
	q, r := bits.Div64(hi, lo, c)
	if r >= c-r { // 2r ≥ c: the remainder is at least half the divisor
		if q == math.MaxUint64 {
			return 0, ErrOverflow
		}
		q++
	}
	if q == 0 {
		return 0, nil
	}
	if neg {
		if q > 1<<63 {
			return 0, ErrOverflow
		}
		return Money(-q), nil
	}
	if q > math.MaxInt64 {
		return 0, ErrOverflow
	}
	return Money(q), nil
}

func absU(v int64) uint64 {
	u := uint64(v)
	if v < 0 {
		u = -u
	}
	return u
}

// MulFraction returns m × f, rounded half away from zero (see MulDiv).
func (m Money) MulFraction(f Fraction) (Money, error) {
	return m.MulDiv(int64(f), FractionOne)
}

// Amortize returns the share of the monthly amount m that falls on a duration d:
// m × d / HoursPerMonth hours, computed exactly on nanoseconds and rounded half away from zero
// to the micro-unit. A negative d gives a negative share. Rounding is per call: amortize a whole
// span at once rather than summing many small rounded pieces when the total matters.
//
// For example 7.30 over 1 h is 0.01, and 4.59 over 24 h is 4.59 × 24 / 730 = 0.150904109…, which
// rounds to 0.150904. It fails with ErrOverflow only for amounts far beyond any price Parse
// accepts (see MaxPrice).
func (m Money) Amortize(d time.Duration) (Money, error) {
	return m.MulDiv(int64(d), int64(month))
}

// Fraction is an exact ratio in millionths (parts per million): Fraction(200_000) is 0.2. Commitment
// discounts are Fractions.
type Fraction int64

// FractionOne is the Fraction 1.0.
const FractionOne = 1_000_000

// ParseFraction parses a plain decimal with at most 6 significant decimal places ("0.2", "0.125")
// exactly, with the syntax rules of ParseMoney.
func ParseFraction(s string) (Fraction, error) {
	v, err := parseDecimal(s, moneyDecimals)
	if err != nil {
		return 0, fmt.Errorf("invalid fraction %q: %w", s, err)
	}
	return Fraction(v), nil
}

// String returns f as a plain decimal with no trailing zeros ("0.2").
func (f Fraction) String() string { return formatDecimal(int64(f), moneyDecimals) }

// MarshalJSON encodes f as a JSON number (0.2).
func (f Fraction) MarshalJSON() ([]byte, error) { return []byte(f.String()), nil }
