package api

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/window"
)

var parseNow = time.Date(2026, 3, 2, 10, 17, 42, 0, time.UTC)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestParseRollupRequest(t *testing.T) {
	const (
		tenant   = aggregates.DimTenantID
		resource = aggregates.DimResourceID
		provider = aggregates.DimProvider
		plan     = aggregates.DimPlan
		region   = aggregates.DimRegion
		ip       = aggregates.DimIP
		pool     = aggregates.DimPool
	)
	type want = aggregates.RollupQuery
	cases := map[string]struct {
		vps       bool // else email
		query     string
		want      want
		wantParam string // the parameter a 400 must name
	}{
		"email defaults": {query: "",
			want: want{From: ts("2026-03-01T11:00:00Z"), To: ts("2026-03-02T11:00:00Z"), Step: time.Hour, GroupBy: []aggregates.Dimension{tenant, provider}}},
		"vps defaults": {vps: true, query: "",
			want: want{From: ts("2026-03-01T11:00:00Z"), To: ts("2026-03-02T11:00:00Z"), Step: time.Hour, GroupBy: []aggregates.Dimension{tenant, resource}}},
		"vps 5m default range ends at the next 5m boundary": {vps: true, query: "step=5m",
			want: want{From: ts("2026-03-01T10:20:00Z"), To: ts("2026-03-02T10:20:00Z"), Step: window.Step5m, GroupBy: []aggregates.Dimension{tenant, resource}}},
		"1d default is the current day": {query: "step=1d",
			want: want{From: ts("2026-03-02T00:00:00Z"), To: ts("2026-03-03T00:00:00Z"), Step: window.Step1d, GroupBy: []aggregates.Dimension{tenant, provider}}},
		"explicit range aligned out to the step": {query: "from=2026-02-01T10:30:00Z&to=2026-02-02T10:30:01Z",
			want: want{From: ts("2026-02-01T10:00:00Z"), To: ts("2026-02-02T11:00:00Z"), Step: time.Hour, GroupBy: []aggregates.Dimension{tenant, provider}}},
		"offsets become UTC": {query: "from=2026-02-01T12:00:00%2B02:00&to=2026-02-01T14:00:00%2B02:00&step=1h",
			want: want{From: ts("2026-02-01T10:00:00Z"), To: ts("2026-02-01T12:00:00Z"), Step: time.Hour, GroupBy: []aggregates.Dimension{tenant, provider}}},
		"only from: to is now": {query: "from=2026-03-02T00:00:00Z",
			want: want{From: ts("2026-03-02T00:00:00Z"), To: ts("2026-03-02T11:00:00Z"), Step: time.Hour, GroupBy: []aggregates.Dimension{tenant, provider}}},
		"only to: from is 24h before": {query: "to=2026-02-10T00:00:00Z",
			want: want{From: ts("2026-02-09T00:00:00Z"), To: ts("2026-02-10T00:00:00Z"), Step: time.Hour, GroupBy: []aggregates.Dimension{tenant, provider}}},
		"filters and grouping in canonical order": {vps: true, query: "tenant_id=t-042&provider=hetzner&group_by=region,+plan,resource_id",
			want: want{From: ts("2026-03-01T11:00:00Z"), To: ts("2026-03-02T11:00:00Z"), Step: time.Hour, TenantID: "t-042",
				Provider: "hetzner", GroupBy: []aggregates.Dimension{resource, plan, region}}},
		"email grouping by every dimension": {query: "group_by=provider,pool,ip,tenant_id",
			want: want{From: ts("2026-03-01T11:00:00Z"), To: ts("2026-03-02T11:00:00Z"), Step: time.Hour, GroupBy: []aggregates.Dimension{tenant, ip, pool, provider}}},
		"empty values count as absent": {query: "tenant_id=&provider=&group_by=&step=&from=&to=",
			want: want{From: ts("2026-03-01T11:00:00Z"), To: ts("2026-03-02T11:00:00Z"), Step: time.Hour, GroupBy: []aggregates.Dimension{tenant, provider}}},
		"unicode filter": {query: "provider=Ünïcødé+GmbH",
			want: want{From: ts("2026-03-01T11:00:00Z"), To: ts("2026-03-02T11:00:00Z"), Step: time.Hour, Provider: "Ünïcødé GmbH", GroupBy: []aggregates.Dimension{tenant, provider}}},
		"exactly 10000 5m windows": {vps: true, query: "step=5m&from=2026-01-01T00:00:00Z&to=2026-02-04T17:20:00Z",
			want: want{From: ts("2026-01-01T00:00:00Z"), To: ts("2026-02-04T17:20:00Z"), Step: window.Step5m, GroupBy: []aggregates.Dimension{tenant, resource}}},

		"unknown parameter":            {query: "tenant=t-1", wantParam: `"tenant"`},
		"repeated parameter":           {query: "step=1h&step=1d", wantParam: "step"},
		"email 5m is finer":            {query: "step=5m", wantParam: "step"},
		"bad step":                     {vps: true, query: "step=15m", wantParam: "step"},
		"bad from":                     {query: "from=yesterday", wantParam: "from"},
		"bad to":                       {query: "to=2026-03-01", wantParam: "to"},
		"from after to":                {query: "from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", wantParam: "from"},
		"from equals to":               {query: "from=2026-03-01T00:00:00Z&to=2026-03-01T00:00:00Z", wantParam: "from"},
		"from in the future, no to":    {query: "from=2026-03-03T00:00:00Z", wantParam: "from"},
		"to before 1970":               {query: "to=1969-12-31T00:00:00Z", wantParam: "to"},
		"from after 2100":              {query: "from=2100-01-01T00:00:00Z&to=2100-01-02T00:00:00Z", wantParam: "from"},
		"10001 windows":                {vps: true, query: "step=5m&from=2026-01-01T00:00:00Z&to=2026-02-04T17:25:00Z", wantParam: "from/to"},
		"long range at 1h":             {query: "from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", wantParam: "from/to"},
		"unknown dimension":            {query: "group_by=tenant_id,resource_id", wantParam: "group_by"},
		"vps has no ip":                {vps: true, query: "group_by=ip", wantParam: "group_by"},
		"empty dimension in list":      {query: "group_by=tenant_id,,ip", wantParam: "group_by"},
		"duplicate dimension":          {query: "group_by=ip,ip", wantParam: "group_by"},
		"filter too long":              {query: "tenant_id=" + strings.Repeat("x", 129), wantParam: "tenant_id"},
		"filter with a control char":   {query: "provider=a%0Ab", wantParam: "provider"},
		"filter with invalid UTF-8":    {query: "tenant_id=%FF", wantParam: "tenant_id"},
		"group_by with SQL is refused": {query: "group_by=tenant_id%3BDROP+TABLE+x", wantParam: "group_by"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			require.NoError(t, err)
			var got aggregates.RollupQuery
			if tc.vps {
				var vq aggregates.VPSQuery
				vq, err = parseVPSRequest(q, parseNow)
				got = vq.RollupQuery
				if err == nil {
					require.NoError(t, vq.Validate())
				}
			} else {
				var eq aggregates.EmailQuery
				eq, err = parseEmailRequest(q, parseNow)
				got = eq.RollupQuery
				if err == nil {
					require.NoError(t, eq.Validate())
				}
			}
			if tc.wantParam != "" {
				var pe *paramError
				require.ErrorAs(t, err, &pe)
				require.Equal(t, tc.wantParam, pe.param)
				require.True(t, strings.HasPrefix(err.Error(), tc.wantParam+": "), err.Error())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParamErrorsBoundEcho(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	cases := map[string]string{
		"from":      "from=" + url.QueryEscape(long),
		"step":      "step=" + url.QueryEscape(long),
		"group_by":  "group_by=" + url.QueryEscape(long),
		"parameter": url.QueryEscape(long) + "=1",
		"provider":  "provider=" + url.QueryEscape(strings.Repeat("\x01", 100)),
	}
	for name, query := range cases {
		t.Run(name, func(t *testing.T) {
			q, err := url.ParseQuery(query)
			require.NoError(t, err)
			_, err = parseEmailRequest(q, parseNow)
			require.Error(t, err)
			msg := err.Error()
			require.NotContains(t, msg, strings.Repeat("é", 33), "echoes more than 64 bytes")
			require.LessOrEqual(t, strings.Count(msg, `\x01`), maxEcho, "echoes more than 64 bytes")
			require.True(t, len(msg) < 400, msg)
		})
	}
}

func TestParseFreshnessRequest(t *testing.T) {
	require.NoError(t, parseFreshnessRequest(url.Values{}))
	err := parseFreshnessRequest(url.Values{"step": {"1h"}})
	var pe *paramError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, `"step"`, pe.param)
}
