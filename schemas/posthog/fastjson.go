package posthog

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/spendstream/spendstream/schemas/internal/jsonstr"
)

// This file holds what Decode needs of encoding/json, for valid JSON only, without
// reflection: decodeValid decodes as json.Decoder with UseNumber does into an any, and
// appendCanonical encodes as json.Encoder with SetEscapeHTML(false) does (map keys sorted).
// Anything out of the ordinary (escaped or non-ASCII strings, unexpected types) is handed to
// encoding/json itself, so the results are the same byte for byte.

// decodeValid decodes the JSON value starting at b[i] (b valid JSON, as checked by json.Valid,
// and b[i] the first byte of a value) and returns it with the index just past it: objects as
// map[string]any (the last of duplicate keys wins), arrays as []any, numbers as json.Number,
// strings, bools and nil.
func decodeValid(b []byte, i int) (any, int) { return decodeValidKeys(b, i, nil) }

// keyCache interns the object keys decodeValidKeys decodes (the events of a request mostly
// share their keys), so that each is allocated once per request rather than once per event.
type keyCache map[string]string

const maxKeyCache = 4096 // keys kept at most per cache

// decodeValidKeys is decodeValid, interning object keys in keys (when not nil).
func decodeValidKeys(b []byte, i int, keys keyCache) (any, int) {
	switch c := b[i]; c {
	case '{':
		m := map[string]any{}
		i = skipJSONSpace(b, i+1)
		if b[i] == '}' {
			return m, i + 1
		}
		for {
			var k string
			k, i = decodeValidKey(b, i, keys)
			i = skipJSONSpace(b, i)
			i = skipJSONSpace(b, i+1) // ':'
			var v any
			v, i = decodeValidKeys(b, i, keys)
			m[k] = v
			i = skipJSONSpace(b, i)
			if b[i] == '}' {
				return m, i + 1
			}
			i = skipJSONSpace(b, i+1) // ','
		}
	case '[':
		a := []any{}
		i = skipJSONSpace(b, i+1)
		if b[i] == ']' {
			return a, i + 1
		}
		for {
			var v any
			v, i = decodeValidKeys(b, i, keys)
			a = append(a, v)
			i = skipJSONSpace(b, i)
			if b[i] == ']' {
				return a, i + 1
			}
			i = skipJSONSpace(b, i+1) // ','
		}
	case '"':
		return decodeValidString(b, i)
	case 't':
		return true, i + 4
	case 'f':
		return false, i + 5
	case 'n':
		return nil, i + 4
	default: // number
		end := jsonValueEnd(b, i)
		return json.Number(string(b[i:end])), end
	}
}

// decodeValidKey decodes the JSON string starting at b[i], an object key, taking it from keys
// when it is there and adding it otherwise (plain ASCII keys only).
func decodeValidKey(b []byte, i int, keys keyCache) (string, int) {
	if keys == nil {
		return decodeValidString(b, i)
	}
	j := i + 1
	for ; b[j] != '"'; j++ {
		if c := b[j]; c == '\\' || c >= utf8.RuneSelf {
			return decodeValidString(b, i)
		}
	}
	if k, ok := keys[string(b[i+1:j])]; ok {
		return k, j + 1
	}
	k := string(b[i+1 : j])
	if len(keys) < maxKeyCache {
		keys[k] = k
	}
	return k, j + 1
}

// decodeValidString decodes the JSON string starting at b[i].
func decodeValidString(b []byte, i int) (string, int) {
	j, ascii := i+1, true
	for ; b[j] != '"'; j++ {
		switch c := b[j]; {
		case c == '\\':
			return unquoteEscaped(b, i)
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(b[i+1:j]) {
		return unquoteStd(b, i) // invalid UTF-8 becomes U+FFFD
	}
	return string(b[i+1 : j]), j + 1
}

// unquoteEscaped decodes the JSON string starting at b[i], which has escapes. Invalid UTF-8 is
// left to encoding/json (which turns it into U+FFFD).
func unquoteEscaped(b []byte, i int) (string, int) {
	end := jsonValueEnd(b, i)
	raw := b[i+1 : end-1]
	if !utf8.Valid(raw) {
		return unquoteStd(b, i)
	}
	return string(jsonstr.AppendUnescaped(make([]byte, 0, len(raw)), raw)), end
}

// unquoteStd decodes the JSON string starting at b[i] with encoding/json.
func unquoteStd(b []byte, i int) (string, int) {
	end := jsonValueEnd(b, i)
	var s string
	if err := json.Unmarshal(b[i:end], &s); err != nil {
		panic("posthog: unquoteStd: " + err.Error()) // b is valid JSON
	}
	return s, end
}

// appendCanonical appends v as a json.Encoder with SetEscapeHTML(false) encodes it (without
// the newline); ok is false when v holds a type other than those decodeValid returns, or a
// value encoding/json would refuse.
func appendCanonical(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case bool:
		if x {
			return append(b, "true"...), true
		}
		return append(b, "false"...), true
	case string:
		return appendCanonicalString(b, x), true
	case json.Number:
		if x == "" || !validNumber(string(x)) {
			return nil, false
		}
		return append(b, x...), true
	case []any:
		if x == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendCanonical(b, e); !ok {
				return nil, false
			}
		}
		return append(b, ']'), true
	case map[string]any:
		if x == nil {
			return append(b, "null"...), true
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, strings.Compare)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonicalString(b, k)
			b = append(b, ':')
			var ok bool
			if b, ok = appendCanonical(b, x[k]); !ok {
				return nil, false
			}
		}
		return append(b, '}'), true
	}
	return nil, false
}

// appendCanonicalString appends s as a json.Encoder with SetEscapeHTML(false) encodes it.
func appendCanonicalString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(s) // strings always encode
			return append(b, bytes.TrimRight(buf.Bytes(), "\n")...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// validNumber reports whether s is a JSON number (as encoding/json's isValidNumber).
func validNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
		if s == "" {
			return false
		}
	}
	switch {
	default:
		return false
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = s[1:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s = s[2:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
			if s == "" {
				return false
			}
		}
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	return s == ""
}
