package api

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/schemas/events"
)

func prog(lane events.Lane, partition uint16, asOf, flushed time.Time, seq uint64) aggregates.Progress {
	return aggregates.Progress{Position: aggregates.Position{Lane: lane, Partition: partition, StreamSeq: seq,
		AsOf: asOf, Events: seq * 2}, FlushedAt: flushed}
}

func TestBuildFreshness(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 500_000_000, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d).Truncate(time.Second) }
	live, backfill := events.LaneLive, events.LaneBackfill
	type want struct {
		asOf      *time.Time // live lane's aggregated_as_of
		lag       *int64
		status    string
		delayed   []int
		lastFlush *time.Time
		backfill  string // backfill status
	}
	tp := func(t time.Time) *time.Time { return &t }
	ip := func(n int64) *int64 { return &n }
	cases := map[string]struct {
		partitions int
		progress   []aggregates.Progress
		want       want
	}{
		"all partitions fresh: oldest wins": {2, []aggregates.Progress{
			prog(live, 0, ago(30*time.Second), ago(20*time.Second), 7),
			prog(live, 1, ago(90*time.Second), ago(10*time.Second), 3),
		}, want{asOf: tp(ago(90 * time.Second)), lag: ip(90), status: "fresh", delayed: []int{},
			lastFlush: tp(ago(10 * time.Second)), backfill: "delayed"}},
		"a partition never flushed: null and delayed": {3, []aggregates.Progress{
			prog(live, 0, ago(30*time.Second), ago(20*time.Second), 7),
			prog(live, 1, ago(90*time.Second), ago(10*time.Second), 3),
		}, want{status: "delayed", delayed: []int{2}, lastFlush: tp(ago(10 * time.Second)), backfill: "delayed"}},
		"a lagging partition is named": {2, []aggregates.Progress{
			prog(live, 0, ago(10*time.Minute), ago(9*time.Minute), 7),
			prog(live, 1, ago(5*time.Second), ago(time.Second), 3),
		}, want{asOf: tp(ago(10 * time.Minute)), lag: ip(600), status: "delayed", delayed: []int{0},
			lastFlush: tp(ago(time.Second)), backfill: "delayed"}},
		"a lag of exactly DelayedAfter is fresh": {1, []aggregates.Progress{
			prog(live, 0, ago(2*time.Minute), ago(time.Minute), 1),
		}, want{asOf: tp(ago(2 * time.Minute)), lag: ip(120), status: "fresh", delayed: []int{},
			lastFlush: tp(ago(time.Minute)), backfill: "delayed"}},
		"one second more is delayed": {1, []aggregates.Progress{
			prog(live, 0, ago(121*time.Second), ago(time.Minute), 1),
		}, want{asOf: tp(ago(121 * time.Second)), lag: ip(121), status: "delayed", delayed: []int{0},
			lastFlush: tp(ago(time.Minute)), backfill: "delayed"}},
		"partitions beyond the configured count are ignored": {1, []aggregates.Progress{
			prog(live, 0, ago(time.Second), ago(time.Second), 1),
			prog(live, 4, ago(time.Hour), ago(time.Second), 1),
		}, want{asOf: tp(ago(time.Second)), lag: ip(1), status: "fresh", delayed: []int{},
			lastFlush: tp(ago(time.Second)), backfill: "delayed"}},
		"an epoch watermark is unknown": {1, []aggregates.Progress{
			prog(live, 0, time.Unix(0, 0).UTC(), ago(time.Second), 1),
		}, want{status: "delayed", delayed: []int{0}, lastFlush: tp(ago(time.Second)), backfill: "delayed"}},
		"a watermark ahead of the clock lags 0": {1, []aggregates.Progress{
			prog(live, 0, now.Add(time.Minute).Truncate(time.Second), ago(time.Second), 1),
		}, want{asOf: tp(now.Add(time.Minute).Truncate(time.Second)), lag: ip(0), status: "fresh", delayed: []int{},
			lastFlush: tp(ago(time.Second)), backfill: "delayed"}},
		"no progress at all": {2, nil, want{status: "delayed", delayed: []int{0, 1}, backfill: "delayed"}},
		"backfill is listed but does not decide": {1, []aggregates.Progress{
			prog(live, 0, ago(time.Second), ago(time.Second), 1),
			prog(backfill, 0, ago(time.Hour), ago(time.Hour), 1),
		}, want{asOf: tp(ago(time.Second)), lag: ip(1), status: "fresh", delayed: []int{},
			lastFlush: tp(ago(time.Second)), backfill: "delayed"}},
		"fresh backfill": {1, []aggregates.Progress{
			prog(live, 0, ago(time.Hour), ago(time.Second), 1),
			prog(backfill, 0, ago(time.Second), ago(time.Second), 1),
		}, want{asOf: tp(ago(time.Hour)), lag: ip(3600), status: "delayed", delayed: []int{0},
			lastFlush: tp(ago(time.Second)), backfill: "fresh"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := buildFreshness(tc.progress, tc.partitions, now, DefaultDelayedAfter)
			require.Len(t, f.sources, 3)
			block := f.block(events.LaneLive)
			require.Equal(t, "live", block.Sources[0].Pipeline)
			require.Equal(t, "backfill", block.Sources[1].Pipeline)
			require.Equal(t, "posthog", block.Sources[2].Pipeline)
			require.Equal(t, tc.want.status, block.Status)
			require.Equal(t, tc.want.lag, block.LagSeconds)
			require.Equal(t, tc.want.backfill, block.Sources[1].Status)
			src := block.Sources[0]
			require.Equal(t, tc.partitions, src.Partitions)
			require.Equal(t, tc.want.delayed, src.DelayedPartitions)
			require.Nil(t, src.ByPartition, "the envelope block has no detail")
			require.Equal(t, tc.want.lag, src.LagSeconds)
			if tc.want.asOf == nil {
				require.Nil(t, f.asOf(events.LaneLive))
			} else {
				require.NotNil(t, f.asOf(events.LaneLive))
				require.Equal(t, *tc.want.asOf, time.Time(*f.asOf(events.LaneLive)))
			}
			if tc.want.lastFlush == nil {
				require.Nil(t, src.LastFlush)
			} else {
				require.Equal(t, *tc.want.lastFlush, time.Time(*src.LastFlush))
			}
			detail := f.detail(true, nil)
			require.Len(t, detail[0].ByPartition, tc.partitions)
		})
	}
}

func TestFreshnessDetailHidesVolumesFromTenants(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	f := buildFreshness([]aggregates.Progress{prog(events.LaneLive, 0, now, now, 42)}, 2, now, DefaultDelayedAfter)
	pending := map[string]uint64{"live": 17}

	all := f.detail(true, pending)
	require.Equal(t, uint64(17), *all[0].PendingMessages)
	require.Nil(t, all[1].PendingMessages, "no figure for backfill")
	require.Equal(t, uint64(42), *all[0].ByPartition[0].StreamSeq)
	require.Equal(t, uint64(84), *all[0].ByPartition[0].Events)
	require.Equal(t, uint64(0), *all[0].ByPartition[1].StreamSeq, "never flushed")

	tenant := f.detail(false, pending)
	require.Nil(t, tenant[0].PendingMessages)
	for _, s := range tenant {
		for _, p := range s.ByPartition {
			require.Nil(t, p.StreamSeq)
			require.Nil(t, p.Events)
		}
	}
	require.NotNil(t, all[0].ByPartition[0].StreamSeq, "detail(false) must not alias detail(true)")
}
