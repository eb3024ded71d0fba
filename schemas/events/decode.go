package events

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/spendstream/spendstream/schemas/internal/jsonstr"
)

// Limits bounds what Decode and CheckFuture accept. A zero field means its default.
type Limits struct {
	MaxEventBytes int           // default 64 KiB
	MaxFuture     time.Duration // default 5m: event time may be at most this far after "now"
}

// Defaults of Limits.
const (
	defaultMaxEventBytes = 64 << 10
	defaultMaxFuture     = 5 * time.Minute
)

// DefaultLimits returns the limits of the contract: 64 KiB per event, 5 minutes into the future.
func DefaultLimits() Limits {
	return Limits{MaxEventBytes: defaultMaxEventBytes, MaxFuture: defaultMaxFuture}
}

func (l Limits) withDefaults() Limits {
	if l.MaxEventBytes <= 0 {
		l.MaxEventBytes = defaultMaxEventBytes
	}
	if l.MaxFuture <= 0 {
		l.MaxFuture = defaultMaxFuture
	}
	return l
}

// CheckFuture rejects (ReasonFutureTime) an event whose time is more than lim.MaxFuture after now.
// A zero lim.MaxFuture means the default (5 minutes).
func CheckFuture(ev Event, now time.Time, lim Limits) error {
	lim = lim.withDefaults()
	if ahead := ev.Time.Sub(now); ahead > lim.MaxFuture {
		return reject(ReasonFutureTime, "time",
			ev.Time.UTC().Format(time.RFC3339Nano)+" is "+ahead.Round(time.Second).String()+
				" in the future, more than the allowed "+lim.MaxFuture.String())
	}
	return nil
}

// Bounds of the validation rules. Lengths are in bytes of the decoded string.
const (
	maxIDLen       = 256
	maxSourceLen   = 1024
	maxTenantLen   = 64
	maxDataStrLen  = 128
	maxVCPUs       = 1024
	maxMemoryMB    = 16 << 20 // 16 TiB
	maxInterval    = 86400    // one day, in seconds
	maxCount       = 1<<53 - 1
	contentTypeApp = "application/json"
)

// Envelope slots.
const (
	envSpecVersion = iota
	envID
	envSource
	envType
	envTime
	envTenantID
	envDataContentType
	envHistorical
	envData
	envDataBase64
	numEnv
)

func envIndex(k []byte) int {
	switch string(k) {
	case "specversion":
		return envSpecVersion
	case "id":
		return envID
	case "source":
		return envSource
	case "type":
		return envType
	case "time":
		return envTime
	case "tenantid":
		return envTenantID
	case "datacontenttype":
		return envDataContentType
	case "historical":
		return envHistorical
	case "data":
		return envData
	case "data_base64":
		return envDataBase64
	}
	return -1
}

// Data slots: the union of the fields of every type.
const (
	dResourceID = iota
	dProvider
	dRegion
	dPlan
	dVCPUs
	dMemoryMB
	dCPUUtil
	dMemUtil
	dInterval
	dIP
	dPool
	dSent
	dDelivered
	dBounced
	dDeferred
	dComplained
	dKind
	dAction
	dShared
	numData
)

// dataField is the error Field of each data slot.
var dataField = [numData]string{
	dResourceID: "data.resource_id",
	dProvider:   "data.provider",
	dRegion:     "data.region",
	dPlan:       "data.plan",
	dVCPUs:      "data.vcpus",
	dMemoryMB:   "data.memory_mb",
	dCPUUtil:    "data.cpu_util",
	dMemUtil:    "data.mem_util",
	dInterval:   "data.interval_seconds",
	dIP:         "data.ip",
	dPool:       "data.pool",
	dSent:       "data.sent",
	dDelivered:  "data.delivered",
	dBounced:    "data.bounced",
	dDeferred:   "data.deferred",
	dComplained: "data.complained",
	dKind:       "data.kind",
	dAction:     "data.action",
	dShared:     "data.shared",
}

