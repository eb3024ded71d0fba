package generate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// Malformation kinds (Item.Reason of malformed items), cycled through in this order starting at a
// seeded offset per Window call.
const (
	MalformedTruncatedJSON  = "truncated_json"        // valid event cut in half: not JSON
	MalformedNotJSON        = "not_json"              // plain text
	MalformedMissingID      = "missing_id"            // no "id"
	MalformedMissingTenant  = "missing_tenantid"      // no "tenantid"
	MalformedMissingData    = "missing_data"          // no "data"
	MalformedMissingField   = "missing_resource_id"   // data without "resource_id" (usage.vps.sample)
	MalformedCPUOutOfRange  = "cpu_util_out_of_range" // cpu_util 1.7
	MalformedMemNegative    = "mem_util_negative"     // mem_util -0.2
	MalformedNegativeCount  = "negative_count"        // sent -5 (usage.email.volume)
	MalformedUnknownType    = "unknown_type"          // type "usage.gpu.sample"
	MalformedBadTime        = "bad_time"              // time "2024-13-45T25:61:00Z"
	MalformedBadSpecVersion = "bad_specversion"       // specversion "0.3"
	MalformedWrongFieldType = "wrong_field_type"      // vcpus "four"
)

var malformedKinds = []string{
	MalformedTruncatedJSON, MalformedCPUOutOfRange, MalformedMissingID, MalformedNegativeCount,
	MalformedUnknownType, MalformedMissingTenant, MalformedBadTime, MalformedMemNegative,
	MalformedNotJSON, MalformedMissingData, MalformedBadSpecVersion, MalformedWrongFieldType,
	MalformedMissingField,
}

// MalformedKinds lists every malformation kind.
func MalformedKinds() []string { return slices.Clone(malformedKinds) }

// malformed builds the bytes of one malformed item of the given kind, from a template event of a
// resource picked with x, at Unix ns t, carrying id where the kind keeps one.
func (g *Generator) malformed(kind, id string, t int64, x uint64) ([]byte, string) {
	needVPS := kind == MalformedCPUOutOfRange || kind == MalformedMemNegative ||
		kind == MalformedWrongFieldType || kind == MalformedMissingField
	needEmail := kind == MalformedNegativeCount
	if (needVPS && len(g.vps) == 0) || (needEmail && len(g.ips) == 0) {
		kind = MalformedUnknownType
	}
	var res int
	switch {
	case needVPS && len(g.vps) > 0:
		res = int(x % uint64(len(g.vps)))
	case needEmail && len(g.ips) > 0:
		res = len(g.vps) + int(x%uint64(len(g.ips)))
	default:
		res = int(x % uint64(len(g.vps)+len(g.ips)))
	}
	ev := g.event(res, t, false)
	ev.ID = id
	valid := mustEncode(ev)

	switch kind {
	case MalformedTruncatedJSON:
		return slices.Clone(valid[:len(valid)/2]), kind
	case MalformedNotJSON:
		return fmt.Appendf(nil, "event %s: cpu=high, sent=lots", id), kind
	}
	dec := json.NewDecoder(bytes.NewReader(valid))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		panic(fmt.Sprintf("generate: re-decode own event: %v", err)) // unreachable
	}
	data, _ := m["data"].(map[string]any)
	switch kind {
	case MalformedMissingID:
		delete(m, "id")
	case MalformedMissingTenant:
		delete(m, "tenantid")
	case MalformedMissingData:
		delete(m, "data")
	case MalformedMissingField:
		delete(data, "resource_id")
	case MalformedCPUOutOfRange:
		data["cpu_util"] = json.Number("1.7")
	case MalformedMemNegative:
		data["mem_util"] = json.Number("-0.2")
	case MalformedNegativeCount:
		data["sent"] = json.Number("-5")
	case MalformedUnknownType:
		m["type"] = "usage.gpu.sample"
	case MalformedBadTime:
		m["time"] = "2024-13-45T25:61:00Z"
	case MalformedBadSpecVersion:
		m["specversion"] = "0.3"
	case MalformedWrongFieldType:
		data["vcpus"] = "four"
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("generate: marshal malformed: %v", err)) // unreachable
	}
	return b, kind
}
