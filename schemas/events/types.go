// Package events defines the events producers send to spendstream (CloudEvents 1.0, structured JSON
// mode), decodes and validates them with precise reasons, and maps them to JetStream subjects.
package events

import (
	"time"
)

// Type is a CloudEvents type attribute that spendstream understands.
type Type string

// The event types of the contract.
const (
	TypeVPSSample         Type = "usage.vps.sample"
	TypeEmailVolume       Type = "usage.email.volume"
	TypeInventoryResource Type = "inventory.resource"
	// TypeAnalytics is a PostHog event accepted by the capture endpoints. It is internal: it
	// travels in LanePostHog and is never accepted as a CloudEvent.
	TypeAnalytics Type = "posthog.event"
)

// Types lists every CloudEvents type of the contract.
var Types = []Type{TypeVPSSample, TypeEmailVolume, TypeInventoryResource}

// ResourceKind is the kind of an inventory resource.
type ResourceKind string

// Resource kinds.
const (
	KindVPS ResourceKind = "vps"
	KindIP  ResourceKind = "ip"
)

// Action is an inventory lifecycle action.
type Action string

// Inventory actions.
const (
	ActionProvisioned    Action = "provisioned"
	ActionUpdated        Action = "updated"
	ActionDecommissioned Action = "decommissioned"
)

// Event is one decoded and validated event. Exactly one of VPS, Email, Inventory, Analytics is set,
// matching Type.
type Event struct {
	ID       string
	Source   string
	Type     Type
	Time     time.Time // event time, UTC
	TenantID string
	// Historical marks an event for the backfill lane (CloudEvents extension attribute
	// "historical": true), in the spirit of PostHog's historical_migration.
	Historical bool

	VPS       *VPSSample
	Email     *EmailVolume
	Inventory *InventoryResource
	Analytics *Analytics
}

// Analytics is what the roll-ups need of a PostHog event.
type Analytics struct {
	DistinctID string
	Event      string
	// Segments are the tenant dimension updates the event carries (e.g. plan = "pro" from a
	// $groupidentify), effective from the event's time.
	Segments []SegmentUpdate
}

// SegmentUpdate sets one tenant dimension (Property is "plan" or "tier") to Value.
type SegmentUpdate struct {
	Property string
	Value    string
	Source   string // "$groupidentify:<group type>:<group key>" or "$set:<distinct id>"
}

// VPSSample is the data of a usage.vps.sample event: utilization over [time-interval, time).
type VPSSample struct {
	ResourceID      string  `json:"resource_id"`
	Provider        string  `json:"provider"`
	Region          string  `json:"region"`
	Plan            string  `json:"plan"`
	VCPUs           uint32  `json:"vcpus"`
	MemoryMB        uint32  `json:"memory_mb"`
	CPUUtil         float64 `json:"cpu_util"`
	MemUtil         float64 `json:"mem_util"`
	IntervalSeconds uint32  `json:"interval_seconds"`
}

// EmailVolume is the data of a usage.email.volume event: counts over interval_seconds ending at time.
type EmailVolume struct {
	IP              string `json:"ip"`
	Pool            string `json:"pool"`
	Provider        string `json:"provider"`
	Sent            uint64 `json:"sent"`
	Delivered       uint64 `json:"delivered"`
	Bounced         uint64 `json:"bounced"`
	Deferred        uint64 `json:"deferred"`
	Complained      uint64 `json:"complained"`
	IntervalSeconds uint32 `json:"interval_seconds"`
}

// InventoryResource is the data of an inventory.resource event.
type InventoryResource struct {
	ResourceID string       `json:"resource_id"`
	Kind       ResourceKind `json:"kind"`
	Provider   string       `json:"provider"`
	Region     string       `json:"region"`
	Plan       string       `json:"plan"`
	Action     Action       `json:"action"`
	Shared     bool         `json:"shared"`
}