func dataIndex(k []byte) int {
	// dataField[i] is "data." + the key; compare without building strings.
	switch string(k) {
	case "resource_id":
		return dResourceID
	case "provider":
		return dProvider
	case "region":
		return dRegion
	case "plan":
		return dPlan
	case "vcpus":
		return dVCPUs
	case "memory_mb":
		return dMemoryMB
	case "cpu_util":
		return dCPUUtil
	case "mem_util":
		return dMemUtil
	case "interval_seconds":
		return dInterval
	case "ip":
		return dIP
	case "pool":
		return dPool
	case "sent":
		return dSent
	case "delivered":
		return dDelivered
	case "bounced":
		return dBounced
	case "deferred":
		return dDeferred
	case "complained":
		return dComplained
	case "kind":
		return dKind
	case "action":
		return dAction
	case "shared":
		return dShared
	}
	return -1
}

// decoder holds the state of one Decode call; it lives on the stack.
type decoder struct {
	raw     []byte
	env     [numEnv]span
	data    [numData]span
	scratch []byte // unescaped string contents
	strs    strSet
	into    *Data // DecodeBorrowed: where the type's data goes; strings alias the input
	ascii   bool  // scanFast took the input: every string is printable ASCII without escapes
}

// Decode parses and validates one event (structure and values; no clock). raw must be one JSON
// object. Errors are *RejectError; the first rule broken is reported, checking size, then JSON
// syntax, then the envelope attributes in contract order, then the data fields in struct order
// (except data.ip, whose address syntax is checked last). The returned Event does not alias raw.
//
// Beyond the rules of the contract (mirrored in jsonschema/*.schema.json):
//   - JSON: the input must be valid UTF-8, a known attribute or data field may not appear twice,
//     and ignored values may nest at most 64 deep (ReasonMalformed).
//   - null and "" count as absent: ReasonMissingField when required, the zero value when optional.
//   - Integers may be written 3.0 or 3e2 (as in JSON Schema); 1.5 is ReasonWrongType. Counts are at
//     most 2^53-1. Utilizations accept -0 and underflows (1e-400) as 0.
//   - id and source may not contain control characters either (id becomes the Nats-Msg-Id header).
//   - time: "T"/"Z" in either case; fractions beyond nanoseconds are truncated; the leap second
//     60 and results outside years 0000-9999 in UTC are ReasonOutOfRange, as is any unparsable
//     time string.
//   - data.ip is stored canonical (netip), an IPv4-mapped IPv6 address as IPv4; zones are refused.
//   - datacontenttype is matched case-insensitively; a wrong one, and any data_base64, are
//     ReasonWrongType. An unknown kind or action is ReasonOutOfRange.
func Decode(raw []byte, lim Limits) (Event, error) {
	return decode(raw, lim, nil)
}

// Data holds the type-specific part of events decoded by DecodeBorrowed, so that a caller decoding
// many events can keep it with its own records instead of allocating it per event.
type Data struct {
	VPS       VPSSample
	Email     EmailVolume
	Inventory InventoryResource
}

// DecodeBorrowed is Decode without copies, for callers that fold events into aggregates at once and
// copy what they keep: it accepts and rejects exactly what Decode does, but the strings of the
// returned Event alias raw (or a buffer of the call's own, for strings with escapes), and its VPS,
// Email or Inventory points into into (which it overwrites). raw and into must not change while the
// Event is in use.
func DecodeBorrowed(raw []byte, lim Limits, into *Data) (Event, error) {
	return decode(raw, lim, into)
}

func decode(raw []byte, lim Limits, into *Data) (Event, error) {
	lim = lim.withDefaults()
	if len(raw) > lim.MaxEventBytes {
		return Event{}, reject(ReasonOversized, "",
			fmt.Sprintf("event is %d bytes, more than the limit of %d", len(raw), lim.MaxEventBytes))
	}
	var d decoder
	if d.ascii = d.scanFast(raw); !d.ascii {
		d = decoder{}
		if err := d.scan(raw); err != nil {
			return Event{}, err
		}
	}
	if into != nil {
		d.into = into
		d.strs.borrow = true
	}
	ev, err := d.event()
	if err != nil {
		return Event{}, err
	}
	return ev, nil
}

