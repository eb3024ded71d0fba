package cost

import (
	"cmp"
	"slices"
	"sort"
	"time"
)

// segChange is one value of a tenant's segment property from a time on.
type segChange struct {
	from  time.Time
	value string
}

// segments holds every tenant's segment changes per property, each series sorted by time.
type segments struct {
	series map[string]map[string][]segChange // property → tenant → changes
}

func newSegments(in []SegmentChange, warn *warnings) segments {
	s := segments{series: map[string]map[string][]segChange{}}
	for _, c := range in {
		if c.TenantID == "" || c.EffectiveFrom.IsZero() || (c.Property != SegmentPlan && c.Property != SegmentTier) {
			warn.addf("segment change without tenant, time or a known property (plan, tier) ignored", "tenant %q property %q", c.TenantID, c.Property)
			continue
		}
		m := s.series[c.Property]
		if m == nil {
			m = map[string][]segChange{}
			s.series[c.Property] = m
		}
		m[c.TenantID] = append(m[c.TenantID], segChange{from: c.EffectiveFrom.UTC(), value: c.Value})
	}
	for prop, m := range s.series {
		for tenant, cs := range m {
			slices.SortStableFunc(cs, func(a, b segChange) int {
				return cmp.Or(a.from.Compare(b.from), cmp.Compare(a.value, b.value))
			})
			// Of several changes at one instant, the greatest value wins (deterministic whatever
			// the input order).
			out := cs[:0]
			for _, c := range cs {
				if n := len(out); n > 0 && out[n-1].from.Equal(c.from) {
					if out[n-1].value != c.value {
						warn.addf("segment: several values at one instant; the greatest is used", "tenant %q %s at %s", tenant, prop, fmtTime(c.from))
					}
					out[n-1] = c
					continue
				}
				out = append(out, c)
			}
			m[tenant] = out
		}
	}
	return s
}

// at returns the tenant's value of prop in force at t (UnknownSegment before its first change).
func (s segments) at(prop, tenant string, t time.Time) string {
	cs := s.series[prop][tenant]
	i := sort.Search(len(cs), func(i int) bool { return cs[i].from.After(t) })
	if i == 0 {
		return UnknownSegment
	}
	return cs[i-1].value
}

// segPart is one value's weight (duration in force) within a day.
type segPart struct {
	value  string
	weight time.Duration
}

// parts returns the values of prop in force for tenant over [a, b), with the time each was in
// force, in time order (a value may appear twice if it comes back).
func (s segments) parts(prop, tenant string, a, b time.Time) []segPart {
	cs := s.series[prop][tenant]
	i := sort.Search(len(cs), func(i int) bool { return cs[i].from.After(a) })
	cur, from := UnknownSegment, a
	if i > 0 {
		cur = cs[i-1].value
	}
	var out []segPart
	for ; i < len(cs) && cs[i].from.Before(b); i++ {
		if d := cs[i].from.Sub(from); d > 0 {
			out = append(out, segPart{cur, d})
		}
		cur, from = cs[i].value, cs[i].from
	}
	return append(out, segPart{cur, b.Sub(from)})
}

// changesWithin reports whether the tenant's prop changes inside (a, b).
func (s segments) changesWithin(prop, tenant string, a, b time.Time) bool {
	for _, c := range s.series[prop][tenant] {
		if c.from.After(a) && c.from.Before(b) {
			return true
		}
	}
	return false
}
