package events

import (
	"github.com/spendstream/spendstream/schemas/internal/jsonstr"
)

// This file is a small, strict JSON scanner (RFC 8259) specialised for one flat object with one
// nested object. It records where the values of known keys are instead of building a tree, so a
// valid event costs one pass over its bytes and no allocation. Everything it accepts, encoding/json
// accepts too (FuzzDecode checks that); it is stricter in three ways: the input must be valid UTF-8,
// a known key may not appear twice, and nesting deeper than maxDepth is refused.

// kind is the JSON type of a recorded value; kindAbsent means the key was not present.
type kind uint8

const (
	kindAbsent kind = iota
	kindNull
	kindFalse
	kindTrue
	kindNumber
	kindString
	kindObject
	kindArray
)

// String names the kind the way a JSON Schema "type" would, for error details.
func (k kind) String() string {
	switch k {
	case kindNull:
		return "null"
	case kindFalse, kindTrue:
		return "boolean"
	case kindNumber:
		return "number"
	case kindString:
		return "string"
	case kindObject:
		return "object"
	case kindArray:
		return "array"
	}
	return "absent"
}

// span is where a value lies in the input. For strings, [start,end) is the content between the
// quotes and esc says whether it contains escapes; for other kinds it is the whole value.
type span struct {
	start, end int
	kind       kind
	esc        bool
}

// maxDepth bounds nesting in ignored values (extensions, unknown data fields).
const maxDepth = 64

// syntaxError is the single way the scanner fails; Decode turns it into ReasonMalformed.
type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string { return e.msg }

func errSyntax(msg string, off int) error { return &syntaxError{msg: msg, off: off} }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// scanObject scans the object starting at b[i] == '{' and returns the offset after it. With
// nestOut == nil it is the data object: the values of dataIndex keys are recorded in out. Else it
// is the envelope: envIndex keys are recorded in out, and the members of a "data" object in
// nestOut. A repeated known key is an error. (The key lookups are direct calls, not function values,
// so that the key buffer stays on the stack.)
func scanObject(b []byte, i int, out, nestOut []span) (int, error) {
	i++ // '{'
	i = skipSpace(b, i)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	var keyBuf [32]byte
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, errSyntax("expected object key", i)
		}
		ks, ke, esc, err := scanString(b, i)
		if err != nil {
			return 0, err
		}
		key := b[ks:ke]
		if esc {
			key = unescapeKey(keyBuf[:0], key)
		}
		slot := -1
		switch {
		case key == nil:
		case nestOut != nil:
			slot = envIndex(key)
		default:
			slot = dataIndex(key)
		}
		i = skipSpace(b, ke+1)
		if i >= len(b) || b[i] != ':' {
			return 0, errSyntax("expected ':' after object key", i)
		}
		i = skipSpace(b, i+1)
		if slot >= 0 && out[slot].kind != kindAbsent {
			return 0, errSyntax("duplicate key "+quote(b[ks:ke]), ks)
		}
		var v span
		if nestOut != nil && slot == envData && i < len(b) && b[i] == '{' {
			end, err := scanObject(b, i, nestOut, nil)
			if err != nil {
				return 0, err
			}
			v = span{start: i, end: end, kind: kindObject}
		} else {
			v, err = scanValue(b, i, 1)
			if err != nil {
				return 0, err
			}
		}
		if slot >= 0 {
			out[slot] = v
		}
		i = v.end
		if v.kind == kindString {
			i++ // closing quote
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, errSyntax("unexpected end of input in object", i)
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, errSyntax("expected ',' or '}' in object", i)
		}
	}
}

