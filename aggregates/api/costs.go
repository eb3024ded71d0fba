package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/auth"
	"github.com/spendstream/spendstream/aggregates/cost"
	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
	"github.com/spendstream/spendstream/aggregates/window"
	"github.com/spendstream/spendstream/schemas/events"
)

// CostReader is the optional part of a Reader the cost endpoints need besides the roll-ups: the
// resource inventory and the tenant segment history. *clickhouse.Store implements it.
type CostReader interface {
	Inventory(ctx context.Context, scope aggregates.Scope, q aggregates.InventoryQuery) ([]aggregates.InventoryRecord, error)
	SegmentHistory(ctx context.Context, scope aggregates.Scope, q aggregates.SegmentHistoryQuery) ([]aggregates.SegmentRecord, error)
}

// VPSDailyReader is the optional part of a Reader that reads the cost model's daily VPS usage
// cheaply: the rows VPSUtilization returns for step 1d grouped by tenant, resource, provider and
// plan (same figures, same order), without reading the histograms. *clickhouse.Store implements
// it; without it the cost endpoints use VPSUtilization.
type VPSDailyReader interface {
	VPSDailyUsage(ctx context.Context, scope aggregates.Scope, q aggregates.RollupQuery) ([]aggregates.VPSRow, error)
}

// VPSDailyScanner is VPSDailyReader row by row (fn gets each row, valid during the call only):
// the cost model's input is then built without the reader's copy of a year of rows alongside it.
// *clickhouse.Store implements it.
type VPSDailyScanner interface {
	ScanVPSDailyUsage(ctx context.Context, scope aggregates.Scope, q aggregates.RollupQuery, fn func(*aggregates.VPSRow)) error
}

// Cost defaults.
const (
	// DefaultCostWindow is the window of the cost endpoints when the request has none.
	DefaultCostWindow = 30 * 24 * time.Hour
	// MaxCostWindow bounds a cost request's window.
	MaxCostWindow = 400 * 24 * time.Hour
)

var costParams = []string{"from", "to"}

// errNoPrices is a 503: no valid price list is loaded.
var errNoPrices = errors.New("no price list loaded")

// costRequest is a parsed cost request: its window, aligned to whole UTC days.
type costRequest struct {
	window cost.Window
	params url.Values
}

// parseCostRequest parses from/to (RFC 3339; default the last 30 days up to now), aligned to days
// (from down, to up), plus the endpoint's extra parameters.
func parseCostRequest(r *http.Request, now time.Time, extra ...string) (costRequest, error) {
	q, err := parseQuery(r)
	if err != nil {
		return costRequest{}, err
	}
	if err := unknownParams(q, append(slices.Clone(costParams), extra...)); err != nil {
		return costRequest{}, err
	}
	to := ceil(now.UTC(), window.Step1d)
	if v := q.Get("to"); v != "" {
		if to, err = parseTime("to", v); err != nil {
			return costRequest{}, err
		}
		to = ceil(to, window.Step1d)
	}
	from := to.Add(-DefaultCostWindow)
	if v := q.Get("from"); v != "" {
		if from, err = parseTime("from", v); err != nil {
			return costRequest{}, err
		}
		from = window.Assign(from, window.Step1d)
	}
	if limit := ceil(now.UTC(), window.Step1d); to.After(limit) {
		return costRequest{}, badParam("to", "want a time no later than %s: modeled cost covers what happened, it is not a forecast", limit.Format(time.RFC3339))
	}
	if from.Before(minTime) {
		from = minTime
	}
	if !from.Before(to) {
		return costRequest{}, badParam("from", "want a time before to")
	}
	if to.Sub(from) > MaxCostWindow {
		return costRequest{}, badParam("from/to", "the window is %d days; want at most %d", to.Sub(from)/window.Step1d, MaxCostWindow/window.Step1d)
	}
	return costRequest{window: cost.Window{From: from, To: to}, params: q}, nil
}

