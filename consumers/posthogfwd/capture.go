package posthogfwd

import (
	phgo "github.com/posthog/posthog-go"

	"github.com/spendstream/spendstream/schemas/posthog"
)

// toCapture maps an accepted event to the posthog-go message that makes
// upstream PostHog see the same event, re-keyed to apiKey.
//
// Every event, $identify and $groupidentify included, becomes a phgo.Capture
// with its original name: Capture is the only posthog-go message that carries
// a uuid (Identify and GroupIdentify drop it, so upstream could not
// de-duplicate retries), and the only one that keeps the event's own
// properties and distinct_id (Identify sends only $lib and $set; GroupIdentify
// rewrites distinct_id to "$<type>_<key>"). PostHog reads $set, $set_once,
// $groups, $group_type, $group_key and $group_set from properties whatever the
// event was sent with, so:
//
//   - properties are copied as received, $groups and $group_* included
//     (Capture.Groups stays nil: it would overwrite $groups);
//   - $set and $set_once become the decoder's merge of the top-level and
//     properties values, put in properties, where PostHog merges them anyway;
//   - token and $token in properties, when present, are re-keyed to apiKey
//     like the batch, so no event carries the source project's key.
//
// posthog-go adds $lib and $lib_version only when the properties lack them.
// ev is not modified; nested values are shared with it.
func toCapture(ev posthog.Event, apiKey string) phgo.Capture {
	props := make(phgo.Properties, len(ev.Properties)+2)
	for k, v := range ev.Properties {
		props[k] = v
	}
	if ev.Set != nil {
		props["$set"] = ev.Set
	}
	if ev.SetOnce != nil {
		props["$set_once"] = ev.SetOnce
	}
	for _, k := range []string{"token", "$token"} {
		if _, ok := props[k]; ok {
			props[k] = apiKey
		}
	}
	return phgo.Capture{
		Uuid:       ev.UUID,
		DistinctId: ev.DistinctID,
		Event:      ev.Event,
		Timestamp:  ev.Time,
		Properties: props,
	}
}