// scan checks the JSON syntax of the whole input and records the known attributes and data fields.
func (d *decoder) scan(raw []byte) error {
	d.raw = raw
	if !utf8.Valid(raw) {
		return reject(ReasonMalformed, "", "invalid UTF-8")
	}
	i := skipSpace(raw, 0)
	if i >= len(raw) {
		return reject(ReasonMalformed, "", "empty input, want a JSON object")
	}
	if raw[i] != '{' {
		if v, err := scanValue(raw, i, 1); err == nil {
			return reject(ReasonMalformed, "", "event is a JSON "+v.kind.String()+", want an object")
		}
		return reject(ReasonMalformed, "", "invalid JSON, want an object")
	}
	end, err := scanObject(raw, i, d.env[:], d.data[:])
	if err != nil {
		se := err.(*syntaxError)
		return reject(ReasonMalformed, "", fmt.Sprintf("invalid JSON at offset %d: %s", se.off, se.msg))
	}
	if end = skipSpace(raw, end); end != len(raw) {
		return reject(ReasonMalformed, "", fmt.Sprintf("invalid JSON at offset %d: data after the event object", end))
	}
	return nil
}

func (d *decoder) event() (Event, error) {
	var ev Event

	// specversion
	if sv := d.env[envSpecVersion]; sv.kind == kindAbsent || sv.kind == kindNull {
		return ev, reject(ReasonBadSpecVersion, "specversion", "missing, want \"1.0\"")
	} else if sv.kind != kindString || string(d.text(sv)) != SpecVersion {
		return ev, reject(ReasonBadSpecVersion, "specversion",
			"got "+quote(d.raw[d.env[envSpecVersion].start:d.env[envSpecVersion].end])+", want \"1.0\"")
	}

	id, err := d.str(d.env[envID], "id", maxIDLen, true)
	if err != nil {
		return ev, err
	}
	source, err := d.str(d.env[envSource], "source", maxSourceLen, true)
	if err != nil {
		return ev, err
	}
	if ev.Type, err = d.typ(); err != nil {
		return ev, err
	}
	if ev.Time, err = d.time(); err != nil {
		return ev, err
	}
	tenant, err := d.tenant()
	if err != nil {
		return ev, err
	}
	if err := d.contentType(); err != nil {
		return ev, err
	}
	if ev.Historical, err = d.boolean(d.env[envHistorical], "historical"); err != nil {
		return ev, err
	}
	if b64 := d.env[envDataBase64]; b64.kind != kindAbsent && b64.kind != kindNull {
		return ev, reject(ReasonWrongType, "data_base64", "binary data is not accepted; send data as a JSON object")
	}
	switch data := d.env[envData]; data.kind {
	case kindAbsent, kindNull:
		return ev, reject(ReasonMissingField, "data", "required")
	case kindObject:
	default:
		return ev, reject(ReasonWrongType, "data", "want object, got "+data.kind.String())
	}

	iID, iSource, iTenant := d.strs.add(id), d.strs.add(source), d.strs.add(tenant)
	switch ev.Type {
	case TypeVPSSample:
		err = d.vps(&ev)
	case TypeEmailVolume:
		err = d.email(&ev)
	case TypeInventoryResource:
		err = d.inventory(&ev)
	}
	if err != nil {
		return Event{}, err
	}
	ev.ID, ev.Source, ev.TenantID = d.strs.get(iID), d.strs.get(iSource), d.strs.get(iTenant)
	return ev, nil
}

func (d *decoder) vps(ev *Event) error {
	var err error
	var s [4][]byte
	for i, slot := range [4]int{dResourceID, dProvider, dRegion, dPlan} {
		if s[i], err = d.str(d.data[slot], dataField[slot], maxDataStrLen, true); err != nil {
			return err
		}
	}
	var v *VPSSample
	if d.into != nil {
		v = &d.into.VPS
		*v = VPSSample{}
	} else {
		v = new(VPSSample)
	}
	vcpus, err := d.integer(dVCPUs, 1, maxVCPUs, false)
	if err != nil {
		return err
	}
	mem, err := d.integer(dMemoryMB, 1, maxMemoryMB, false)
	if err != nil {
		return err
	}
	if v.CPUUtil, err = d.unit(dCPUUtil); err != nil {
		return err
	}
	if v.MemUtil, err = d.unit(dMemUtil); err != nil {
		return err
	}
	interval, err := d.integer(dInterval, 1, maxInterval, false)
	if err != nil {
		return err
	}
	v.VCPUs, v.MemoryMB, v.IntervalSeconds = uint32(vcpus), uint32(mem), uint32(interval)
	var idx [4]int
	for i := range s {
		idx[i] = d.strs.add(s[i])
	}
	d.strs.build()
	v.ResourceID, v.Provider, v.Region, v.Plan = d.strs.get(idx[0]), d.strs.get(idx[1]), d.strs.get(idx[2]), d.strs.get(idx[3])
	ev.VPS = v
	return nil
}

