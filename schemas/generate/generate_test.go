package generate

import (
	"encoding/json"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/schemas/events"
)

func TestDefaults(t *testing.T) {
	tests := map[string]struct {
		in   Options
		want func(Options) Options
	}{
		"zero options become defaults": {
			in:   Options{},
			want: func(Options) Options { return DefaultOptions() },
		},
		"seed and explicit sizes kept": {
			in: Options{Seed: 9, Tenants: 3, VPSPerTenant: 2, IPsPerTenant: 1, Source: "x"},
			want: func(Options) Options {
				o := DefaultOptions()
				o.Seed, o.Tenants, o.VPSPerTenant, o.IPsPerTenant, o.Source = 9, 3, 2, 1, "x"
				return o
			},
		},
		"negative sizes mean none, intervals truncated to whole seconds, rates clamped": {
			in: Options{Tenants: -1, VPSPerTenant: -1, IPsPerTenant: -1, SampleEvery: 1500 * time.Millisecond,
				EmailEvery: 10 * time.Millisecond, DuplicateRate: 2, LateRate: -1, MalformedRate: math.NaN()},
			want: func(Options) Options {
				o := DefaultOptions()
				o.Tenants, o.VPSPerTenant, o.IPsPerTenant = 0, 0, 0
				o.SampleEvery, o.EmailEvery, o.DuplicateRate = time.Second, time.Second, 1
				return o
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want(tc.in), New(tc.in).Options())
		})
	}
}

func TestEmptyFleet(t *testing.T) {
	g := New(Options{Tenants: -1, MalformedRate: 1, DuplicateRate: 1})
	require.Empty(t, g.Fleet().Tenants)
	require.Empty(t, g.Window(testFrom, testFrom.Add(time.Hour)))
	require.Empty(t, g.Inventory(testFrom))
}

func TestDeterminism(t *testing.T) {
	tests := map[string]struct {
		a, b      Options
		wantEqual bool
	}{
		"same seed, defaults":    {a: Options{Seed: 1}, b: Options{Seed: 1}, wantEqual: true},
		"same seed, with faults": {a: allFaults, b: allFaults, wantEqual: true},
		"different seed":         {a: Options{Seed: 1}, b: Options{Seed: 2}},
		"different seed, faults": {a: allFaults, b: func() Options { o := allFaults; o.Seed++; return o }()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ga, gb := New(tc.a), New(tc.b)
			from, to := testFrom.Add(13*time.Hour), testFrom.Add(14*time.Hour)
			wa, wb := ga.Window(from, to), gb.Window(from, to)
			ia, ib := ga.Inventory(from), gb.Inventory(from)
			if tc.wantEqual {
				require.Equal(t, ga.Fleet(), gb.Fleet())
				require.Equal(t, wa, wb)
				require.Equal(t, ia, ib)
				// A second call on the same generator gives the same result too.
				require.Equal(t, wa, ga.Window(from, to))
				return
			}
			require.NotEqual(t, ga.Fleet(), gb.Fleet())
			ids := map[string]struct{}{}
			for _, it := range wa {
				if it.Event != nil {
					ids[it.Event.ID] = struct{}{}
				}
			}
			for _, it := range wb {
				if it.Event != nil {
					_, clash := ids[it.Event.ID]
					require.False(t, clash, "id %s shared across seeds", it.Event.ID)
				}
			}
		})
	}
}

func TestSplitRangeEquivalence(t *testing.T) {
	from, to := testFrom.Add(23*time.Hour+30*time.Minute), testFrom.Add(24*time.Hour+30*time.Minute) // crosses midnight
	tests := map[string]struct {
		step time.Duration
	}{
		"hourly":             {step: time.Hour},
		"aligned 5m":         {step: 5 * time.Minute},
		"odd 7m13s":          {step: 7*time.Minute + 13*time.Second},
		"unaligned 61.5s":    {step: 61*time.Second + 500*time.Millisecond},
		"one second":         {step: time.Second},
		"larger than range":  {step: 2 * time.Hour},
		"sub-second pieces:": {step: 250 * time.Millisecond},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, o := range []Options{{Seed: 3}, allFaults} {
				g := New(o)
				whole := g.Window(from, to)
				var parts []Item
				for a := from; a.Before(to); a = a.Add(tc.step) {
					b := a.Add(tc.step)
					if b.After(to) {
						b = to
					}
					parts = append(parts, g.Window(a, b)...)
				}
				require.Equal(t, okByID(whole), okByID(parts))
				if o.DuplicateRate+o.OutOfOrderRate+o.LateRate+o.MalformedRate == 0 {
					// Without faults the concatenation is exactly the single call.
					require.Equal(t, whole, parts)
				}
			}
		})
	}
}

