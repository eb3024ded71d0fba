package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/api"
	"github.com/spendstream/spendstream/aggregates/api/apitest"
	"github.com/spendstream/spendstream/aggregates/auth"
	"github.com/spendstream/spendstream/schemas/events"
)

// The store implements the API's Reader without importing it; this is where that is checked.
var _ api.Reader = (*Store)(nil)

// openTestStore opens a store on a fresh database, dropped when the test ends. It skips unless
// SPENDSTREAM_CLICKHOUSE_ADDR names a server.
func openTestStore(t *testing.T) *Store {
	t.Helper()
	addr := os.Getenv("SPENDSTREAM_CLICKHOUSE_ADDR")
	if addr == "" {
		t.Skip("SPENDSTREAM_CLICKHOUSE_ADDR is not set")
	}
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	cfg := DefaultConfig()
	cfg.Addr, cfg.Database = addr, "test_reader_"+hex.EncodeToString(b[:])
	s, err := Open(cfg, nil)
	require.NoError(t, err)
	ctx := context.Background()
	t.Cleanup(func() {
		_ = s.conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database)
		_ = s.Close()
	})
	require.NoError(t, s.Migrate(ctx))
	return s
}

func TestReaderConformance(t *testing.T) {
	apitest.RunReaderSuite(t, func(t *testing.T) apitest.Reader { return openTestStore(t) })
}

// TestReaderFreshness checks aggregated_as_of end to end through the API on real progress rows: the
// minimum over the live lane's partitions, null while a partition has never flushed.
func TestReaderFreshness(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	base := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	now := base.Add(10 * time.Minute)
	write := func(flushed time.Time, ps ...aggregates.Position) {
		b := aggregates.NewBatch()
		b.FlushedAt, b.Positions = flushed, ps
		require.NoError(t, s.WriteBatch(ctx, b))
	}
	type source struct {
		Pipeline          string  `json:"pipeline"`
		AggregatedAsOf    *string `json:"aggregated_as_of"`
		LagSeconds        *int64  `json:"lag_seconds"`
		LastFlush         *string `json:"last_flush"`
		Status            string  `json:"status"`
		DelayedPartitions []int   `json:"delayed_partitions"`
	}
	type response struct {
		AggregatedAsOf *string `json:"aggregated_as_of"`
		Freshness      struct {
			Status     string   `json:"status"`
			LagSeconds *int64   `json:"lag_seconds"`
			Sources    []source `json:"sources"`
		} `json:"freshness"`
	}
	h := api.New(api.Config{Partitions: 3, Now: func() time.Time { return now }, Authenticate: asCFO}, s, nil, prometheus.NewRegistry())
	get := func() response {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/rollups/vps-utilization", nil))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var r response
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &r))
		return r
	}
	live := events.LaneLive

	write(base.Add(time.Second),
		aggregates.Position{Lane: live, Partition: 0, StreamSeq: 3, AsOf: base.Add(-time.Minute), Events: 3},
		aggregates.Position{Lane: live, Partition: 1, StreamSeq: 9, AsOf: base.Add(-5 * time.Minute), Events: 9})
	r := get()
	require.Nil(t, r.AggregatedAsOf, "partition 2 has not flushed")
	require.Nil(t, r.Freshness.LagSeconds)
	require.Equal(t, "delayed", r.Freshness.Status)
	require.Equal(t, []int{0, 1, 2}, r.Freshness.Sources[0].DelayedPartitions, "0 lags 11m, 1 lags 15m, 2 has no row")

	write(base.Add(2*time.Second),
		aggregates.Position{Lane: live, Partition: 2, StreamSeq: 1, AsOf: base.Add(9 * time.Minute), Events: 1},
		aggregates.Position{Lane: live, Partition: 1, StreamSeq: 12, AsOf: base.Add(8 * time.Minute), Events: 3},
		aggregates.Position{Lane: events.LaneBackfill, Partition: 0, StreamSeq: 4, AsOf: base, Events: 4})
	r = get()
	require.NotNil(t, r.AggregatedAsOf)
	require.Equal(t, base.Add(-time.Minute).Format(time.RFC3339), *r.AggregatedAsOf, "min over partitions")
	require.Equal(t, int64(11*60), *r.Freshness.LagSeconds)
	require.Equal(t, "delayed", r.Freshness.Status, "11m > 2m")
	require.Equal(t, []int{0}, r.Freshness.Sources[0].DelayedPartitions)
	require.Equal(t, base.Add(2*time.Second).Format(time.RFC3339), *r.Freshness.Sources[0].LastFlush)

	write(base.Add(3*time.Second),
		aggregates.Position{Lane: live, Partition: 0, StreamSeq: 4, AsOf: base.Add(9 * time.Minute), Events: 1})
	r = get()
	require.Equal(t, base.Add(8*time.Minute).Format(time.RFC3339), *r.AggregatedAsOf)
	require.Equal(t, int64(120), *r.Freshness.LagSeconds)
	require.Equal(t, "fresh", r.Freshness.Status, "a lag of exactly 2m is still fresh")
	require.Equal(t, "backfill", r.Freshness.Sources[1].Pipeline)
	require.Equal(t, "delayed", r.Freshness.Sources[1].Status, "backfill partitions 1, 2 never flushed")
	require.Nil(t, r.Freshness.Sources[1].AggregatedAsOf)
}

// asCFO authenticates every request as a cross-tenant reader.
func asCFO(*http.Request) (auth.Principal, error) {
	return auth.Principal{Subject: "test", Roles: []auth.Role{auth.RoleCFO}}, nil
}

// TestReaderUnavailable checks that a failing server surfaces as a 503 without driver text.
func TestReaderUnavailable(t *testing.T) {
	if os.Getenv("SPENDSTREAM_CLICKHOUSE_ADDR") == "" {
		t.Skip("SPENDSTREAM_CLICKHOUSE_ADDR is not set")
	}
	cfg := DefaultConfig()
	cfg.Addr, cfg.Database, cfg.DialTimeout = os.Getenv("SPENDSTREAM_CLICKHOUSE_ADDR"), "test_reader_missing_db", time.Second
	s, err := Open(cfg, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	h := api.New(api.Config{Partitions: 1, Authenticate: asCFO}, s, nil, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/rollups/email-volume", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.JSONEq(t, `{"error":{"code":"unavailable","message":"clickhouse unavailable"}}`, rec.Body.String())
}
