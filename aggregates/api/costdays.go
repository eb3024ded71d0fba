package api

import (
	"iter"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/cost"
	"github.com/spendstream/spendstream/schemas/events"
)

// DefaultCostDayCacheRows bounds the daily usage rows the day cache keeps (Config.CostDayCacheRows):
// a year of 20,000 resources is about 7.3M rows (64 bytes each as kept: ids as indexes, no pointers
// for the garbage collector to scan).
const DefaultCostDayCacheRows = 10_000_000

// dayCache keeps the daily usage rows (VPS and email) of closed days, so that a cost model of any
// window reads from ClickHouse only the days it has not read before and the days still open: a
// refresh of a year's model reads a day or two instead of the year, and a model of a new window
// inside days already read needs no read of them at all.
//
// A day is closed when nothing can change it any more:
//   - live lane: the window of every event counted for the day closes, for late events, at most
//     AllowedLateness after the day's end (window.Rules, measured against the time the event was
//     accepted), and every message accepted before a partition's committed as_of is in the
//     roll-ups. So once every live partition's as_of is at least the day's end plus the lateness,
//     the day's live usage is final. The lateness must be at least the consumers' (the api cannot
//     read theirs): a smaller one caches a day before its last late events are counted.
//   - backfill lane: it may add to any day at any time. The cache is labelled with the backfill
//     lane's committed positions it was filled at; when they move, every day is dropped.
//
// Rows are read after the progress that decides what is closed, so a cached day holds at least
// what that progress says; identical rows in the same order as a read of the whole window, so a
// model computed from cached days is the model computed from ClickHouse (TestCostDayCache).
type dayCache struct {
	max      int // rows; <= 0: off
	lateness time.Duration
	gauge    prometheus.Gauge // rows, when set

	mu       sync.Mutex
	backfill string               // the backfill positions the days were read at (backfillKey)
	days     map[int64]*cachedDay // day start (Unix seconds) → its rows
	ids      *idTable             // the ids of days
	rows     int                  // rows of days
}

// dayRows is usage input of one or more days, in the order of the reads of a whole window.
type dayRows struct {
	vps   []cost.VPSUsage
	email []cost.EmailUsage
}

func (d *dayRows) len() int { return len(d.vps) + len(d.email) }

// cachedDay is one day's dayRows as the cache keeps them: the ids as indexes into ids, so that a
// year of rows holds no pointer for the garbage collector to scan, and half the bytes.
type cachedDay struct {
	day   time.Time
	ids   *idTable
	vps   []cachedVPS
	email []cachedEmail
}

func (d *cachedDay) len() int { return len(d.vps) + len(d.email) }

type cachedVPS struct {
	tenant, resource, provider, plan            uint32
	samples                                     uint64
	coreSeconds, cpuAvg, cpuP95, memAvg, memP95 float64
}

type cachedEmail struct {
	tenant, ip, pool, provider                     uint32
	sent, delivered, bounced, deferred, complained uint64
}

// idTable interns the ids of cached rows. It only grows (a cache emptied starts a new one); an
// index handed out stays valid in every later snapshot.
type idTable struct {
	mu    sync.Mutex
	ids   []string
	index map[string]uint32
}

func newIDTable() *idTable { return &idTable{index: map[string]uint32{}} }

// id returns the index of s, adding it when new. The caller holds t.mu.
func (t *idTable) id(s string) uint32 {
	if i, ok := t.index[s]; ok {
		return i
	}
	i := uint32(len(t.ids))
	t.ids = append(t.ids, s)
	t.index[s] = i
	return i
}

// snapshot returns the ids so far (indexes handed out before the call are in it).
func (t *idTable) snapshot() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ids
}

// compact converts r, the rows of day d, to the kept form, its ids interned in t.
func (t *idTable) compact(d time.Time, r *dayRows) *cachedDay {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := &cachedDay{day: d, ids: t, vps: make([]cachedVPS, len(r.vps)), email: make([]cachedEmail, len(r.email))}
	for i := range r.vps {
		u := &r.vps[i]
		c.vps[i] = cachedVPS{tenant: t.id(u.TenantID), resource: t.id(u.ResourceID), provider: t.id(u.Provider), plan: t.id(u.Plan),
			samples: u.Samples, coreSeconds: u.CPUCoreSeconds, cpuAvg: u.CPUAvg, cpuP95: u.CPUP95, memAvg: u.MemAvg, memP95: u.MemP95}
	}
	for i := range r.email {
		u := &r.email[i]
		c.email[i] = cachedEmail{tenant: t.id(u.TenantID), ip: t.id(u.IP), pool: t.id(u.Pool), provider: t.id(u.Provider),
			sent: u.Sent, delivered: u.Delivered, bounced: u.Bounced, deferred: u.Deferred, complained: u.Complained}
	}
	return c
}

// appendTo appends the day's rows, as read, to dst.
func (d *cachedDay) appendTo(dst *dayRows) {
	ids := d.ids.snapshot()
	for i := range d.vps {
		u := &d.vps[i]
		dst.vps = append(dst.vps, cost.VPSUsage{Day: d.day, TenantID: ids[u.tenant], ResourceID: ids[u.resource], Provider: ids[u.provider],
			Plan: ids[u.plan], Samples: u.samples, CPUCoreSeconds: u.coreSeconds, CPUAvg: u.cpuAvg, CPUP95: u.cpuP95,
			MemAvg: u.memAvg, MemP95: u.memP95})
	}
	for i := range d.email {
		u := &d.email[i]
		dst.email = append(dst.email, cost.EmailUsage{Day: d.day, TenantID: ids[u.tenant], IP: ids[u.ip], Pool: ids[u.pool],
			Provider: ids[u.provider], Sent: u.sent, Delivered: u.delivered, Bounced: u.bounced, Deferred: u.deferred,
			Complained: u.complained})
	}
}