func TestWindowBoundaries(t *testing.T) {
	g := New(Options{Seed: 5})
	from, to := testFrom.Add(10*time.Hour), testFrom.Add(11*time.Hour)
	items := g.Window(from, to)
	f := g.Fleet()
	require.Len(t, items, len(f.VPS)*60+len(f.IPs)*12)
	perResource := map[string]int{}
	for i, it := range items {
		require.False(t, it.Event.Time.Before(from))
		require.True(t, it.Event.Time.Before(to))
		if i > 0 {
			require.False(t, it.Event.Time.Before(items[i-1].Event.Time), "event-time order")
		}
		if it.Event.VPS != nil {
			perResource[it.Event.VPS.ResourceID]++
		} else {
			perResource[it.Event.Email.IP]++
		}
	}
	for _, v := range f.VPS {
		require.Equal(t, 60, perResource[v.ID])
	}
	for _, ip := range f.IPs {
		require.Equal(t, 12, perResource[ip.Addr])
	}
	require.Empty(t, g.Window(to, from))
	require.Empty(t, g.Window(from, from))
}

var idPattern = regexp.MustCompile(`^(vps|email|inv)-(.+)-(\d+)-([0-9a-f]{8})(-late)?$`)

func TestOKItemsRoundTrip(t *testing.T) {
	g := New(Options{Seed: 11})
	f := g.Fleet()
	tenants := map[string]struct{}{}
	for _, tn := range f.Tenants {
		tenants[tn.ID] = struct{}{}
	}
	vps := map[string]VPS{}
	for _, v := range f.VPS {
		vps[v.ID] = v
	}
	ips := map[string]IP{}
	for _, ip := range f.IPs {
		ips[ip.Addr] = ip
	}
	items := append(g.Window(testFrom.Add(10*time.Hour), testFrom.Add(14*time.Hour)), g.Inventory(testFrom)...)
	seen := map[string]struct{}{}
	for _, it := range items {
		require.Equal(t, KindOK, it.Kind)
		require.NotNil(t, it.Event)

		ev, err := parseStrict(it.Raw)
		require.NoError(t, err, string(it.Raw))
		require.Equal(t, *it.Event, ev)
		// Re-encoding what encoding/json decoded reproduces the exact bytes (the Encode form).
		again, err := events.Encode(ev)
		require.NoError(t, err)
		require.Equal(t, string(it.Raw), string(again))

		_, dup := seen[ev.ID]
		require.False(t, dup, "duplicate id %s", ev.ID)
		seen[ev.ID] = struct{}{}
		m := idPattern.FindStringSubmatch(ev.ID)
		require.NotNil(t, m, ev.ID)
		require.Equal(t, strconv.FormatInt(ev.Time.Unix(), 10), m[3])
		require.Empty(t, m[5])

		require.Equal(t, DefaultSource, ev.Source)
		require.Contains(t, tenants, ev.TenantID)
		require.False(t, ev.Historical)
		switch {
		case ev.VPS != nil:
			v, ok := vps[ev.VPS.ResourceID]
			require.True(t, ok)
			require.Equal(t, v.TenantID, ev.TenantID)
			require.Equal(t, events.VPSSample{
				ResourceID: v.ID, Provider: v.Provider, Region: v.Region, Plan: v.Plan, VCPUs: v.VCPUs,
				MemoryMB: v.MemoryMB, CPUUtil: ev.VPS.CPUUtil, MemUtil: ev.VPS.MemUtil, IntervalSeconds: 60,
			}, *ev.VPS)
			for _, u := range []float64{ev.VPS.CPUUtil, ev.VPS.MemUtil} {
				require.GreaterOrEqual(t, u, 0.0)
				require.LessOrEqual(t, u, 1.0)
				require.Equal(t, u, math.Round(u*1e4)/1e4, "rounded to 4 decimals")
			}
		case ev.Email != nil:
			ip, ok := ips[ev.Email.IP]
			require.True(t, ok)
			require.Equal(t, ip.TenantID, ev.TenantID)
			require.Equal(t, ip.Pool, ev.Email.Pool)
			require.Equal(t, ip.Provider, ev.Email.Provider)
			require.Equal(t, uint32(300), ev.Email.IntervalSeconds)
		case ev.Inventory != nil:
			require.Equal(t, testFrom, ev.Time)
		}
	}
}

