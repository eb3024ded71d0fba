package posthog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzSplit checks splitArray and splitObject against json.Unmarshal.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{posthogGoBody, singleEvent, jsArray, `[]`, `{}`, `[ 1 , "a\"]" ,{"x":[1,{}]}, null,true ,-1.5e3]`,
		`{"a":1,"a":2,"b\u0061":"x","\u00e9":[],"c":{"}":"{"}}`, "{\"a\xff\":1}", `{"batch":null,"api_key":"k"}`,
		`{"batch":[1,"\\\"",{"a\\":"\\\\"}],"batch":[2, [] ,{}]}`, `{"batch":[1],"batch":2}`, `{"batch":[]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = bytes.TrimSpace(data)
		if len(data) == 0 || !json.Valid(data) {
			return
		}
		switch data[0] {
		case '[':
			var want []json.RawMessage
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			got, end := splitArray(data, 0)
			if end != len(data) || !reflect.DeepEqual(got, want) {
				t.Fatalf("splitArray(%q) = %q, want %q", data, got, want)
			}
		case '{':
			var want map[string]json.RawMessage
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			got, batch := splitObject(data)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("splitObject(%q) = %q, want %q", data, got, want)
			}
			var wantBatch []json.RawMessage
			if raw, ok := want["batch"]; ok && raw[0] == '[' {
				if err := json.Unmarshal(raw, &wantBatch); err != nil {
					t.Fatal(err)
				}
			}
			if !reflect.DeepEqual(batch, wantBatch) {
				t.Fatalf("splitObject(%q) batch = %q, want %q", data, batch, wantBatch)
			}
		}
	})
}

// FuzzEncodeRecord checks EncodeRecord against json.Marshal(NewRecord(...)), and the uuids Decode
// derives against DeriveUUID, for the events Decode accepts.
func FuzzEncodeRecord(f *testing.F) {
	for _, s := range []string{posthogGoBody, singleEvent, jsArray,
		`{"api_key":"k","event":"$groupidentify","distinct_id":"d<&>","properties":{"$group_type":"c&","$group_key":1,"$group_set":{"a":"<b>"},"$groups":{"x":"y"},"$set":{"a":1},"$set_once":{"z":[1,"\u2028"]}}}`,
		`{"api_key":"k","historical_migration":true,"batch":[{"event":"é\u0000\"","distinct_id":"\u2029","properties":{"u":"https://x/?a=1&b=<2>","n":1.50,"t":true,"x":null,"o":{"b":1,"a":[{}]}},"timestamp":"2024-05-01T11:00:00.123456789+02:00"}]}`,
		"{\"api_key\":\"k\",\"event\":\"e\xff\",\"distinct_id\":\"d\",\"properties\":{\"k\xfe\":\"v\xfd\"}}",
		`{"api_key":"k","event":"e","distinct_id":"d","uuid":"0190A5A4-0000-7000-8000-000000000001","properties":null}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, _, err := Decode(body, "application/json", "", nil, now, Limits{MaxBodyBytes: 1 << 20})
		if err != nil {
			return
		}
		for i := range evs {
			ev := &evs[i]
			got, gotID, gotErr := EncodeRecord("t-1", ev)
			rec, wantErr := NewRecord("t-1", ev)
			var want []byte
			if wantErr == nil {
				want, wantErr = json.Marshal(rec)
			}
			if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
				t.Fatalf("EncodeRecord error %v, want %v", gotErr, wantErr)
			}
			if gotErr == nil && (!bytes.Equal(got, want) || gotID != rec.MsgID()) {
				t.Fatalf("EncodeRecord = %s %s\nwant            %s %s", gotID, got, rec.MsgID(), want)
			}
			if ev.propsJSON != nil && !bytes.Equal(ev.propsJSON, canonicalJSON(ev.Properties)) {
				t.Fatalf("propsJSON %s, want %s", ev.propsJSON, canonicalJSON(ev.Properties))
			}
		}
	})
}

