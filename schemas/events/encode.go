package events

import (
	"encoding/json"
	"fmt"
	"time"
)

// SpecVersion is the only CloudEvents spec version accepted.
const SpecVersion = "1.0"

// envelopeOut is the wire form written by Encode.
type envelopeOut struct {
	SpecVersion     string `json:"specversion"`
	ID              string `json:"id"`
	Source          string `json:"source"`
	Type            Type   `json:"type"`
	Time            string `json:"time"`
	TenantID        string `json:"tenantid"`
	DataContentType string `json:"datacontenttype"`
	Historical      bool   `json:"historical,omitempty"`
	Data            any    `json:"data"`
}

// Encode writes ev as a CloudEvents 1.0 structured-mode JSON document. It does not validate; it is
// the inverse of Decode for valid events.
func Encode(ev Event) ([]byte, error) {
	var data any
	switch ev.Type {
	case TypeVPSSample:
		data = ev.VPS
	case TypeEmailVolume:
		data = ev.Email
	case TypeInventoryResource:
		data = ev.Inventory
	default:
		return nil, fmt.Errorf("encode: unknown type %q", ev.Type)
	}
	if data == nil {
		return nil, fmt.Errorf("encode: %s event without data", ev.Type)
	}
	return json.Marshal(envelopeOut{
		SpecVersion:     SpecVersion,
		ID:              ev.ID,
		Source:          ev.Source,
		Type:            ev.Type,
		Time:            ev.Time.UTC().Format(time.RFC3339Nano),
		TenantID:        ev.TenantID,
		DataContentType: "application/json",
		Historical:      ev.Historical,
		Data:            data,
	})
}
