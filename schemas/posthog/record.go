package posthog

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Record is an accepted PostHog event as it travels in the POSTHOG stream (JSON, one per message,
// Nats-Msg-Id = tenant + ":" + UUID). It carries the resolved tenant instead of the project key, the
// skew-corrected time, and what the consumers and a later replay need: the event's properties and
// its person and group updates.
type Record struct {
	UUID       string            `json:"uuid"`
	TenantID   string            `json:"tenant_id"`
	DistinctID string            `json:"distinct_id"`
	Event      string            `json:"event"`
	Timestamp  time.Time         `json:"timestamp"`
	Historical bool              `json:"historical,omitempty"`
	Set        map[string]any    `json:"set,omitempty"`
	SetOnce    map[string]any    `json:"set_once,omitempty"`
	Groups     map[string]string `json:"groups,omitempty"`
	GroupType  string            `json:"group_type,omitempty"`
	GroupKey   string            `json:"group_key,omitempty"`
	GroupSet   map[string]any    `json:"group_set,omitempty"`
	// Properties is the event's properties object as JSON (consumers that do not need it leave
	// it undecoded).
	Properties json.RawMessage `json:"properties,omitempty"`
}

// NewRecord builds the stream record of an accepted event of tenant.
func NewRecord(tenantID string, ev *Event) (Record, error) {
	props, err := json.Marshal(ev.Properties)
	if err != nil {
		return Record{}, fmt.Errorf("posthog: encode properties: %w", err)
	}
	if ev.Properties == nil {
		props = nil
	}
	return Record{UUID: ev.UUID, TenantID: tenantID, DistinctID: ev.DistinctID, Event: ev.Event,
		Timestamp: ev.Time.UTC(), Historical: ev.Historical, Set: ev.Set, SetOnce: ev.SetOnce,
		Groups: ev.Groups, GroupType: ev.GroupType, GroupKey: ev.GroupKey, GroupSet: ev.GroupSet,
		Properties: props}, nil
}

// MsgID is the de-duplication id of the record in the stream: a retry of the same event by the
// same tenant is dropped by JetStream, and one tenant cannot suppress another's events by reusing
// their uuids.
func (r *Record) MsgID() string { return r.TenantID + ":" + r.UUID }

// DecodeRecord parses a stream record and checks the fields the roll-ups rely on.
func DecodeRecord(b []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("posthog record: %w", err)
	}
	switch {
	case r.UUID == "":
		return r, errors.New("posthog record: uuid is missing")
	case r.TenantID == "":
		return r, errors.New("posthog record: tenant_id is missing")
	case r.DistinctID == "":
		return r, errors.New("posthog record: distinct_id is missing")
	case r.Event == "":
		return r, errors.New("posthog record: event is missing")
	case r.Timestamp.IsZero():
		return r, errors.New("posthog record: timestamp is missing")
	}
	r.Timestamp = r.Timestamp.UTC()
	return r, nil
}

// SegmentRules say which person and group properties carry a tenant's plan and tier.
type SegmentRules struct {
	// PlanProperties and TierProperties are property names, tried in order; the first present
	// with a scalar value wins.
	PlanProperties []string
	TierProperties []string
	// GroupTypes limits $groupidentify updates to these group types (e.g. "company"); empty
	// means any group type.
	GroupTypes []string
	// PersonProperties enables updates from person properties ($set, e.g. by identify).
	PersonProperties bool
}

// DefaultSegmentRules: plan from "plan", tier from "tier", any group type, person properties too.
func DefaultSegmentRules() SegmentRules {
	return SegmentRules{PlanProperties: []string{"plan"}, TierProperties: []string{"tier"}, PersonProperties: true}
}

// Segment is one tenant dimension update found in a record.
type Segment struct {
	Property string // "plan" or "tier"
	Value    string
	Source   string // "$groupidentify:<type>:<key>" or "$set:<distinct id>"
}

// MaxSegmentValueLen bounds a segment value (longer values are cut).
const MaxSegmentValueLen = 128

// Segments returns the plan/tier updates a record carries under the rules: from the group
// properties of a $groupidentify of an allowed group type, and from person properties ($set).
// When both carry the same dimension, the group's wins.
func (rules SegmentRules) Segments(r *Record) []Segment {
	var out []Segment
	add := func(dim string, names []string, src map[string]any, source string) {
		for _, s := range out {
			if s.Property == dim {
				return
			}
		}
		for _, n := range names {
			if v, ok := segmentValue(src[n]); ok {
				out = append(out, Segment{Property: dim, Value: v, Source: source})
				return
			}
		}
	}
	if r.Event == "$groupidentify" && r.GroupType != "" && r.GroupKey != "" && rules.groupTypeAllowed(r.GroupType) {
		src := "$groupidentify:" + r.GroupType + ":" + r.GroupKey
		add("plan", rules.PlanProperties, r.GroupSet, src)
		add("tier", rules.TierProperties, r.GroupSet, src)
	}
	if rules.PersonProperties && len(r.Set) > 0 {
		src := "$set:" + r.DistinctID
		add("plan", rules.PlanProperties, r.Set, src)
		add("tier", rules.TierProperties, r.Set, src)
	}
	return out
}

func (rules SegmentRules) groupTypeAllowed(t string) bool {
	if len(rules.GroupTypes) == 0 {
		return true
	}
	for _, g := range rules.GroupTypes {
		if g == t {
			return true
		}
	}
	return false
}

// segmentValue accepts non-empty strings, numbers and booleans.
func segmentValue(v any) (string, bool) {
	var s string
	switch x := v.(type) {
	case string:
		s = strings.TrimSpace(x)
	case json.Number:
		s = x.String()
	case float64:
		s, _ = scalarString(x)
	case bool:
		s = fmt.Sprint(x)
	default:
		return "", false
	}
	if s == "" {
		return "", false
	}
	if len(s) > MaxSegmentValueLen {
		s = strings.ToValidUTF8(s[:MaxSegmentValueLen], "")
	}
	return s, true
}
