package api

import (
	"cmp"
	"encoding/base64"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Pagination of the long cost listings (GET /v1/recommendations, the groups of
// GET /v1/costs/breakdown): `limit` items per page and an opaque `cursor`, the `next_cursor` of the
// previous page. A cursor is the sort position of the last item served (keyset, not an offset), so
// the next page starts after that position in whatever model serves it: when the model is
// refreshed between two pages, an item whose figures moved across the cut can be served twice or
// not at all, never an item twice on one page.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

var pageParams = []string{"limit", "cursor"}

// pageKey is an item's position in a listing sorted by a descending, then b descending, then k
// ascending: cost groups (a = cost, b = 0, k = group key) and recommendations (a = high saving,
// b = low saving, k = id) both sort so.
type pageKey struct {
	a, b int64
	k    string
}

func comparePageKeys(x, y pageKey) int {
	return cmp.Or(cmp.Compare(y.a, x.a), cmp.Compare(y.b, x.b), strings.Compare(x.k, y.k))
}

const cursorVersion = "c1"

func (p pageKey) cursor() string {
	raw := cursorVersion + "|" + strconv.FormatInt(p.a, 10) + "|" + strconv.FormatInt(p.b, 10) + "|" + p.k
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func parseCursor(s string) (pageKey, error) {
	bad := badParam("cursor", "want the next_cursor of a previous page of this listing, got %s", echo(s))
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return pageKey{}, bad
	}
	parts := strings.SplitN(string(raw), "|", 4)
	if len(parts) != 4 || parts[0] != cursorVersion {
		return pageKey{}, bad
	}
	a, errA := strconv.ParseInt(parts[1], 10, 64)
	b, errB := strconv.ParseInt(parts[2], 10, 64)
	if errA != nil || errB != nil {
		return pageKey{}, bad
	}
	return pageKey{a: a, b: b, k: parts[3]}, nil
}

// pageRequest is a parsed limit and cursor.
type pageRequest struct {
	limit int
	after *pageKey // nil: the first page
}

// parsePage reads limit (1..MaxPageLimit, default DefaultPageLimit) and cursor from q.
func parsePage(q url.Values) (pageRequest, error) {
	p := pageRequest{limit: DefaultPageLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageLimit {
			return p, badParam("limit", "want an integer from 1 to %d, got %s", MaxPageLimit, echo(v))
		}
		p.limit = n
	}
	if v := q.Get("cursor"); v != "" {
		k, err := parseCursor(v)
		if err != nil {
			return p, err
		}
		p.after = &k
	}
	return p, nil
}

// start is the index of the first of items (sorted by key as comparePageKeys orders) after the
// cursor of p: 0 for the first page.
func start[T any](items []T, p pageRequest, key func(*T) pageKey) int {
	if p.after == nil {
		return 0
	}
	return sort.Search(len(items), func(i int) bool { return comparePageKeys(key(&items[i]), *p.after) > 0 })
}

// paginate cuts the page p asks for out of items, sorted by key as comparePageKeys orders, and
// returns the cursor of the next page ("" after the last one).
func paginate[T any](items []T, p pageRequest, key func(*T) pageKey) (page []T, next string) {
	start := start(items, p, key)
	end := min(start+p.limit, len(items))
	page = items[start:end]
	if end < len(items) && end > start {
		next = key(&items[end-1]).cursor()
	}
	return page, next
}
