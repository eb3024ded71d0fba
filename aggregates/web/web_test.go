package web_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/api"
	"github.com/spendstream/spendstream/aggregates/web"
)

func do(t *testing.T, h http.Handler, method, target string, header map[string]string, body string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func readAll(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	return string(b)
}

// assetURLs returns the script, style sheet and icon URLs the index names.
func assetURLs(t *testing.T, index string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`"(/ui/assets/([a-z]+)\.[0-9a-f]{16}\.([a-z]+))"`).FindAllStringSubmatch(index, -1) {
		out[m[2]+"."+m[3]] = m[1]
	}
	return out
}

func TestIndex(t *testing.T) {
	h := web.New(web.Config{})
	for _, target := range []string{"/", "/ui/"} {
		resp := do(t, h, http.MethodGet, target, nil, "")
		require.Equal(t, http.StatusOK, resp.StatusCode, target)
		require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
		require.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
		require.Equal(t, web.CSP, resp.Header.Get("Content-Security-Policy"))
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
		require.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
		require.NotEmpty(t, resp.Header.Get("ETag"))
		body := readAll(t, resp)
		require.Contains(t, body, "Modeled internal approximation based on provider invoices and usage patterns.")
		require.Contains(t, body, "Not an invoice. Always validate with finance systems.")
		require.Contains(t, body, `id="asof"`)
		urls := assetURLs(t, body)
		require.Contains(t, urls, "app.js", "the index names the content-hashed script")
		require.Contains(t, urls, "app.css")
		require.Contains(t, urls, "favicon.svg")
		// No inline script or style: the CSP would refuse them.
		require.NotRegexp(t, `<script(?:\s[^>]*)?>\s*[^<\s]`, body, "inline script")
		require.NotContains(t, body, "<style")
		require.NotContains(t, body, "style=")
		require.NotContains(t, body, "http://", "no third-party or absolute URLs")
		require.NotContains(t, body, "https://")
	}
	// Revalidation: a matching ETag is a 304.
	resp := do(t, h, http.MethodGet, "/", nil, "")
	etag := resp.Header.Get("ETag")
	resp = do(t, h, http.MethodGet, "/", map[string]string{"If-None-Match": etag}, "")
	require.Equal(t, http.StatusNotModified, resp.StatusCode)
	// HEAD has the headers and no body.
	resp = do(t, h, http.MethodHead, "/", nil, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, readAll(t, resp))
}

func TestAssets(t *testing.T) {
	h := web.New(web.Config{})
	index := readAll(t, do(t, h, http.MethodGet, "/", nil, ""))
	urls := assetURLs(t, index)
	want := map[string]string{"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}
	for name, ct := range want {
		u := urls[name]
		resp := do(t, h, http.MethodGet, u, nil, "")
		require.Equal(t, http.StatusOK, resp.StatusCode, u)
		require.Equal(t, ct, resp.Header.Get("Content-Type"), u)
		require.Equal(t, "public, max-age=31536000, immutable", resp.Header.Get("Cache-Control"), u)
		require.Equal(t, web.CSP, resp.Header.Get("Content-Security-Policy"))
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		require.Empty(t, resp.Header.Get("Content-Encoding"))
		plain := readAll(t, resp)
		require.NotEmpty(t, plain)

		// gzip when accepted, the same bytes once decompressed.
		resp = do(t, h, http.MethodGet, u, map[string]string{"Accept-Encoding": "br, gzip"}, "")
		require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
		require.Equal(t, "Accept-Encoding", resp.Header.Get("Vary"))
		zr, err := gzip.NewReader(resp.Body)
		require.NoError(t, err)
		unz, err := io.ReadAll(zr)
		require.NoError(t, err)
		require.Equal(t, plain, string(unz))
		resp = do(t, h, http.MethodGet, u, map[string]string{"Accept-Encoding": "gzip;q=0"}, "")
		require.Empty(t, resp.Header.Get("Content-Encoding"), "q=0 refuses gzip")
	}
	// A dot-dot path is cleaned (a redirect), never a file outside static/.
	resp := do(t, h, http.MethodGet, "/ui/assets/../web.go", nil, "")
	require.NotEqual(t, http.StatusOK, resp.StatusCode)
	// Unknown assets and unhashed names are JSON 404s.
	for _, u := range []string{"/ui/assets/app.js", "/ui/assets/app.0000000000000000.js", "/ui/nope", "/ui/web.go"} {
		resp := do(t, h, http.MethodGet, u, nil, "")
		require.Equal(t, http.StatusNotFound, resp.StatusCode, u)
		require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"), u)
	}
}

// TestScriptRules checks the script keeps the page's rules: API data never goes through innerHTML
// or eval, the only hosts it talks to are its own, and nothing refreshes on a timer.
func TestScriptRules(t *testing.T) {
	h := web.New(web.Config{})
	index := readAll(t, do(t, h, http.MethodGet, "/", nil, ""))
	js := readAll(t, do(t, h, http.MethodGet, assetURLs(t, index)["app.js"], nil, ""))
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function", "setInterval", "document.write", "localStorage"} {
		require.NotContains(t, js, bad)
	}
	require.NotRegexp(t, `https?://(?:[^w]|w[^w]|ww[^w])`, strings.ReplaceAll(js, "http://www.w3.org/2000/svg", ""), "no other host than the page's own")
	require.NotRegexp(t, `(?i)\blive\b[^"'\n]*badge`, js)
}

