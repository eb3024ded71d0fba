package cost

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

// state is what an inventory event says about a resource from its time on.
type state struct {
	TenantID, Provider, Region, Plan string
	Shared                           bool
}

// span is a time range over which a resource existed with one state.
type span struct {
	From, To time.Time
	state
}

// resource is one inventory resource and its existence inside the window.
type resource struct {
	kind   pricelist.ResourceKind
	id     string
	spans  []span // clipped to the window, non-empty, in time order, equal neighbours merged
	events int    // inventory events of the resource (any time)
}

type resourceKey struct {
	kind pricelist.ResourceKind
	id   string
}

// actionRank orders events of one instant: provisioned, then updated, then decommissioned.
func actionRank(a Action) int {
	switch a {
	case ActionProvisioned:
		return 0
	case ActionUpdated:
		return 1
	}
	return 2
}

// resources derives each resource's existence spans inside w from its lifecycle events.
//
// Rules: events are applied in time order (ties: provisioned, updated, decommissioned, then input
// order). A resource exists from "provisioned" until "decommissioned" (or the window's end), with
// the state of its latest event. An "updated" event of a resource not in existence starts its
// existence (inventory that only reports updates still costs); a second "provisioned" acts as an
// update; a "decommissioned" of a resource not in existence is ignored. Every such case, and every
// event that cannot be used, is counted in the warnings.
func resources(w Window, events []InventoryEvent, warn *warnings) []*resource {
	byKey := map[resourceKey][]int{}
	var keys []resourceKey
	for i, e := range events {
		switch {
		case e.ResourceID == "":
			warn.addf("inventory event without resource_id ignored", "event %d", i)
			continue
		case e.Kind != pricelist.KindVPS && e.Kind != pricelist.KindIP:
			warn.addf("inventory event of unknown kind ignored", "resource %q kind %q", e.ResourceID, e.Kind)
			continue
		case e.Time.IsZero():
			warn.addf("inventory event without time ignored", "resource %q", e.ResourceID)
			continue
		}
		if _, err := ParseAction(string(e.Action)); err != nil {
			warn.addf("inventory event with unknown action ignored", "resource %q action %q", e.ResourceID, e.Action)
			continue
		}
		k := resourceKey{e.Kind, e.ResourceID}
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], i)
	}
	slices.SortFunc(keys, func(a, b resourceKey) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.id, b.id))
	})
	var out []*resource
	for _, k := range keys {
		idx := byKey[k]
		slices.SortStableFunc(idx, func(a, b int) int {
			ea, eb := events[a], events[b]
			return cmp.Or(ea.Time.Compare(eb.Time), cmp.Compare(actionRank(ea.Action), actionRank(eb.Action)))
		})
		r := &resource{kind: k.kind, id: k.id, events: len(idx)}
		for _, s := range walk(w, k, events, idx, warn) {
			a, b := later(s.From, w.From), earlier(s.To, w.To)
			if !a.Before(b) {
				continue
			}
			s.From, s.To = a, b
			if n := len(r.spans); n > 0 && r.spans[n-1].To.Equal(s.From) && r.spans[n-1].state == s.state {
				r.spans[n-1].To = s.To
				continue
			}
			r.spans = append(r.spans, s)
		}
		if len(r.spans) > 0 {
			out = append(out, r)
		}
	}
	return out
}

// walk applies the events idx (sorted) of one resource and returns its existence spans (not yet
// clipped), the last one ending at the window's end if the resource is still in existence.
func walk(w Window, k resourceKey, events []InventoryEvent, idx []int, warn *warnings) []span {
	var spans []span
	var cur *state
	var since time.Time
	for _, i := range idx {
		e := events[i]
		t := e.Time.UTC()
		if !t.Before(w.To) {
			break
		}
		st := state{TenantID: e.TenantID, Provider: e.Provider, Region: e.Region, Plan: e.Plan, Shared: e.Shared}
		switch e.Action {
		case ActionProvisioned, ActionUpdated:
			if cur == nil {
				if e.Action == ActionUpdated {
					warn.addf("inventory: updated before provisioned; the resource is taken to exist from its update", "%s %q at %s", k.kind, k.id, fmtTime(t))
				}
				cur, since = &st, t
				continue
			}
			if e.Action == ActionProvisioned {
				warn.addf("inventory: provisioned again while in existence; taken as an update", "%s %q at %s", k.kind, k.id, fmtTime(t))
			}
			if st != *cur {
				if t.After(since) {
					spans = append(spans, span{From: since, To: t, state: *cur})
				}
				cur, since = &st, t
			}
		case ActionDecommissioned:
			if cur == nil {
				warn.addf("inventory: decommissioned while not in existence; ignored", "%s %q at %s", k.kind, k.id, fmtTime(t))
				continue
			}
			if t.After(since) {
				spans = append(spans, span{From: since, To: t, state: *cur})
			}
			cur = nil
		}
	}
	if cur != nil && since.Before(w.To) {
		spans = append(spans, span{From: since, To: w.To, state: *cur})
	}
	return spans
}

// existed returns how long r existed inside [a, b).
func (r *resource) existed(a, b time.Time) time.Duration {
	var d time.Duration
	for _, s := range r.spans {
		d += overlap(s.From, s.To, a, b)
	}
	return d
}

// last returns r's state at the end of its existence in the window.
func (r *resource) last() span { return r.spans[len(r.spans)-1] }

// warnings collects input problems by reason.
type warnings struct {
	byReason map[string]*Warning
	order    []string
}

// addf counts one occurrence of reason; the first one's example is formatted from format and
// args (only then, so that a frequent warning stays cheap).
func (w *warnings) addf(reason, format string, args ...any) {
	if w.byReason == nil {
		w.byReason = map[string]*Warning{}
	}
	if x, ok := w.byReason[reason]; ok {
		x.Count++
		return
	}
	w.byReason[reason] = &Warning{Reason: reason, Count: 1, Example: fmt.Sprintf(format, args...)}
	w.order = append(w.order, reason)
}

func (w *warnings) list() []Warning {
	out := make([]Warning, 0, len(w.order))
	for _, r := range w.order {
		out = append(out, *w.byReason[r])
	}
	slices.SortFunc(out, func(a, b Warning) int { return cmp.Compare(a.Reason, b.Reason) })
	return out
}
