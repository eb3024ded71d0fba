// Package cost is the pure cost model of spendstream (BF-001/BF-002): approximate_cost of VPS,
// sending IPs and email over a window, tenant attribution, breakdowns that reconcile exactly, a
// vendor comparison, recommendations with savings ranges, and realized savings of an initiative.
// Every figure carries a how_calculated (method, inputs, price-list version, window) and is
// labeled with LabelModeled and LabelNotInvoice.
//
// It does no I/O and reads no clock: the caller (the API) reads the roll-ups and the inventory,
// passes them as an Input with an explicit Window, and serves the results. Compute builds a
// Model (it keeps no reference to the input's slices); Recommend, Model.Tenant and
// RealizedSavings derive from it. A Model is immutable and safe for concurrent use. Computing a
// long window over a large fleet is not free (about 40 ms for 2,000 resources over 30 days, see
// BenchmarkCompute): compute a model once per window, watermark and price-list version and serve
// every endpoint from it.
//
// # Cost rules
//
//   - A resource (VPS or sending IP) exists from its "provisioned" inventory event to its
//     "decommissioned" one, with the tenant, provider, plan, region and shared flag of its latest
//     event ("updated" changes them from its time on). Edge cases: an "updated" with no
//     provision starts its existence, a second "provisioned" acts as an update, a
//     "decommissioned" of a resource not in existence is ignored; each is counted in
//     Model.Warnings, as is every input row the model cannot use.
//   - Its cost for the window is its monthly price amortized over the hours it existed in the
//     window: monthly_price × hours / 730 (pricelist.HoursPerMonth). Its existence is split at
//     state changes and at the price list's effective-date changes (the *Periods lookups); each
//     piece (a Charge) is amortized in one call. VPS are priced by provider + plan, IPs by the
//     provider's ip_prices entry.
//   - A piece with no price in force is costed 0, flagged (ResourceCost.Unpriced,
//     Charge.UnpricedReason) and listed in Model.Unpriced: never silently dropped.
//   - Email: per provider, volume × per_thousand / 1000 plus the monthly base fee amortized over
//     the window. A day's messages are priced at the entry in force at the day's start. The base
//     fee counts for a provider with usage in the window or a sending IP in existence there.
//   - Commitment discounts are not applied to modeled costs (the inventory does not say which
//     resources are committed); they feed the adjust_commitment recommendations.
//
// # Attribution
//
//   - A dedicated resource's cost goes to its owner tenant (the inventory's tenant of each span).
//   - A shared VPS's cost is split by the tenants' CPU core-seconds on the days overlapping its
//     shared spans; a shared IP's by their messages sent through it; an email provider's volume
//     cost goes to the senders of the messages, its base fee is split by messages sent.
//   - What cannot be attributed (a shared resource with no usage, a base fee with no messages,
//     a resource without owner, usage rows without tenant) is Unattributed, with the reason:
//     never spread over tenants.
//
// # Exact money and rounding
//
// All amounts are pricelist.Money (micro-units, int64) and every rounding is half away from zero
// to the micro-unit, done once per step:
//
//   - each Charge: Money.Amortize of its whole span (so 73 × 36 h / 730 h is exactly 3.6);
//   - its split into days: the cumulative amortized cost at each day end minus that at the day
//     start, so the days add up to the charge exactly;
//   - email volume: one VolumeCost per provider and price period, allocated to tenant-days by
//     messages;
//   - every split into parts (tenants, tenant-days, segment values) uses the largest-remainder
//     method: floor shares plus one micro-unit to the largest remainders, so the parts add up to
//     the whole exactly. A shared resource's total is allocated to tenants by usage first, then
//     each tenant's part is spread over the days by the tenants' remaining amounts;
//   - estimated monthly = total × 730 h / window hours (one rounding).
//
// Shares (Fraction) are display values rounded to millionths; they need not add up to 1.
// Because every breakdown partitions the same per-day, per-tenant amounts, the totals by resource
// type, provider, tenant (with "unattributed"), plan, tier and day each add up to Totals.Total
// exactly.
//
// # Days and segments
//
// Series are per UTC day; the window's first and last days may be partial. Usage rows are daily:
// rows whose day overlaps the window count in full (when the window ends at the roll-ups'
// watermark, the last day's rows hold exactly the usage up to it). Pass From at a UTC midnight for
// volumes that match the window exactly. ByPlan and ByTier group each tenant's cost by the
// segment in force; when it changes inside a day, that day's cost is split by the time each value
// was in force within the day.
//
// # Recommendations
//
// Recommend applies RecommendConfig (DefaultRecommendConfig: 14-day lookback) to a Model and
// returns suggestions of four kinds (consolidate_vps, rebalance_ip_pool, adjust_commitment,
// adjust_tenant_plan). Each has a stable id (RecommendationID: a hash of the kind and the
// finding's identity, never of figures), evidence with its window, a monthly savings range
// derived from the price list with the arithmetic in how_calculated, assumptions, performance
// risk and effort ratings, and confidence wording that suggests rather than promises. The
// savings never count one resource's price in two suggestions, so their sum is meaningful.
package cost
