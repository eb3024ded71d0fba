package events

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// encodedSamples are events as Encode writes them: the layout scanFast is for.
func encodedSamples(t testing.TB) [][]byte {
	tm := time.Date(2026, 3, 1, 12, 5, 0, 123456789, time.UTC)
	evs := []Event{
		{ID: "0f8fad5b-d9cb-469f-a165-70867728950e", Source: "agent://hv-12.fra1", Type: TypeVPSSample, Time: tm, TenantID: "t-042",
			VPS: &VPSSample{ResourceID: "vps-7731", Provider: "hetzner", Region: "fsn1", Plan: "cx32", VCPUs: 4, MemoryMB: 8192,
				CPUUtil: 0.37, MemUtil: 0.61, IntervalSeconds: 60}},
		{ID: "e-2", Source: "mta://pool", Type: TypeEmailVolume, Time: tm, TenantID: "t_1", Historical: true,
			Email: &EmailVolume{IP: "2001:db8::1", Pool: "tx", Provider: "sendgrid", Sent: 1 << 40, Delivered: 9, IntervalSeconds: 300}},
		{ID: "e-3", Source: "s", Type: TypeVPSSample, Time: tm, TenantID: "T",
			VPS: &VPSSample{ResourceID: "r", Provider: "p", Region: "r", Plan: "p", VCPUs: 1024, MemoryMB: 1,
				CPUUtil: 1, MemUtil: 0.000001, IntervalSeconds: 86400}},
	}
	var out [][]byte
	for _, ev := range evs {
		raw, err := Encode(ev)
		require.NoError(t, err)
		out = append(out, raw)
	}
	return out
}

// TestScanFastTakesEncodedEvents checks that the fast path is taken for what Encode writes (else
// it would silently stop paying off) and records the spans scan records.
func TestScanFastTakesEncodedEvents(t *testing.T) {
	inputs := encodedSamples(t)
	for _, typ := range []Type{TypeVPSSample, TypeEmailVolume} {
		inputs = append(inputs, build(typ, nil, nil)) // no datacontenttype
	}
	for _, raw := range inputs {
		var fast, strict decoder
		require.True(t, fast.scanFast(raw), "%s", raw)
		require.NoError(t, strict.scan(raw))
		require.Equal(t, strict.env, fast.env, "%s", raw)
		require.Equal(t, strict.data, fast.data, "%s", raw)
	}
	// Not the fast path's: pretty-printed, other key order, escapes, non-ASCII, inventory.
	for _, raw := range [][]byte{
		[]byte(`{ "specversion":"1.0"}`),
		build(TypeVPSSample, map[string]string{"id": `"\u0041"`}, nil),
		build(TypeVPSSample, map[string]string{"source": `"é"`}, nil),
		build(TypeVPSSample, map[string]string{"extra": `1`}, nil),
		build(TypeInventoryResource, nil, nil),
	} {
		var d decoder
		require.False(t, d.scanFast(raw), "%s", raw)
	}
}

// FuzzScanFast checks that whatever scanFast accepts, scan accepts with the same spans, so Decode
// decides the same either way.
//
//	go test -run XXX -fuzz FuzzScanFast -fuzztime 30s ./schemas/events/
func FuzzScanFast(f *testing.F) {
	for _, raw := range encodedSamples(f) {
		f.Add(raw)
	}
	for _, typ := range Types {
		f.Add(build(typ, nil, nil))
	}
	f.Add(build(TypeVPSSample, nil, map[string]string{"cpu_util": "1.5e-3", "vcpus": "-0"}))
	f.Add(build(TypeEmailVolume, map[string]string{"historical": "true"}, map[string]string{"sent": "01"}))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var fast decoder
		if !fast.scanFast(raw) {
			return
		}
		var strict decoder
		require.NoError(t, strict.scan(raw), "scanFast accepted %q", raw)
		require.Equal(t, strict.env, fast.env, "%q", raw)
		require.Equal(t, strict.data, fast.data, "%q", raw)
		require.True(t, json.Valid(raw))
	})
}

// TestParseShortDecimal checks the short-decimal path against strconv.ParseFloat.
func TestParseShortDecimal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(s string) {
		got, ok := parseShortDecimal([]byte(s))
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err, s)
		require.Equal(t, math.Float64bits(want), math.Float64bits(got), s)
	}
	for _, s := range []string{"0", "1", "0.37", "0.1", "0.3", "1.0", "0.000001", "999999999999999", "0.12345678901234", "12.5"} {
		_, ok := parseShortDecimal([]byte(s))
		require.True(t, ok, s)
		check(s)
	}
	for _, s := range []string{"", ".", "1.", ".5", "-1", "1e3", "0.1234567890123456", "1..2", "1.2.3"} {
		_, ok := parseShortDecimal([]byte(s))
		require.False(t, ok, s)
	}
	for range 200_000 {
		digits := 1 + r.IntN(15)
		b := make([]byte, 0, 17)
		for range digits {
			b = append(b, byte('0'+r.IntN(10)))
		}
		if dot := r.IntN(digits + 1); dot > 0 && dot < digits {
			b = append(b[:dot], append([]byte{'.'}, b[dot:]...)...)
		}
		check(string(b))
	}
}

func FuzzParseShortDecimal(f *testing.F) {
	f.Add("0.37")
	f.Add("123456789.012345")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseShortDecimal([]byte(s))
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err, s)
		require.Equal(t, math.Float64bits(want), math.Float64bits(got), s)
	})
}