// costInput reads everything the model needs for w: the inventory and segment history up to w.To
// and the daily usage of every day overlapping w (the model ignores what lies outside), through
// the day cache (usageDays; progress is the committed progress read before). Cost data is read
// across tenants even for a tenant-scoped caller, because a shared resource's split needs every
// sharer's usage; handlers serve a tenant-scoped caller only its own figures (cost.Model.Tenant).
func (s *server) costInput(ctx context.Context, w cost.Window, prices *pricelist.PriceList, progress []aggregates.Progress) (cost.Input, error) {
	all := aggregates.Scope{All: true}
	in := cost.Input{Window: w, PriceList: prices}
	inv, err := s.costs.Inventory(ctx, all, aggregates.InventoryQuery{Until: w.To})
	if err != nil {
		return in, unavailable("clickhouse", err)
	}
	for _, r := range inv {
		in.Inventory = append(in.Inventory, cost.InventoryEvent{Time: r.EventTime, TenantID: r.TenantID,
			ResourceID: r.ResourceID, Kind: pricelist.ResourceKind(r.Kind), Provider: r.Provider, Region: r.Region,
			Plan: r.Plan, Action: cost.Action(r.Action), Shared: r.Shared})
	}
	from, to := window.Assign(w.From, window.Step1d), ceil(w.To, window.Step1d)
	in.VPSUsage = make([]cost.VPSUsage, 0, s.days.cachedVPSRows(from, to))
	err = s.usageDays(ctx, from, to, progress, func(d *dayRows) {
		in.VPSUsage = append(in.VPSUsage, d.vps...)
		in.EmailUsage = append(in.EmailUsage, d.email...)
	})
	if err != nil {
		return in, err
	}
	segs, err := s.costs.SegmentHistory(ctx, all, aggregates.SegmentHistoryQuery{Until: w.To})
	if err != nil {
		return in, unavailable("clickhouse", err)
	}
	for _, r := range segs {
		in.Segments = append(in.Segments, cost.SegmentChange{TenantID: r.TenantID, Property: r.Property,
			Value: r.Value, EffectiveFrom: r.EffectiveFrom})
	}
	return in, nil
}

// dayReadChunk is how many days usageDays reads from the roll-ups at a time.
const dayReadChunk = 31

// usageDays hands keep (when not nil; the rows are valid during the call only), in day order, the
// daily usage of the days [from, to) as the cost model reads it: a day the day cache has, from there
// (see dayCache; progress is the committed progress read before, which decides which days are
// closed); a run of days it lacks, read from the roll-ups a month at a time, its closed days kept in
// the cache as soon as they are read, so that a computation cut short (a request's timeout) leaves
// them for the next one.
func (s *server) usageDays(ctx context.Context, from, to time.Time, progress []aggregates.Progress, keep func(*dayRows)) error {
	backfill := backfillKey(progress)
	closed := s.days.closedUntil(progress, s.cfg.Partitions)
	var scratch dayRows
	for d := from; d.Before(to); {
		if r, ok := s.days.get(d, backfill); ok {
			s.metrics.costDays.WithLabelValues("cache").Inc()
			if keep != nil {
				scratch.vps, scratch.email = scratch.vps[:0], scratch.email[:0]
				r.appendTo(&scratch)
				keep(&scratch)
			}
			d = d.AddDate(0, 0, 1)
			continue
		}
		end := d.AddDate(0, 0, 1)
		for n := 1; n < dayReadChunk && end.Before(to); n++ {
			if _, ok := s.days.get(end, backfill); ok {
				break
			}
			end = end.AddDate(0, 0, 1)
		}
		read, err := s.readDays(ctx, aggregates.RollupQuery{From: d, To: end, Step: window.Step1d})
		if err != nil {
			return err
		}
		s.metrics.costDays.WithLabelValues("clickhouse").Add(end.Sub(d).Hours() / 24)
		for c := range read.byDay(d, end) {
			if !c.day.AddDate(0, 0, 1).After(closed) {
				s.days.put(c.day, c.rows, backfill)
			}
		}
		if keep != nil {
			keep(read)
		}
		d = end
	}
	return nil
}

