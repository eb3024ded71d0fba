package api

import (
	"slices"
	"time"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/schemas/events"
)

// Freshness statuses.
const (
	statusFresh   = "fresh"
	statusDelayed = "delayed"
)

// pipelines are the lanes listed as freshness sources, in order. The lane an endpoint reads from
// decides its top-level aggregated_as_of and status (the live lane for the usage roll-ups, the
// posthog lane for event counts); the other entries are informational.
var pipelines = []events.Lane{events.LaneLive, events.LaneBackfill, events.LanePostHog}

// freshness is the state of every pipeline at one instant, computed from committed progress only.
type freshness struct {
	sources []sourceJSON // with by_partition detail
}

type sourceJSON struct {
	Pipeline          string          `json:"pipeline"`
	Partitions        int             `json:"partitions"`
	AggregatedAsOf    *jsonTime       `json:"aggregated_as_of"`
	LagSeconds        *int64          `json:"lag_seconds"`
	LastFlush         *jsonTime       `json:"last_flush"`
	Status            string          `json:"status"`
	DelayedPartitions []int           `json:"delayed_partitions"`
	PendingMessages   *uint64         `json:"pending_messages,omitempty"`
	ByPartition       []partitionJSON `json:"by_partition,omitempty"`
}

type partitionJSON struct {
	Partition      int       `json:"partition"`
	AggregatedAsOf *jsonTime `json:"aggregated_as_of"`
	LagSeconds     *int64    `json:"lag_seconds"`
	LastFlush      *jsonTime `json:"last_flush"`
	Status         string    `json:"status"`
	// Volumes across all tenants: present in the cross-tenant view only.
	StreamSeq *uint64 `json:"stream_seq,omitempty"`
	Events    *uint64 `json:"events,omitempty"`
}

type freshnessJSON struct {
	Status     string       `json:"status"`
	LagSeconds *int64       `json:"lag_seconds"`
	Sources    []sourceJSON `json:"sources"`
}

// buildFreshness derives each pipeline's freshness from the committed progress of its partitions
// 0..partitions-1 (rows of other partitions are ignored). A pipeline's aggregated_as_of is the oldest
// partition watermark, null when a partition has none; it is delayed when a partition has no
// watermark or lags now by more than delayedAfter (compared in whole seconds, as reported).
func buildFreshness(progress []aggregates.Progress, partitions int, now time.Time, delayedAfter time.Duration) freshness {
	limit := int64(delayedAfter / time.Second)
	var f freshness
	for _, lane := range pipelines {
		byPart := make(map[uint16]aggregates.Progress, partitions)
		for _, p := range progress {
			if p.Lane == lane && int(p.Partition) < partitions {
				byPart[p.Partition] = p
			}
		}
		src := sourceJSON{Pipeline: string(lane), Partitions: partitions, Status: statusFresh, DelayedPartitions: []int{}}
		var oldest, lastFlush time.Time
		complete := true
		for i := range partitions {
			p, ok := byPart[uint16(i)]
			pj := partitionJSON{Partition: i, Status: statusDelayed}
			if ok {
				seq, n := p.StreamSeq, p.Events
				pj.StreamSeq, pj.Events = &seq, &n
				if known(p.FlushedAt) {
					pj.LastFlush = ptr(jsonTime(p.FlushedAt))
					if p.FlushedAt.After(lastFlush) {
						lastFlush = p.FlushedAt
					}
				}
			} else {
				var zero uint64
				pj.StreamSeq, pj.Events = &zero, &zero
			}
			if ok && known(p.AsOf) {
				lag := lagSeconds(now, p.AsOf)
				pj.AggregatedAsOf, pj.LagSeconds = ptr(jsonTime(p.AsOf)), &lag
				if lag <= limit {
					pj.Status = statusFresh
				}
				if oldest.IsZero() || p.AsOf.Before(oldest) {
					oldest = p.AsOf
				}
			} else {
				complete = false
			}
			if pj.Status == statusDelayed {
				src.Status = statusDelayed
				src.DelayedPartitions = append(src.DelayedPartitions, i)
			}
			src.ByPartition = append(src.ByPartition, pj)
		}
		if complete && !oldest.IsZero() {
			lag := lagSeconds(now, oldest)
			src.AggregatedAsOf, src.LagSeconds = ptr(jsonTime(oldest)), &lag
		}
		if !lastFlush.IsZero() {
			src.LastFlush = ptr(jsonTime(lastFlush))
		}
		f.sources = append(f.sources, src)
	}
	return f
}

// known reports whether a stored time is set: ClickHouse keeps an unset DateTime as the epoch.
func known(t time.Time) bool { return t.Unix() > 0 }

// lagSeconds is now − t in whole seconds, never negative.
func lagSeconds(now, t time.Time) int64 {
	return max(0, int64(now.Sub(t)/time.Second))
}

func ptr[T any](v T) *T { return &v }

// source is the entry of a pipeline.
func (f freshness) source(l events.Lane) sourceJSON {
	for _, s := range f.sources {
		if s.Pipeline == string(l) {
			return s
		}
	}
	return sourceJSON{Pipeline: string(l), Status: statusDelayed}
}

// oldest is the older aggregated_as_of of the given pipelines (null when any is null).
func (f freshness) oldest(lanes ...events.Lane) *jsonTime {
	var out *jsonTime
	for _, l := range lanes {
		t := f.source(l).AggregatedAsOf
		if t == nil {
			return nil
		}
		if out == nil || time.Time(*t).Before(time.Time(*out)) {
			out = t
		}
	}
	return out
}

// asOf is the response's aggregated_as_of: the primary pipeline's.
func (f freshness) asOf(primary events.Lane) *jsonTime { return f.source(primary).AggregatedAsOf }

// block is the envelope's freshness object: the primary pipeline decides status and lag; every
// pipeline is listed without per-partition detail.
func (f freshness) block(primary events.Lane) freshnessJSON {
	live := f.source(primary)
	out := freshnessJSON{Status: live.Status, LagSeconds: live.LagSeconds}
	for _, s := range f.sources {
		s.ByPartition = nil
		out.Sources = append(out.Sources, s)
	}
	return out
}

// detail is the data of /v1/freshness: every pipeline with its partitions. Volumes (stream
// sequences, event counts, pending messages) are shown in the cross-tenant view only.
func (f freshness) detail(all bool, pending map[string]uint64) []sourceJSON {
	out := make([]sourceJSON, 0, len(f.sources))
	for _, s := range f.sources {
		s.ByPartition = slices.Clone(s.ByPartition)
		if all {
			if n, ok := pending[s.Pipeline]; ok {
				s.PendingMessages = &n
			}
		} else {
			for i := range s.ByPartition {
				s.ByPartition[i].StreamSeq, s.ByPartition[i].Events = nil, nil
			}
		}
		out = append(out, s)
	}
	return out
}