func TestInventory(t *testing.T) {
	g := New(Options{Seed: 4, Source: "demo"})
	f := g.Fleet()
	at := testFrom.Add(90 * time.Minute)
	items := g.Inventory(at)
	require.Len(t, items, len(f.VPS)+len(f.IPs))
	byResource := map[string]*events.InventoryResource{}
	tenantOf := map[string]string{}
	for _, it := range items {
		require.Equal(t, KindOK, it.Kind)
		ev, err := parseStrict(it.Raw)
		require.NoError(t, err)
		require.Equal(t, events.TypeInventoryResource, ev.Type)
		require.Equal(t, "demo", ev.Source)
		require.Equal(t, at, ev.Time)
		require.Equal(t, events.ActionProvisioned, ev.Inventory.Action)
		require.NotContains(t, byResource, ev.Inventory.ResourceID)
		byResource[ev.Inventory.ResourceID] = ev.Inventory
		tenantOf[ev.Inventory.ResourceID] = ev.TenantID
	}
	for _, v := range f.VPS {
		inv := byResource[v.ID]
		require.NotNil(t, inv)
		require.Equal(t, events.InventoryResource{ResourceID: v.ID, Kind: events.KindVPS, Provider: v.Provider,
			Region: v.Region, Plan: v.Plan, Action: events.ActionProvisioned, Shared: v.Shared}, *inv)
		require.Equal(t, v.TenantID, tenantOf[v.ID])
	}
	for _, ip := range f.IPs {
		inv := byResource[ip.Addr]
		require.NotNil(t, inv)
		require.Equal(t, events.InventoryResource{ResourceID: ip.Addr, Kind: events.KindIP, Provider: ip.Provider,
			Region: ip.Region, Plan: ip.Plan, Action: events.ActionProvisioned, Shared: ip.Shared}, *inv)
		require.Equal(t, ip.TenantID, tenantOf[ip.Addr])
	}
	require.Equal(t, items, g.Inventory(at))
}

func TestFaultRates(t *testing.T) {
	from, to := testFrom.Add(8*time.Hour), testFrom.Add(12*time.Hour)
	baseline := okByID(New(Options{Seed: 21}).Window(from, to))
	tests := map[string]struct {
		opts Options
	}{
		"none":         {opts: Options{Seed: 21}},
		"duplicates":   {opts: Options{Seed: 21, DuplicateRate: 0.05}},
		"out of order": {opts: Options{Seed: 21, OutOfOrderRate: 0.1}},
		"late":         {opts: Options{Seed: 21, LateRate: 0.04}},
		"malformed":    {opts: Options{Seed: 21, MalformedRate: 0.03}},
		"all at once":  {opts: Options{Seed: 21, DuplicateRate: 0.02, OutOfOrderRate: 0.05, LateRate: 0.01, MalformedRate: 0.05}},
		"everything":   {opts: Options{Seed: 21, DuplicateRate: 1, OutOfOrderRate: 1, LateRate: 1, MalformedRate: 1}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			items := New(tc.opts).Window(from, to)
			kinds := countKinds(items)
			ok := kinds[KindOK]
			require.Greater(t, ok, 12000)
			// The ok set never depends on the fault mix.
			require.Equal(t, baseline, okByID(items))
			displaced := 0
			for _, it := range items {
				if it.Displaced {
					displaced++
				}
			}
			check := func(what string, got int, rate float64) {
				want := rate * float64(ok)
				if rate == 0 {
					require.Zero(t, got, what)
					return
				}
				// Binomial: a 15% band is 3 to 11 standard deviations at these sizes.
				require.InDelta(t, want, float64(got), 0.15*want+3, what)
			}
			check("duplicates", kinds[KindDuplicate], tc.opts.DuplicateRate)
			check("displaced", displaced, tc.opts.OutOfOrderRate)
			check("late", kinds[KindLate], tc.opts.LateRate)
			check("malformed", kinds[KindMalformed], tc.opts.MalformedRate)
		})
	}
}

