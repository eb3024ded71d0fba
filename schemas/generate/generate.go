// Package generate produces a deterministic, seeded, realistic fleet (tenants, VPS, sending IPs)
// and its usage events (CloudEvents, encoded with events.Encode), with an optional, seeded mix of
// faults: duplicates, out-of-order delivery, late events and malformed payloads.
//
// It is pure: no I/O, no clock reads, no global random state. Every value of an ordinary event is a
// function of (seed, resource, event time), so splitting a time range into several Window calls
// yields exactly the same ordinary events as one call over the union. Faults are drawn per call,
// deterministically from (seed, from, to).
//
// Event ids:
//
//	usage.vps.sample     "vps-<resource_id>-<unix seconds>-<seedtag>"
//	usage.email.volume   "email-<ip>-<unix seconds>-<seedtag>"
//	inventory.resource   "inv-<resource_id>-<unix seconds>-<seedtag>"
//	late events          "<type prefix>-<resource>-<unix seconds of the late time>-<seedtag>-late"
//	malformed payloads   "malformed-<seedtag>-<16 hex>" (where the payload carries an id at all)
//
// where seedtag is 8 hex digits derived from the seed, so different seeds (practically) never share ids.
package generate

import (
	"container/heap"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/spendstream/spendstream/schemas/events"
)

// Options configures a fleet and its event stream. Zero values mean the default; a negative
// Tenants, VPSPerTenant or IPsPerTenant means none.
type Options struct {
	Seed         int64
	Tenants      int           // default 8
	VPSPerTenant int           // default 6; varies per tenant with its plan (enterprise ≈ 2×, free ≈ 0.4×)
	IPsPerTenant int           // default 3; varies per tenant with its plan
	SampleEvery  time.Duration // VPS sample interval and interval_seconds, default 60s (whole seconds, ≥ 1s)
	EmailEvery   time.Duration // email volume interval per IP, default 5m (whole seconds, ≥ 1s)
	Source       string        // CloudEvents source, default "spendstream-generator"

	// Fault mix, each a probability per ordinary ("ok") event produced by Window (0 = none).
	DuplicateRate  float64       // re-emit the event later in the same Window result (same id, same bytes)
	OutOfOrderRate float64       // emit the event displaced later in the sequence, past events with later times
	LateRate       float64       // add a distinct event for the same resource whose time is LateBy earlier
	LateBy         time.Duration // how far before the triggering event a late event's time is put, default 2h
	MalformedRate  float64       // add raw bytes that fail decoding, cycling through several kinds
}

// Defaults.
const (
	DefaultTenants      = 8
	DefaultVPSPerTenant = 6
	DefaultIPsPerTenant = 3
	DefaultSampleEvery  = 60 * time.Second
	DefaultEmailEvery   = 5 * time.Minute
	DefaultSource       = "spendstream-generator"
	DefaultLateBy       = 2 * time.Hour
)

// DefaultOptions returns the default options (seed 0, no faults).
func DefaultOptions() Options {
	return Options{
		Tenants:      DefaultTenants,
		VPSPerTenant: DefaultVPSPerTenant,
		IPsPerTenant: DefaultIPsPerTenant,
		SampleEvery:  DefaultSampleEvery,
		EmailEvery:   DefaultEmailEvery,
		Source:       DefaultSource,
		LateBy:       DefaultLateBy,
	}
}

func (o Options) withDefaults() Options {
	count := func(n, def int) int {
		switch {
		case n == 0:
			return def
		case n < 0:
			return 0
		}
		return n
	}
	every := func(d, def time.Duration) time.Duration {
		if d <= 0 {
			return def
		}
		return max(d.Truncate(time.Second), time.Second)
	}
	rate := func(p float64) float64 {
		if math.IsNaN(p) {
			return 0
		}
		return clamp(p, 0, 1)
	}
	o.Tenants = count(o.Tenants, DefaultTenants)
	o.VPSPerTenant = count(o.VPSPerTenant, DefaultVPSPerTenant)
	o.IPsPerTenant = count(o.IPsPerTenant, DefaultIPsPerTenant)
	o.SampleEvery = every(o.SampleEvery, DefaultSampleEvery)
	o.EmailEvery = every(o.EmailEvery, DefaultEmailEvery)
	if o.Source == "" {
		o.Source = DefaultSource
	}
	if o.LateBy <= 0 {
		o.LateBy = DefaultLateBy
	}
	o.DuplicateRate = rate(o.DuplicateRate)
	o.OutOfOrderRate = rate(o.OutOfOrderRate)
	o.LateRate = rate(o.LateRate)
	o.MalformedRate = rate(o.MalformedRate)
	return o
}

// Kind classifies an Item.
type Kind string

