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

// EncodeRecord returns json.Marshal(NewRecord(tenantID, ev)) and the record's MsgID, with the
// same errors. For an Event as Decode returned it (Properties not changed since), it reuses the
// encoding of the properties Decode made and writes the record without reflection.
func EncodeRecord(tenantID string, ev *Event) ([]byte, string, error) {
	if data, ok := appendRecord(nil, tenantID, ev); ok {
		return data, tenantID + ":" + ev.UUID, nil
	}
	rec, err := NewRecord(tenantID, ev)
	if err != nil {
		return nil, "", err
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, "", err
	}
	return data, rec.MsgID(), nil
}

// appendRecord appends what json.Marshal(NewRecord(tenantID, ev)) gives; ok is false when it
// cannot (no properties encoding from Decode, or a field json.Marshal would refuse), and the
// caller then takes the reflective path.
func appendRecord(b []byte, tenantID string, ev *Event) ([]byte, bool) {
	if ev.propsJSON == nil || ev.Properties == nil {
		return nil, false
	}
	ts := ev.Time.UTC()
	if y := ts.Year(); y < 0 || y > 9999 {
		return nil, false // time.Time.MarshalJSON refuses it
	}
	if b == nil {
		b = make([]byte, 0, 192+len(ev.UUID)+len(tenantID)+len(ev.DistinctID)+len(ev.Event)+len(ev.propsJSON)+len(ev.propsJSON)/4)
	}
	b = append(b, `{"uuid":`...)
	b = appendJSONString(b, ev.UUID)
	b = append(b, `,"tenant_id":`...)
	b = appendJSONString(b, tenantID)
	b = append(b, `,"distinct_id":`...)
	b = appendJSONString(b, ev.DistinctID)
	b = append(b, `,"event":`...)
	b = appendJSONString(b, ev.Event)
	b = append(b, `,"timestamp":`...)
	// time.Time.MarshalJSON, for a UTC time of years 0 to 9999.
	b = append(ts.AppendFormat(append(b, '"'), time.RFC3339Nano), '"')
	if ev.Historical {
		b = append(b, `,"historical":true`...)
	}
	var ok bool
	if b, ok = appendJSONMap(b, `,"set":`, ev.Set); !ok {
		return nil, false
	}
	if b, ok = appendJSONMap(b, `,"set_once":`, ev.SetOnce); !ok {
		return nil, false
	}
	if len(ev.Groups) > 0 {
		g, err := json.Marshal(ev.Groups)
		if err != nil {
			return nil, false
		}
		b = append(append(b, `,"groups":`...), g...)
	}
	if ev.GroupType != "" {
		b = append(b, `,"group_type":`...)
		b = appendJSONString(b, ev.GroupType)
	}
	if ev.GroupKey != "" {
		b = append(b, `,"group_key":`...)
		b = appendJSONString(b, ev.GroupKey)
	}
	if b, ok = appendJSONMap(b, `,"group_set":`, ev.GroupSet); !ok {
		return nil, false
	}
	// propsJSON is compact and only lacks the HTML escaping json.Marshal applies (<, >, & in
	// strings; U+2028 and U+2029 are escaped either way); json.HTMLEscape adds it.
	b = append(b, `,"properties":`...)
	b = appendHTMLEscape(b, ev.propsJSON)
	return append(b, '}'), true
}

// appendHTMLEscape appends src as json.HTMLEscape writes it.
func appendHTMLEscape(dst, src []byte) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i, c := range src {
		if c == '<' || c == '>' || c == '&' {
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			start = i + 1
		}
		// U+2028 is LINE SEPARATOR, U+2029 is PARAGRAPH SEPARATOR.
		if c == 0xE2 && i+2 < len(src) && src[i+1] == 0x80 && src[i+2]&^1 == 0xA8 {
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[src[i+2]&0xF])
			start = i + 3
		}
	}
	return append(dst, src[start:]...)
}

// appendJSONMap appends name and json.Marshal(m) when m is not empty (omitempty).
func appendJSONMap(b []byte, name string, m map[string]any) ([]byte, bool) {
	if len(m) == 0 {
		return b, true
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, false
	}
	return append(append(b, name...), data...), true
}

// appendJSONString appends s as json.Marshal encodes it.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			data, _ := json.Marshal(s) // strings always encode
			return append(b, data...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
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
