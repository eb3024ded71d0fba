package pricelist

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseMoney(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    Money
		wantErr string
	}{
		"two decimals":          {in: "4.59", want: 4_590_000},
		"zero":                  {in: "0", want: 0},
		"integer":               {in: "12", want: 12_000_000},
		"one micro":             {in: "0.000001", want: 1},
		"leading dot":           {in: ".25", want: 250_000},
		"plus sign":             {in: "+3", want: 3_000_000},
		"negative":              {in: "-1.5", want: -1_500_000},
		"negative zero":         {in: "-0", want: 0},
		"trailing zeros beyond": {in: "1.2300000", want: 1_230_000},
		"leading zeros":         {in: "007.10", want: 7_100_000},
		"max":                   {in: "9223372036854.775807", want: math.MaxInt64},
		"min":                   {in: "-9223372036854.775808", want: math.MinInt64},
		"seven decimals":        {in: "1.2345678", wantErr: "more than 6 decimal places"},
		"letters":               {in: "abc", wantErr: "plain decimal"},
		"empty":                 {in: "", wantErr: "plain decimal"},
		"sign only":             {in: "-", wantErr: "plain decimal"},
		"point only":            {in: ".", wantErr: "plain decimal"},
		"trailing point":        {in: "1.", wantErr: "plain decimal"},
		"two points":            {in: "1.2.3", wantErr: "plain decimal"},
		"double sign":           {in: "--1", wantErr: "plain decimal"},
		"exponent":              {in: "1e3", wantErr: "plain decimal"},
		"separator":             {in: "1_000", wantErr: "plain decimal"},
		"hex":                   {in: "0x10", wantErr: "plain decimal"},
		"space":                 {in: " 1", wantErr: "plain decimal"},
		"comma":                 {in: "4,59", wantErr: "plain decimal"},
		"infinity":              {in: ".inf", wantErr: "plain decimal"},
		"nan":                   {in: "NaN", wantErr: "plain decimal"},
		"too large":             {in: "9223372036854.775808", wantErr: "out of range"},
		"too small":             {in: "-9223372036854.775809", wantErr: "out of range"},
		"huge":                  {in: "99999999999999999999999", wantErr: "out of range"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseMoney(tc.in)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestMoneyString(t *testing.T) {
	tests := map[string]struct {
		in   Money
		want string
	}{
		"zero":           {0, "0"},
		"two decimals":   {4_590_000, "4.59"},
		"integer":        {12 * Unit, "12"},
		"one micro":      {1, "0.000001"},
		"minus one":      {-1, "-0.000001"},
		"inner zeros":    {100, "0.0001"},
		"negative":       {-1_500_000, "-1.5"},
		"six decimals":   {123_456_789, "123.456789"},
		"max":            {math.MaxInt64, "9223372036854.775807"},
		"min":            {math.MinInt64, "-9223372036854.775808"},
		"large integral": {1_000_000_000 * Unit, "1000000000"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.in.String())
			back, err := ParseMoney(tc.want)
			require.NoError(t, err)
			require.Equal(t, tc.in, back, "round trip")
			b, err := json.Marshal(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(b))
			var fromJSON Money
			require.NoError(t, json.Unmarshal(b, &fromJSON))
			require.Equal(t, tc.in, fromJSON)
		})
	}
}

func TestMoneyJSON(t *testing.T) {
	b, err := json.Marshal(struct {
		Price Money    `json:"price"`
		Off   Fraction `json:"off"`
	}{4_590_000, 200_000})
	require.NoError(t, err)
	require.Equal(t, `{"price":4.59,"off":0.2}`, string(b))

	var m Money
	require.NoError(t, json.Unmarshal([]byte(`"0.10"`), &m))
	require.Equal(t, Money(100_000), m)
	require.Error(t, json.Unmarshal([]byte(`1e3`), &m))
	require.Error(t, json.Unmarshal([]byte(`"1.2345678"`), &m))
}