func (d *decoder) email(ev *Event) error {
	// The address is checked for presence and type here, parsed once the strings are built (so
	// that parsing it does not need a copy of its own) and so reported after the other fields.
	ip, err := d.str(d.data[dIP], dataField[dIP], maxDataStrLen, true)
	if err != nil {
		return err
	}
	pool, err := d.str(d.data[dPool], dataField[dPool], maxDataStrLen, true)
	if err != nil {
		return err
	}
	provider, err := d.str(d.data[dProvider], dataField[dProvider], maxDataStrLen, true)
	if err != nil {
		return err
	}
	var v *EmailVolume
	if d.into != nil {
		v = &d.into.Email
		*v = EmailVolume{}
	} else {
		v = new(EmailVolume)
	}
	for _, c := range [5]struct {
		slot int
		dst  *uint64
	}{{dSent, &v.Sent}, {dDelivered, &v.Delivered}, {dBounced, &v.Bounced}, {dDeferred, &v.Deferred}, {dComplained, &v.Complained}} {
		if *c.dst, err = d.integer(c.slot, 0, maxCount, true); err != nil {
			return err
		}
	}
	interval, err := d.integer(dInterval, 1, maxInterval, false)
	if err != nil {
		return err
	}
	v.IntervalSeconds = uint32(interval)
	iIP, iPool, iProvider := d.strs.add(ip), d.strs.add(pool), d.strs.add(provider)
	d.strs.build()
	if v.IP, err = canonicalIP(d.strs.get(iIP)); err != nil {
		return err
	}
	v.Pool, v.Provider = d.strs.get(iPool), d.strs.get(iProvider)
	ev.Email = v
	return nil
}

// canonicalIP validates an IP literal and returns its canonical form (lower-case, compressed IPv6;
// an IPv4-mapped IPv6 address as plain IPv4), so that roll-ups group one address under one string.
// It allocates only when s is not canonical already.
func canonicalIP(s string) (string, error) {
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return "", reject(ReasonOutOfRange, dataField[dIP], "not an IPv4 or IPv6 address: "+quote([]byte(s)))
	}
	if addr.Zone() != "" {
		return "", reject(ReasonOutOfRange, dataField[dIP], "an IPv6 zone is not allowed: "+quote([]byte(s)))
	}
	addr = addr.Unmap()
	var buf [64]byte
	if c := addr.AppendTo(buf[:0]); string(c) != s {
		return string(c), nil
	}
	return s, nil
}

func (d *decoder) inventory(ev *Event) error {
	resourceID, err := d.str(d.data[dResourceID], dataField[dResourceID], maxDataStrLen, true)
	if err != nil {
		return err
	}
	var v *InventoryResource
	if d.into != nil {
		v = &d.into.Inventory
		*v = InventoryResource{}
	} else {
		v = new(InventoryResource)
	}
	k, err := d.enum(dKind, []string{string(KindVPS), string(KindIP)})
	if err != nil {
		return err
	}
	v.Kind = ResourceKind(k)
	provider, err := d.str(d.data[dProvider], dataField[dProvider], maxDataStrLen, true)
	if err != nil {
		return err
	}
	region, err := d.str(d.data[dRegion], dataField[dRegion], maxDataStrLen, false)
	if err != nil {
		return err
	}
	plan, err := d.str(d.data[dPlan], dataField[dPlan], maxDataStrLen, false)
	if err != nil {
		return err
	}
	a, err := d.enum(dAction, []string{string(ActionProvisioned), string(ActionUpdated), string(ActionDecommissioned)})
	if err != nil {
		return err
	}
	v.Action = Action(a)
	if v.Shared, err = d.boolean(d.data[dShared], dataField[dShared]); err != nil {
		return err
	}
	iRes, iProv, iReg, iPlan := d.strs.add(resourceID), d.strs.add(provider), d.strs.add(region), d.strs.add(plan)
	d.strs.build()
	v.ResourceID, v.Provider, v.Region, v.Plan = d.strs.get(iRes), d.strs.get(iProv), d.strs.get(iReg), d.strs.get(iPlan)
	ev.Inventory = v
	return nil
}

