package events

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// FuzzDecode checks that Decode never panics, that it never accepts what encoding/json refuses, and
// that every accepted event survives Encode→Decode unchanged (and keeps its subject).
//
//	go test -run XXX -fuzz FuzzDecode -fuzztime 30s ./schemas/events/
func FuzzDecode(f *testing.F) {
	for _, dir := range []string{"valid", "invalid"} {
		for _, raw := range testdataFiles(f, dir) {
			f.Add(raw)
		}
	}
	for _, typ := range Types {
		f.Add(build(typ, nil, nil))
	}
	f.Add([]byte(`{"specversion":"1.0","id":"\ud83d\ude80","data":{"sent":-0.0e-0}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := Decode(raw, DefaultLimits())
		if err != nil {
			re, ok := err.(*RejectError)
			require.True(t, ok, "error is %T", err)
			require.NotEmpty(t, re.Reason)
			require.Equal(t, Event{}, ev)
			require.LessOrEqual(t, len(err.Error()), maxErrorBytes)
			if !json.Valid(raw) && len(raw) <= defaultMaxEventBytes {
				require.Equal(t, ReasonMalformed, re.Reason, "encoding/json refuses %q but Decode says %v", raw, err)
			}
			return
		}
		require.True(t, json.Valid(raw), "Decode accepted invalid JSON %q", raw)
		require.True(t, utf8.Valid(raw))
		requireOneData(t, ev)
		requireRoundTrip(t, ev)

		lane, typ, tenant, part, err := ParseSubject(Subject(ev))
		require.NoError(t, err)
		require.Equal(t, LaneOf(ev), lane)
		require.Equal(t, ev.Type, typ)
		require.Equal(t, ev.TenantID, tenant)
		require.Equal(t, -1, part)
	})
}