func TestDuplicates(t *testing.T) {
	items := New(Options{Seed: 8, DuplicateRate: 0.1, OutOfOrderRate: 0.1}).Window(testFrom, testFrom.Add(2*time.Hour))
	emitted := map[string][]byte{}
	dups := 0
	for _, it := range items {
		switch it.Kind {
		case KindOK:
			emitted[it.Event.ID] = it.Raw
		case KindDuplicate:
			dups++
			orig, ok := emitted[it.Event.ID]
			require.True(t, ok, "duplicate %s before its original", it.Event.ID)
			require.Equal(t, orig, it.Raw)
			ev, err := parseStrict(it.Raw)
			require.NoError(t, err)
			require.Equal(t, it.Event.ID, ev.ID)
			// Not aliased: the caller may mutate one without touching the other.
			require.NotSame(t, &orig[0], &it.Raw[0])
		}
	}
	require.Positive(t, dups)
}

func TestOutOfOrder(t *testing.T) {
	items := New(Options{Seed: 8, OutOfOrderRate: 0.08}).Window(testFrom, testFrom.Add(2*time.Hour))
	var maxTime time.Time
	for _, it := range items {
		if it.Event.Time.After(maxTime) {
			maxTime = it.Event.Time
		}
	}
	var latest time.Time // latest event time emitted so far
	var lastInOrder time.Time
	displaced := 0
	for _, it := range items {
		require.Equal(t, KindOK, it.Kind)
		if it.Displaced {
			displaced++
			if it.Event.Time.Before(maxTime) {
				require.True(t, latest.After(it.Event.Time), "displaced item must follow a later event")
			}
		} else {
			require.False(t, it.Event.Time.Before(lastInOrder), "undisplaced items stay in order")
			lastInOrder = it.Event.Time
		}
		if it.Event.Time.After(latest) {
			latest = it.Event.Time
		}
	}
	require.Positive(t, displaced)
}

func TestLateItems(t *testing.T) {
	tests := map[string]struct {
		lateBy time.Duration
	}{
		"default 2h":    {},
		"90m":           {lateBy: 90 * time.Minute},
		"1d":            {lateBy: 24 * time.Hour},
		"not aligned":   {lateBy: 2*time.Hour + 17*time.Second + 300*time.Millisecond},
		"shorter range": {lateBy: 10 * time.Minute},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := New(Options{Seed: 2, LateRate: 0.05, LateBy: tc.lateBy})
			lateBy := g.Options().LateBy
			from, to := testFrom.Add(30*time.Hour), testFrom.Add(31*time.Hour)
			items := g.Window(from, to)
			ok := map[string]struct{}{}
			okAt := map[string]struct{}{} // resource@time of ok items
			for _, it := range items {
				if it.Kind == KindOK {
					ok[it.Event.ID] = struct{}{}
					okAt[resourceOf(it.Event)+"@"+strconv.FormatInt(it.Event.Time.UnixNano(), 10)] = struct{}{}
				}
			}
			late := map[string]struct{}{}
			for _, it := range items {
				if it.Kind != KindLate {
					continue
				}
				ev, err := parseStrict(it.Raw)
				require.NoError(t, err)
				require.Equal(t, *it.Event, ev)
				require.True(t, strings.HasSuffix(ev.ID, "-late"), ev.ID)
				_, isOK := ok[ev.ID]
				_, seen := late[ev.ID]
				require.False(t, isOK || seen, "late id %s not unique", ev.ID)
				late[ev.ID] = struct{}{}
				// It was triggered by an ok event of the same resource exactly LateBy later.
				_, triggered := okAt[resourceOf(&ev)+"@"+strconv.FormatInt(ev.Time.Add(lateBy).UnixNano(), 10)]
				require.True(t, triggered, ev.ID)
				require.True(t, ev.Time.Before(to.Add(-lateBy)))
			}
			require.NotEmpty(t, late)
		})
	}
}

func resourceOf(ev *events.Event) string {
	if ev.VPS != nil {
		return ev.VPS.ResourceID
	}
	return ev.Email.IP
}

var malformedID = regexp.MustCompile(`malformed-[0-9a-f]{8}-[0-9a-f]{16}`)

