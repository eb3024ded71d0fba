package generate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spendstream/spendstream/schemas/events"
)

// The tests validate bytes on their own (encoding/json, strict) so that they do not depend on
// events.Decode.

// wireEnvelope mirrors the structured-mode JSON that events.Encode writes.
type wireEnvelope struct {
	SpecVersion     *string         `json:"specversion"`
	ID              *string         `json:"id"`
	Source          *string         `json:"source"`
	Type            *string         `json:"type"`
	Time            *string         `json:"time"`
	TenantID        *string         `json:"tenantid"`
	DataContentType *string         `json:"datacontenttype"`
	Historical      bool            `json:"historical"`
	Data            json.RawMessage `json:"data"`
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// parseStrict decodes raw into an events.Event and applies the contract's rules. It is the test's
// independent notion of "valid".
func parseStrict(raw []byte) (events.Event, error) {
	var env wireEnvelope
	if err := strictUnmarshal(raw, &env); err != nil {
		return events.Event{}, fmt.Errorf("json: %w", err)
	}
	for name, p := range map[string]*string{
		"specversion": env.SpecVersion, "id": env.ID, "source": env.Source, "type": env.Type,
		"time": env.Time, "tenantid": env.TenantID,
	} {
		if p == nil || *p == "" {
			return events.Event{}, fmt.Errorf("missing %s", name)
		}
	}
	if *env.SpecVersion != events.SpecVersion {
		return events.Event{}, fmt.Errorf("specversion %q", *env.SpecVersion)
	}
	ts, err := time.Parse(time.RFC3339Nano, *env.Time)
	if err != nil {
		return events.Event{}, fmt.Errorf("time: %w", err)
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return events.Event{}, errors.New("missing data")
	}
	ev := events.Event{
		ID: *env.ID, Source: *env.Source, Type: events.Type(*env.Type), Time: ts.UTC(),
		TenantID: *env.TenantID, Historical: env.Historical,
	}
	switch ev.Type {
	case events.TypeVPSSample:
		var d events.VPSSample
		if err := strictUnmarshal(env.Data, &d); err != nil {
			return ev, fmt.Errorf("data: %w", err)
		}
		switch {
		case d.ResourceID == "" || d.Provider == "" || d.Region == "" || d.Plan == "":
			return ev, errors.New("missing data field")
		case d.VCPUs == 0 || d.MemoryMB == 0 || d.IntervalSeconds == 0:
			return ev, errors.New("zero size or interval")
		case d.CPUUtil < 0 || d.CPUUtil > 1 || d.MemUtil < 0 || d.MemUtil > 1:
			return ev, errors.New("utilization out of [0,1]")
		}
		ev.VPS = &d
	case events.TypeEmailVolume:
		var d events.EmailVolume
		if err := strictUnmarshal(env.Data, &d); err != nil {
			return ev, fmt.Errorf("data: %w", err)
		}
		switch {
		case d.IP == "" || d.Pool == "" || d.Provider == "":
			return ev, errors.New("missing data field")
		case d.IntervalSeconds == 0:
			return ev, errors.New("zero interval")
		case d.Delivered+d.Bounced+d.Deferred > d.Sent:
			return ev, errors.New("delivered+bounced+deferred > sent")
		case d.Complained > d.Delivered:
			return ev, errors.New("complained > delivered")
		}
		ev.Email = &d
	case events.TypeInventoryResource:
		var d events.InventoryResource
		if err := strictUnmarshal(env.Data, &d); err != nil {
			return ev, fmt.Errorf("data: %w", err)
		}
		switch {
		case d.ResourceID == "" || d.Provider == "" || d.Region == "" || d.Plan == "":
			return ev, errors.New("missing data field")
		case d.Kind != events.KindVPS && d.Kind != events.KindIP:
			return ev, errors.New("bad kind")
		case d.Action != events.ActionProvisioned && d.Action != events.ActionUpdated && d.Action != events.ActionDecommissioned:
			return ev, errors.New("bad action")
		}
		ev.Inventory = &d
	default:
		return ev, fmt.Errorf("unknown type %q", ev.Type)
	}
	return ev, nil
}

var (
	testFrom  = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC) // a Monday
	allFaults = Options{Seed: 7, DuplicateRate: 0.03, OutOfOrderRate: 0.03, LateRate: 0.02, MalformedRate: 0.02}
)

func countKinds(items []Item) map[Kind]int {
	m := map[Kind]int{}
	for _, it := range items {
		m[it.Kind]++
	}
	return m
}

func okByID(items []Item) map[string]string {
	m := map[string]string{}
	for _, it := range items {
		if it.Kind == KindOK {
			m[it.Event.ID] = string(it.Raw)
		}
	}
	return m
}
