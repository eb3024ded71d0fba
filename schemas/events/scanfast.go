package events

import (
	"encoding/binary"
	"math/bits"
)

// scanFast is the fast path of scan for the layout producers send almost always: the one Encode
// writes. It accepts a usage.vps.sample or usage.email.volume event whose attributes and data fields
// come in Encode's order, each exactly once (datacontenttype and historical: true may be left out),
// with no other member, no whitespace between tokens, and strings of printable ASCII without
// escapes. For such an input it records
// exactly the spans scan would, so the validation that follows (and every reason it reports) is the
// same; for anything else it returns false and Decode runs scan, which decides. Everything scanFast
// accepts, scan accepts too, with the same spans: FuzzScanFast checks that.
//
// It is faster because it compares the bytes up to each value with the ones expected next instead
// of scanning and looking up keys, checks strings eight bytes at a time (printable ASCII is valid
// UTF-8 and free of control characters), and skips the separate UTF-8 pass: the input then
// consists of ASCII punctuation, literals, numbers and such strings only.
func (d *decoder) scanFast(raw []byte) bool {
	d.raw = raw
	var i int
	var ok bool
	for _, a := range envFields {
		if i, ok = fastLit(raw, i, a.lit); !ok {
			return false
		}
		if i, ok = fastString(raw, i, &d.env[a.slot]); !ok {
			return false
		}
	}
	// Optional datacontenttype (Encode writes it).
	if j, ok := fastLit(raw, i, `,"datacontenttype":"`); ok {
		if i, ok = fastString(raw, j, &d.env[envDataContentType]); !ok {
			return false
		}
	}
	// Optional "historical": true (Encode omits false).
	if j, ok := fastLit(raw, i, `,"historical":true`); ok {
		d.env[envHistorical] = span{start: j - 4, end: j, kind: kindTrue}
		i = j
	}
	if i, ok = fastLit(raw, i, `,"data":{`); !ok {
		return false
	}
	dataStart := i - 1
	var fields []fastField
	switch sp := d.env[envType]; string(raw[sp.start:sp.end]) {
	case string(TypeVPSSample):
		fields = vpsFields[:]
	case string(TypeEmailVolume):
		fields = emailFields[:]
	default:
		return false
	}
	for _, f := range fields {
		if i, ok = fastLit(raw, i, f.lit); !ok {
			return false
		}
		if f.number {
			i, ok = fastNumber(raw, i, &d.data[f.slot])
		} else {
			i, ok = fastString(raw, i, &d.data[f.slot])
		}
		if !ok {
			return false
		}
	}
	if len(raw)-i != 2 || raw[i] != '}' || raw[i+1] != '}' {
		return false
	}
	d.env[envData] = span{start: dataStart, end: i + 1, kind: kindObject}
	return true
}

// fastField is a member expected next: the literal up to its value (for a string, including the
// opening quote) and the slot its span goes to.
type fastField struct {
	lit    string
	slot   int
	number bool
}

// The attributes and data fields in the order Encode writes them (for data, the struct field order
// of VPSSample and EmailVolume).
var (
	envFields = [...]fastField{
		{`{"specversion":"`, envSpecVersion, false}, {`,"id":"`, envID, false}, {`,"source":"`, envSource, false},
		{`,"type":"`, envType, false}, {`,"time":"`, envTime, false}, {`,"tenantid":"`, envTenantID, false},
	}
	vpsFields = [...]fastField{
		{`"resource_id":"`, dResourceID, false}, {`,"provider":"`, dProvider, false}, {`,"region":"`, dRegion, false},
		{`,"plan":"`, dPlan, false}, {`,"vcpus":`, dVCPUs, true}, {`,"memory_mb":`, dMemoryMB, true},
		{`,"cpu_util":`, dCPUUtil, true}, {`,"mem_util":`, dMemUtil, true}, {`,"interval_seconds":`, dInterval, true},
	}
	emailFields = [...]fastField{
		{`"ip":"`, dIP, false}, {`,"pool":"`, dPool, false}, {`,"provider":"`, dProvider, false},
		{`,"sent":`, dSent, true}, {`,"delivered":`, dDelivered, true}, {`,"bounced":`, dBounced, true},
		{`,"deferred":`, dDeferred, true}, {`,"complained":`, dComplained, true}, {`,"interval_seconds":`, dInterval, true},
	}
)

// fastLit expects lit at b[i] and returns the offset after it.
func fastLit(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// SWAR constants: one in every byte, the high bit of every byte.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// fastString expects the content of a string (the opening quote is before b[i]) made of printable
// ASCII without escapes, records its span and returns the offset after the closing quote. It looks
// at eight bytes at a time while eight are left.
func fastString(b []byte, i int, sp *span) (int, bool) {
	j := i
	for ; len(b)-j >= 8; j += 8 {
		x := binary.LittleEndian.Uint64(b[j:])
		// The high bit of a byte of m is set when the byte is a control (< 0x20), not ASCII, '"',
		// '\\' or DEL. Borrows may set it in bytes above such a byte too, never below: the lowest
		// one is exact.
		m := ((x-0x20*ones)&^x | x | hasZero(x^('"'*ones)) | hasZero(x^('\\'*ones)) | hasZero(x^(0x7f*ones))) & highs
		if m == 0 {
			continue
		}
		j += bits.TrailingZeros64(m) >> 3
		return fastStringEnd(b, i, j, sp)
	}
	for ; j < len(b); j++ {
		if c := b[j]; c == '"' || c < 0x20 || c >= 0x7f || c == '\\' {
			return fastStringEnd(b, i, j, sp)
		}
	}
	return i, false
}

// fastStringEnd accepts the string when b[j], its first byte that is not plain printable ASCII, is
// the closing quote.
func fastStringEnd(b []byte, i, j int, sp *span) (int, bool) {
	if b[j] != '"' {
		return i, false
	}
	*sp = span{start: i, end: j, kind: kindString}
	return j + 1, true
}

// hasZero sets the high bit of the lowest zero byte of x (and maybe of higher bytes).
func hasZero(x uint64) uint64 { return (x - ones) &^ x & highs }

// fastNumber expects a JSON number at b[i] and records its span.
func fastNumber(b []byte, i int, sp *span) (int, bool) {
	if i >= len(b) || !(b[i] == '-' || isDigit(b[i])) {
		return i, false
	}
	end, err := scanNumber(b, i)
	if err != nil {
		return i, false
	}
	*sp = span{start: i, end: end, kind: kindNumber}
	return end, true
}