// text returns the decoded content of a string span: a slice of the input when it has no
// escapes, else of d.scratch (earlier results stay valid when scratch grows).
func (d *decoder) text(sp span) []byte {
	if !sp.esc {
		return d.raw[sp.start:sp.end]
	}
	if d.scratch == nil {
		// Unescaping never lengthens a string, so this never grows: one allocation per event
		// that has escapes (and none for the rest).
		d.scratch = make([]byte, 0, len(d.raw))
	}
	n := len(d.scratch)
	d.scratch = jsonstr.AppendUnescaped(d.scratch, d.raw[sp.start:sp.end])
	return d.scratch[n:len(d.scratch):len(d.scratch)]
}

// str validates a string attribute or field: present (unless optional), a string, non-empty
// (empty counts as missing), at most maxLen bytes, without control characters.
func (d *decoder) str(sp span, field string, maxLen int, required bool) ([]byte, error) {
	switch sp.kind {
	case kindAbsent, kindNull:
		if required {
			return nil, reject(ReasonMissingField, field, "required")
		}
		return nil, nil
	case kindString:
	default:
		return nil, reject(ReasonWrongType, field, "want string, got "+sp.kind.String())
	}
	s := d.text(sp)
	switch {
	case len(s) == 0:
		if required {
			return nil, reject(ReasonMissingField, field, "required, got an empty string")
		}
		return nil, nil
	case len(s) > maxLen:
		return nil, reject(ReasonOutOfRange, field, fmt.Sprintf("longer than %d bytes (%d)", maxLen, len(s)))
	case !d.ascii && hasControl(s):
		return nil, reject(ReasonOutOfRange, field, "contains a control character: "+quote(s))
	}
	return s, nil
}

// hasControl reports whether valid UTF-8 s contains a Unicode control character (Cc: U+0000–U+001F,
// U+007F–U+009F). U+0080–U+009F are encoded as 0xC2 0x80–0x9F.
func hasControl(s []byte) bool {
	for i, c := range s {
		if c < 0x20 || c == 0x7f || (c == 0xc2 && i+1 < len(s) && s[i+1] < 0xa0) {
			return true
		}
	}
	return false
}

func (d *decoder) typ() (Type, error) {
	sp := d.env[envType]
	switch sp.kind {
	case kindAbsent, kindNull:
		return "", reject(ReasonMissingField, "type", "required")
	case kindString:
	default:
		return "", reject(ReasonWrongType, "type", "want string, got "+sp.kind.String())
	}
	s := d.text(sp)
	switch string(s) {
	case string(TypeVPSSample):
		return TypeVPSSample, nil
	case string(TypeEmailVolume):
		return TypeEmailVolume, nil
	case string(TypeInventoryResource):
		return TypeInventoryResource, nil
	}
	return "", reject(ReasonUnknownType, "type", "unknown event type "+quote(s))
}

func (d *decoder) time() (time.Time, error) {
	sp := d.env[envTime]
	switch sp.kind {
	case kindAbsent, kindNull:
		return time.Time{}, reject(ReasonMissingField, "time", "required")
	case kindString:
	default:
		return time.Time{}, reject(ReasonWrongType, "time", "want RFC 3339 string, got "+sp.kind.String())
	}
	s := d.text(sp)
	t, err := parseRFC3339(s)
	if err != nil {
		return time.Time{}, reject(ReasonOutOfRange, "time", err.Error()+": "+quote(s))
	}
	return t, nil
}

