package api

import (
	"iter"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/cost"
	"github.com/spendstream/spendstream/schemas/events"
)

// DefaultCostDayCacheRows bounds the daily usage rows the day cache keeps (Config.CostDayCacheRows):
// a year of 20,000 resources is about 7.3M rows (about 140 bytes each).
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
// model computed from cached days is the model computed from ClickHouse (TestDayCacheSameModel).
type dayCache struct {
	max      int // rows; <= 0: off
	lateness time.Duration

	mu       sync.Mutex
	backfill string             // the backfill positions the days were read at (backfillKey)
	days     map[int64]*dayRows // day start (Unix seconds) → its rows
	rows     int                // rows of days
}

// dayRows is the input of one day, in the order of the reads of a whole window.
type dayRows struct {
	vps   []cost.VPSUsage
	email []cost.EmailUsage
}

func (d *dayRows) len() int { return len(d.vps) + len(d.email) }

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

// closedUntil is the end of the last day that progress closes: days ending at or before it are
// final (see dayCache). Zero when a live partition of 0..partitions-1 has not committed an as_of.
func (c *dayCache) closedUntil(progress []aggregates.Progress, partitions int) time.Time {
	asOf := make(map[uint16]time.Time, partitions)
	for _, p := range progress {
		if p.Lane == events.LaneLive && known(p.AsOf) {
			asOf[p.Partition] = p.AsOf
		}
	}
	var least time.Time
	for i := range partitions {
		t, ok := asOf[uint16(i)]
		if !ok {
			return time.Time{}
		}
		if least.IsZero() || t.Before(least) {
			least = t
		}
	}
	return least.Add(-c.lateness)
}

// get returns the cached rows of day d. The cache is emptied first when the backfill lane has moved
// since it was filled (backfill is the caller's backfillKey).
func (c *dayCache) get(d time.Time, backfill string) (*dayRows, bool) {
	if c.max <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if backfill != c.backfill {
		c.days, c.rows, c.backfill = nil, 0, backfill
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
	defer c.mu.Unlock()
	if backfill != c.backfill {
		return
	}
	if c.days == nil {
		c.days = map[int64]*dayRows{}
	}
	if _, ok := c.days[d.Unix()]; ok {
		return
	}
	c.days[d.Unix()] = r
	c.rows += r.len()
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
