// Package web is the Executive Cost Optimization page that spendstream serves at "/": one HTML
// document, one script and one style sheet, embedded in the binary (no build step, no network, no
// third-party code). The page reads only the public JSON API (/v1/...) with the caller's bearer
// token and does no cost arithmetic: every figure it shows is one the API computed, formatted for
// reading (money to the cent, with the exact value in the figure's tooltip and in the tables).
//
// Routes (mounted by aggregates/api when api.Config.Web is set):
//
//	GET  /                      the page (also GET /ui/)
//	GET  /ui/assets/{name}      the script, style sheet and icon, under content-hashed names
//	GET  /ui/config.json        what the sign-in form offers (demo roles and tenants, or none)
//	POST /ui/demo-token         local demo only: a token for a chosen demo role
//
// The page weight budget is 150 KB of JS+CSS, gzip-compressed (TestPageWeightBudget measures it).
// Every response carries a Content-Security-Policy that allows only the page's own origin, and
// no inline script or style.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed static
var staticFS embed.FS

// BudgetBytes is the page-weight budget: the JS and CSS of the page, gzip-compressed, stay under it.
const BudgetBytes = 150 * 1024

// CSP is the Content-Security-Policy of every response of this package: the page's own origin for
// scripts, styles, images and API calls; nothing inline, no frames, no plugins.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Config of the page.
type Config struct {
	// DemoToken mints an API token for a demo role (tenant: the tenant of a tenant-scoped role,
	// "" otherwise). Set it only on the local demo configuration (make run); when nil the sign-in
	// form offers token pasting only and POST /ui/demo-token answers 404.
	DemoToken func(role, tenant string) (string, error)
	// DemoRoles are the roles the demo sign-in offers (with DemoToken).
	DemoRoles []string
	// DemoTenants are the tenants the demo sign-in offers for a tenant-scoped role (with DemoToken).
	DemoTenants []string
	// TenantScopedRoles are the roles of DemoRoles that need a tenant (default: tenant_admin).
	TenantScopedRoles []string
}

// asset is one embedded file, ready to serve.
type asset struct {
	name        string // the file name in static/
	url         string // the URL it is served at
	contentType string
	body        []byte
	gz          []byte // gzip-compressed body
	etag        string
	immutable   bool // content-hashed URL: cache for a year
}

type handler struct {
	cfg    Config
	index  *asset
	assets map[string]*asset // by URL path
	config []byte            // /ui/config.json
	mux    *http.ServeMux
}

// Assets lists the page's files with their raw and gzip-compressed sizes, for the page-weight
// budget.
type Asset struct {
	Name        string
	URL         string
	ContentType string
	Size        int
	GzipSize    int
}

// New returns the page's handler. It panics if the embedded files are inconsistent (a bug caught
// by the package tests).
func New(cfg Config) http.Handler {
	h, err := newHandler(cfg)
	if err != nil {
		panic(err)
	}
	return h
}

// Files returns the page's files (index first) with their sizes.
func Files() ([]Asset, error) {
	h, err := newHandler(Config{})
	if err != nil {
		return nil, err
	}
	out := []Asset{h.index.info()}
	var rest []Asset
	for _, a := range h.assets {
		if a != h.index {
			rest = append(rest, a.info())
		}
	}
	slices.SortFunc(rest, func(a, b Asset) int { return strings.Compare(a.Name, b.Name) })
	return append(out, rest...), nil
}

func (a *asset) info() Asset {
	return Asset{Name: a.name, URL: a.url, ContentType: a.contentType, Size: len(a.body), GzipSize: len(a.gz)}
}

func newHandler(cfg Config) (*handler, error) {
	if len(cfg.TenantScopedRoles) == 0 {
		cfg.TenantScopedRoles = []string{"tenant_admin"}
	}
	h := &handler{cfg: cfg, assets: map[string]*asset{}, mux: http.NewServeMux()}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		return nil, err
	}
	var indexBody []byte
	rewrites := map[string]string{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			return nil, err
		}
		if e.Name() == "index.html" {
			indexBody = b
			continue
		}
		a, err := newAsset(e.Name(), b, true)
		if err != nil {
			return nil, err
		}
		h.assets[a.url] = a
		rewrites["/ui/assets/"+e.Name()] = a.url
	}
	if indexBody == nil {
		return nil, fmt.Errorf("web: static/index.html missing")
	}
	// The index names its assets by plain name; serve it with their content-hashed URLs so a new
	// binary never meets a stale cached script.
	for plain, hashed := range rewrites {
		if !bytes.Contains(indexBody, []byte(`"`+plain+`"`)) {
			continue
		}
		indexBody = bytes.ReplaceAll(indexBody, []byte(`"`+plain+`"`), []byte(`"`+hashed+`"`))
	}
	h.index, err = newAsset("index.html", indexBody, false)
	if err != nil {
		return nil, err
	}
	h.config, err = json.Marshal(h.pageConfig())
	if err != nil {
		return nil, err
	}
	h.mux.HandleFunc("GET /{$}", h.serveIndex)
	h.mux.HandleFunc("GET /ui/{$}", h.serveIndex)
	h.mux.HandleFunc("GET /ui/assets/{name}", h.serveAsset)
	h.mux.HandleFunc("GET /ui/config.json", h.serveConfig)
	h.mux.HandleFunc("POST /ui/demo-token", h.demoToken)
	h.mux.HandleFunc("/", h.notFound)
	return h, nil
}