// Item kinds.
const (
	KindOK        Kind = "ok"        // an ordinary event (possibly Displaced)
	KindDuplicate Kind = "duplicate" // a re-emission of an ok item of the same result: same id, same bytes
	KindLate      Kind = "late"      // a distinct, valid event whose time is LateBy before the event that triggered it
	KindMalformed Kind = "malformed" // bytes that must fail decoding; Event is nil
)

// Item is one thing to send.
type Item struct {
	Raw   []byte        // the exact bytes to send
	Event *events.Event // nil for malformed
	Kind  Kind
	// Displaced marks an ok item emitted later than its event-time position (out-of-order fault).
	Displaced bool
	// Reason names the malformation of a malformed item (e.g. "cpu_util_out_of_range").
	Reason string
}

// Generator emits events for a fleet in event-time order (except the injected faults). It is safe
// for concurrent use: its methods do not mutate it.
type Generator struct {
	o       Options
	fleet   Fleet
	seedKey uint64
	seedTag string
	vps     []vpsModel
	ips     []ipModel
}

// New returns a generator for o (defaults applied to zero fields).
func New(o Options) *Generator {
	o = o.withDefaults()
	g := &Generator{
		o:       o,
		fleet:   newFleet(o),
		seedKey: combine(uint64(o.Seed), 0x5eed),
	}
	g.seedTag = fmt.Sprintf("%08x", uint32(combine(g.seedKey, streamSeedTag)))
	for _, v := range g.fleet.VPS {
		g.vps = append(g.vps, newVPSModel(g.seedKey, v, o.SampleEvery))
	}
	for _, ip := range g.fleet.IPs {
		g.ips = append(g.ips, newIPModel(g.seedKey, ip, o.EmailEvery))
	}
	return g
}

// Options returns the effective options (defaults applied).
func (g *Generator) Options() Options { return g.o }

// Fleet returns a copy of the generated fleet.
func (g *Generator) Fleet() Fleet {
	return Fleet{
		Tenants: slices.Clone(g.fleet.Tenants),
		VPS:     slices.Clone(g.fleet.VPS),
		IPs:     slices.Clone(g.fleet.IPs),
	}
}

// Inventory returns one inventory.resource "provisioned" event per resource (VPS kind "vps", IP kind
// "ip", resource_id the address), at time at, all of kind ok, VPS first then IPs in fleet order.
func (g *Generator) Inventory(at time.Time) []Item {
	at = at.UTC()
	items := make([]Item, 0, len(g.vps)+len(g.ips))
	add := func(tenant string, inv *events.InventoryResource) {
		ev := &events.Event{
			ID:        g.eventID("inv", inv.ResourceID, at, false),
			Source:    g.o.Source,
			Type:      events.TypeInventoryResource,
			Time:      at,
			TenantID:  tenant,
			Inventory: inv,
		}
		items = append(items, Item{Raw: mustEncode(ev), Event: ev, Kind: KindOK})
	}
	for _, v := range g.fleet.VPS {
		add(v.TenantID, &events.InventoryResource{
			ResourceID: v.ID, Kind: events.KindVPS, Provider: v.Provider, Region: v.Region,
			Plan: v.Plan, Action: events.ActionProvisioned, Shared: v.Shared,
		})
	}
	for _, ip := range g.fleet.IPs {
		add(ip.TenantID, &events.InventoryResource{
			ResourceID: ip.Addr, Kind: events.KindIP, Provider: ip.Provider, Region: ip.Region,
			Plan: ip.Plan, Action: events.ActionProvisioned, Shared: ip.Shared,
		})
	}
	return items
}

// slot is one ordinary event of a window: resource index res (VPS first, then IPs) at t (Unix ns).
type slot struct {
	t   int64
	res int
}

// Window returns every event whose event time falls in [from, to): one VPS sample per VPS per
// SampleEvery, one email volume per IP per EmailEvery, in event-time order (ties by resource: VPS
// in fleet order, then IPs), plus faults per Options. Each resource reports at a fixed phase within
// its interval (whole seconds, derived from seed and resource), so sample times are
// k·interval + phase since the Unix epoch.
func (g *Generator) Window(from, to time.Time) []Item {
	f, t := from.UnixNano(), to.UnixNano()
	if t <= f {
		return nil
	}
	var slots []slot
	for i := range g.vps {
		slots = appendSlots(slots, i, g.vps[i].phase, int64(g.o.SampleEvery), f, t)
	}
	for i := range g.ips {
		slots = appendSlots(slots, len(g.vps)+i, g.ips[i].phase, int64(g.o.EmailEvery), f, t)
	}
	slices.SortFunc(slots, func(a, b slot) int {
		if a.t != b.t {
			if a.t < b.t {
				return -1
			}
			return 1
		}
		return a.res - b.res
	})
	base := make([]Item, len(slots))
	for i, s := range slots {
		ev := g.event(s.res, s.t, false)
		base[i] = Item{Raw: mustEncode(ev), Event: ev, Kind: KindOK}
	}
	o := g.o
	if o.DuplicateRate == 0 && o.OutOfOrderRate == 0 && o.LateRate == 0 && o.MalformedRate == 0 {
		return base
	}
	return g.injectFaults(base, slots, f, t)
}