func TestMulDiv(t *testing.T) {
	tests := map[string]struct {
		m        Money
		num, den int64
		want     Money
		wantErr  error
	}{
		"exact":                        {m: 10 * Unit, num: 3, den: 2, want: 15 * Unit},
		"half rounds up":               {m: 5, num: 1, den: 2, want: 3},
		"negative half rounds down":    {m: -5, num: 1, den: 2, want: -3},
		"negative denominator":         {m: 1, num: 1, den: -2, want: -1},
		"both negative":                {m: -7, num: -1, den: 2, want: 4},
		"below half rounds down":       {m: 4, num: 1, den: 3, want: 1},
		"above half rounds up":         {m: 5, num: 2, den: 3, want: 3},
		"tiny to zero":                 {m: 1, num: 1, den: 3, want: 0},
		"negative tiny to zero":        {m: -1, num: 1, den: 3, want: 0},
		"wide intermediate":            {m: math.MaxInt64, num: 2, den: 2, want: math.MaxInt64},
		"min stays":                    {m: math.MinInt64, num: 1, den: 1, want: math.MinInt64},
		"min times three over three":   {m: math.MinInt64, num: 3, den: 3, want: math.MinInt64},
		"zero denominator":             {m: 1, num: 1, den: 0, wantErr: ErrZeroDenominator},
		"overflow":                     {m: math.MaxInt64, num: 2, den: 1, wantErr: ErrOverflow},
		"overflow negating min":        {m: math.MinInt64, num: -1, den: 1, wantErr: ErrOverflow},
		"intermediate beyond 128 bits": {m: math.MaxInt64, num: math.MaxInt64, den: 1, wantErr: ErrOverflow},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tc.m.MulDiv(tc.num, tc.den)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestAmortize(t *testing.T) {
	tests := map[string]struct {
		price   Money
		d       time.Duration
		want    Money
		wantErr error
	}{
		// 7.30 / 730 h = 0.01 per hour.
		"one hour of 7.30":   {price: 7_300_000, d: time.Hour, want: 10_000},
		"half hour of 7.30":  {price: 7_300_000, d: 30 * time.Minute, want: 5_000},
		"one second of 7.30": {price: 7_300_000, d: time.Second, want: 3}, // 10_000 / 3600 = 2.78
		"one ns rounds to 0": {price: 7_300_000, d: time.Nanosecond, want: 0},
		// 4.59 × 24 / 730 = 110.16 / 730 = 0.150904109… → 0.150904.
		"one day of 4.59": {price: 4_590_000, d: 24 * time.Hour, want: 150_904},
		// 4.99 × 48 / 730 = 239.52 / 730 = 0.328109589… → 0.32811.
		"two days of 4.99": {price: 4_990_000, d: 48 * time.Hour, want: 328_110},
		"full month":       {price: 4_590_000, d: HoursPerMonth * time.Hour, want: 4_590_000},
		"two months":       {price: 4_590_000, d: 2 * HoursPerMonth * time.Hour, want: 9_180_000},
		// 1 micro over half a month is 0.5 micro: half away from zero.
		"half micro up":       {price: 1, d: 365 * time.Hour, want: 1},
		"negative half micro": {price: -1, d: 365 * time.Hour, want: -1},
		"negative duration":   {price: 7_300_000, d: -time.Hour, want: -10_000},
		"zero duration":       {price: 7_300_000, d: 0, want: 0},
		// 1e9 × 9223372036854775807 ns / 2.628e15 ns = 3509654504130.432… units.
		"max price over max duration": {price: MaxPrice, d: math.MaxInt64, want: 3_509_654_504_130_432_194},
		"overflow":                    {price: math.MaxInt64, d: 2 * HoursPerMonth * time.Hour, wantErr: ErrOverflow},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tc.price.Amortize(tc.d)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got, "got %s", got)
		})
	}
}

func TestFractionAndCommitment(t *testing.T) {
	f, err := ParseFraction("0.2")
	require.NoError(t, err)
	require.Equal(t, Fraction(200_000), f)
	require.Equal(t, "0.2", f.String())
	_, err = ParseFraction("0.1234567")
	require.ErrorContains(t, err, "more than 6 decimal places")

	got, err := Money(10 * Unit).MulFraction(f)
	require.NoError(t, err)
	require.Equal(t, Money(2*Unit), got)

	tests := map[string]struct {
		price    Money
		discount Fraction
		want     Money
	}{
		"20% off 4.59":      {4_590_000, 200_000, 3_672_000}, // 4.59 × 0.8 = 3.672
		"no discount":       {4_590_000, 0, 4_590_000},
		"half of one micro": {1, 500_000, 1},                   // 0.5 micro → 1
		"a third off 100":   {100 * Unit, 333_333, 66_666_700}, // 100 × 0.666667
		"largest discount":  {100 * Unit, 999_999, 100},        // 100 × 0.000001
		"12% off 0.000003":  {3, 120_000, 3},                   // 2.64 → 3
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := Commitment{Discount: tc.discount}
			require.Equal(t, tc.want, c.Apply(tc.price))
		})
	}
}

func TestVolumeCost(t *testing.T) {
	tests := map[string]struct {
		perThousand Money
		messages    int64
		want        Money
	}{
		"0.10 per 1000, 12345 messages": {100_000, 12_345, 1_234_500}, // 1.2345
		"0.45 per 1000, one message":    {450_000, 1, 450},            // 0.00045
		"half micro rounds up":          {1, 500, 1},                  // 0.0005 micro-units × 1000
		"just below half":               {1, 499, 0},
		"none":                          {100_000, 0, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := EmailPrice{PerThousand: tc.perThousand}.VolumeCost(tc.messages)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