func (d *decoder) tenant() ([]byte, error) {
	s, err := d.str(d.env[envTenantID], "tenantid", maxTenantLen, true)
	if err != nil {
		return nil, err
	}
	if !validTenant(s) {
		return nil, reject(ReasonOutOfRange, "tenantid", "want 1-64 of A-Z a-z 0-9 _ -, got "+quote(s))
	}
	return s, nil
}

// contentType accepts an absent datacontenttype or "application/json" (any case), optionally
// followed by parameters ("; charset=utf-8").
func (d *decoder) contentType() error {
	sp := d.env[envDataContentType]
	switch sp.kind {
	case kindAbsent, kindNull:
		return nil
	case kindString:
	default:
		return reject(ReasonWrongType, "datacontenttype", "want string, got "+sp.kind.String())
	}
	s := d.text(sp)
	if len(s) >= len(contentTypeApp) && strings.EqualFold(string(s[:len(contentTypeApp)]), contentTypeApp) {
		rest := s[len(contentTypeApp):]
		for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
			rest = rest[1:]
		}
		if len(rest) == 0 || rest[0] == ';' {
			return nil
		}
	}
	return reject(ReasonWrongType, "datacontenttype", "want \"application/json\", got "+quote(s))
}

// boolean reads an optional boolean; absent and null are false.
func (d *decoder) boolean(sp span, field string) (bool, error) {
	switch sp.kind {
	case kindAbsent, kindNull, kindFalse:
		return false, nil
	case kindTrue:
		return true, nil
	}
	return false, reject(ReasonWrongType, field, "want boolean, got "+sp.kind.String())
}

// enum reads a required string that must be one of allowed.
func (d *decoder) enum(slot int, allowed []string) (string, error) {
	sp, field := d.data[slot], dataField[slot]
	switch sp.kind {
	case kindAbsent, kindNull:
		return "", reject(ReasonMissingField, field, "required")
	case kindString:
	default:
		return "", reject(ReasonWrongType, field, "want string, got "+sp.kind.String())
	}
	s := d.text(sp)
	if len(s) == 0 {
		return "", reject(ReasonMissingField, field, "required, got an empty string")
	}
	for _, a := range allowed {
		if string(s) == a {
			return a, nil
		}
	}
	return "", reject(ReasonOutOfRange, field, "want one of "+strings.Join(allowed, ", ")+", got "+quote(s))
}

// integer reads a required integer in [lo, hi]. A number with a zero fraction or an exponent
// (3.0, 3e2) is an integer, as in JSON Schema. A negative value is ReasonNegativeCount for a
// count, else ReasonOutOfRange.
func (d *decoder) integer(slot int, lo, hi uint64, count bool) (uint64, error) {
	sp, field := d.data[slot], dataField[slot]
	switch sp.kind {
	case kindAbsent, kindNull:
		return 0, reject(ReasonMissingField, field, "required")
	case kindNumber:
	default:
		return 0, reject(ReasonWrongType, field, "want integer, got "+sp.kind.String())
	}
	num := d.raw[sp.start:sp.end]
	v, neg, integral, overflow := parseInteger(num)
	switch {
	case !integral:
		return 0, reject(ReasonWrongType, field, "want integer, got "+quote(num))
	case neg && count:
		return 0, reject(ReasonNegativeCount, field, "must not be negative, got "+quote(num))
	case neg || overflow || v < lo || v > hi:
		return 0, reject(ReasonOutOfRange, field, fmt.Sprintf("want %d..%d, got %s", lo, hi, quote(num)))
	}
	return v, nil
}

