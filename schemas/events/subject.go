package events

import (
	"strconv"
	"strings"
)

// Lane is the stream lane an event travels in: live traffic, or historical backfill that must not
// hold back the live watermark.
type Lane string

// The lanes.
const (
	LaneLive     Lane = "live"
	LaneBackfill Lane = "backfill"
	// LanePostHog carries the events accepted by the PostHog capture endpoints.
	LanePostHog Lane = "posthog"
)

// Lanes lists every lane.
var Lanes = []Lane{LaneLive, LaneBackfill, LanePostHog}

// SubjectPrefix is the first subject token of the lane: LaneLive -> "usage", LaneBackfill ->
// "backfill", LanePostHog -> "posthog"; "" for an unknown lane.
func (l Lane) SubjectPrefix() string {
	switch l {
	case LaneLive:
		return "usage"
	case LaneBackfill:
		return "backfill"
	case LanePostHog:
		return "posthog"
	}
	return ""
}

// LaneOf returns the lane of ev: Historical events go to LaneBackfill, others to LaneLive.
func LaneOf(ev Event) Lane {
	if ev.Historical {
		return LaneBackfill
	}
	return LaneLive
}

// typeSuffix is the subject form of a type.
func typeSuffix(t Type) string {
	switch t {
	case TypeVPSSample:
		return "vps.sample"
	case TypeEmailVolume:
		return "email.volume"
	case TypeInventoryResource:
		return "inventory.resource"
	case TypeAnalytics:
		return "capture.event"
	}
	return ""
}

// Subject is "<prefix>.<type-suffix>.<tenantid>" where type-suffix is "vps.sample",
// "email.volume" or "inventory.resource", e.g. usage.email.volume.t-042 (the contract's
// direct-publish subject) or backfill.vps.sample.t-1. ev must be valid (as Decode returns it).
func Subject(ev Event) string {
	return LaneOf(ev).SubjectPrefix() + "." + typeSuffix(ev.Type) + "." + ev.TenantID
}

// MsgID is the de-duplication id (Nats-Msg-Id) spendstream publishes an event with:
// "<tenantid>:<id>". Scoping the event id by tenant keeps a producer that may write for one tenant
// from suppressing another tenant's events by reusing their ids. Direct NATS producers that send
// Nats-Msg-Id: <id> (the contract's form) are de-duplicated among themselves.
func MsgID(ev Event) string { return ev.TenantID + ":" + ev.ID }

// AnalyticsSubject is the subject of a PostHog event of a tenant: posthog.capture.event.<tenantid>.
func AnalyticsSubject(tenantID string) string {
	return LanePostHog.SubjectPrefix() + "." + typeSuffix(TypeAnalytics) + "." + tenantID
}

// ValidTenant reports whether s is a valid tenant id: ^[A-Za-z0-9_-]{1,64}$.
func ValidTenant(s string) bool { return validTenant(s) }

// ParseSubject parses a subject as stored in the stream. The stream appends a partition token, so
// it accepts both "usage.vps.sample.t-1" and "usage.vps.sample.t-1.3" (partition = -1 when
// absent). Errors are *RejectError (ReasonMalformed, ReasonUnknownType or ReasonOutOfRange for a
// bad tenant id) with Field "subject".
func ParseSubject(subject string) (lane Lane, typ Type, tenantID string, partition int, err error) {
	fail := func(r Reason, detail string) (Lane, Type, string, int, error) {
		return "", "", "", 0, reject(r, "subject", detail+": "+quote([]byte(subject)))
	}
	var tok [6]string
	n := 0
	for rest := subject; ; {
		if n == len(tok) {
			return fail(ReasonMalformed, "too many tokens")
		}
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			tok[n] = rest
			n++
			break
		}
		tok[n], rest = rest[:i], rest[i+1:]
		n++
	}
	if n != 4 && n != 5 {
		return fail(ReasonMalformed, "want <lane>.<type>.<tenantid>[.<partition>]")
	}
	switch tok[0] {
	case LaneLive.SubjectPrefix():
		lane = LaneLive
	case LaneBackfill.SubjectPrefix():
		lane = LaneBackfill
	case LanePostHog.SubjectPrefix():
		lane = LanePostHog
	default:
		return fail(ReasonMalformed, "unknown lane prefix")
	}
	switch tok[1] + "." + tok[2] {
	case "vps.sample":
		typ = TypeVPSSample
	case "email.volume":
		typ = TypeEmailVolume
	case "inventory.resource":
		typ = TypeInventoryResource
	case "capture.event":
		typ = TypeAnalytics
	default:
		return fail(ReasonUnknownType, "unknown event type")
	}
	if (lane == LanePostHog) != (typ == TypeAnalytics) {
		return fail(ReasonUnknownType, "event type not carried by this lane")
	}
	tenantID = tok[3]
	if !validTenant(tenantID) {
		return fail(ReasonOutOfRange, "bad tenant id")
	}
	partition = -1
	if n == 5 {
		p := tok[4]
		// Canonical decimal only, so that Subject-style formatting round-trips.
		if p == "" || len(p) > 9 || (len(p) > 1 && p[0] == '0') || strings.TrimLeft(p, "0123456789") != "" {
			return fail(ReasonMalformed, "bad partition token")
		}
		partition, _ = strconv.Atoi(p)
	}
	return lane, typ, tenantID, partition, nil
}

// validTenant reports whether s matches ^[A-Za-z0-9_-]{1,64}$ (and so is one NATS subject token).
func validTenant[S ~string | ~[]byte](s S) bool {
	if len(s) == 0 || len(s) > maxTenantLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// SubjectMatches reports, without allocating, whether a stored subject is
// "<lane prefix>.<type-suffix>.<tenantID>", optionally followed by the partition token the stream
// appends. Consumers use it to refuse an event published on another type's or tenant's subject.
func SubjectMatches(subject []byte, lane Lane, typ Type, tenantID string) bool {
	rest, ok := cutToken(subject, lane.SubjectPrefix())
	if !ok {
		return false
	}
	if rest, ok = cutToken(rest, typeSuffix(typ)); !ok {
		return false
	}
	if tenantID == "" || len(rest) < len(tenantID) || string(rest[:len(tenantID)]) != tenantID {
		return false
	}
	if rest = rest[len(tenantID):]; len(rest) == 0 {
		return true
	}
	if rest[0] != '.' || len(rest) == 1 {
		return false
	}
	for _, c := range rest[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// cutToken removes want (which may span several tokens) and the dot after it from the front of s.
func cutToken(s []byte, want string) ([]byte, bool) {
	if want == "" || len(s) <= len(want) || string(s[:len(want)]) != want || s[len(want)] != '.' {
		return nil, false
	}
	return s[len(want)+1:], true
}