// readDays reads the daily VPS and email usage of the days of q from the roll-ups, in day order.
// The ids repeat on every day: one string each (intern) is kept, not one per row.
func (s *server) readDays(ctx context.Context, q aggregates.RollupQuery) (*dayRows, error) {
	strs := map[string]string{}
	intern := func(v string) string {
		if u, ok := strs[v]; ok {
			return u
		}
		strs[v] = v
		return v
	}
	out := &dayRows{}
	add := func(r *aggregates.VPSRow) {
		out.vps = append(out.vps, cost.VPSUsage{Day: r.WindowStart, TenantID: intern(r.TenantID), ResourceID: intern(r.ResourceID),
			Provider: intern(r.Provider), Plan: intern(r.Plan), Samples: r.Samples, CPUCoreSeconds: r.CPUCoreSeconds,
			CPUAvg: r.CPUAvg, CPUP95: r.CPUP95, MemAvg: r.MemAvg, MemP95: r.MemP95})
	}
	if err := s.vpsDaily(ctx, q, add); err != nil {
		return nil, unavailable("clickhouse", err)
	}
	eq := aggregates.EmailQuery{RollupQuery: q}
	eq.GroupBy = []aggregates.Dimension{aggregates.DimTenantID, aggregates.DimIP, aggregates.DimPool, aggregates.DimProvider}
	email, err := s.reader.EmailVolume(ctx, aggregates.Scope{All: true}, eq)
	if err != nil {
		return nil, unavailable("clickhouse", err)
	}
	out.email = make([]cost.EmailUsage, 0, len(email))
	for _, r := range email {
		out.email = append(out.email, cost.EmailUsage{Day: r.WindowStart, TenantID: intern(r.TenantID), IP: intern(r.IP),
			Pool: intern(r.Pool), Provider: intern(r.Provider), Sent: r.Sent, Delivered: r.Delivered, Bounced: r.Bounced,
			Deferred: r.Deferred, Complained: r.Complained})
	}
	return out, nil
}

// vpsDaily reads the daily VPS usage of days across tenants, per tenant, resource, provider and
// plan, and hands each row to fn: through VPSDailyScanner or VPSDailyReader when the reader has one.
func (s *server) vpsDaily(ctx context.Context, days aggregates.RollupQuery, fn func(*aggregates.VPSRow)) error {
	all := aggregates.Scope{All: true}
	if r, ok := s.reader.(VPSDailyScanner); ok {
		return r.ScanVPSDailyUsage(ctx, all, days, fn)
	}
	var rows []aggregates.VPSRow
	var err error
	if r, ok := s.reader.(VPSDailyReader); ok {
		rows, err = r.VPSDailyUsage(ctx, all, days)
	} else {
		vq := aggregates.VPSQuery{RollupQuery: days}
		vq.GroupBy = []aggregates.Dimension{aggregates.DimTenantID, aggregates.DimResourceID, aggregates.DimProvider, aggregates.DimPlan}
		rows, err = s.reader.VPSUtilization(ctx, all, vq)
	}
	for i := range rows {
		fn(&rows[i])
	}
	return err
}

// lookback is the window recommendations are computed over: the lookback days ending at to.
func (s *server) lookback(to time.Time) cost.Window {
	days := s.cfg.Recommend.LookbackDays
	if days <= 0 {
		days = cost.DefaultRecommendConfig().LookbackDays
	}
	return cost.Window{From: to.Add(-time.Duration(days) * window.Step1d), To: to}
}

