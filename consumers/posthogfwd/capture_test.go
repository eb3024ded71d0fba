package posthogfwd

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/schemas/posthog"
)

func TestToCapture(t *testing.T) {
	ts := time.Date(2024, 5, 1, 12, 0, 0, 123_000_000, time.UTC)
	tests := map[string]struct {
		ev        posthog.Event
		wantProps map[string]any
	}{
		"capture keeps properties and $groups": {
			ev: posthog.Event{Event: "$pageview", Properties: map[string]any{
				"$lib": "web", "n": json.Number("1.50"), "$groups": map[string]any{"company": "acme"},
			}, Groups: map[string]string{"company": "acme"}},
			wantProps: map[string]any{"$lib": "web", "n": json.Number("1.50"), "$groups": map[string]any{"company": "acme"}},
		},
		"identify: merged $set and $set_once go to properties": {
			ev: posthog.Event{Event: "$identify", Properties: map[string]any{"$set": map[string]any{"a": 1}},
				Set: map[string]any{"a": 1, "b": 2}, SetOnce: map[string]any{"c": 3}},
			wantProps: map[string]any{"$set": map[string]any{"a": 1, "b": 2}, "$set_once": map[string]any{"c": 3}},
		},
		"groupidentify keeps $group_*": {
			ev: posthog.Event{Event: "$groupidentify", Properties: map[string]any{
				"$group_type": "company", "$group_key": "acme", "$group_set": map[string]any{"name": "Acme"},
			}, GroupType: "company", GroupKey: "acme", GroupSet: map[string]any{"name": "Acme"}},
			wantProps: map[string]any{"$group_type": "company", "$group_key": "acme", "$group_set": map[string]any{"name": "Acme"}},
		},
		"tokens are re-keyed": {
			ev:        posthog.Event{Event: "x", Properties: map[string]any{"token": "phc_source", "$token": "phc_source"}},
			wantProps: map[string]any{"token": upstreamKey, "$token": upstreamKey},
		},
		"no properties": {
			ev:        posthog.Event{Event: "x"},
			wantProps: map[string]any{},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.ev.UUID, tc.ev.DistinctID, tc.ev.Time, tc.ev.APIKey = "0190c0de-0000-7000-8000-000000000001", "user-1", ts, sourceKey
			before := clone(tc.ev.Properties)

			c := toCapture(tc.ev, upstreamKey)

			require.Equal(t, tc.ev.UUID, c.Uuid)
			require.Equal(t, tc.ev.Event, c.Event)
			require.Equal(t, "user-1", c.DistinctId)
			require.Equal(t, ts, c.Timestamp)
			require.Equal(t, tc.wantProps, map[string]any(c.Properties))
			require.Nil(t, c.Groups, "Groups would overwrite properties.$groups")
			require.NoError(t, c.Validate())
			require.Equal(t, before, tc.ev.Properties, "the event's properties are not modified")
		})
	}
}

func clone(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
