package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/schemas/events"
)

// TestCostDayCacheBackfill runs the day cache of the cost models against the real pipeline: a past
// day, final for the live lane, is read from ClickHouse once and then served from the cache; a
// backfill that adds to it (committed on the backfill lane) makes the next model read it again
// and count the new volume. Every request computes its model (--cost-cache-ttl -1s), so what the
// cache holds is what answers.
func TestCostDayCacheBackfill(t *testing.T) {
	stack := newE2E(t, "e2e_daycache")
	base := stack.base
	stack.run(t, "--price-list", "testdata/pricelist.golden.yaml",
		"--cost-cache-ttl", "-1s", "--cost-cache-prewarm=false", "--log-level", "warn")

	d := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
	n := 0
	event := func(typ events.Type, at time.Time, data any) map[string]any {
		n++
		return historicalEvent(fmt.Sprintf("daycache-%d", n), typ, "t-a", at, data)
	}
	post := func(batch ...map[string]any) time.Time {
		t.Helper()
		postEvents(t, base, batch)
		return time.Now().UTC()
	}
	email := func(at time.Time, sent int) map[string]any {
		return event(events.TypeEmailVolume, at, map[string]any{"ip": "10.0.0.1", "pool": "transactional", "provider": "mailco",
			"sent": sent, "delivered": sent, "bounced": 0, "deferred": 0, "complained": 0, "interval_seconds": 3600})
	}
	sent := post(event(events.TypeInventoryResource, d.Add(-24*time.Hour), map[string]any{"resource_id": "10.0.0.1",
		"kind": "ip", "provider": "mailco", "region": "eu-1", "plan": "dedicated-ip", "action": "provisioned", "shared": false}),
		email(d.Add(10*time.Hour), 1000))
	waitAggregated(t, base, sent, 60*time.Second)

	window := url.Values{"from": {d.Format(time.RFC3339)}, "to": {d.Add(24 * time.Hour).Format(time.RFC3339)}}.Encode()
	mailcoSent := func() uint64 {
		t.Helper()
		var vend envelope[struct {
			Email []struct {
				Provider string `json:"provider"`
				Sent     uint64 `json:"sent"`
			} `json:"email"`
		}]
		require.Equal(t, http.StatusOK, getJSON(t, base+"/v1/vendors/compare?kind=email&"+window, &vend))
		require.Len(t, vend.Data.Email, 1)
		return vend.Data.Email[0].Sent
	}
	days := func() (cache, clickhouse float64) {
		t.Helper()
		resp, err := http.Get(base + "/metrics")
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		get := func(source string) float64 {
			m := regexp.MustCompile(`(?m)^spendstream_cost_days_total\{source="` + source + `"\} (\S+)$`).FindSubmatch(b)
			if m == nil {
				return 0
			}
			v, err := strconv.ParseFloat(string(m[1]), 64)
			require.NoError(t, err)
			return v
		}
		return get("cache"), get("clickhouse")
	}

	require.Equal(t, uint64(1000), mailcoSent())
	cache, ch := days()
	require.Equal(t, [2]float64{0, 1}, [2]float64{cache, ch}, "first model: the day read from ClickHouse")
	require.Equal(t, uint64(1000), mailcoSent())
	cache, ch = days()
	require.Equal(t, [2]float64{1, 1}, [2]float64{cache, ch}, "then served from the cache")

	// A backfill adds to the day: once committed, the cache is dropped and the day read again.
	sent = post(email(d.Add(11*time.Hour), 500))
	waitAggregated(t, base, sent, 60*time.Second)
	require.Equal(t, uint64(1500), mailcoSent())
	cache, ch = days()
	require.Equal(t, [2]float64{1, 2}, [2]float64{cache, ch}, "re-read after the backfill")
	require.Equal(t, uint64(1500), mailcoSent())
	cache, ch = days()
	require.Equal(t, [2]float64{2, 2}, [2]float64{cache, ch})
}
