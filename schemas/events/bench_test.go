package events

import (
	"testing"
)

// BenchmarkDecode measures Decode per event type on the testdata samples.
//
// Compare changes with benchstat:
//
//	go test -run XXX -bench BenchmarkDecode -count 6 ./schemas/events/ > old.txt
//	(change)
//	go test -run XXX -bench BenchmarkDecode -count 6 ./schemas/events/ > new.txt
//	benchstat old.txt new.txt
func BenchmarkDecode(b *testing.B) {
	files := testdataFiles(b, "valid")
	for _, bc := range []struct{ name, file string }{
		{"type=vps", "vps_sample.json"},
		{"type=email", "email_volume.json"},
		{"type=inventory", "inventory_resource.json"},
		{"type=vps-escaped", "unicode_and_escapes.json"},
	} {
		raw := files[bc.file]
		if raw == nil {
			b.Fatalf("missing testdata/valid/%s", bc.file)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := Decode(raw, DefaultLimits()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("rejected=out_of_range", func(b *testing.B) {
		raw := build(TypeVPSSample, nil, map[string]string{"cpu_util": "1.5"})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(raw, DefaultLimits()); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}

// BenchmarkDecodeCompact measures Decode on events as Encode writes them (the fast path).
func BenchmarkDecodeCompact(b *testing.B) {
	for _, bc := range []struct {
		name string
		typ  Type
	}{{"type=vps", TypeVPSSample}, {"type=email", TypeEmailVolume}} {
		raw := build(bc.typ, nil, nil)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := Decode(raw, DefaultLimits()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeBorrowed measures DecodeBorrowed on events as Encode writes them.
func BenchmarkDecodeBorrowed(b *testing.B) {
	var into Data
	for _, bc := range []struct {
		name string
		typ  Type
	}{{"type=vps", TypeVPSSample}, {"type=email", TypeEmailVolume}} {
		raw := build(bc.typ, nil, nil)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := DecodeBorrowed(raw, DefaultLimits(), &into); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