func TestMalformed(t *testing.T) {
	g := New(Options{Seed: 6, MalformedRate: 0.05, LateRate: 0.01, DuplicateRate: 0.01})
	var items []Item
	for h := range 3 {
		items = append(items, g.Window(testFrom.Add(time.Duration(h)*time.Hour), testFrom.Add(time.Duration(h+1)*time.Hour))...)
	}
	reasons := map[string]int{}
	ids := map[string]struct{}{}
	for _, it := range items {
		if it.Kind != KindMalformed {
			if it.Kind != KindDuplicate {
				_, clash := ids[it.Event.ID]
				require.False(t, clash, it.Event.ID)
				ids[it.Event.ID] = struct{}{}
			}
			continue
		}
		require.Nil(t, it.Event)
		require.Contains(t, MalformedKinds(), it.Reason)
		reasons[it.Reason]++
		_, err := parseStrict(it.Raw)
		require.Error(t, err, "%s: %s", it.Reason, it.Raw)
		if id := malformedID.Find(it.Raw); id != nil {
			_, clash := ids[string(id)]
			require.False(t, clash, "malformed id %s reused", id)
			ids[string(id)] = struct{}{}
		} else {
			require.Equal(t, MalformedMissingID, it.Reason, string(it.Raw))
		}
	}
	require.Len(t, reasons, len(MalformedKinds()), "every kind shows up: %v", reasons)
}

func TestMalformedKinds(t *testing.T) {
	tests := map[string]struct {
		check func(t *testing.T, raw []byte)
	}{
		MalformedTruncatedJSON: {check: func(t *testing.T, raw []byte) { require.False(t, json.Valid(raw)) }},
		MalformedNotJSON:       {check: func(t *testing.T, raw []byte) { require.False(t, json.Valid(raw)) }},
		MalformedMissingID:     {check: func(t *testing.T, raw []byte) { require.NotContains(t, field(t, raw, ""), "id") }},
		MalformedMissingTenant: {check: func(t *testing.T, raw []byte) { require.NotContains(t, field(t, raw, ""), "tenantid") }},
		MalformedMissingData:   {check: func(t *testing.T, raw []byte) { require.NotContains(t, field(t, raw, ""), "data") }},
		MalformedMissingField:  {check: func(t *testing.T, raw []byte) { require.NotContains(t, field(t, raw, "data"), "resource_id") }},
		MalformedCPUOutOfRange: {check: func(t *testing.T, raw []byte) { require.Equal(t, 1.7, field(t, raw, "data")["cpu_util"]) }},
		MalformedMemNegative:   {check: func(t *testing.T, raw []byte) { require.Equal(t, -0.2, field(t, raw, "data")["mem_util"]) }},
		MalformedNegativeCount: {check: func(t *testing.T, raw []byte) { require.Equal(t, -5.0, field(t, raw, "data")["sent"]) }},
		MalformedUnknownType: {check: func(t *testing.T, raw []byte) {
			require.NotContains(t, events.Types, events.Type(field(t, raw, "")["type"].(string)))
		}},
		MalformedBadTime: {check: func(t *testing.T, raw []byte) {
			_, err := time.Parse(time.RFC3339, field(t, raw, "")["time"].(string))
			require.Error(t, err)
		}},
		MalformedBadSpecVersion: {check: func(t *testing.T, raw []byte) { require.NotEqual(t, "1.0", field(t, raw, "")["specversion"]) }},
		MalformedWrongFieldType: {check: func(t *testing.T, raw []byte) { require.IsType(t, "", field(t, raw, "data")["vcpus"]) }},
	}
	require.Len(t, tests, len(MalformedKinds()))
	items := New(Options{Seed: 6, MalformedRate: 1}).Window(testFrom, testFrom.Add(10*time.Minute))
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n := 0
			for _, it := range items {
				if it.Kind == KindMalformed && it.Reason == name {
					n++
					tc.check(t, it.Raw)
					_, err := parseStrict(it.Raw)
					require.Error(t, err)
				}
			}
			require.Positive(t, n)
		})
	}
}

// field decodes raw as a JSON object and returns it, or its object member named sub.
func field(t *testing.T, raw []byte, sub string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	if sub == "" {
		return m
	}
	d, ok := m[sub].(map[string]any)
	require.True(t, ok)
	return d
}

func TestIDsUniqueAcrossWindows(t *testing.T) {
	g := New(allFaults)
	seen := map[string]struct{}{}
	for h := range 6 {
		for _, it := range g.Window(testFrom.Add(time.Duration(h)*time.Hour), testFrom.Add(time.Duration(h+1)*time.Hour)) {
			if it.Kind == KindOK || it.Kind == KindLate {
				_, dup := seen[it.Event.ID]
				require.False(t, dup, it.Event.ID)
				seen[it.Event.ID] = struct{}{}
			}
		}
	}
	require.True(t, slices.ContainsFunc(slices.Collect(maps.Keys(seen)), func(id string) bool { return strings.HasSuffix(id, "-late") }))
}
