package posthog

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 1, 12, 30, 0, 123456789, time.UTC)
	ev := Event{UUID: "0190a5a4-0000-7000-8000-000000000001", APIKey: "phc_x", DistinctID: "u1", Event: "$pageview",
		Time: ts, Properties: map[string]any{"n": json.Number("12345678901234567890"), "$lib": "posthog-go"},
		Set: map[string]any{"plan": "pro"}, Groups: map[string]string{"company": "acme"}, Historical: true}
	r, err := NewRecord("t-1", &ev)
	require.NoError(t, err)
	b, err := json.Marshal(r)
	require.NoError(t, err)
	got, err := DecodeRecord(b)
	require.NoError(t, err)
	assert.Equal(t, "t-1:0190a5a4-0000-7000-8000-000000000001", got.MsgID())
	assert.Equal(t, ts, got.Timestamp)
	assert.Equal(t, "u1", got.DistinctID)
	assert.True(t, got.Historical)
	assert.Equal(t, "pro", got.Set["plan"])
	assert.Equal(t, "acme", got.Groups["company"])
	assert.JSONEq(t, `{"n":12345678901234567890,"$lib":"posthog-go"}`, string(got.Properties), "big numbers survive")
}

func TestDecodeRecordRejects(t *testing.T) {
	for name, body := range map[string]string{
		"not json":      `{`,
		"no uuid":       `{"tenant_id":"t","distinct_id":"d","event":"e","timestamp":"2026-01-01T00:00:00Z"}`,
		"no tenant":     `{"uuid":"u","distinct_id":"d","event":"e","timestamp":"2026-01-01T00:00:00Z"}`,
		"no distinct":   `{"uuid":"u","tenant_id":"t","event":"e","timestamp":"2026-01-01T00:00:00Z"}`,
		"no event":      `{"uuid":"u","tenant_id":"t","distinct_id":"d","timestamp":"2026-01-01T00:00:00Z"}`,
		"no timestamp":  `{"uuid":"u","tenant_id":"t","distinct_id":"d","event":"e"}`,
		"bad timestamp": `{"uuid":"u","tenant_id":"t","distinct_id":"d","event":"e","timestamp":"yesterday"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeRecord([]byte(body))
			assert.Error(t, err)
		})
	}
}

func TestSegments(t *testing.T) {
	group := func(typ, key string, set map[string]any) *Record {
		return &Record{Event: "$groupidentify", DistinctID: "d", GroupType: typ, GroupKey: key, GroupSet: set}
	}
	tests := []struct {
		name  string
		rules SegmentRules
		rec   *Record
		want  []Segment
	}{
		{"group plan and tier", DefaultSegmentRules(), group("company", "acme", map[string]any{"plan": "pro", "tier": float64(2)}),
			[]Segment{{"plan", "pro", "$groupidentify:company:acme"}, {"tier", "2", "$groupidentify:company:acme"}}},
		{"group type not allowed", SegmentRules{PlanProperties: []string{"plan"}, GroupTypes: []string{"company"}},
			group("team", "x", map[string]any{"plan": "pro"}), nil},
		{"person $set", DefaultSegmentRules(), &Record{Event: "$identify", DistinctID: "u1", Set: map[string]any{"plan": "free"}},
			[]Segment{{"plan", "free", "$set:u1"}}},
		{"person properties disabled", SegmentRules{PlanProperties: []string{"plan"}},
			&Record{Event: "$identify", DistinctID: "u1", Set: map[string]any{"plan": "free"}}, nil},
		{"configured names in order", SegmentRules{PlanProperties: []string{"billing_plan", "plan"}, PersonProperties: true},
			&Record{Event: "e", DistinctID: "u", Set: map[string]any{"plan": "a", "billing_plan": "b"}},
			[]Segment{{"plan", "b", "$set:u"}}},
		{"group wins over person", DefaultSegmentRules(),
			&Record{Event: "$groupidentify", DistinctID: "u", GroupType: "company", GroupKey: "k",
				GroupSet: map[string]any{"plan": "g"}, Set: map[string]any{"plan": "p", "tier": "t"}},
			[]Segment{{"plan", "g", "$groupidentify:company:k"}, {"tier", "t", "$set:u"}}},
		{"non-scalar and empty ignored", DefaultSegmentRules(),
			&Record{Event: "e", DistinctID: "u", Set: map[string]any{"plan": map[string]any{"x": 1}, "tier": "  "}}, nil},
		{"bool", DefaultSegmentRules(), &Record{Event: "e", DistinctID: "u", Set: map[string]any{"plan": true}},
			[]Segment{{"plan", "true", "$set:u"}}},
		{"groupidentify without key", DefaultSegmentRules(), group("company", "", map[string]any{"plan": "pro"}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.rules.Segments(tt.rec))
		})
	}
}