// recommendations computes the recommendations over the lookback window ending at to, and
// returns them with the cache entry of that window's model.
func (s *server) recommendations(ctx context.Context, to time.Time) (cost.Recommendations, *modelEntry, error) {
	e, err := s.entry(ctx, s.lookback(to))
	if err != nil {
		return cost.Recommendations{}, nil, err
	}
	recs, err := e.recommend(s.cfg.Recommend)
	if err != nil {
		return cost.Recommendations{}, nil, fmt.Errorf("recommendations: %w", err)
	}
	return recs, e, nil
}

// serveCost runs compute under the query timeout and writes the cost envelope: data, labels,
// window and freshness stamped with the progress the models it used were computed at (cached
// models may be up to Config.CostCacheTTL old; the stamp says so).
func (s *server) serveCost(w http.ResponseWriter, r *http.Request, c caller, now time.Time, win cost.Window, step string,
	compute func(ctx context.Context) (any, error)) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	st := &stamp{}
	data, err := compute(withStamp(ctx, st))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	progress, ok := st.progress() // what the models used include, not what is committed now
	if !ok {
		if progress, err = s.reader.LaneProgress(ctx, c.scope); err != nil {
			s.fail(w, r, unavailable("clickhouse", err))
			return
		}
	}
	if !c.scope.All {
		for i := range progress {
			progress[i].StreamSeq, progress[i].Events = 0, 0
		}
	}
	f := buildFreshness(progress, s.cfg.Partitions, now, s.cfg.DelayedAfter)
	env := newEnvelope(data, f, now, events.LaneLive)
	// Costs are computed from usage (live lane) and inventory, usually published as history
	// (backfill lane): they include what both lanes have committed.
	env.AggregatedAsOf = f.oldest(events.LaneLive, events.LaneBackfill)
	env.Window = &windowJSON{From: jsonTime(win.From), To: jsonTime(win.To), Step: step}
	env.Labels = cost.Labels()
	s.writeJSON(w, r, http.StatusOK, env)
}

// amount is a main cost number with its currency and explanation.
type amount struct {
	Amount        cost.Money         `json:"amount"`
	Currency      string             `json:"currency"`
	HowCalculated cost.HowCalculated `json:"how_calculated"`
}

type savingsJSON struct {
	Low           cost.Money         `json:"low"`
	High          cost.Money         `json:"high"`
	Currency      string             `json:"currency"`
	Opportunities int                `json:"opportunities"`
	HowCalculated cost.HowCalculated `json:"how_calculated"`
}

type underutilizedJSON struct {
	RecommendationID string            `json:"recommendation_id"`
	ResourceIDs      []string          `json:"resource_ids"`
	Summary          string            `json:"summary"`
	Evidence         []cost.Metric     `json:"evidence"`
	SavingsMonthly   cost.SavingsRange `json:"savings_monthly"`
}

type overviewJSON struct {
	EstimatedMonthlySpend amount              `json:"estimated_monthly_spend"`
	WindowTotal           amount              `json:"window_total"`
	Unattributed          cost.Money          `json:"unattributed"`
	EstimatedSavings      savingsJSON         `json:"estimated_savings"`
	TopTenants            []cost.Group        `json:"top_tenants,omitempty"`
	TopVendors            []cost.Group        `json:"top_vendors,omitempty"`
	ByResourceType        []cost.Group        `json:"by_resource_type"`
	Underutilized         []underutilizedJSON `json:"underutilized_resources"`
	UnderutilizedCount    int                 `json:"underutilized_count"`
	Unpriced              []cost.Unpriced     `json:"unpriced"`
	Warnings              []cost.Warning      `json:"warnings"`
	PriceListVersion      string              `json:"price_list_version"`
}

// overviewUnderutilized is how many underutilized resources (consolidation findings, largest
// saving first) the overview lists; underutilized_count says how many there are, and
// GET /v1/recommendations?kind=consolidate_vps lists them all.
const overviewUnderutilized = 10