func newAsset(name string, body []byte, hashed bool) (*asset, error) {
	ct := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) { // not left to the system's mime tables
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".html":
		ct = "text/html; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	}
	if ct == "" {
		return nil, fmt.Errorf("web: no content type for %s", name)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])[:16]
	a := &asset{name: name, contentType: ct, body: body, etag: `"` + hash + `"`, immutable: hashed}
	a.url = "/"
	if hashed {
		ext := path.Ext(name)
		a.url = "/ui/assets/" + strings.TrimSuffix(name, ext) + "." + hash + ext
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	a.gz = buf.Bytes()
	return a, nil
}

// demoConfig is what /ui/config.json says about the demo sign-in.
type demoConfig struct {
	Roles             []string `json:"roles"`
	Tenants           []string `json:"tenants"`
	TenantScopedRoles []string `json:"tenant_scoped_roles"`
}

type pageConfig struct {
	// Demo is null unless the local demo configuration offers the demo sign-in.
	Demo *demoConfig `json:"demo"`
}

func (h *handler) pageConfig() pageConfig {
	if h.cfg.DemoToken == nil {
		return pageConfig{}
	}
	return pageConfig{Demo: &demoConfig{Roles: nonNil(h.cfg.DemoRoles), Tenants: nonNil(h.cfg.DemoTenants),
		TenantScopedRoles: nonNil(h.cfg.TenantScopedRoles)}}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	h.mux.ServeHTTP(w, r)
}

func (h *handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	// Revalidated on every load (cheap: ETag), so a new binary's page is picked up at once.
	w.Header().Set("Cache-Control", "no-cache")
	h.serve(w, r, h.index)
}

func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	a := h.assets[r.URL.Path]
	if a == nil {
		h.notFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	h.serve(w, r, a)
}

// serve writes a with its ETag, answering 304 to a matching If-None-Match, gzip-compressed when
// the client accepts it.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, a *asset) {
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("ETag", a.etag)
	hd.Set("Vary", "Accept-Encoding")
	if etagMatches(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		hd.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func etagMatches(header, etag string) bool {
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == etag || v == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header accepts gzip (q > 0).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

func (h *handler) serveConfig(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, r, http.StatusOK, json.RawMessage(h.config))
}

// maxDemoBody bounds the body of POST /ui/demo-token.
const maxDemoBody = 1 << 10

// demoToken mints a token for a demo role. It exists on the local demo configuration only (which
// spendstream refuses to serve beyond loopback), and refuses requests that did not come from the
// page itself: a cross-site or non-JSON request (a form post from another site), or a Host that
// is not loopback (DNS rebinding).
func (h *handler) demoToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if h.cfg.DemoToken == nil {
		h.notFound(w, r)
		return
	}
	if !loopbackHost(r.Host) {
		writeError(w, r, http.StatusForbidden, "forbidden", "the demo sign-in answers on a loopback address only")
		return
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		writeError(w, r, http.StatusForbidden, "forbidden", "the demo sign-in answers the page itself only")
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host && o != "https://"+r.Host {
		writeError(w, r, http.StatusForbidden, "forbidden", "the demo sign-in answers the page itself only")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, r, http.StatusUnsupportedMediaType, "unsupported_media_type", "send a JSON body (Content-Type: application/json)")
		return
	}
	var body struct {
		Role   string `json:"role"`
		Tenant string `json:"tenant"`
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDemoBody))
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err == nil {
		err = dec.Decode(&body)
	}
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "bad_parameter", `body: want {"role": ..., "tenant": ...}`)
		return
	}
	if !slices.Contains(h.cfg.DemoRoles, body.Role) {
		writeError(w, r, http.StatusBadRequest, "bad_parameter", "role: want one of "+strings.Join(h.cfg.DemoRoles, ", "))
		return
	}
	scoped := slices.Contains(h.cfg.TenantScopedRoles, body.Role)
	switch {
	case scoped && !slices.Contains(h.cfg.DemoTenants, body.Tenant):
		writeError(w, r, http.StatusBadRequest, "bad_parameter", "tenant: want one of the demo tenants")
		return
	case !scoped && body.Tenant != "":
		writeError(w, r, http.StatusBadRequest, "bad_parameter", "tenant: only a tenant-scoped role takes a tenant")
		return
	}
	tok, err := h.cfg.DemoToken(body.Role, body.Tenant)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, "internal", "could not mint a demo token")
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]string{"token": tok})
}

// loopbackHost reports whether a Host header names a loopback address ("localhost", 127.0.0.0/8,
// ::1), with or without a port.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusNotFound, "not_found", "no such page or asset")
}

func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	writeJSON(w, r, status, map[string]map[string]string{"error": {"code": code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	b = append(b, '\n')
	hd := w.Header()
	hd.Set("Content-Type", "application/json; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// DemoTokenTTL is the lifetime of the tokens of the demo sign-in.
const DemoTokenTTL = 8 * time.Hour