func TestPageWeightBudget(t *testing.T) {
	files, err := web.Files()
	require.NoError(t, err)
	var jsCSS, jsCSSRaw, all int
	for _, f := range files {
		t.Logf("%-12s %-44s %7d B raw %7d B gzip", f.Name, f.URL, f.Size, f.GzipSize)
		all += f.GzipSize
		if strings.HasSuffix(f.Name, ".js") || strings.HasSuffix(f.Name, ".css") {
			jsCSS += f.GzipSize
			jsCSSRaw += f.Size
		}
	}
	t.Logf("JS+CSS: %d B raw, %d B gzip (budget %d B); everything incl. HTML and icon: %d B gzip", jsCSSRaw, jsCSS, web.BudgetBytes, all)
	require.Less(t, jsCSS, web.BudgetBytes, "JS+CSS over the page-weight budget")
}

func TestConfig(t *testing.T) {
	resp := do(t, web.New(web.Config{}), http.MethodGet, "/ui/config.json", nil, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"demo":null}`, readAll(t, resp))

	h := web.New(web.Config{DemoRoles: []string{"cfo", "tenant_admin"}, DemoTenants: []string{"t-001"},
		DemoToken: func(string, string) (string, error) { return "x", nil }})
	resp = do(t, h, http.MethodGet, "/ui/config.json", nil, "")
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	require.JSONEq(t, `{"demo":{"roles":["cfo","tenant_admin"],"tenants":["t-001"],"tenant_scoped_roles":["tenant_admin"]}}`, readAll(t, resp))
}

func TestDemoToken(t *testing.T) {
	jsonCT := map[string]string{"Content-Type": "application/json"}
	// Off unless configured.
	resp := do(t, web.New(web.Config{}), http.MethodPost, "http://127.0.0.1:8080/ui/demo-token", jsonCT, `{"role":"cfo"}`)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	var got [][2]string
	h := web.New(web.Config{DemoRoles: []string{"cfo", "tenant_admin"}, DemoTenants: []string{"t-001", "t-002"},
		DemoToken: func(role, tenant string) (string, error) {
			got = append(got, [2]string{role, tenant})
			if role == "cfo" && tenant == "" {
				return "tok-cfo", nil
			}
			if role == "tenant_admin" {
				return "tok-ta-" + tenant, nil
			}
			return "", errors.New("no")
		}})
	post := func(host string, header map[string]string, body string) (int, string) {
		req := httptest.NewRequest(http.MethodPost, "/ui/demo-token", strings.NewReader(body))
		req.Host = host
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
		return rec.Code, rec.Body.String()
	}
	code, body := post("127.0.0.1:8080", jsonCT, `{"role":"cfo"}`)
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"token":"tok-cfo"}`, body)
	code, body = post("localhost:8080", map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "same-origin", "Origin": "http://localhost:8080"}, `{"role":"tenant_admin","tenant":"t-002"}`)
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"token":"tok-ta-t-002"}`, body)
	code, _ = post("[::1]:8080", jsonCT, `{"role":"cfo"}`)
	require.Equal(t, http.StatusOK, code)

	for _, tc := range []struct {
		name   string
		host   string
		header map[string]string
		body   string
		want   int
	}{
		{"not loopback (DNS rebinding)", "evil.example:8080", jsonCT, `{"role":"cfo"}`, http.StatusForbidden},
		{"cross-site fetch", "127.0.0.1:8080", map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, `{"role":"cfo"}`, http.StatusForbidden},
		{"other origin", "127.0.0.1:8080", map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}, `{"role":"cfo"}`, http.StatusForbidden},
		{"form post", "127.0.0.1:8080", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, `role=cfo`, http.StatusUnsupportedMediaType},
		{"unknown role", "127.0.0.1:8080", jsonCT, `{"role":"root"}`, http.StatusBadRequest},
		{"tenant role without tenant", "127.0.0.1:8080", jsonCT, `{"role":"tenant_admin"}`, http.StatusBadRequest},
		{"tenant role, other tenant", "127.0.0.1:8080", jsonCT, `{"role":"tenant_admin","tenant":"t-999"}`, http.StatusBadRequest},
		{"tenant for a cross-tenant role", "127.0.0.1:8080", jsonCT, `{"role":"cfo","tenant":"t-001"}`, http.StatusBadRequest},
		{"unknown field", "127.0.0.1:8080", jsonCT, `{"role":"cfo","admin":true}`, http.StatusBadRequest},
		{"too large", "127.0.0.1:8080", jsonCT, `{"role":"` + strings.Repeat("a", 2000) + `"}`, http.StatusBadRequest},
	} {
		code, body := post(tc.host, tc.header, tc.body)
		require.Equal(t, tc.want, code, tc.name+": "+body)
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		require.NoError(t, jsonUnmarshal(body, &e), tc.name)
		require.NotEmpty(t, e.Error.Message, tc.name)
	}
	require.Len(t, got, 3, "refused requests never reach the minter")
	// GET is not a way in.
	resp = do(t, h, http.MethodGet, "/ui/demo-token", nil, "")
	require.NotEqual(t, http.StatusOK, resp.StatusCode)
}

func jsonUnmarshal(s string, v any) error {
	return json.NewDecoder(bytes.NewReader([]byte(s))).Decode(v)
}

// TestMountedInAPI serves the page through the API handler: / and /ui/ are the page, other
// unknown paths keep the API's JSON 404, and without Config.Web / is a JSON 404 as before.
func TestMountedInAPI(t *testing.T) {
	h := api.New(api.Config{Partitions: 1, Web: web.New(web.Config{})}, nil, nil, nil)
	resp := do(t, h, http.MethodGet, "/", nil, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	index := readAll(t, resp)
	resp = do(t, h, http.MethodGet, assetURLs(t, index)["app.js"], nil, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/javascript; charset=utf-8", resp.Header.Get("Content-Type"))
	resp = do(t, h, http.MethodGet, "/ui/config.json", nil, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, u := range []string{"/nope", "/index.html", "/v2/x"} {
		resp = do(t, h, http.MethodGet, u, nil, "")
		require.Equal(t, http.StatusNotFound, resp.StatusCode, u)
		require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"), u)
		require.Contains(t, readAll(t, resp), `"not_found"`)
	}
	resp = do(t, h, http.MethodPost, "/", nil, "")
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "only GET/HEAD / is the page")
	resp = do(t, h, http.MethodGet, "/healthz", nil, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	plain := api.New(api.Config{Partitions: 1}, nil, nil, nil)
	resp = do(t, plain, http.MethodGet, "/", nil, "")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
}