// topN keeps the n costliest groups (groups come sorted by cost), dropping daily series.
func topN(groups []cost.Group, n int) []cost.Group {
	out := make([]cost.Group, 0, n)
	for _, g := range groups {
		if len(out) == n {
			break
		}
		g.Days = nil
		out = append(out, g)
	}
	return out
}

func (s *server) costOverview(w http.ResponseWriter, r *http.Request, c caller) {
	now := s.cfg.Now()
	req, err := parseCostRequest(r, now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.serveCost(w, r, c, now, req.window, "1d", func(ctx context.Context) (any, error) {
		m, err := s.model(ctx, req.window)
		if err != nil {
			return nil, err
		}
		recs, _, err := s.recommendations(ctx, req.window.To)
		if err != nil {
			return nil, err
		}
		t := m.Totals
		// The savings, their count and the underutilized resources are those of the
		// recommendations this caller may see (GET /v1/recommendations shows the same ones).
		visible := listRecommendations(c, recs.Items, "", pageRequest{limit: 0})
		under := listRecommendations(c, recs.Items, cost.KindConsolidateVPS, pageRequest{limit: overviewUnderutilized})
		saving := visible.savings
		out := overviewJSON{
			EstimatedMonthlySpend: amount{t.EstimatedMonthly, m.Currency, t.EstimatedMonthlyHowCalculated},
			WindowTotal:           amount{t.Total, m.Currency, t.HowCalculated},
			Unattributed:          t.Unattributed,
			EstimatedSavings: savingsJSON{Low: saving.Low, High: saving.High, Currency: m.Currency,
				Opportunities: visible.count, HowCalculated: cost.HowCalculated{
					Method:           "sum of the monthly savings ranges (low and high) of every recommendation you may see; see GET /v1/recommendations for each one's arithmetic",
					Inputs:           []string{fmt.Sprintf("%d recommendations over the %d-day lookback", visible.count, recs.Config.LookbackDays)},
					PriceListVersion: m.PriceListVersion, Window: s.lookback(req.window.To)}},
			ByResourceType:   topN(t.ByResourceType, len(t.ByResourceType)),
			Underutilized:    []underutilizedJSON{},
			Unpriced:         m.Unpriced,
			Warnings:         m.Warnings,
			PriceListVersion: m.PriceListVersion,
		}
		if c.can(auth.CapCostsByTenant) {
			out.TopTenants = topN(t.ByTenant, 5)
		}
		if c.can(auth.CapCostsByProvider) {
			out.TopVendors = topN(t.ByProvider, 5)
		}
		out.UnderutilizedCount = under.count
		for _, rec := range under.page { // the largest savings first
			out.Underutilized = append(out.Underutilized, underutilizedJSON{RecommendationID: rec.ID,
				ResourceIDs: rec.Targets.ResourceIDs, Summary: rec.Summary, Evidence: rec.Evidence,
				SavingsMonthly: rec.SavingsMonthly})
		}
		return out, nil
	})
}

// breakdowns by dimension, and the capability each needs beyond costs:read.
var breakdowns = map[string]auth.Capability{
	"resource_type": "",
	"plan":          "",
	"tier":          "",
	"provider":      auth.CapCostsByProvider,
	"tenant":        auth.CapCostsByTenant,
}

type breakdownJSON struct {
	By            string             `json:"by"`
	Step          string             `json:"step"`
	Total         cost.Money         `json:"total"`
	Currency      string             `json:"currency"`
	Groups        []cost.Group       `json:"groups"`
	GroupCount    int                `json:"group_count"`
	NextCursor    string             `json:"next_cursor,omitempty"`
	ByDay         cost.DaySeries     `json:"by_day,omitempty"`
	HowCalculated cost.HowCalculated `json:"how_calculated"`
}

func (s *server) costBreakdown(w http.ResponseWriter, r *http.Request, c caller) {
	now := s.cfg.Now()
	req, err := parseCostRequest(r, now, append([]string{"by", "step"}, pageParams...)...)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page, err := parsePage(req.params)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	by := req.params.Get("by")
	if by == "" {
		by = "resource_type"
	}
	need, ok := breakdowns[by]
	if !ok {
		s.fail(w, r, badParam("by", "want one of resource_type, provider, plan, tier, tenant, got %s", echo(by)))
		return
	}
	if need != "" && !c.can(need) {
		s.fail(w, r, fmt.Errorf("%w: by=%s needs %s", ErrForbidden, by, need))
		return
	}
	step := req.params.Get("step")
	switch step {
	case "", "1d":
		step = "1d"
	case "total":
	default:
		s.fail(w, r, badParam("step", "want 1d or total, got %s", echo(step)))
		return
	}
	s.serveCost(w, r, c, now, req.window, step, func(ctx context.Context) (any, error) {
		e, err := s.entry(ctx, req.window)
		if err != nil {
			return nil, err
		}
		// The data depends on the parameters only (the capability was checked above).
		return e.view(fmt.Sprintf("breakdown|%s|%s|%d|%s", by, step, page.limit, req.params.Get("cursor")), func(e *modelEntry) (any, error) {
			m := e.m
			t := m.Totals
			groups := map[string][]cost.Group{"resource_type": t.ByResourceType, "provider": t.ByProvider,
				"plan": t.ByPlan, "tier": t.ByTier, "tenant": t.ByTenant}[by]
			out := breakdownJSON{By: by, Step: step, Total: t.Total, Currency: m.Currency, HowCalculated: t.HowCalculated,
				GroupCount: len(groups)}
			groups, out.NextCursor = paginate(groups, page, groupKey)
			if step == "total" {
				out.Groups = topN(groups, len(groups))
			} else {
				out.Groups, out.ByDay = slices.Clip(groups), t.ByDay
			}
			if out.Groups == nil {
				out.Groups = []cost.Group{}
			}
			return out, nil
		})
	})
}

// groupKey is a cost group's position in its breakdown (cost, highest first, then key).
func groupKey(g *cost.Group) pageKey { return pageKey{a: int64(g.Cost), k: g.Key} }

func (s *server) tenantCosts(w http.ResponseWriter, r *http.Request, c caller) {
	now := s.cfg.Now()
	tenant := r.PathValue("tenant_id")
	if !events.ValidTenant(tenant) {
		s.fail(w, r, badParam("tenant_id", "want a tenant id of letters, digits, '-' and '_' (at most 64), got %s", echo(tenant)))
		return
	}
	if err := c.checkTenants(tenant, nil); err != nil {
		s.fail(w, r, err)
		return
	}
	req, err := parseCostRequest(r, now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.serveCost(w, r, c, now, req.window, "1d", func(ctx context.Context) (any, error) {
		e, err := s.entry(ctx, req.window)
		if err != nil {
			return nil, err
		}
		return e.view(fmt.Sprintf("tenant|%s|%t", tenant, c.scope.All), func(e *modelEntry) (any, error) {
			tc := e.m.Tenant(tenant)
			if !c.scope.All {
				return redactShares(tc), nil
			}
			return tc, nil
		})
	})
}

// redactShares hides from a tenant-scoped caller what would let it derive other tenants' usage:
// the share (and so the total) of every resource and email provider it shares with others. Its
// own cost and its own usage stay; so does the basis of the split.
func redactShares(tc cost.TenantCost) any {
	b, err := json.Marshal(tc)
	if err != nil {
		return tc
	}
	var v map[string]any
	if json.Unmarshal(b, &v) != nil {
		return tc
	}
	for _, list := range []string{"resources", "email"} {
		items, _ := v[list].([]any)
		for _, it := range items {
			m, ok := it.(map[string]any)
			if !ok || m["basis"] == "dedicated" {
				continue
			}
			delete(m, "share")
		}
	}
	return v
}

func (s *server) vendorsCompare(w http.ResponseWriter, r *http.Request, c caller) {
	now := s.cfg.Now()
	req, err := parseCostRequest(r, now, "kind")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	kind := req.params.Get("kind")
	if kind != "email" && kind != "vps" && kind != "" {
		s.fail(w, r, badParam("kind", "want email or vps, got %s", echo(kind)))
		return
	}
	s.serveCost(w, r, c, now, req.window, "1d", func(ctx context.Context) (any, error) {
		m, err := s.model(ctx, req.window)
		if err != nil {
			return nil, err
		}
		v := m.Vendors
		switch kind {
		case "email":
			v.VPS = []cost.VPSVendor{}
		case "vps":
			v.Email, v.EmailPools = []cost.EmailVendor{}, []cost.EmailPool{}
		}
		return v, nil
	})
}

// vendorKinds are the recommendation kinds about vendors and commitments
// (auth.CapRecommendationsVendors).
var vendorKinds = []cost.Kind{cost.KindRebalanceIPPool, cost.KindAdjustCommitment}

// canSee reports whether c may see rec: vendor/commitment kinds only without recommendations:read,
// no tenant-plan findings without costs:by_tenant.
func canSee(c caller, rec *cost.Recommendation) bool {
	if !c.can(auth.CapRecommendationsRead) && !slices.Contains(vendorKinds, rec.Kind) {
		return false
	}
	return rec.Kind != cost.KindAdjustTenantPlan || c.can(auth.CapCostsByTenant)
}

// visibility names what canSee and redacted depend on for c: callers with the same one see the
// same listing (a key part of cached listings).
func visibility(c caller) string {
	return fmt.Sprintf("%t|%t|%t", c.can(auth.CapRecommendationsRead), c.can(auth.CapCostsByTenant), c.identify())
}

// redacted is rec as c may see it: no tenant ids without tenants:identify and costs:by_tenant.
func redacted(c caller, rec cost.Recommendation) cost.Recommendation {
	if !c.identify() || !c.can(auth.CapCostsByTenant) {
		rec.Targets.TenantIDs = []string{}
	}
	return rec
}

// recListing is what a caller's listing of recommendations of one kind ("" for all) holds: how
// many, their summed savings, and one page of them (redacted for the caller).
type recListing struct {
	count   int
	savings cost.SavingsRange
	page    []cost.Recommendation
	next    string
}

// listRecommendations walks items (sorted as cost.Recommend sorts them) once, without copying
// what is not on the page: the listing of a large fleet has thousands of recommendations and is
// read on every overview and recommendations request.
func listRecommendations(c caller, items []cost.Recommendation, kind cost.Kind, p pageRequest) recListing {
	start := start(items, p, recKey)
	out := recListing{page: []cost.Recommendation{}}
	for i := range items {
		rec := &items[i]
		if (kind != "" && rec.Kind != kind) || !canSee(c, rec) {
			continue
		}
		out.count++
		out.savings.Low += rec.SavingsMonthly.Low
		out.savings.High += rec.SavingsMonthly.High
		switch {
		case i < start:
		case len(out.page) < p.limit:
			out.page = append(out.page, redacted(c, *rec))
		case out.next == "" && len(out.page) > 0:
			out.next = recKey(&out.page[len(out.page)-1]).cursor()
		}
	}
	return out
}

// recommendationsJSON is a page of GET /v1/recommendations: savings_monthly and count cover
// every recommendation of the listing (this caller's, of the kind asked for), not just the page.
type recommendationsJSON struct {
	Items          []cost.Recommendation `json:"items"`
	Count          int                   `json:"count"`
	NextCursor     string                `json:"next_cursor,omitempty"`
	SavingsMonthly cost.SavingsRange     `json:"savings_monthly"`
	Currency       string                `json:"currency"`
	Notes          []string              `json:"notes"`
	Config         cost.RecommendConfig  `json:"config"`
	Labels         []string              `json:"labels"`
}

// recKey is a recommendation's position in the listing (high saving, then low, highest first,
// then id): the order cost.Recommend sorts them in.
func recKey(r *cost.Recommendation) pageKey {
	return pageKey{a: int64(r.SavingsMonthly.High), b: int64(r.SavingsMonthly.Low), k: r.ID}
}

// canRecommendations reports whether c may list recommendations of at least one kind.
func canRecommendations(c caller) bool {
	return c.can(auth.CapRecommendationsRead) || c.can(auth.CapRecommendationsVendors)
}

func (s *server) recommendationsList(w http.ResponseWriter, r *http.Request, c caller) {
	if !canRecommendations(c) {
		s.fail(w, r, ErrForbidden)
		return
	}
	now := s.cfg.Now()
	req, err := parseCostRequest(r, now, append([]string{"kind"}, pageParams...)...)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page, err := parsePage(req.params)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	kind := cost.Kind(req.params.Get("kind"))
	switch kind {
	case "", cost.KindConsolidateVPS, cost.KindRebalanceIPPool, cost.KindAdjustCommitment, cost.KindAdjustTenantPlan:
	default:
		s.fail(w, r, badParam("kind", "want consolidate_vps, rebalance_ip_pool, adjust_commitment or adjust_tenant_plan, got %s", echo(string(kind))))
		return
	}
	s.serveCost(w, r, c, now, req.window, "1d", func(ctx context.Context) (any, error) {
		_, e, err := s.recommendations(ctx, req.window.To)
		if err != nil {
			return nil, err
		}
		// The listing depends on the parameters and on what the caller may see.
		key := fmt.Sprintf("recommendations|%s|%d|%s|%s", kind, page.limit, req.params.Get("cursor"), visibility(c))
		return e.view(key, func(e *modelEntry) (any, error) {
			recs, err := e.recommend(s.cfg.Recommend)
			if err != nil {
				return nil, fmt.Errorf("recommendations: %w", err)
			}
			l := listRecommendations(c, recs.Items, kind, page)
			return recommendationsJSON{Items: l.page, Count: l.count, NextCursor: l.next, SavingsMonthly: l.savings,
				Currency: e.m.Currency, Notes: recs.Notes, Config: recs.Config, Labels: recs.Labels}, nil
		})
	})
}

// errNoRecommendation is a 404: no recommendation of that id in the caller's listing.
var errNoRecommendation = errors.New("no such recommendation")

// recommendation serves GET /v1/recommendations/{id}: one recommendation of the caller's listing
// (the same one GET /v1/recommendations shows), or 404 when the finding no longer applies or the
// caller's role does not see its kind.
func (s *server) recommendation(w http.ResponseWriter, r *http.Request, c caller) {
	if !canRecommendations(c) {
		s.fail(w, r, ErrForbidden)
		return
	}
	id := r.PathValue("id")
	if !validRecommendationID(id) {
		s.fail(w, r, badParam("id", "want a recommendation id (rec_ and 16 hex digits), got %s", echo(id)))
		return
	}
	now := s.cfg.Now()
	req, err := parseCostRequest(r, now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.serveCost(w, r, c, now, req.window, "1d", func(ctx context.Context) (any, error) {
		recs, _, err := s.recommendations(ctx, req.window.To)
		if err != nil {
			return nil, err
		}
		for i := range recs.Items {
			if rec := &recs.Items[i]; rec.ID == id && canSee(c, rec) {
				return redacted(c, *rec), nil
			}
		}
		return nil, errNoRecommendation
	})
}

// validRecommendationID reports whether id has the form cost.RecommendationID gives.
func validRecommendationID(id string) bool {
	hexPart, ok := strings.CutPrefix(id, "rec_")
	if !ok || len(hexPart) != 16 {
		return false
	}
	for _, c := range hexPart {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
