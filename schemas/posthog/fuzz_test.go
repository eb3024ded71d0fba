package posthog

import (
	"encoding/base64"
	"errors"
	"net/url"
	"testing"
	"time"
)

func FuzzDecode(f *testing.F) {
	seeds := []string{
		posthogGoBody,
		singleEvent,
		jsArray,
		`{"token":"phc_t","historical_migration":true,"sent_at":"2024-05-01T12:00:00Z","batch":[{"event":"e","distinct_id":1,"offset":5}]}`,
		`{"api_key":"k","event":"$groupidentify","distinct_id":"d","properties":{"$group_type":"c","$group_key":1,"$group_set":{"a":1},"$groups":{"x":"y"},"$set":{"a":1},"$set_once":{}}}`,
		`[{"event":"e","distinct_id":"d","properties":{"token":"phx_x"}}]`,
		`[]`, `{}`, `null`, `"x"`, `[1,2]`, `{"batch":null}`, `{"batch":[null]}`,
		`{"api_key":"k","event":"e","distinct_id":"d","timestamp":1e400}`,
		`{"api_key":"k","event":"e","distinct_id":"d","offset":-1e308}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), "application/json", "", "")
	}
	f.Add(gz(f, []byte(posthogGoBody)), "application/json", "gzip", "")
	f.Add(gz(f, []byte(jsArray)), "", "", "gzip-js")
	f.Add([]byte("data="+base64.StdEncoding.EncodeToString([]byte(jsArray))), "application/x-www-form-urlencoded", "", "")
	f.Add([]byte(base64.StdEncoding.EncodeToString([]byte(singleEvent))), "", "", "base64")

	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, ct, enc, compression string) {
		q := url.Values{}
		if compression != "" {
			q.Set("compression", compression)
		}
		evs, rej, err := Decode(body, ct, enc, q, now, Limits{MaxBodyBytes: 1 << 20})
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("error is not a *RequestError: %v", err)
			}
			if evs != nil || rej != nil {
				t.Fatalf("events returned with an error")
			}
			return
		}
		for _, e := range evs {
			if e.Event == "" || e.DistinctID == "" || e.APIKey == "" || !isUUID(e.UUID) {
				t.Fatalf("incomplete event accepted: %+v", e)
			}
		}
	})
}
