package api

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/cost"
)

// TestCarryViews: a refreshed model gets the views its predecessor served, built from the new
// model (never the old bytes); views built but never served are not carried; a failing builder
// leaves the view to the next request.
func TestCarryViews(t *testing.T) {
	builds := map[string]int{}
	builder := func(name string) viewBuilder {
		return func(e *modelEntry) (any, error) {
			builds[name]++
			return map[string]string{"view": name, "currency": e.m.Currency}, nil
		}
	}
	old := &modelEntry{m: &cost.Model{Currency: "USD"}}
	d, err := old.view("a", builder("a"))
	require.NoError(t, err)
	require.JSONEq(t, `{"view":"a","currency":"USD"}`, string(d))
	_, err = old.view("a", builder("a"))
	require.NoError(t, err)
	require.Equal(t, 1, builds["a"], "kept: built once")
	_, err = old.buildView("b", builder("b")) // built (e.g. carried) but never asked for
	require.NoError(t, err)
	var failing bool
	_, err = old.view("c", func(e *modelEntry) (any, error) {
		if failing {
			return nil, errNoRecommendation
		}
		return "c", nil
	})
	require.NoError(t, err)
	failing = true

	fresh := &modelEntry{m: &cost.Model{Currency: "EUR"}}
	fresh.carryViews(old)
	require.Equal(t, 2, builds["a"], "served view rebuilt on the new model")
	require.Equal(t, 1, builds["b"], "unserved view not carried")
	v, ok := fresh.views.Load("a")
	require.True(t, ok)
	require.JSONEq(t, `{"view":"a","currency":"EUR"}`, string(v.(*cachedView).data), "from the new model")
	require.False(t, v.(*cachedView).served.Load(), "carried, not yet asked for: the next refresh drops it unless served")
	_, ok = fresh.views.Load("b")
	require.False(t, ok)
	_, ok = fresh.views.Load("c")
	require.False(t, ok, "a failing builder carries nothing")

	// Served on the new model: a second refresh carries it again; not served: dropped.
	next := &modelEntry{m: &cost.Model{Currency: "GBP"}}
	next.carryViews(fresh)
	_, ok = next.views.Load("a")
	require.False(t, ok, "carried once, never asked for since: dropped")
	_, err = fresh.view("a", builder("a"))
	require.NoError(t, err)
	require.Equal(t, 2, builds["a"], "the carried view answers without a build")
	next.carryViews(fresh)
	v, ok = next.views.Load("a")
	require.True(t, ok)
	require.JSONEq(t, `{"view":"a","currency":"GBP"}`, string(v.(*cachedView).data))
}