func appendSlots(dst []slot, res int, phase, every, from, to int64) []slot {
	k := floorDiv(from-phase, every)
	for ts := k*every + phase; ts < to; ts += every {
		if ts >= from {
			dst = append(dst, slot{t: ts, res: res})
		}
	}
	return dst
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// event builds the ordinary (late=false) or late event of resource res at time t (Unix ns).
func (g *Generator) event(res int, t int64, late bool) *events.Event {
	ts := time.Unix(0, t).UTC()
	ev := &events.Event{Source: g.o.Source, Time: ts}
	if res < len(g.vps) {
		m := &g.vps[res]
		ev.Type = events.TypeVPSSample
		ev.TenantID = m.v.TenantID
		ev.ID = g.eventID("vps", m.v.ID, ts, late)
		ev.VPS = m.sample(g.seedKey, t)
	} else {
		m := &g.ips[res-len(g.vps)]
		ev.Type = events.TypeEmailVolume
		ev.TenantID = m.ip.TenantID
		ev.ID = g.eventID("email", m.ip.Addr, ts, late)
		ev.Email = m.volume(g.seedKey, t)
	}
	return ev
}

func (g *Generator) eventID(prefix, resource string, t time.Time, late bool) string {
	id := fmt.Sprintf("%s-%s-%d-%s", prefix, resource, t.Unix(), g.seedTag)
	if late {
		id += "-late"
	}
	return id
}

func mustEncode(ev *events.Event) []byte {
	b, err := events.Encode(*ev)
	if err != nil {
		panic(fmt.Sprintf("generate: encode %s: %v", ev.ID, err)) // unreachable: the generator builds complete events
	}
	return b
}

// pending is an item waiting to be released before base index at.
type pending struct {
	at, seq int
	item    Item
}

type pendingHeap []pending

func (h pendingHeap) Len() int { return len(h) }
func (h pendingHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h pendingHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)   { *h = append(*h, x.(pending)) }
func (h *pendingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Maximum extra displacement (in base positions) of displaced and duplicated items.
const (
	maxDisplaceExtra = 48
	maxDuplicateGap  = 96
)

// injectFaults interleaves the faults with the ordinary items. Decisions are drawn per base item
// from a stream keyed by (seed, from, to); four uniforms are always drawn so that one rate never
// shifts another fault's decisions.
func (g *Generator) injectFaults(base []Item, slots []slot, from, to int64) []Item {
	o := g.o
	n := len(base)
	r := newRNG(combine(g.seedKey, streamFaults, uint64(from), uint64(to)))
	// nextLater[i] is the first base index whose time is strictly later than base i's.
	nextLater := make([]int, n)
	for i, j := n-1, n; i >= 0; i-- {
		if i+1 < n && slots[i+1].t > slots[i].t {
			j = i + 1
		}
		nextLater[i] = j
	}
	out := make([]Item, 0, n+n/8)
	var h pendingHeap
	seq := 0
	push := func(at int, it Item) {
		heap.Push(&h, pending{at: at, seq: seq, item: it})
		seq++
	}
	malformedN := int(r.next() % uint64(len(malformedKinds)))
	for i := range base {
		for h.Len() > 0 && h[0].at <= i {
			out = append(out, heap.Pop(&h).(pending).item)
		}
		uDisp, uDup, uLate, uBad := r.float(), r.float(), r.float(), r.float()
		extra := r.next()
		it := base[i]
		emittedAt := i
		if uDisp < o.OutOfOrderRate {
			it.Displaced = true
			emittedAt = nextLater[i] + 1 + int(extra%maxDisplaceExtra)
			push(emittedAt, it)
		} else {
			out = append(out, it)
		}
		if uDup < o.DuplicateRate {
			push(emittedAt+1+int((extra>>16)%maxDuplicateGap), Item{
				Raw:   slices.Clone(it.Raw),
				Event: it.Event,
				Kind:  KindDuplicate,
			})
		}
		if uLate < o.LateRate {
			ev := g.event(slots[i].res, slots[i].t-int64(o.LateBy), true)
			out = append(out, Item{Raw: mustEncode(ev), Event: ev, Kind: KindLate})
		}
		if uBad < o.MalformedRate {
			id := fmt.Sprintf("malformed-%s-%016x", g.seedTag, combine(g.seedKey, streamFaults, uint64(from), uint64(to), uint64(i)))
			kind := malformedKinds[malformedN%len(malformedKinds)]
			malformedN++
			raw, reason := g.malformed(kind, id, slots[i].t, extra>>32)
			out = append(out, Item{Raw: raw, Kind: KindMalformed, Reason: reason})
		}
	}
	for h.Len() > 0 {
		out = append(out, heap.Pop(&h).(pending).item)
	}
	return out
}
