package cost

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

func TestResources(t *testing.T) {
	w := Window{From: at(1, 0), To: at(3, 0)}
	base := prov("r", "t1", pricelist.KindVPS, "hz", "small", false, at(1, 0))
	st := func(plan string) state {
		return state{TenantID: "t1", Provider: "hz", Region: "r1", Plan: plan}
	}
	sp := func(from, to time.Time, plan string) span { return span{From: from, To: to, state: st(plan)} }
	feb := at(1, 0).AddDate(0, -1, 0)
	tests := map[string]struct {
		events   []InventoryEvent
		want     []span // nil: no resource in the window
		warnings []string
	}{
		"provisioned before the window": {
			events: []InventoryEvent{prov("r", "t1", pricelist.KindVPS, "hz", "small", false, feb)},
			want:   []span{sp(at(1, 0), at(3, 0), "small")},
		},
		"provisioned inside, decommissioned inside": {
			events:   []InventoryEvent{upd(base, at(1, 6), "small"), decom(base, at(2, 6))},
			want:     []span{sp(at(1, 6), at(2, 6), "small")},
			warnings: []string{"inventory: updated before provisioned; the resource is taken to exist from its update"},
		},
		"gone before the window": {
			events: []InventoryEvent{prov("r", "t1", pricelist.KindVPS, "hz", "small", false, feb), decom(base, feb.Add(time.Hour))},
		},
		"provisioned at the window's end": {
			events: []InventoryEvent{prov("r", "t1", pricelist.KindVPS, "hz", "small", false, at(3, 0))},
		},
		"decommissioned without provision": {
			events:   []InventoryEvent{decom(base, at(1, 5))},
			warnings: []string{"inventory: decommissioned while not in existence; ignored"},
		},
		"provisioned twice with the same state": {
			events:   []InventoryEvent{base, prov("r", "t1", pricelist.KindVPS, "hz", "small", false, at(1, 5))},
			want:     []span{sp(at(1, 0), at(3, 0), "small")},
			warnings: []string{"inventory: provisioned again while in existence; taken as an update"},
		},
		"update with no change": {
			events: []InventoryEvent{base, upd(base, at(1, 5), "small")},
			want:   []span{sp(at(1, 0), at(3, 0), "small")},
		},
		"resize and back": {
			events: []InventoryEvent{base, upd(base, at(1, 5), "big"), upd(base, at(2, 5), "small")},
			want:   []span{sp(at(1, 0), at(1, 5), "small"), sp(at(1, 5), at(2, 5), "big"), sp(at(2, 5), at(3, 0), "small")},
		},
		"provision and decommission at one instant": {
			events: []InventoryEvent{decom(base, at(1, 5)), prov("r", "t1", pricelist.KindVPS, "hz", "small", false, at(1, 5))},
		},
		"provision and update at one instant": {
			events: []InventoryEvent{upd(base, at(1, 5), "big"), prov("r", "t1", pricelist.KindVPS, "hz", "small", false, at(1, 5))},
			want:   []span{sp(at(1, 5), at(3, 0), "big")},
		},
		"gap between two lives": {
			events: []InventoryEvent{base, decom(base, at(1, 10)), prov("r", "t1", pricelist.KindVPS, "hz", "small", false, at(2, 10))},
			want:   []span{sp(at(1, 0), at(1, 10), "small"), sp(at(2, 10), at(3, 0), "small")},
		},
		"events after the window ignored": {
			events: []InventoryEvent{base, upd(base, at(3, 0), "big"), decom(base, at(4, 0))},
			want:   []span{sp(at(1, 0), at(3, 0), "small")},
		},
		"unusable events": {
			events: []InventoryEvent{
				{Time: at(1, 0), Kind: pricelist.KindVPS, Action: ActionProvisioned},
				{Time: at(1, 0), ResourceID: "r", Kind: "disk", Action: ActionProvisioned},
				{ResourceID: "r", Kind: pricelist.KindVPS, Action: ActionProvisioned},
				{Time: at(1, 0), ResourceID: "r", Kind: pricelist.KindVPS, Action: "rebooted"},
			},
			warnings: []string{
				"inventory event of unknown kind ignored", "inventory event with unknown action ignored",
				"inventory event without resource_id ignored", "inventory event without time ignored",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var warn warnings
			got := resources(w, tc.events, &warn)
			if tc.want == nil {
				require.Empty(t, got)
			} else {
				require.Len(t, got, 1)
				require.Equal(t, tc.want, got[0].spans)
				require.Equal(t, len(tc.events), got[0].events)
			}
			var reasons []string
			for _, x := range warn.list() {
				reasons = append(reasons, x.Reason)
				require.Equal(t, 1, x.Count)
				require.NotEmpty(t, x.Example)
			}
			require.Equal(t, tc.warnings, reasons)
		})
	}
}

