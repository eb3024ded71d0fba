package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/auth"
)

// do sends a JSON request as token and decodes the JSON answer.
func doJSON(t *testing.T, method, url, token string, body any, header map[string]string, out any) (int, http.Header) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode, resp.Header
}

type initiativeBody struct {
	ID               string     `json:"id"`
	RecommendationID string     `json:"recommendation_id"`
	Status           string     `json:"status"`
	Owner            string     `json:"owner"`
	Revision         uint64     `json:"revision"`
	ChangedAt        *time.Time `json:"changed_at"`
	History          []struct {
		By     string `json:"by"`
		Fields []struct {
			Field, From, To string
		} `json:"fields"`
	} `json:"history"`
	Realized *struct {
		Saved  float64  `json:"saved"`
		Labels []string `json:"labels"`
	} `json:"realized_savings"`
}

// TestInitiativesLifecycle marks a recommendation of the demo fleet as an initiative and moves it
// through its lifecycle over HTTP: ETags and If-Match (412 on a stale one, 428 without), refused
// transitions, one open initiative per recommendation, realized savings once it succeeded, and
// survival of a restart of spendstream (the initiatives live in a JetStream KV bucket).
func TestInitiativesLifecycle(t *testing.T) {
	stack := newE2E(t, "e2e_ini")
	base := stack.base
	start := func() (stop func()) {
		return stack.run(t,
			"--price-list", "../../deploy/pricelist.example.yaml", "--demo", "--demo-tenants", "16",
			"--demo-backfill", "72h", "--recommend-lookback-days", "2", "--cost-cache-ttl", "-1s", "--log-level", "warn")
	}
	stop := start()
	defer func() { stop() }()
	cfo := testToken
	ops, err := auth.MintHS256([]byte(auth.DemoSecret), defaultIssuer, defaultAudience, "ops-1", []auth.Role{auth.RoleOps}, "", time.Hour, time.Now())
	require.NoError(t, err)

	// Wait for the demo history, then pick a VPS recommendation.
	var recID string
	require.Eventually(t, func() bool {
		var env envelope[struct {
			Items []struct {
				ID, Kind string
			} `json:"items"`
		}]
		if getJSON(t, base+"/v1/recommendations?kind=consolidate_vps", &env) != http.StatusOK || len(env.Data.Items) == 0 {
			return false
		}
		recID = env.Data.Items[0].ID
		return true
	}, 90*time.Second, time.Second, "no consolidate_vps recommendation in the demo")

	var created envelope[initiativeBody]
	code, h := doJSON(t, http.MethodPost, base+"/v1/initiatives", cfo, map[string]string{"recommendation_id": recID, "owner": "cfo-office"}, nil, &created)
	require.Equal(t, http.StatusCreated, code)
	in := created.Data
	require.Equal(t, "proposed", in.Status)
	require.Equal(t, `"`+strconv.FormatUint(in.Revision, 10)+`"`, h.Get("ETag"))
	require.Equal(t, "/v1/initiatives/"+in.ID, h.Get("Location"))

	// A second open initiative for the same recommendation is refused; ops may not write.
	code, _ = doJSON(t, http.MethodPost, base+"/v1/initiatives", cfo, map[string]string{"recommendation_id": recID}, nil, nil)
	require.Equal(t, http.StatusConflict, code)
	code, _ = doJSON(t, http.MethodPost, base+"/v1/initiatives", ops, map[string]string{"recommendation_id": recID}, nil, nil)
	require.Equal(t, http.StatusForbidden, code)
	code, _ = doJSON(t, http.MethodPost, base+"/v1/initiatives", cfo, map[string]string{"recommendation_id": "rec_nope"}, nil, nil)
	require.Equal(t, http.StatusBadRequest, code)
	code, _ = doJSON(t, http.MethodPost, base+"/v1/initiatives", cfo, map[string]any{"recommendation_id": recID, "extra": 1}, nil, nil)
	require.Equal(t, http.StatusBadRequest, code, "unknown fields are refused")
	code, _ = doJSON(t, http.MethodPost, base+"/v1/initiatives", cfo, map[string]any{"recommendation_id": recID, "note": strings.Repeat("x", 70<<10)}, nil, nil)
	require.Equal(t, http.StatusRequestEntityTooLarge, code, "a body over 64 KiB")

	url := base + "/v1/initiatives/" + in.ID
	etag := `"` + strconv.FormatUint(in.Revision, 10) + `"`
	code, _ = doJSON(t, http.MethodPatch, url, cfo, map[string]string{"status": "in_progress"}, nil, nil)
	require.Equal(t, http.StatusPreconditionRequired, code)
	var patched envelope[initiativeBody]
	code, h = doJSON(t, http.MethodPatch, url, cfo, map[string]string{"status": "in_progress"}, map[string]string{"If-Match": etag}, &patched)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "in_progress", patched.Data.Status)
	require.NotNil(t, patched.Data.ChangedAt)
	newTag := h.Get("ETag")
	require.NotEqual(t, etag, newTag)
	// The old ETag is stale now: a concurrent writer is refused, with the current ETag.
	code, h = doJSON(t, http.MethodPatch, url, cfo, map[string]string{"notes": "lost update?"}, map[string]string{"If-Match": etag}, nil)
	require.Equal(t, http.StatusPreconditionFailed, code)
	require.Equal(t, newTag, h.Get("ETag"))
	code, _ = doJSON(t, http.MethodPatch, url, cfo, map[string]string{"status": "proposed"}, map[string]string{"If-Match": newTag}, nil)
	require.Equal(t, http.StatusConflict, code, "in_progress cannot go back to proposed")

	// Succeeded with a change date two days ago: realized savings compare the day after with the
	// day before, same model, with the labels.
	changed := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Hour)
	code, h = doJSON(t, http.MethodPatch, url, cfo, map[string]any{"status": "succeeded", "changed_at": changed}, map[string]string{"If-Match": newTag}, &patched)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "succeeded", patched.Data.Status)
	require.NotNil(t, patched.Data.Realized)
	require.Len(t, patched.Data.Realized.Labels, 2)
	require.Len(t, patched.Data.History, 3, "created, in_progress, succeeded")
	require.Equal(t, "test-cfo", patched.Data.History[2].By)

	// Restart spendstream: the initiative and its revision survive.
	stop()
	stop = start()
	var got envelope[initiativeBody]
	code, h = doJSON(t, http.MethodGet, url, cfo, nil, nil, &got)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "succeeded", got.Data.Status)
	require.Equal(t, patched.Data.Revision, got.Data.Revision)
	var list envelope[[]initiativeBody]
	code, _ = doJSON(t, http.MethodGet, base+"/v1/initiatives", cfo, nil, nil, &list)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, list.Data, 1)
}
