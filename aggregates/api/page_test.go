package api

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/auth"
	"github.com/spendstream/spendstream/aggregates/cost"
)

func groups(costs ...int64) []cost.Group {
	out := make([]cost.Group, len(costs))
	for i, c := range costs {
		out[i] = cost.Group{Key: fmt.Sprintf("g%02d", i), Cost: cost.Money(c)}
	}
	return out
}

func keys(gs []cost.Group) []string {
	out := []string{}
	for _, g := range gs {
		out = append(out, g.Key)
	}
	return out
}

// walk follows next cursors from the first page and returns every key served, page by page.
func walk(t *testing.T, items []cost.Group, limit int) [][]string {
	t.Helper()
	var pages [][]string
	p := pageRequest{limit: limit}
	for range len(items) + 2 {
		page, next := paginate(items, p, groupKey)
		pages = append(pages, keys(page))
		if next == "" {
			return pages
		}
		k, err := parseCursor(next)
		require.NoError(t, err)
		p.after = &k
	}
	t.Fatalf("no last page after %d pages", len(pages))
	return nil
}

func TestPaginateWalksEveryItemOnce(t *testing.T) {
	tests := []struct {
		name  string
		items []cost.Group
		limit int
		want  [][]string
	}{
		{"empty", nil, 3, [][]string{{}}},
		{"one page exactly", groups(5, 4, 3), 3, [][]string{{"g00", "g01", "g02"}}},
		{"shorter than a page", groups(5, 4), 3, [][]string{{"g00", "g01"}}},
		{"two pages", groups(5, 4, 3, 2), 3, [][]string{{"g00", "g01", "g02"}, {"g03"}}},
		// Ties in cost are ordered by key: the cut between g01 and g02 (both 4) holds.
		{"tie across the cut", groups(9, 4, 4, 4, 1), 2, [][]string{{"g00", "g01"}, {"g02", "g03"}, {"g04"}}},
		{"limit one", groups(3, 2, 1), 1, [][]string{{"g00"}, {"g01"}, {"g02"}}},
		{"negative costs (credits) sort last", groups(2, 0, -1, -5), 3, [][]string{{"g00", "g01", "g02"}, {"g03"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, walk(t, tt.items, tt.limit))
		})
	}
}

// A cursor is a position, not an offset: after the model changes between two pages, the next page
// starts after the last item served wherever it now sorts.
func TestPaginateCursorIsAPosition(t *testing.T) {
	before := groups(9, 7, 5, 3, 1)
	page, next := paginate(before, pageRequest{limit: 2}, groupKey)
	require.Equal(t, []string{"g00", "g01"}, keys(page))
	k, err := parseCursor(next)
	require.NoError(t, err)

	// A new group costlier than the cut arrives: it is before the position, so not served again
	// below it, and the rest follow in order.
	after := slices.Insert(slices.Clone(before), 0, cost.Group{Key: "new", Cost: 10})
	page, _ = paginate(after, pageRequest{limit: 10, after: &k}, groupKey)
	assert.Equal(t, []string{"g02", "g03", "g04"}, keys(page))

	// The last served item is gone: the next page still starts after its position.
	gone := slices.Delete(slices.Clone(before), 1, 2)
	page, _ = paginate(gone, pageRequest{limit: 10, after: &k}, groupKey)
	assert.Equal(t, []string{"g02", "g03", "g04"}, keys(page))
}

