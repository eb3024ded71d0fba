package api

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

func TestRecommendationPagesFollowRecommendOrder(t *testing.T) {
	recs := []cost.Recommendation{
		{ID: "rec_b", SavingsMonthly: cost.SavingsRange{Low: 5, High: 10}},
		{ID: "rec_a", SavingsMonthly: cost.SavingsRange{Low: 4, High: 10}},
		{ID: "rec_a", SavingsMonthly: cost.SavingsRange{Low: 3, High: 9}},
		{ID: "rec_c", SavingsMonthly: cost.SavingsRange{Low: 3, High: 9}},
	}
	require.True(t, slices.IsSortedFunc(recs, func(x, y cost.Recommendation) int { return comparePageKeys(recKey(&x), recKey(&y)) }),
		"recKey orders as cost.Recommend sorts: high, then low, highest first, then id")
	var ids []string
	p := pageRequest{limit: 1}
	for {
		page, next := paginate(recs, p, recKey)
		for _, r := range page {
			ids = append(ids, r.ID)
		}
		if next == "" {
			break
		}
		k, err := parseCursor(next)
		require.NoError(t, err)
		p.after = &k
	}
	assert.Equal(t, []string{"rec_b", "rec_a", "rec_a", "rec_c"}, ids)
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