// unit reads a required finite number in [0, 1].
func (d *decoder) unit(slot int) (float64, error) {
	sp, field := d.data[slot], dataField[slot]
	switch sp.kind {
	case kindAbsent, kindNull:
		return 0, reject(ReasonMissingField, field, "required")
	case kindNumber:
	default:
		return 0, reject(ReasonWrongType, field, "want number in [0,1], got "+sp.kind.String())
	}
	num := d.raw[sp.start:sp.end]
	if f, ok := parseShortDecimal(num); ok && f <= 1 {
		return f, nil
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil && math.IsInf(f, 0) { // an underflow (1e-400) is a fine 0; an overflow is not
		return 0, reject(ReasonOutOfRange, field, "not a finite number: "+quote(num))
	}
	if !(f >= 0 && f <= 1) {
		return 0, reject(ReasonOutOfRange, field, "want 0..1, got "+quote(num))
	}
	return f + 0, nil // +0 turns -0 into 0
}

// parseShortDecimal reads a JSON number of the form digits[.digits] with at most 15 digits, which
// most utilizations are. The digits make an integer below 2^53 and the divisor a power of ten up to
// 10^15, both exact in a float64, so the one correctly rounded division gives the float64 nearest to
// the decimal: what strconv.ParseFloat returns.
func parseShortDecimal(b []byte) (float64, bool) {
	var mant uint64
	digits, frac := 0, -1
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			digits++
		case c == '.' && frac < 0 && i > 0:
			frac = i + 1
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 15 || frac == len(b) {
		return 0, false
	}
	if frac < 0 {
		return float64(mant), true
	}
	return float64(mant) / pow10[len(b)-frac], true
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// parseInteger reads a JSON number (syntax already checked) as an unsigned integer. neg is set for
// a negative non-zero value, integral when the value has no fractional part, overflow when it does
// not fit in a uint64.
func parseInteger(b []byte) (v uint64, neg, integral, overflow bool) {
	if b[0] == '-' {
		neg = true
		b = b[1:]
	}
	i := 0
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	intPart, frac, exp := b[:i], b[:0], 0
	if i == len(b) { // plain digits: the common case
		for _, c := range intPart {
			if v > (math.MaxUint64-uint64(c-'0'))/10 {
				return 0, neg, true, true
			}
			v = v*10 + uint64(c-'0')
		}
		return v, neg && v != 0, true, false
	}
	if b[i] == '.' {
		j := i + 1
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		frac, i = b[i+1:j], j
	}
	if i < len(b) { // exponent
		i++
		eneg := false
		switch b[i] {
		case '-':
			eneg = true
			i++
		case '+':
			i++
		}
		for ; i < len(b); i++ {
			if exp < 1_000_000 { // saturate: the input is at most MaxEventBytes long
				exp = exp*10 + int(b[i]-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	// The value is the digits of intPart and frac, times 10^(exp-len(frac)).
	n := len(intPart) + len(frac)
	digit := func(k int) byte {
		if k < len(intPart) {
			return intPart[k] - '0'
		}
		return frac[k-len(intPart)] - '0'
	}
	lo, hi := 0, n
	for lo < n && digit(lo) == 0 {
		lo++
	}
	if lo == n {
		return 0, false, true, false // zero, whatever its sign and exponent
	}
	for digit(hi-1) == 0 {
		hi--
	}
	e10 := exp - len(frac) + (n - hi)
	if e10 < 0 {
		return 0, neg, false, false
	}
	if hi-lo+e10 > 20 {
		return 0, neg, true, true
	}
	for k := lo; k < hi; k++ {
		dg := uint64(digit(k))
		if v > (math.MaxUint64-dg)/10 {
			return 0, neg, true, true
		}
		v = v*10 + dg
	}
	for ; e10 > 0; e10-- {
		if v > math.MaxUint64/10 {
			return 0, neg, true, true
		}
		v *= 10
	}
	return v, neg, true, false
}

// strSet gathers the strings of one event so that they share one allocation (or, with borrow, so
// that they alias the bytes they were read from).
type strSet struct {
	views  [8][]byte
	offs   [9]int
	n      int
	all    string
	borrow bool
}

func (s *strSet) add(b []byte) int {
	s.views[s.n] = b
	s.n++
	return s.n - 1
}

// build copies every added string into one string; call once, after the last add.
func (s *strSet) build() {
	if s.borrow {
		return
	}
	total := 0
	for _, v := range s.views[:s.n] {
		total += len(v)
	}
	var sb strings.Builder
	sb.Grow(total)
	for i, v := range s.views[:s.n] {
		s.offs[i] = sb.Len()
		sb.Write(v)
	}
	s.offs[s.n] = sb.Len()
	s.all = sb.String()
}

func (s *strSet) get(i int) string {
	if s.borrow {
		v := s.views[i]
		return unsafe.String(unsafe.SliceData(v), len(v))
	}
	return s.all[s.offs[i]:s.offs[i+1]]
}