func TestResourcesOrderIndependent(t *testing.T) {
	in := goldenInput(t)
	want, err := Compute(in)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		r.Shuffle(len(in.Inventory), func(i, j int) { in.Inventory[i], in.Inventory[j] = in.Inventory[j], in.Inventory[i] })
		r.Shuffle(len(in.VPSUsage), func(i, j int) { in.VPSUsage[i], in.VPSUsage[j] = in.VPSUsage[j], in.VPSUsage[i] })
		r.Shuffle(len(in.EmailUsage), func(i, j int) { in.EmailUsage[i], in.EmailUsage[j] = in.EmailUsage[j], in.EmailUsage[i] })
		r.Shuffle(len(in.Segments), func(i, j int) { in.Segments[i], in.Segments[j] = in.Segments[j], in.Segments[i] })
		got, err := Compute(in)
		require.NoError(t, err)
		require.Equal(t, want.Resources, got.Resources)
		require.Equal(t, want.Email, got.Email)
		require.Equal(t, want.Totals, got.Totals)
		require.Equal(t, want.Vendors, got.Vendors)
	}
}

func TestSegments(t *testing.T) {
	var warn warnings
	s := newSegments([]SegmentChange{
		{TenantID: "t1", Property: SegmentPlan, Value: "pro", EffectiveFrom: at(1, 0)},
		{TenantID: "t1", Property: SegmentPlan, Value: "free", EffectiveFrom: at(2, 0)},
		{TenantID: "t1", Property: SegmentPlan, Value: "enterprise", EffectiveFrom: at(2, 0)}, // same instant: the greatest wins
		{TenantID: "t1", Property: SegmentPlan, Value: "starter", EffectiveFrom: at(2, 12)},
		{TenantID: "t1", Property: "colour", Value: "x", EffectiveFrom: at(1, 0)},
		{Property: SegmentPlan, Value: "x", EffectiveFrom: at(1, 0)},
	}, &warn)
	require.Equal(t, UnknownSegment, s.at(SegmentPlan, "t1", at(1, 0).Add(-1)))
	require.Equal(t, "pro", s.at(SegmentPlan, "t1", at(1, 0)))
	require.Equal(t, "free", s.at(SegmentPlan, "t1", at(2, 0)))
	require.Equal(t, "starter", s.at(SegmentPlan, "t1", at(3, 0)))
	require.Equal(t, UnknownSegment, s.at(SegmentTier, "t1", at(3, 0)))
	require.Equal(t, []segPart{{UnknownSegment, 12 * time.Hour}, {"pro", 12 * time.Hour}}, s.parts(SegmentPlan, "t1", at(0, 12), at(1, 0).Add(12*time.Hour)))
	require.Equal(t, []segPart{{"free", 12 * time.Hour}, {"starter", 12 * time.Hour}}, s.parts(SegmentPlan, "t1", at(2, 0), at(3, 0)))
	require.True(t, s.changesWithin(SegmentPlan, "t1", at(2, 0), at(3, 0)))
	require.False(t, s.changesWithin(SegmentPlan, "t1", at(2, 12), at(3, 0)))
	reasons := []string{}
	for _, w := range warn.list() {
		reasons = append(reasons, w.Reason)
	}
	require.Equal(t, []string{
		"segment change without tenant, time or a known property (plan, tier) ignored",
		"segment: several values at one instant; the greatest is used",
	}, reasons)
	require.Equal(t, 2, warn.list()[0].Count)
}