// backfillKey identifies the committed positions of the backfill lane in progress.
func backfillKey(progress []aggregates.Progress) string {
	var b strings.Builder
	for _, p := range progress {
		if p.Lane == events.LaneBackfill {
			b.WriteString(strconv.Itoa(int(p.Partition)))
			b.WriteByte(':')
			b.WriteString(strconv.FormatUint(p.StreamSeq, 10))
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// closedUntil is the instant up to which progress closes days: a day ending at or before it is
// final (see dayCache). It is the live lane's aggregated_as_of (as the freshness of a response
// computes it) minus the lateness; zero when a live partition of 0..partitions-1 has not committed
// an as_of.
func (c *dayCache) closedUntil(progress []aggregates.Progress, partitions int) time.Time {
	asOf := buildFreshness(progress, partitions, time.Time{}, 0).asOf(events.LaneLive)
	if asOf == nil {
		return time.Time{}
	}
	return time.Time(*asOf).Add(-c.lateness)
}

// get returns the cached rows of day d. The cache is emptied first when the backfill lane has moved
// since it was filled (backfill is the caller's backfillKey).
func (c *dayCache) get(d time.Time, backfill string) (*cachedDay, bool) {
	if c.max <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if backfill != c.backfill {
		c.days, c.ids, c.rows, c.backfill = nil, nil, 0, backfill
		c.setGauge()
	}
	r, ok := c.days[d.Unix()]
	return r, ok
}

// cachedVPSRows counts the VPS rows the cache holds for the days [from, to) (a capacity hint).
func (c *dayCache) cachedVPSRows(from, to time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		if r, ok := c.days[d.Unix()]; ok {
			n += len(r.vps)
		}
	}
	return n
}

// put keeps the rows of closed day d read at backfill positions backfill, unless the cache has
// moved on to other positions meanwhile. The oldest days go first when the rows exceed max.
func (c *dayCache) put(d time.Time, r *dayRows, backfill string) {
	if c.max <= 0 || r.len() > c.max {
		return
	}
	c.mu.Lock()
	if backfill != c.backfill {
		c.mu.Unlock()
		return
	}
	if c.days == nil {
		c.days, c.ids = map[int64]*cachedDay{}, newIDTable()
	}
	_, ok := c.days[d.Unix()]
	ids := c.ids
	c.mu.Unlock()
	if ok {
		return
	}
	day := ids.compact(d, r) // outside the cache's lock: gets go on meanwhile
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.days[d.Unix()]; ok || c.ids != ids { // put meanwhile, or emptied since
		return
	}
	c.days[d.Unix()] = day
	c.rows += day.len()
	for c.rows > c.max {
		oldest, first := int64(0), true
		for k := range c.days {
			if first || k < oldest {
				oldest, first = k, false
			}
		}
		c.rows -= c.days[oldest].len()
		delete(c.days, oldest)
	}
	c.setGauge()
}

// setGauge exports the rows held. The caller holds c.mu.
func (c *dayCache) setGauge() {
	if c.gauge != nil {
		c.gauge.Set(float64(c.rows))
	}
}

// dayChunk is the rows of one day of a dayRows.
type dayChunk struct {
	day  time.Time
	rows *dayRows
}

// byDay cuts r, the rows of the days [from, to), into one chunk per day (empty days included),
// each sharing r's arrays. It yields nothing when a row lies outside [from, to) or out of day order:
// then r is not what a read of those days in order returns, and none of it is worth keeping.
func (r *dayRows) byDay(from, to time.Time) iter.Seq[dayChunk] {
	return func(yield func(dayChunk) bool) {
		vpsEnds, ok := dayEnds(r.vps, func(u *cost.VPSUsage) time.Time { return u.Day }, from, to)
		if !ok {
			return
		}
		emailEnds, ok := dayEnds(r.email, func(u *cost.EmailUsage) time.Time { return u.Day }, from, to)
		if !ok {
			return
		}
		v, e := 0, 0
		for i, d := 0, from; d.Before(to); i, d = i+1, d.AddDate(0, 0, 1) {
			c := dayChunk{day: d, rows: &dayRows{vps: r.vps[v:vpsEnds[i]:vpsEnds[i]], email: r.email[e:emailEnds[i]:emailEnds[i]]}}
			v, e = vpsEnds[i], emailEnds[i]
			if !yield(c) {
				return
			}
		}
	}
}

// dayEnds returns, for each day from `from` to `to`, the index after the last row of rows on or
// before that day; false when a row's day is outside [from, to), not a day start, or out of order.
func dayEnds[T any](rows []T, day func(*T) time.Time, from, to time.Time) ([]int, bool) {
	var ends []int
	i := 0
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		for i < len(rows) && day(&rows[i]).Equal(d) {
			i++
		}
		ends = append(ends, i)
	}
	return ends, i == len(rows)
}