// FuzzFastDecodeEncode checks decodeValid against json.Decoder with UseNumber, and appendCanonical
// against json.Encoder with SetEscapeHTML(false).
func FuzzFastDecodeEncode(f *testing.F) {
	for _, s := range []string{posthogGoBody, singleEvent, jsArray, `[]`, `{}`, `null`, `true`, `false`, `-0.5e+3`, `"\ud800x\u00e9\u2028<&>"`,
		`{"a":1,"a":[],"b":{"c":[null,true,false,"x\"y",{}]},"\u00e9":"é","z":"` + "\xff\xfe" + `"}`, "\"\x7f\"", `{"b":1,"a":2,"B":3,"":4}`,
		`{"k\u0026":"a\u0026b\n\u00e9\/\"\\\b\f\r\t\uABCDé\u0000\ud83d\ude00"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = bytes.TrimSpace(data)
		if len(data) == 0 || !json.Valid(data) {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		got, end := decodeValid(data, 0)
		if end != len(data) || !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeValid(%q) = %#v (%d), want %#v", data, got, end, want)
		}
		keys := keyCache{}
		for range 2 {
			got, end := decodeValidKeys(data, 0, keys)
			if end != len(data) || !reflect.DeepEqual(got, want) {
				t.Fatalf("decodeValidKeys(%q) = %#v (%d), want %#v", data, got, end, want)
			}
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(want); err != nil {
			t.Fatal(err)
		}
		canon, ok := appendCanonical(nil, got)
		if !ok || !bytes.Equal(canon, bytes.TrimRight(buf.Bytes(), "\n")) {
			t.Fatalf("appendCanonical(%q) = %q %v, want %q", data, canon, ok, buf.Bytes())
		}
	})
}

// refDeriveUUID is DeriveUUID as first written (streamed hash, canonical JSON by json.Encoder):
// the derived uuids must never change.
func refDeriveUUID(apiKey, distinctID, event string, ts time.Time, properties map[string]any) string {
	h := sha256.New()
	writeField := func(b []byte) {
		var l [8]byte
		binary.BigEndian.PutUint64(l[:], uint64(len(b)))
		h.Write(l[:])
		h.Write(b)
	}
	canon := []byte("{}")
	if len(properties) > 0 {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(properties); err != nil {
			canon = []byte(fmt.Sprintf("%v", properties))
		} else {
			canon = bytes.TrimRight(buf.Bytes(), "\n")
		}
	}
	writeField([]byte("spendstream/posthog/v1"))
	writeField([]byte(apiKey))
	writeField([]byte(distinctID))
	writeField([]byte(event))
	writeField([]byte(ts.UTC().Format(time.RFC3339Nano)))
	writeField(canon)
	sum := h.Sum(nil)
	var u [16]byte
	copy(u[:], sum[:16])
	u[6] = (u[6] & 0x0f) | 0x80
	u[8] = (u[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

func FuzzDeriveUUID(f *testing.F) {
	f.Add("phc_k", "user-1", "$pageview", int64(1714564800123456789), []byte(`{"a":1,"b":{"x":"y<&>","c":[1,"2"]}}`))
	f.Add("", "", "", int64(0), []byte(`{}`))
	f.Add("k", strings.Repeat("d", 300), "é", int64(-1), []byte(`{"`+strings.Repeat("p", 600)+`":"\u2028"}`))
	f.Fuzz(func(t *testing.T, apiKey, distinctID, event string, nanos int64, props []byte) {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(props))
		dec.UseNumber()
		if dec.Decode(&m) != nil {
			m = nil
		}
		ts := time.Unix(0, nanos).In(time.FixedZone("z", 3600))
		want := refDeriveUUID(apiKey, distinctID, event, ts, m)
		if got := DeriveUUID(apiKey, distinctID, event, ts, m); got != want {
			t.Fatalf("DeriveUUID = %s, want %s", got, want)
		}
		if canon, ok := encodeCanonical(m); ok {
			if got := deriveUUID(apiKey, distinctID, event, ts, canon); got != want {
				t.Fatalf("deriveUUID = %s, want %s", got, want)
			}
		}
	})
}

func FuzzAppendHTMLEscape(f *testing.F) {
	f.Add([]byte("a<b>&c\u2028d\u2029e\xe2\x80"))
	f.Fuzz(func(t *testing.T, src []byte) {
		var want bytes.Buffer
		json.HTMLEscape(&want, src)
		if got := appendHTMLEscape([]byte("x"), src); !bytes.Equal(got[1:], want.Bytes()) {
			t.Fatalf("appendHTMLEscape(%q) = %q, want %q", src, got[1:], want.Bytes())
		}
	})
}