// scanValue scans any JSON value at b[i] (no leading space). The returned span's end is the
// offset after the value, except for strings, where it is the offset of the closing quote.
func scanValue(b []byte, i, depth int) (span, error) {
	if i >= len(b) {
		return span{}, errSyntax("unexpected end of input, expected a value", i)
	}
	switch c := b[i]; {
	case c == '"':
		s, e, esc, err := scanString(b, i)
		return span{start: s, end: e, kind: kindString, esc: esc}, err
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return span{}, errSyntax("nesting too deep", i)
		}
		end, err := skipContainer(b, i, depth+1)
		k := kindObject
		if c == '[' {
			k = kindArray
		}
		return span{start: i, end: end, kind: k}, err
	case c == '-' || (c >= '0' && c <= '9'):
		end, err := scanNumber(b, i)
		return span{start: i, end: end, kind: kindNumber}, err
	case c == 't':
		return literal(b, i, "true", kindTrue)
	case c == 'f':
		return literal(b, i, "false", kindFalse)
	case c == 'n':
		return literal(b, i, "null", kindNull)
	}
	return span{}, errSyntax("invalid character "+quote(b[i:i+1])+" looking for a value", i)
}

func literal(b []byte, i int, lit string, k kind) (span, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return span{}, errSyntax("invalid literal", i)
	}
	return span{start: i, end: i + len(lit), kind: k}, nil
}

// skipContainer validates the object or array at b[i] and returns the offset after it.
func skipContainer(b []byte, i, depth int) (int, error) {
	obj := b[i] == '{'
	closer := byte(']')
	if obj {
		closer = '}'
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == closer {
		return i + 1, nil
	}
	for {
		if obj {
			if i >= len(b) || b[i] != '"' {
				return 0, errSyntax("expected object key", i)
			}
			_, ke, _, err := scanString(b, i)
			if err != nil {
				return 0, err
			}
			i = skipSpace(b, ke+1)
			if i >= len(b) || b[i] != ':' {
				return 0, errSyntax("expected ':' after object key", i)
			}
			i = skipSpace(b, i+1)
		}
		v, err := scanValue(b, i, depth)
		if err != nil {
			return 0, err
		}
		i = v.end
		if v.kind == kindString {
			i++
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, errSyntax("unexpected end of input", i)
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case closer:
			return i + 1, nil
		default:
			return 0, errSyntax("expected ',' or closing bracket", i)
		}
	}
}

// scanString scans the string whose opening quote is b[i]. It returns the content bounds (end is
// the offset of the closing quote) and whether the content has escapes. The input is known to be
// valid UTF-8, so only control characters and escapes need checking.
func scanString(b []byte, i int) (start, end int, esc bool, err error) {
	start = i + 1
	for j := start; j < len(b); j++ {
		c := b[j]
		if !stringSpecial[c] {
			continue
		}
		switch {
		case c == '"':
			return start, j, esc, nil
		case c == '\\':
			esc = true
			j++
			if j >= len(b) {
				return 0, 0, false, errSyntax("unexpected end of input in string escape", j)
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-j < 5 || !isHex(b[j+1]) || !isHex(b[j+2]) || !isHex(b[j+3]) || !isHex(b[j+4]) {
					return 0, 0, false, errSyntax("invalid \\u escape in string", j)
				}
				j += 4
			default:
				return 0, 0, false, errSyntax("invalid escape in string", j)
			}
		default:
			return 0, 0, false, errSyntax("control character in string", j)
		}
	}
	return 0, 0, false, errSyntax("unexpected end of input in string", len(b))
}

// stringSpecial marks the bytes that end the fast path of scanString: '"', '\\' and controls.
var stringSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber scans a JSON number at b[i] and returns the offset after it.
func scanNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return 0, errSyntax("invalid number", start)
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return 0, errSyntax("invalid number: no digits after '.'", start)
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return 0, errSyntax("invalid number: no digits in exponent", start)
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

// unescapeKey decodes an escaped key into buf; it returns nil if the key does not fit, which is
// fine because no known key is that long.
func unescapeKey(buf, s []byte) []byte {
	out := jsonstr.AppendUnescaped(buf, s)
	if len(out) > cap(buf) {
		return nil
	}
	return out
}