// TestRecommendationListing: listRecommendations pages the caller's listing in the order
// cost.Recommend sorts it, counts and sums only what the caller may see, and redacts each item.
func TestRecommendationListing(t *testing.T) {
	rec := func(id string, kind cost.Kind, low, high cost.Money) cost.Recommendation {
		return cost.Recommendation{ID: id, Kind: kind, SavingsMonthly: cost.SavingsRange{Low: low, High: high},
			Targets: cost.Targets{TenantIDs: []string{"t-1"}}}
	}
	recs := []cost.Recommendation{
		rec("rec_b", cost.KindConsolidateVPS, 5, 10),
		rec("rec_a", cost.KindRebalanceIPPool, 4, 10),
		rec("rec_d", cost.KindAdjustCommitment, 3, 9),
		rec("rec_e", cost.KindConsolidateVPS, 3, 9),
		rec("rec_c", cost.KindRebalanceIPPool, 1, 2),
	}
	require.True(t, slices.IsSortedFunc(recs, func(x, y cost.Recommendation) int { return comparePageKeys(recKey(&x), recKey(&y)) }),
		"recKey orders as cost.Recommend sorts: high, then low, highest first, then id")
	matrix := auth.DefaultMatrix()
	as := func(role auth.Role) caller {
		return caller{principal: auth.Principal{Subject: "x", Roles: []auth.Role{role}}, scope: aggregates.Scope{All: true}, matrix: &matrix}
	}
	walk := func(c caller, kind cost.Kind, limit int) (ids []string, count int, savings cost.SavingsRange, tenants int) {
		p := pageRequest{limit: limit}
		for range len(recs) + 2 {
			l := listRecommendations(c, recs, kind, p)
			count, savings = l.count, l.savings
			for _, r := range l.page {
				ids = append(ids, r.ID)
				tenants += len(r.Targets.TenantIDs)
			}
			if l.next == "" {
				return ids, count, savings, tenants
			}
			k, err := parseCursor(l.next)
			require.NoError(t, err)
			p.after = &k
		}
		t.Fatal("no last page")
		return
	}
	ids, count, savings, tenants := walk(as(auth.RoleCFO), "", 2)
	assert.Equal(t, []string{"rec_b", "rec_a", "rec_d", "rec_e", "rec_c"}, ids)
	assert.Equal(t, 5, count)
	assert.Equal(t, cost.SavingsRange{Low: 16, High: 40}, savings)
	assert.Equal(t, 5, tenants, "the cfo sees tenant ids")

	ids, count, savings, _ = walk(as(auth.RoleCFO), cost.KindConsolidateVPS, 1)
	assert.Equal(t, []string{"rec_b", "rec_e"}, ids)
	assert.Equal(t, 2, count)
	assert.Equal(t, cost.SavingsRange{Low: 8, High: 19}, savings)

	// Procurement: vendor and commitment kinds only, no tenant ids; count and savings over those.
	ids, count, savings, tenants = walk(as(auth.RoleProcurement), "", 2)
	assert.Equal(t, []string{"rec_a", "rec_d", "rec_c"}, ids)
	assert.Equal(t, 3, count)
	assert.Equal(t, cost.SavingsRange{Low: 8, High: 21}, savings)
	assert.Zero(t, tenants)
}

func TestParsePage(t *testing.T) {
	valid := pageKey{a: -12, b: 3, k: "t|with|bars"}.cursor()
	tests := []struct {
		query     string
		wantLimit int
		wantAfter *pageKey
		wantErr   string // the parameter named
	}{
		{"", DefaultPageLimit, nil, ""},
		{"limit=1", 1, nil, ""},
		{"limit=1000", 1000, nil, ""},
		{"limit=0", 0, nil, "limit"},
		{"limit=1001", 0, nil, "limit"},
		{"limit=-1", 0, nil, "limit"},
		{"limit=ten", 0, nil, "limit"},
		{"limit=1e2", 0, nil, "limit"},
		{"cursor=" + valid, DefaultPageLimit, &pageKey{a: -12, b: 3, k: "t|with|bars"}, ""},
		{"cursor=not*base64", 0, nil, "cursor"},
		{"cursor=" + "YzF8MXwy", 0, nil, "cursor"},                             // c1|1|2: too few parts
		{"cursor=" + "YzJ8MXwyfGs", 0, nil, "cursor"},                          // c2|1|2|k: unknown version
		{"cursor=" + "YzF8eHwyfGs", 0, nil, "cursor"},                          // c1|x|2|k: not a number
		{"cursor=" + "YzF8OTk5OTk5OTk5OTk5OTk5OTk5OTl8Mnxr", 0, nil, "cursor"}, // overflows int64
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			require.NoError(t, err)
			p, err := parsePage(q)
			if tt.wantErr != "" {
				var pe *paramError
				require.True(t, errors.As(err, &pe), "err = %v", err)
				assert.Equal(t, tt.wantErr, pe.param)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantLimit, p.limit)
			assert.Equal(t, tt.wantAfter, p.after)
		})
	}
}

func TestValidRecommendationID(t *testing.T) {
	assert.True(t, validRecommendationID(cost.RecommendationID(cost.KindConsolidateVPS, "vps-1")))
	for _, bad := range []string{"", "rec_", "rec_0123456789abcde", "rec_0123456789abcdef0", "rec_0123456789ABCDEF",
		"ini_0123456789abcdef", "rec_0123456789abcdeg", "../rec_0123456789abcdef"} {
		assert.False(t, validRecommendationID(bad), bad)
	}
}
