package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/auth"
	"github.com/spendstream/spendstream/aggregates/web"
)

// The web page's journey in a real headless Chromium (Debian's chromium package; `make test`
// installs it with deploy/local/chromium.sh and sets SPENDSTREAM_REQUIRE_BROWSER, so CI cannot skip
// this silently) against a real spendstream (embedded NATS, ClickHouse) with the demo fleet:
//
//   - as the CFO (demo sign-in): the overview cards show the API's numbers, drill into a tenant,
//     vendor comparison, open a recommendation's "How it's calculated", track it as an initiative,
//     move it to in progress (and on to succeeded, with realized savings);
//   - as a tenant_admin: only its tenant is reachable, no other tenant id anywhere in the page;
//   - as procurement (pasted token): only the views its role allows, no tenant ids;
//   - a bad token: the sign-in page says so in words.
//
// Every view: the two labels and the "aggregated as of" stamp (in the viewer's time zone) are on
// screen, no console error or CSP violation, and axe-core (vendored, aggregates/web/testdata/axe)
// finds no serious or critical accessibility violation. Every run saves screenshots of the main
// views to .local/screenshots/ (ignored by git); SPENDSTREAM_SCREENSHOTS=1 saves them to
// aggregates/web/screenshots/ instead, the ones the README shows.

const (
	webTZ      = "America/New_York"
	webLabel1  = "Modeled internal approximation based on provider invoices and usage patterns."
	webLabel2  = "Not an invoice. Always validate with finance systems."
	webTimeout = 60 * time.Second
)

// webChromium finds the browser: SPENDSTREAM_CHROMIUM, deploy/local/chromium.sh path, or the PATH.
func webChromium(t *testing.T) string {
	if p := os.Getenv("SPENDSTREAM_CHROMIUM"); p != "" {
		return p
	}
	if out, err := exec.Command("../../deploy/local/chromium.sh", "path").Output(); err == nil {
		if p := strings.TrimSpace(string(out)); p != "" {
			return p
		}
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("SPENDSTREAM_REQUIRE_BROWSER") != "" {
		t.Fatal("SPENDSTREAM_REQUIRE_BROWSER is set but no Chromium was found; run deploy/local/chromium.sh ensure")
	}
	t.Skip("no Chromium (deploy/local/chromium.sh ensure installs Debian's chromium; make test does it and sets SPENDSTREAM_REQUIRE_BROWSER)")
	return ""
}

type webPage struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string // directory for screenshots, "" for none
	// problems collects console errors and CSP violations.
	problems chan string
	// expected matches the console lines of HTTP answers the test provokes on purpose.
	expected atomic.Pointer[regexp.Regexp]
}

// do runs actions, each call bounded by webTimeout.
func (p *webPage) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, webTimeout)
	defer cancel()
	require.NoError(p.t, chromedp.Do(ctx, actions...))
}

func webEval[T any](p *webPage, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, webTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	require.NoError(p.t, err, "evaluate %s", js)
	return v
}

// reset signs out whatever the previous step left, and opens the sign-in page.
func (p *webPage) reset() {
	p.t.Helper()
	p.do(chromedp.Navigate(p.base+"/"), chromedp.Evaluate[chromedp.Void](`sessionStorage.clear()`), chromedp.Navigate(p.base+"/"))
	p.waitView("signin", "")
	p.noProblems("sign-in")
}

// render returns the page's render counter (main[data-render]).
func (p *webPage) render() string {
	return webEval[string](p, `document.querySelector('main').getAttribute('data-render') || ''`)
}

// waitView waits until view is rendered (a render after prev) and ready. Evaluation errors while
// a navigation replaces the document are retried.
func (p *webPage) waitView(view, prev string) {
	p.t.Helper()
	js := fmt.Sprintf(`(() => { const m = document.querySelector('main'); return !!m && m.dataset.view === %q && m.dataset.state !== 'loading' && m.dataset.render !== %q; })()`, view, prev)
	deadline := time.Now().Add(webTimeout)
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			break
		}
		lastErr = err
		if time.Now().After(deadline) {
			state := webEval[string](p, `JSON.stringify(document.querySelector('main').dataset) + ' ' + document.querySelector('main').innerText.slice(0, 400)`)
			p.t.Fatalf("view %s not ready (last error %v; main: %s)", view, lastErr, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(p.t, "ready", webEval[string](p, `document.querySelector('main').dataset.state`), "view %s: %s", view,
		webEval[string](p, `document.querySelector('main').innerText.slice(0, 600)`))
}

// goTo follows a link or control (a real click) and waits for view.
func (p *webPage) clickTo(sel, view string) {
	p.t.Helper()
	prev := p.render()
	p.do(chromedp.Click(chromedp.CSS(sel)))
	p.waitView(view, prev)
}

func (p *webPage) text(sel string) string {
	p.t.Helper()
	return webEval[string](p, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? (e.innerText === undefined ? e.textContent : e.innerText) : ''; })()`, sel))
}

// waitJS polls js (a boolean expression) until it is true.
func (p *webPage) waitJS(what, js string) {
	p.t.Helper()
	deadline := time.Now().Add(webTimeout)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: never true (last error %v; main: %s)", what, err, webEval[string](p, `document.querySelector('main').innerText.slice(0, 600)`))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *webPage) count(sel string) int {
	p.t.Helper()
	return webEval[int](p, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

// visible reports whether sel is in the page and shown (not hidden).
func (p *webPage) visible(sel string) bool {
	p.t.Helper()
	return webEval[bool](p, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.getClientRects().length > 0; })()`, sel))
}

// showMore presses a listing's "Show more" button (a real click) and waits until items (a
// selector) number want; no error is shown meanwhile.
func (p *webPage) showMore(btn, items string, want int) {
	p.t.Helper()
	require.True(p.t, p.visible(btn), "%s is offered", btn)
	p.do(chromedp.Click(chromedp.CSS(btn)))
	p.waitJS(fmt.Sprintf("%s: %d %s", btn, want, items), fmt.Sprintf(`document.querySelectorAll(%q).length === %d && document.querySelector(%q).getAttribute('aria-disabled') === null`, items, want, btn))
	require.Zero(p.t, p.count("main .msg.error"), "%s: %s", btn, p.text("main .msg.error"))
}

// hashTo sets the URL's fragment (as a pasted or bookmarked link would) and waits for view.
func (p *webPage) hashTo(hash, view string) {
	p.t.Helper()
	prev := p.render()
	p.do(chromedp.Evaluate[chromedp.Void](`location.hash = ` + fmt.Sprintf("%q", hash)))
	p.waitView(view, prev)
}

// fetched reports whether the page requested a URL containing part since the last
// performance.clearResourceTimings().
func (p *webPage) fetched(part string) bool {
	p.t.Helper()
	return webEval[bool](p, fmt.Sprintf(`performance.getEntriesByType('resource').some(e => e.name.includes(%q))`, part))
}

// chrome checks what every view shows: both labels visible, the as-of stamp in the viewer's time
// zone, and no console error or CSP violation so far.
func (p *webPage) chrome(view string) {
	p.t.Helper()
	type labelsState struct {
		Labels  []string `json:"labels"`
		Visible bool     `json:"visible"`
		AsOf    string   `json:"asof"`
		TZ      string   `json:"tz"`
		Text    string   `json:"text"`
	}
	st := webEval[labelsState](p, `(() => {
		const lis = [...document.querySelectorAll('#labels li')];
		const vis = lis.every(li => { const r = li.getBoundingClientRect(); return r.width > 0 && r.height > 0 && r.top >= 0 && r.bottom <= innerHeight; });
		const a = document.querySelector('#asof');
		return {labels: lis.map(li => li.innerText.trim()), visible: vis, asof: a.getAttribute('datetime') || '', tz: a.dataset.tz || '', text: a.innerText};
	})()`)
	require.Equal(p.t, []string{webLabel1, webLabel2}, st.Labels, "%s: the two labels", view)
	require.True(p.t, st.Visible, "%s: the labels are on screen", view)
	require.NotEmpty(p.t, st.AsOf, "%s: aggregated-as-of stamp", view)
	asOf, err := time.Parse(time.RFC3339, st.AsOf)
	require.NoError(p.t, err, "%s: as-of %q", view, st.AsOf)
	require.WithinDuration(p.t, time.Now(), asOf, 15*time.Minute, "%s: as-of stamp", view)
	require.Equal(p.t, webTZ, st.TZ, "%s: the stamp is in the viewer's time zone", view)
	loc, err := time.LoadLocation(webTZ)
	require.NoError(p.t, err)
	require.Contains(p.t, st.Text, asOf.In(loc).Format("3:04:05 PM"), "%s: stamp %q shows the %s time", view, st.Text, webTZ)
	p.noProblems(view)
}

func (p *webPage) noProblems(view string) {
	p.t.Helper()
	for {
		select {
		case m := <-p.problems:
			p.t.Errorf("%s: browser console: %s", view, m)
		default:
			return
		}
	}
}

// noTick checks nothing on the page changes by itself: the main figures' text is the same a few
// seconds later (no ticking counters, no auto-refresh).
func (p *webPage) noTick(view string) {
	p.t.Helper()
	before := webEval[string](p, `document.querySelector('main').innerText + document.querySelector('#asof').innerText`)
	p.do(chromedp.Sleep(2500 * time.Millisecond))
	after := webEval[string](p, `document.querySelector('main').innerText + document.querySelector('#asof').innerText`)
	require.Equal(p.t, before, after, "%s: the page changed by itself", view)
}

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axe runs axe-core in the page (every <details> opened, so tables and explanations are audited
// too) and fails on serious or critical violations.
func (p *webPage) axe(view string) {
	p.t.Helper()
	if !webEval[bool](p, `typeof window.axe === 'object'`) {
		src, err := os.ReadFile("../../aggregates/web/testdata/axe/axe.min.js")
		require.NoError(p.t, err, "the vendored axe-core")
		p.do(chromedp.Evaluate[chromedp.Void](string(src)))
		// A canary: the audit must catch a button without a name, or it audits nothing.
		canary := webEval[[]string](p, `(async () => {
			const c = document.createElement('div');
			c.id = 'axe-canary';
			c.append(document.createElement('button'));
			document.body.append(c);
			try {
				const r = await axe.run('#axe-canary', {runOnly: ['button-name']});
				return r.violations.map(v => v.id + ':' + v.impact);
			} finally { c.remove(); }
		})()`)
		require.Contains(p.t, canary, "button-name:critical", "axe-core runs in the page")
	}
	js := `(async () => {
		const closed = [...document.querySelectorAll('details:not([open])')];
		closed.forEach(d => d.open = true);
		try {
			const r = await axe.run(document, {resultTypes: ['violations']});
			return r.violations.map(v => ({id: v.id, impact: v.impact || '', help: v.help,
				nodes: v.nodes.slice(0, 4).map(n => n.target.join(' ') + ' — ' + (n.failureSummary || '').replace(/\s+/g, ' '))}));
		} finally {
			closed.forEach(d => d.open = false);
		}
	})()`
	vs, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]axeViolation](js, chromedp.EvalAwaitPromise))
	require.NoError(p.t, err)
	for _, v := range vs {
		msg := fmt.Sprintf("%s: axe %s (%s): %s %v", view, v.ID, v.Impact, v.Help, v.Nodes)
		if v.Impact == "serious" || v.Impact == "critical" {
			p.t.Error(msg)
		} else {
			p.t.Log(msg)
		}
	}
}

// keyboard presses Tab through the view: every interactive element must receive the focus, each
// with a visible focus indicator (an outline or a box shadow).
func (p *webPage) keyboard(view string) {
	p.t.Helper()
	n := webEval[int](p, `(() => {
		const sel = 'a[href], button, select, input, textarea, summary, [tabindex]:not([tabindex="-1"])';
		const folded = (e) => { const d = e.closest('details:not([open])'); return d && !(e.tagName === 'SUMMARY' && e.parentElement === d); };
		const els = [...document.querySelectorAll(sel)].filter(e => e.getClientRects().length && !e.closest('[hidden]') && !e.disabled && !folded(e));
		els.forEach((e, i) => e.setAttribute('data-kb', i));
		window.__kb = {seen: [], noring: []};
		if (window.__kbListener) document.removeEventListener('focusin', window.__kbListener);
		window.__kbListener = (ev) => {
			const e = ev.target;
			if (!e.hasAttribute || !e.hasAttribute('data-kb')) return;
			window.__kb.seen.push(e.getAttribute('data-kb'));
			if (window.__kb.programmatic) return; // :focus-visible is for keyboard focus
			const cs = getComputedStyle(e);
			if ((cs.outlineStyle === 'none' || parseFloat(cs.outlineWidth) === 0) && cs.boxShadow === 'none') window.__kb.noring.push(e.outerHTML.slice(0, 100));
		};
		document.addEventListener('focusin', window.__kbListener);
		// Start where a keyboard user starts: the first element of the page (the skip link).
		window.__kb.programmatic = true;
		els[0].focus();
		window.__kb.programmatic = false;
		return els.length;
	})()`)
	require.Positive(p.t, n, "%s: interactive elements", view)
	keys := make([]chromedp.Action[chromedp.Void], 0, n+1)
	for range n + 1 {
		keys = append(keys, chromedp.KeyEvent(kb.Tab))
	}
	// Some controls take several Tab stops (the fields of a date input): press on until every
	// element was reached, a few rounds at most.
	for round := 0; round < 4; round++ {
		p.do(keys...)
		missing := webEval[int](p, `(() => { const seen = new Set(window.__kb.seen); return [...document.querySelectorAll('[data-kb]')].filter(e => !seen.has(e.getAttribute('data-kb'))).length; })()`)
		if missing == 0 {
			break
		}
	}
	type kbResult struct {
		Missing []string `json:"missing"`
		NoRing  []string `json:"noring"`
	}
	res := webEval[kbResult](p, `(() => {
		const seen = new Set(window.__kb.seen);
		const missing = [...document.querySelectorAll('[data-kb]')].filter(e => !seen.has(e.getAttribute('data-kb'))).map(e => e.outerHTML.slice(0, 100));
		document.removeEventListener('focusin', window.__kbListener);
		document.querySelectorAll('[data-kb]').forEach(e => e.removeAttribute('data-kb'));
		if (document.activeElement) document.activeElement.blur();
		scrollTo(0, 0);
		return {missing, noring: [...new Set(window.__kb.noring)]};
	})()`)
	require.Empty(p.t, res.Missing, "%s: not reachable with Tab", view)
	require.Empty(p.t, res.NoRing, "%s: no visible focus indicator", view)
}

func (p *webPage) shot(name string) {
	p.t.Helper()
	if p.shots == "" {
		return
	}
	p.do(chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`), chromedp.Sleep(150*time.Millisecond))
	buf, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	require.NoError(p.t, err)
	require.NoError(p.t, os.WriteFile(filepath.Join(p.shots, name+".png"), buf, 0o644))
}

// audit is everything checked on each view.
func (p *webPage) audit(view string) {
	p.t.Helper()
	p.chrome(view)
	p.keyboard(view)
	p.axe(view)
}

// webAPI GETs an API path with token and decodes it with json.Number (the exact decimal text the
// server wrote). It returns the status and the ETag.
func webAPI(t *testing.T, base, token, path string, out any) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		dec := json.NewDecoder(resp.Body)
		dec.UseNumber()
		require.NoError(t, dec.Decode(out), path)
	}
	return resp.StatusCode, resp.Header.Get("ETag")
}

// usd formats an exact decimal as en-US currency to the cent, rounding half away from zero (as
// Intl.NumberFormat does), e.g. "1234.565" → "$1,234.57".
func usd(dec string) string {
	r, ok := new(big.Rat).SetString(dec)
	if !ok {
		return "?" + dec
	}
	s := r.FloatString(2)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := "$" + b.String() + "." + frac
	if neg {
		out = "-" + out
	}
	return out
}

// webMoney is what the page shows of one figure: its text and its exact value.
type webMoney struct {
	Text  string `json:"text"`
	Exact string `json:"exact"`
}

// matchAPI compares the page's figures with the API's, for the same data: the page's primary
// response stamp (main[data-asof]) must equal the API's aggregated_as_of. Cost models are cached
// for a few seconds, so the test's request normally gets the very model the page showed; when the
// data moved on between the two, the page is refreshed and compared again.
func (p *webPage) matchAPI(view, token, path string, compare func(env map[string]any) error) {
	p.t.Helper()
	var last error
	for attempt := 0; attempt < 6; attempt++ {
		var env map[string]any
		code, _ := webAPI(p.t, p.base, token, path, &env)
		require.Equal(p.t, http.StatusOK, code, path)
		pageAsOf := webEval[string](p, `document.querySelector('main').getAttribute('data-asof') || ''`)
		apiAsOf, _ := env["aggregated_as_of"].(string)
		if pageAsOf == apiAsOf {
			if last = compare(env); last == nil {
				return
			}
		} else {
			last = fmt.Errorf("page data as of %s, API as of %s", pageAsOf, apiAsOf)
		}
		p.t.Logf("%s: page and API not on the same data yet (%v); refreshing", view, last)
		p.clickTo("#refresh", view)
	}
	p.t.Fatalf("%s: the page never showed the API's figures: %v", view, last)
}

// jget walks a decoded JSON value: keys for objects, ints for arrays.
func jget(v any, path ...any) any {
	for _, k := range path {
		switch k := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func jstr(v any, path ...any) string {
	switch x := jget(v, path...).(type) {
	case json.Number:
		return x.String()
	case string:
		return x
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

// checkMoney compares a shown figure with the API's exact decimal.
func checkMoney(what string, got webMoney, exact string) error {
	if got.Exact != exact {
		return fmt.Errorf("%s: page exact %q, API %q", what, got.Exact, exact)
	}
	if got.Text != usd(exact) {
		return fmt.Errorf("%s: page shows %q, want %q (API %s)", what, got.Text, usd(exact), exact)
	}
	return nil
}

var webExpectedStatus = regexp.MustCompile(`^Failed to load resource: the server responded with a status of (401|403|404|409|412) `)

var webTenantIDRe = regexp.MustCompile(`\bt-\d{3}\b`)

// otherTenants returns the tenant ids other than own anywhere in the page's DOM (text and
// attributes) and in the URL.
func (p *webPage) otherTenants(own string) []string {
	p.t.Helper()
	dom := webEval[string](p, `document.documentElement.outerHTML + ' ' + location.href + ' ' + document.title`)
	var out []string
	for _, id := range webTenantIDRe.FindAllString(dom, -1) {
		if id != own {
			out = append(out, id)
		}
	}
	return out
}

func (p *webPage) navIDs() []string {
	return webEval[[]string](p, `[...document.querySelectorAll('#nav a')].map(a => a.id.replace('nav-', ''))`)
}

func (p *webPage) signInDemo(role, tenant, view string) {
	p.t.Helper()
	prev := p.render()
	p.do(chromedp.WaitVisible(chromedp.CSS("#demo-role")), chromedp.SetValue(chromedp.CSS("#demo-role"), role),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#demo-role').dispatchEvent(new Event('change'))`))
	if tenant != "" {
		p.do(chromedp.WaitVisible(chromedp.CSS("#demo-tenant")), chromedp.SetValue(chromedp.CSS("#demo-tenant"), tenant))
	}
	p.do(chromedp.Click(chromedp.CSS("#demo-signin")))
	p.waitView(view, prev)
}

func (p *webPage) signOut() {
	p.t.Helper()
	prev := p.render()
	p.do(chromedp.Click(chromedp.CSS("#signout")))
	p.waitView("signin", prev)
}

func (p *webPage) token() string {
	return webEval[string](p, `sessionStorage.getItem('spendstream.token') || ''`)
}

// newWebPage starts headless Chromium (one tab, 1280×1000, en-US, the viewer in webTZ) for base.
// scriptedWebPage serves the page in front of mux (a scripted API), opens it at the sign-in view
// and expects failed loads with the given statuses ("403|404") in the console.
func scriptedWebPage(t *testing.T, browser string, mux *http.ServeMux, statuses string) *webPage {
	t.Helper()
	mux.Handle("/", web.New(web.Config{}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p := newWebPage(t, browser, srv.URL)
	p.expected.Store(regexp.MustCompile(`^Failed to load resource: the server responded with a status of (` + statuses + `) `))
	p.do(chromedp.Navigate(srv.URL + "/"))
	p.waitView("signin", "")
	return p
}

func newWebPage(t *testing.T, browser, base string) *webPage {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.Flag("lang", "en-US"), chromedp.WindowSize(1280, 1000))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	require.NoError(t, chromedp.Do(bctx), "start %s", browser)
	p := &webPage{t: t, ctx: bctx, base: base, problems: make(chan string, 100)}
	p.expected.Store(webExpectedStatus)
	p.shots = "../../.local/screenshots"
	if os.Getenv("SPENDSTREAM_SCREENSHOTS") != "" {
		p.shots = "../../aggregates/web/screenshots"
	}
	require.NoError(t, os.MkdirAll(p.shots, 0o755))
	console := chromedp.Console(bctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			// The API's 401, 403, 404, 409 and 412 answers are expected here (a refused token; the
			// page asks what a role may see; a link to a recommendation no longer listed; a stale
			// ETag); Chromium logs every 4xx resource as an error.
			if p.expected.Load().MatchString(m.Text) {
				continue
			}
			if m.IsException() || m.Type == chromedp.ConsoleError || strings.Contains(m.Text, "Content Security Policy") {
				select {
				case p.problems <- string(m.Type) + ": " + m.String():
				default:
				}
			}
		}
	}()
	_, err := chromedp.Call(bctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: webTZ})
	require.NoError(t, err)
	_, err = chromedp.Call(bctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
	require.NoError(t, err)
	_, err = chromedp.Call(bctx, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "en_US"})
	require.NoError(t, err)
	p.do(chromedp.EmulateViewport(1280, 1000))
	tctx, tcancel := context.WithTimeout(bctx, 4*time.Minute)
	t.Cleanup(tcancel)
	p.ctx = tctx
	return p
}

func TestWebJourney(t *testing.T) {
	browser := webChromium(t)
	stack := newE2E(t, "e2e_web")
	base := stack.base
	stack.run(t,
		"--price-list", "../../deploy/pricelist.example.yaml", "--demo", "--demo-tenants", "16",
		"--demo-backfill", "72h", "--recommend-lookback-days", "2", "--cost-cache-ttl", "10s", "--log-level", "error")

	// The page is served with its headers; other paths keep the API's JSON 404.
	resp, err := http.Get(base + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'; script-src 'self'")
	resp, err = http.Get(base + "/no-such-page")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))

	// Wait for the demo history: a consolidate_vps recommendation exists.
	require.Eventually(t, func() bool {
		var env map[string]any
		code, _ := webAPI(t, base, testToken, "/v1/recommendations?kind=consolidate_vps", &env)
		return code == http.StatusOK && jget(env, "data", "items", 0) != nil
	}, 120*time.Second, time.Second, "no consolidate_vps recommendation in the demo")

	p := newWebPage(t, browser, base)
	// Sign-in page: the labels are there before any figure.
	p.do(chromedp.Navigate(base + "/"))
	p.waitView("signin", "")
	require.Equal(t, []string{webLabel1, webLabel2}, webEval[[]string](p, `[...document.querySelectorAll('#labels li')].map(li => li.innerText.trim())`))
	p.axe("sign-in")
	p.keyboard("sign-in")
	p.shot("sign-in")

	// A token the API refuses: said in words, back on the sign-in page.
	p.do(chromedp.SendKeys(chromedp.CSS("#token"), "not-a-valid-token"))
	prev := p.render()
	p.do(chromedp.Click(chromedp.CSS("#token-signin")))
	p.waitView("signin", prev)
	require.Contains(t, p.text("#signin-error"), "Your sign-in is no longer accepted")
	require.Empty(t, p.token())

	t.Run("cfo", func(t *testing.T) { webCFO(t, p) })
	t.Run("tenant_admin", func(t *testing.T) { webTenantAdmin(t, p) })
	t.Run("procurement", func(t *testing.T) { webProcurement(t, p) })
	t.Run("ops", func(t *testing.T) { webOps(t, p) })
}

func webOps(t *testing.T, p *webPage) {
	p.t = t
	p.reset()
	p.signInDemo("ops", "", "recommendations")
	require.Equal(t, []string{"recommendations"}, p.navIDs(), "ops sees no cost views")
	require.NotZero(t, webEval[int](p, `document.querySelectorAll('#rec-list article').length`))
	require.Zero(t, webEval[int](p, `document.querySelectorAll('#rec-list article[data-kind="adjust_tenant_plan"]').length`), "no tenant-plan findings without costs:by_tenant")
	require.False(t, webEval[bool](p, `!!document.querySelector('button.track')`), "no initiative actions for ops")
	require.Empty(t, p.otherTenants(""), "ops sees no tenant attribution")
	p.audit("ops recommendations")
	p.signOut()
}

func webCFO(t *testing.T, p *webPage) {
	p.t = t
	p.reset()
	p.signInDemo("cfo", "", "overview")
	tok := p.token()
	require.NotEmpty(t, tok)
	require.Equal(t, []string{"overview", "breakdowns", "tenants", "vendors", "recommendations", "initiatives"}, p.navIDs())
	require.Contains(t, p.text("#who"), "CFO")

	// Overview cards: the API's numbers, shown to the cent, exact in data-exact.
	type overviewPage struct {
		Monthly   webMoney   `json:"monthly"`
		Savings   []webMoney `json:"savings"`
		Tenants   []string   `json:"tenants"`
		TenantsM  []webMoney `json:"tenants_money"`
		Vendors   []string   `json:"vendors"`
		VendorsM  []webMoney `json:"vendors_money"`
		HowMonth  string     `json:"how_monthly"`
		Under     int        `json:"under"`
		UnderRest string     `json:"under_rest"`
		UnderLink string     `json:"under_link"`
	}
	readOverview := func() overviewPage {
		return webEval[overviewPage](p, `(() => {
			const m = (el) => ({text: el.innerText.trim(), exact: el.dataset.exact});
			const all = (sel) => [...document.querySelectorAll(sel)];
			return {
				monthly: m(document.querySelector('#card-monthly .big .money')),
				savings: all('#card-savings .big .money').map(m),
				tenants: all('#top-tenants li > :first-child').map(e => e.innerText.trim()),
				tenants_money: all('#top-tenants li .money').map(m),
				vendors: all('#top-vendors li > :first-child').map(e => e.innerText.trim()),
				vendors_money: all('#top-vendors li .money').map(m),
				how_monthly: document.querySelector('#card-monthly details.how').textContent,
				under: all('#underutilized li').length,
				under_rest: (document.querySelector('#under-rest') || {innerText: ''}).innerText,
				under_link: (document.querySelector('#under-more') || {}).hash || '',
			};
		})()`)
	}
	p.matchAPI("overview", tok, "/v1/costs/overview", func(env map[string]any) error {
		got := readOverview()
		d := jget(env, "data")
		if err := checkMoney("estimated monthly spend", got.Monthly, jstr(d, "estimated_monthly_spend", "amount")); err != nil {
			return err
		}
		if len(got.Savings) != 2 {
			return fmt.Errorf("savings range: %d figures shown", len(got.Savings))
		}
		if err := checkMoney("savings low", got.Savings[0], jstr(d, "estimated_savings", "low")); err != nil {
			return err
		}
		if err := checkMoney("savings high", got.Savings[1], jstr(d, "estimated_savings", "high")); err != nil {
			return err
		}
		tops, _ := jget(d, "top_tenants").([]any)
		if len(tops) == 0 || len(tops) != len(got.Tenants) {
			return fmt.Errorf("top tenants: page %v, API %d", got.Tenants, len(tops))
		}
		for i := range tops {
			if got.Tenants[i] != jstr(tops[i], "key") {
				return fmt.Errorf("top tenant %d: page %s, API %s", i, got.Tenants[i], jstr(tops[i], "key"))
			}
			if err := checkMoney("tenant "+got.Tenants[i], got.TenantsM[i], jstr(tops[i], "cost")); err != nil {
				return err
			}
		}
		vendors, _ := jget(d, "top_vendors").([]any)
		if len(vendors) == 0 || len(vendors) != len(got.Vendors) {
			return fmt.Errorf("top vendors: page %v, API %d", got.Vendors, len(vendors))
		}
		for i := range vendors {
			if got.Vendors[i] != jstr(vendors[i], "key") {
				return fmt.Errorf("top vendor %d: page %s, API %s", i, got.Vendors[i], jstr(vendors[i], "key"))
			}
			if err := checkMoney("vendor "+got.Vendors[i], got.VendorsM[i], jstr(vendors[i], "cost")); err != nil {
				return err
			}
		}
		if !strings.Contains(got.HowMonth, jstr(d, "estimated_monthly_spend", "how_calculated", "method")) {
			return fmt.Errorf("how it's calculated of the monthly spend: %q", got.HowMonth)
		}
		if under, _ := jget(d, "underutilized_resources").([]any); got.Under != min(len(under), 5) {
			return fmt.Errorf("underutilized: page %d, API %d", got.Under, len(under))
		}
		// The API lists the largest few and counts them all: the rest are named, with a link.
		all, err := strconv.Atoi(jstr(d, "underutilized_count"))
		if err != nil || all < got.Under {
			return fmt.Errorf("underutilized_count %q, %d shown", jstr(d, "underutilized_count"), got.Under)
		}
		if rest := all - got.Under; rest > 0 {
			if want := fmt.Sprintf("%d more on the Recommendations view", rest); !strings.Contains(got.UnderRest, want) || got.UnderLink != "#/recommendations?kind=consolidate_vps" {
				return fmt.Errorf("underutilized: %q (link %q), want %q", got.UnderRest, got.UnderLink, want)
			}
		} else if got.UnderRest != "" {
			return fmt.Errorf("underutilized: all %d shown, yet %q", all, got.UnderRest)
		}
		return nil
	})
	p.noTick("overview")
	p.audit("overview")
	p.shot("overview")

	// Breakdowns: by provider, with the chart's text alternative.
	p.clickTo("#nav-breakdowns", "breakdowns")
	p.audit("breakdowns")
	prev := p.render()
	p.do(chromedp.SetValue(chromedp.CSS("#group-by"), "provider"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#group-by').dispatchEvent(new Event('change'))`))
	p.waitView("breakdowns", prev)
	p.matchAPI("breakdowns", tok, "/v1/costs/breakdown?by=provider&step=1d", func(env map[string]any) error {
		groups, _ := jget(env, "data", "groups").([]any)
		desc := p.text("#chart-groups desc")
		if len(groups) == 0 {
			return errors.New("no provider groups")
		}
		for _, g := range groups {
			want := jstr(g, "key") + ": " + usd(jstr(g, "cost"))
			if !strings.Contains(desc, want) {
				return fmt.Errorf("chart text alternative %q lacks %q", desc, want)
			}
		}
		// groups is a page: the table lists it, "Show more" is offered while there is a next one.
		if rows := p.count("#panel-groups .table-wrap tbody tr"); rows != len(groups) {
			return fmt.Errorf("groups table: page %d rows, API %d", rows, len(groups))
		}
		if next := jstr(env, "data", "next_cursor"); p.visible("#groups-more") != (next != "") {
			return fmt.Errorf("show more groups offered: %v, next_cursor %q", p.visible("#groups-more"), next)
		}
		return nil
	})
	require.Equal(t, "img", webEval[string](p, `document.querySelector('#chart-time').getAttribute('role')`))
	p.audit("breakdowns by provider")
	p.shot("breakdowns")

	// The tenant ranking is the API's first page, counted with group_count, and "Show more
	// tenants" is offered while the API names a next page (the demo's tenants fit one page).
	p.clickTo("#nav-tenants", "tenants")
	p.matchAPI("tenants", tok, "/v1/costs/breakdown?by=tenant&step=total", func(env map[string]any) error {
		groups, _ := jget(env, "data", "groups").([]any)
		all, next := jstr(env, "data", "group_count"), jstr(env, "data", "next_cursor")
		if rows := p.count("#tenant-table tbody tr"); rows != len(groups) || len(groups) == 0 {
			return fmt.Errorf("tenant ranking: page %d rows, API %d", rows, len(groups))
		}
		if p.visible("#tenants-more") != (next != "") {
			return fmt.Errorf("show more tenants offered: %v, next_cursor %q", p.visible("#tenants-more"), next)
		}
		want := "All " + all + " tenants shown"
		if next != "" {
			want = fmt.Sprintf("%d of %s tenants shown", len(groups), all)
		}
		if got := p.text("#tenants-shown"); !strings.Contains(got, want) {
			return fmt.Errorf("tenant count: page %q, want %q", got, want)
		}
		return nil
	})
	p.audit("tenants")

	// Drill into the costliest tenant from the overview's key drivers.
	p.clickTo("#nav-overview", "overview")
	tenant := webEval[string](p, `document.querySelector('#top-tenants a[data-tenant]').dataset.tenant`)
	p.clickTo("#top-tenants a[data-tenant]", "tenants")
	require.Equal(t, "Tenant "+tenant, p.text("#view-title"))
	p.matchAPI("tenant", tok, "/v1/tenants/"+tenant+"/costs", func(env map[string]any) error {
		got := webEval[webMoney](p, `(() => { const e = document.querySelector('#card-tenant-total .big .money'); return {text: e.innerText.trim(), exact: e.dataset.exact}; })()`)
		if err := checkMoney("tenant total", got, jstr(env, "data", "total")); err != nil {
			return err
		}
		rows := webEval[int](p, `document.querySelectorAll('#tenant-resources tbody tr').length`)
		if res, _ := jget(env, "data", "resources").([]any); rows != len(res) {
			return fmt.Errorf("tenant resources: page %d rows, API %d", rows, len(res))
		}
		return nil
	})
	p.audit("tenant")
	p.shot("tenant")

	// Vendor comparison: email, then VPS.
	p.clickTo("#nav-vendors", "vendors")
	p.matchAPI("vendors", tok, "/v1/vendors/compare?kind=email", func(env map[string]any) error {
		em, _ := jget(env, "data", "email").([]any)
		shown := webEval[[]string](p, `[...document.querySelectorAll('#vendor-table tbody tr')].map(tr => tr.innerText)`)
		if len(shown) != len(em) || len(em) == 0 {
			return fmt.Errorf("email vendors: page %d, API %d", len(shown), len(em))
		}
		for i, v := range em {
			if !strings.HasPrefix(shown[i], jstr(v, "provider")) || !strings.Contains(shown[i], usd(jstr(v, "cost_per_thousand_delivered"))) {
				return fmt.Errorf("vendor row %q lacks %s / %s", shown[i], jstr(v, "provider"), usd(jstr(v, "cost_per_thousand_delivered")))
			}
		}
		return nil
	})
	p.audit("vendors (email)")
	p.shot("vendors")
	p.clickTo("#vendors-vps", "vendors")
	require.NotEmpty(t, webEval[int](p, `document.querySelectorAll('#vendor-table tbody tr').length`))
	p.audit("vendors (vps)")

	// Recommendations: open the first VPS consolidation's "How it's calculated".
	p.clickTo("#nav-recommendations", "recommendations")
	recID := webEval[string](p, `document.querySelector('#rec-list article[data-kind="consolidate_vps"]').id.replace(/^rec-/, '')`)
	require.NotEmpty(t, recID)
	art := "#rec-" + recID
	p.matchAPI("recommendations", tok, "/v1/recommendations", func(env map[string]any) error {
		items, _ := jget(env, "data", "items").([]any)
		for _, it := range items {
			if jstr(it, "id") != recID {
				continue
			}
			how := webEval[string](p, fmt.Sprintf(`document.querySelector(%q).textContent`, art+" details.how"))
			if m := jstr(it, "how_calculated", "method"); !strings.Contains(how, m) {
				return fmt.Errorf("how it's calculated shows %q, API method %q", how, m)
			}
			if !strings.Contains(p.text(art), usd(jstr(it, "savings_monthly", "low"))) {
				return fmt.Errorf("savings range of %s not shown", recID)
			}
			// The heading counts the whole listing (count), not the page.
			if got := webEval[string](p, `document.querySelector('#recs-summary-h').dataset.count`); got != jstr(env, "data", "count") {
				return fmt.Errorf("recommendations counted %s, API count %s", got, jstr(env, "data", "count"))
			}
			if n := p.count("#rec-list article"); n != len(items) {
				return fmt.Errorf("recommendations: page %d, API page %d", n, len(items))
			}
			if next := jstr(env, "data", "next_cursor"); p.visible("#recs-more") != (next != "") {
				return fmt.Errorf("show more recommendations offered: %v, next_cursor %q", p.visible("#recs-more"), next)
			}
			return nil
		}
		return fmt.Errorf("recommendation %s not in the API's list", recID)
	})
	// Open its "How it's calculated" and its rationale, as a reader would.
	p.do(chromedp.Click(chromedp.CSS(art+" details.how summary")), chromedp.Click(chromedp.CSS(art+" details.more summary")))
	require.True(t, webEval[bool](p, fmt.Sprintf(`document.querySelector(%q).open`, art+" details.how")))
	require.True(t, webEval[bool](p, fmt.Sprintf(`document.querySelector(%q).getBoundingClientRect().height > 0`, art+" details.how dl")), "the explanation is on screen")
	p.audit("recommendations")
	p.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).scrollIntoView({block: 'start'}); scrollBy(0, -150)`, art)))
	p.shot("recommendations")

	// Track it as an initiative.
	p.do(chromedp.Click(chromedp.CSS(art+" button.track")), chromedp.WaitVisible(chromedp.CSS(art+" form.inline-form")),
		chromedp.SendKeys(chromedp.CSS("#rec-"+recID+"-owner"), "cfo-office"),
		chromedp.Click(chromedp.CSS(art+" button.create")),
		chromedp.WaitVisible(chromedp.CSS(art+" a.open-initiative")))
	require.Contains(t, p.text(art+" .actions"), "Tracked as an initiative: Proposed")
	var inits map[string]any
	code, _ := webAPI(t, p.base, tok, "/v1/initiatives", &inits)
	require.Equal(t, http.StatusOK, code)
	list, _ := jget(inits, "data").([]any)
	require.Len(t, list, 1)
	require.Equal(t, recID, jstr(list[0], "recommendation_id"))
	require.Equal(t, "proposed", jstr(list[0], "status"))
	require.Equal(t, "cfo-office", jstr(list[0], "owner"))
	iniID := jstr(list[0], "id")

	// Move it to in progress (PATCH with If-Match from the ETag).
	p.clickTo(art+" a.open-initiative", "initiatives")
	require.Equal(t, "proposed", webEval[string](p, `document.querySelector('#initiative-status').dataset.status`))
	p.audit("initiative")
	p.do(chromedp.Click(chromedp.CSS(`#panel-ini button[data-to="in_progress"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#initiative-status[data-status="in_progress"]`)))
	var ini map[string]any
	code, etag := webAPI(t, p.base, tok, "/v1/initiatives/"+iniID, &ini)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "in_progress", jstr(ini, "data", "status"))
	require.NotEmpty(t, jstr(ini, "data", "changed_at"))
	require.Contains(t, webEval[string](p, `document.querySelector("#history li").dataset.fields`), "status:proposed>in_progress")
	require.Contains(t, p.text("#history"), "status Proposed → In progress")
	p.chrome("initiative in progress")
	p.shot("initiative")

	// A stale ETag: someone else changes the initiative; the page says so and shows the new state.
	req, err := http.NewRequest(http.MethodPatch, p.base+"/v1/initiatives/"+iniID, bytes.NewReader([]byte(`{"notes":"changed elsewhere"}`)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("If-Match", etag)
	r2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r2.Body.Close()
	require.Equal(t, http.StatusOK, r2.StatusCode)
	p.do(chromedp.Click(chromedp.CSS(`#panel-ini button[data-to="succeeded"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#initiative-msg .msg.error`)))
	require.Contains(t, p.text("#initiative-msg"), "Someone else changed this initiative")
	require.Equal(t, "changed elsewhere", webEval[string](p, `document.querySelector('#ini-notes').value`))

	// Record when the change was made (yesterday, in the viewer's time zone), then mark it
	// succeeded: realized savings appear, as the API computes them.
	loc, err := time.LoadLocation(webTZ)
	require.NoError(t, err)
	changed := time.Now().Add(-26 * time.Hour).In(loc).Truncate(time.Minute)
	p.do(chromedp.SetValue(chromedp.CSS("#ini-changed"), changed.Format("2006-01-02T15:04")),
		chromedp.Click(chromedp.CSS("#ini-save")),
		chromedp.WaitVisible(chromedp.CSS(`#initiative-msg .msg.ok`)))
	code, _ = webAPI(t, p.base, tok, "/v1/initiatives/"+iniID, &ini)
	require.Equal(t, http.StatusOK, code)
	gotChanged, err := time.Parse(time.RFC3339, jstr(ini, "data", "changed_at"))
	require.NoError(t, err)
	require.True(t, gotChanged.Equal(changed), "changed_at %s, want %s", gotChanged, changed.UTC())
	p.do(chromedp.Click(chromedp.CSS(`#panel-ini button[data-to="succeeded"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#initiative-status[data-status="succeeded"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#realized-monthly .money`)))
	code, _ = webAPI(t, p.base, tok, "/v1/initiatives/"+iniID, &ini)
	require.Equal(t, http.StatusOK, code)
	realized := webEval[webMoney](p, `(() => { const e = document.querySelector('#realized-monthly .money'); return {text: e.innerText.trim(), exact: e.dataset.exact}; })()`)
	require.NoError(t, checkMoney("realized monthly savings", realized, jstr(ini, "data", "realized_savings", "saved_monthly")))
	require.Empty(t, webEval[int](p, `document.querySelectorAll('#panel-ini button[data-to]').length`), "a succeeded initiative is closed")
	p.audit("initiative succeeded")
	p.shot("initiative-succeeded")

	p.clickTo("#nav-initiatives", "initiatives")
	require.Contains(t, p.text("#initiative-table"), "Succeeded")
	p.audit("initiatives")

	// A link to a recommendation the list does not show (here: of another kind than the one
	// chosen) opens it on its own, GET /v1/recommendations/{id}; one not in the listing is said so.
	p.do(chromedp.Evaluate[chromedp.Void](`performance.clearResourceTimings()`))
	p.hashTo("#/recommendations/"+recID+"?kind=adjust_commitment", "recommendations")
	require.True(t, p.fetched("/v1/recommendations/"+recID), "GET /v1/recommendations/%s", recID)
	require.True(t, webEval[bool](p, fmt.Sprintf(`document.querySelector(%q).classList.contains('focus')`, art)), "the linked recommendation is shown, focused")
	require.Contains(t, p.text("#rec-linked"), "not of the kind chosen")
	require.Zero(t, p.count("#rec-missing"))
	p.audit("linked recommendation")
	p.hashTo("#/recommendations/rec_0000000000000000", "recommendations")
	require.Contains(t, p.text("#rec-missing"), "That recommendation is not in your list")
	p.chrome("recommendation not listed")
	p.signOut()
	require.Empty(t, p.token())
}

func webTenantAdmin(t *testing.T, p *webPage) {
	p.t = t
	p.reset()
	const own = "t-003"
	p.signInDemo("tenant_admin", own, "tenants")
	tok := p.token()
	require.Equal(t, []string{"tenants"}, p.navIDs(), "a tenant_admin sees its tenant only")
	require.Equal(t, "Tenant "+own, p.text("#view-title"))
	require.Empty(t, p.otherTenants(own), "no other tenant id in the page")
	p.matchAPI("tenant_admin", tok, "/v1/tenants/"+own+"/costs", func(env map[string]any) error {
		got := webEval[string](p, `document.querySelector('#card-tenant-total .big .money').dataset.exact`)
		if got != jstr(env, "data", "total") {
			return fmt.Errorf("tenant total: page %s, API %s", got, jstr(env, "data", "total"))
		}
		return nil
	})
	p.audit("tenant_admin")
	p.shot("tenant-admin")

	// The sign-in lasts the browser tab: a reload keeps it.
	prev := p.render()
	p.do(chromedp.Reload())
	p.waitView("tenants", prev)
	require.Equal(t, "Tenant "+own, p.text("#view-title"))

	// Cross-tenant views and other tenants are not reachable: the page falls back to its tenant.
	for _, hash := range []string{"#/overview", "#/tenants/t-001", "#/recommendations", "#/vendors", "#/initiatives", "#/breakdowns?by=tenant"} {
		prev = p.render()
		p.do(chromedp.Evaluate[chromedp.Void](`location.hash = ` + fmt.Sprintf("%q", hash)))
		p.waitView("tenants", prev)
		require.Equal(t, "Tenant "+own, p.text("#view-title"), hash)
		require.Empty(t, p.otherTenants(own), "%s: no other tenant id in the page", hash)
	}
	// And the API agrees.
	code, _ := webAPI(t, p.base, tok, "/v1/tenants/t-001/costs", nil)
	require.Equal(t, http.StatusForbidden, code)
	code, _ = webAPI(t, p.base, tok, "/v1/costs/overview", nil)
	require.Equal(t, http.StatusForbidden, code)
	p.chrome("tenant_admin")
	p.signOut()
}

func webProcurement(t *testing.T, p *webPage) {
	p.t = t
	p.reset()
	tok, err := auth.MintHS256([]byte(auth.DemoSecret), defaultIssuer, defaultAudience, "buyer-1",
		[]auth.Role{auth.RoleProcurement}, "", time.Hour, time.Now())
	require.NoError(t, err)
	prev := p.render()
	p.do(chromedp.SetValue(chromedp.CSS("#token"), tok), chromedp.Click(chromedp.CSS("#token-signin")))
	p.waitView("overview", prev)
	require.Equal(t, []string{"overview", "breakdowns", "vendors", "recommendations"}, p.navIDs())
	require.False(t, webEval[bool](p, `!!document.querySelector('#card-tenants')`), "no top tenants for procurement")
	require.True(t, webEval[bool](p, `!!document.querySelector('#card-vendors')`))
	require.Empty(t, p.otherTenants(""), "procurement sees no tenant id")
	p.audit("procurement overview")
	p.shot("procurement-overview")
	p.clickTo("#nav-recommendations", "recommendations")
	kinds := webEval[[]string](p, `[...new Set([...document.querySelectorAll('#rec-list article')].map(a => a.dataset.kind))]`)
	for _, k := range kinds {
		require.Contains(t, []string{"rebalance_ip_pool", "adjust_commitment"}, k, "procurement sees vendor recommendations only")
	}
	require.Empty(t, p.otherTenants(""), "procurement sees no tenant id")
	require.False(t, webEval[bool](p, `!!document.querySelector('button.track')`), "no initiative actions without initiatives:write")
	p.clickTo("#nav-breakdowns", "breakdowns")
	opts := webEval[[]string](p, `[...document.querySelectorAll('#group-by option')].map(o => o.value)`)
	require.NotContains(t, opts, "tenant")
	require.Contains(t, opts, "provider")
	p.chrome("procurement")
	p.signOut()
}

// TestWebStates drives the page against a scripted API (the real page handler, a fake /v1) for the
// states a live demo rarely shows: a delayed source (banner naming it, figures still shown), a
// dependency down (503 in words, naming it), views the role may not see (403: hidden), the
// session expiring (401: sign in again), and figures with more digits than a float64 holds
// (shown exactly as the API wrote them). Off the local demo configuration the sign-in offers token
// pasting only.
func TestWebStates(t *testing.T) {
	browser := webChromium(t)
	var expired atomic.Bool
	asOf := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second).Format(time.RFC3339)
	freshness := fmt.Sprintf(`{"status":"delayed","lag_seconds":600,"sources":[
		{"pipeline":"live","partitions":2,"aggregated_as_of":%[1]q,"lag_seconds":600,"last_flush":%[1]q,"status":"delayed","delayed_partitions":[1]},
		{"pipeline":"backfill","partitions":2,"aggregated_as_of":%[1]q,"lag_seconds":600,"last_flush":%[1]q,"status":"fresh","delayed_partitions":[]},
		{"pipeline":"posthog","partitions":2,"aggregated_as_of":%[1]q,"lag_seconds":5,"last_flush":%[1]q,"status":"fresh","delayed_partitions":[]}]}`, asOf)
	labels := `["` + webLabel1 + `","` + webLabel2 + `"]`
	how := `{"method":"scripted","inputs":["a test"],"price_list_version":"test-1","window":{"from":"2026-10-01T00:00:00Z","to":"2026-10-31T00:00:00Z"}}`
	env := func(data string) string {
		return `{"data":` + data + `,"aggregated_as_of":"` + asOf + `","generated_at":"` + asOf + `","freshness":` + freshness +
			`,"window":{"from":"2026-10-01T00:00:00Z","to":"2026-10-31T00:00:00Z","step":"1d"},"labels":` + labels + `}`
	}
	overview := `{"estimated_monthly_spend":{"amount":12345678901.123456,"currency":"USD","how_calculated":` + how + `},
		"window_total":{"amount":1000.005,"currency":"USD","how_calculated":` + how + `},"unattributed":0,
		"estimated_savings":{"low":0.125,"high":7.5,"currency":"USD","opportunities":2,"how_calculated":` + how + `},
		"top_vendors":[{"key":"ses","cost":1000.005,"share":1}],
		"by_resource_type":[{"key":"vps","cost":0,"share":0},{"key":"ip","cost":0,"share":0},{"key":"email","cost":1000.005,"share":1}],
		"underutilized_resources":[],"unpriced":[],"warnings":[],"price_list_version":"test-1"}`
	write := func(w http.ResponseWriter, status int, body string) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		if expired.Load() || r.Header.Get("Authorization") != "Bearer "+webFakeToken {
			write(w, http.StatusUnauthorized, `{"error":{"code":"unauthenticated","message":"missing or invalid credentials"}}`)
			return
		}
		switch {
		case r.URL.Path == "/v1/freshness":
			write(w, http.StatusOK, env(`[]`))
		case r.URL.Path == "/v1/costs/overview":
			write(w, http.StatusOK, env(overview))
		case r.URL.Path == "/v1/costs/breakdown" && r.URL.Query().Get("by") == "tenant",
			r.URL.Path == "/v1/vendors/compare", strings.HasPrefix(r.URL.Path, "/v1/initiatives"):
			write(w, http.StatusForbidden, `{"error":{"code":"forbidden","message":"not allowed"}}`)
		case r.URL.Path == "/v1/costs/breakdown":
			write(w, http.StatusServiceUnavailable, `{"error":{"code":"unavailable","message":"clickhouse unavailable"}}`)
		case r.URL.Path == "/v1/recommendations":
			write(w, http.StatusOK, env(`{"items":[],"count":0,"savings_monthly":{"low":0,"high":0},"notes":[],"config":{"lookback_days":14},"labels":`+labels+`}`))
		default:
			write(w, http.StatusNotFound, `{"error":{"code":"not_found","message":"no such endpoint"}}`)
		}
	})
	p := scriptedWebPage(t, browser, mux, "401|403|503")
	require.False(t, webEval[bool](p, `!!document.querySelector('#demo-form')`), "no demo sign-in off the local demo config")
	prev := p.render()
	p.do(chromedp.SetValue(chromedp.CSS("#token"), webFakeToken), chromedp.Click(chromedp.CSS("#token-signin")))
	p.waitView("overview", prev)
	require.Equal(t, []string{"overview", "breakdowns", "recommendations"}, p.navIDs(), "403 views are hidden, a 503 one is not")

	// Delayed: a banner names the source and how far behind; the figures are still there, exact.
	banner := p.text("#delayed-banner")
	require.Contains(t, banner, "Some data is delayed.")
	require.Contains(t, banner, "live usage (VPS and email) (about 10 min behind)")
	require.NotContains(t, banner, "analytics", "only delayed sources are named")
	monthly := webEval[webMoney](p, `(() => { const e = document.querySelector('#card-monthly .big .money'); return {text: e.innerText.trim(), exact: e.dataset.exact}; })()`)
	require.Equal(t, webMoney{Text: "$12,345,678,901.12", Exact: "12345678901.123456"}, monthly, "more digits than a float64 holds, kept exact")
	require.Contains(t, webEval[string](p, `document.querySelector('#card-monthly .big .money').title`), "12,345,678,901.123456 USD")
	require.Contains(t, p.text("#card-monthly"), "Modeled from $1,000.01", "half away from zero on the exact decimal")
	require.Equal(t, "$0.13", webEval[string](p, `document.querySelector('#card-savings .big .money').innerText`))
	require.False(t, webEval[bool](p, `!!document.querySelector('#card-tenants')`))
	p.audit("delayed overview")
	p.shot("delayed")

	// A dependency down: said in words, naming it.
	p.clickTo("#nav-breakdowns", "breakdowns")
	require.Contains(t, p.text(`main .msg.error[data-status="503"]`), "A data source is unavailable: clickhouse unavailable.")
	p.audit("503")

	// The session expires: back to the sign-in page, in words.
	expired.Store(true)
	prev = p.render()
	p.do(chromedp.Click(chromedp.CSS("#refresh")))
	p.waitView("signin", prev)
	require.Contains(t, p.text("#signin-error"), "Your sign-in is no longer accepted")
	require.Empty(t, p.token())
	p.noProblems("expired")
}

// webFakeToken is a JWT-shaped token for TestWebStates (the page reads its claims for display; the
// scripted API checks it verbatim).
var webFakeToken = "eyJhbGciOiJIUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"fake-cfo","roles":["cfo"]}`)) + ".c2ln"

// webFakePage cuts a scripted listing of n items as the API's limit and cursor do, but with its own
// page size (the server decides; the page follows next_cursor). Its cursors hold characters a URL
// must escape ("at 3/+&="), so a page that does not encode them gets a 400.
func webFakePage(q url.Values, n, size int) (start, end int, next string, err error) {
	if l := q.Get("limit"); l != "" {
		if v, err := strconv.Atoi(l); err != nil || v < 1 || v > 1000 {
			return 0, 0, "", fmt.Errorf("limit %q", l)
		}
	}
	if c := q.Get("cursor"); c != "" {
		rest, ok1 := strings.CutPrefix(c, "at ")
		num, ok2 := strings.CutSuffix(rest, "/+&=")
		start, err = strconv.Atoi(num)
		if !ok1 || !ok2 || err != nil || start <= 0 || start >= n {
			return 0, 0, "", fmt.Errorf("cursor %q", c)
		}
	}
	end = min(start+size, n)
	if end < n {
		next = fmt.Sprintf("at %d/+&=", end)
	}
	return start, end, next, nil
}

// TestWebPages drives the page against a scripted API whose listings are longer than one page (3
// items a page): the tenant ranking and a breakdown by tenant show "N of M" from group_count and
// "Show more" until the last page (a tenant a later page serves again is shown once); the
// recommendations count the whole listing, keep the kind filter on later pages, and a link to one
// beyond the first page opens it through GET /v1/recommendations/{id} (shown once, even when its
// page comes later); the overview names the underutilized resources it does not list.
func TestWebPages(t *testing.T) {
	browser := webChromium(t)
	asOf := time.Now().UTC().Add(-2 * time.Minute).Truncate(time.Second).Format(time.RFC3339)
	freshness := fmt.Sprintf(`{"status":"fresh","lag_seconds":5,"sources":[
		{"pipeline":"live","partitions":2,"aggregated_as_of":%[1]q,"lag_seconds":5,"last_flush":%[1]q,"status":"fresh","delayed_partitions":[]}]}`, asOf)
	labels := `["` + webLabel1 + `","` + webLabel2 + `"]`
	win := json.RawMessage(`{"from":"2026-10-01T00:00:00Z","to":"2026-10-04T00:00:00Z"}`)
	how := json.RawMessage(`{"method":"scripted","inputs":["a test"],"price_list_version":"test-1","window":` + string(win) + `}`)
	env := func(data any) string {
		b, err := json.Marshal(data)
		require.NoError(t, err)
		return `{"data":` + string(b) + `,"aggregated_as_of":"` + asOf + `","generated_at":"` + asOf + `","freshness":` + freshness +
			`,"window":` + string(win) + `,"labels":` + labels + `}`
	}
	days := func(cost string) []map[string]any {
		return []map[string]any{{"day": "2026-10-01T00:00:00Z", "cost": json.Number(cost)}, {"day": "2026-10-02T00:00:00Z", "cost": json.Number("0")}, {"day": "2026-10-03T00:00:00Z", "cost": json.Number("0")}}
	}
	// Seven tenants, costliest first; three resource types.
	var tenants, types []map[string]any
	for i := range 7 {
		tenants = append(tenants, map[string]any{"key": fmt.Sprintf("t-%03d", 101+i), "cost": json.Number(fmt.Sprintf("%d.25", 70-10*i)), "share": json.Number("0.1")})
	}
	for i, k := range []string{"vps", "email", "ip"} {
		types = append(types, map[string]any{"key": k, "cost": json.Number(fmt.Sprintf("%d.5", 300-100*i)), "share": json.Number("0.3")})
	}
	// Nine recommendations, highest saving first; seven consolidate a VPS.
	kinds := []string{"consolidate_vps", "rebalance_ip_pool", "consolidate_vps", "consolidate_vps", "adjust_commitment", "consolidate_vps", "consolidate_vps", "consolidate_vps", "consolidate_vps"}
	var recs []map[string]any
	var under []map[string]any
	for i, k := range kinds {
		id := fmt.Sprintf("rec_%016x", 0xa0+i)
		saving := map[string]any{"low": json.Number(fmt.Sprintf("%d", 80-9*i)), "high": json.Number(fmt.Sprintf("%d.5", 90-10*i))}
		recs = append(recs, map[string]any{"id": id, "kind": k, "finding": "scripted", "summary": fmt.Sprintf("Scripted finding %d (%s)", i+1, k),
			"targets":  map[string]any{"resource_ids": []string{fmt.Sprintf("vps-%02d", i+1)}, "tenant_ids": []string{}, "providers": []string{"hetzner"}, "pools": []string{}},
			"evidence": []map[string]any{{"name": "cpu_p95", "value": json.Number("0.05"), "unit": "fraction", "window": win}}, "savings_monthly": saving,
			"assumptions": []string{"a test"}, "performance_risk": "low", "effort": "low", "confidence": "Scripted.", "how_calculated": how})
		if k == "consolidate_vps" {
			under = append(under, map[string]any{"recommendation_id": id, "resource_ids": []string{fmt.Sprintf("vps-%02d", i+1)}, "summary": "scripted",
				"evidence": []any{}, "savings_monthly": saving})
		}
	}
	overview := map[string]any{"estimated_monthly_spend": map[string]any{"amount": json.Number("1000"), "currency": "USD", "how_calculated": how},
		"window_total": map[string]any{"amount": json.Number("100"), "currency": "USD", "how_calculated": how}, "unattributed": json.Number("0"),
		"estimated_savings": map[string]any{"low": json.Number("1"), "high": json.Number("2"), "currency": "USD", "opportunities": len(recs), "how_calculated": how},
		"top_tenants":       tenants[:5], "by_resource_type": types, "underutilized_resources": under, "underutilized_count": len(under),
		"unpriced": []any{}, "warnings": []any{}, "price_list_version": "test-1"}

	var mu sync.Mutex
	var recQueries []string
	oneHits := map[string]int{}
	write := func(w http.ResponseWriter, status int, body string) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
	bad := func(w http.ResponseWriter, err error) {
		write(w, http.StatusBadRequest, fmt.Sprintf(`{"error":{"code":"bad_request","message":%q}}`, err.Error()))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+webFakeToken {
			write(w, http.StatusUnauthorized, `{"error":{"code":"unauthenticated","message":"missing or invalid credentials"}}`)
			return
		}
		q := r.URL.Query()
		switch {
		case r.URL.Path == "/v1/freshness":
			write(w, http.StatusOK, env([]any{}))
		case r.URL.Path == "/v1/costs/overview":
			write(w, http.StatusOK, env(overview))
		case r.URL.Path == "/v1/costs/breakdown":
			groups := types
			if q.Get("by") == "tenant" {
				groups = tenants
			}
			start, end, next, err := webFakePage(q, len(groups), 3)
			if err != nil {
				bad(w, err)
				return
			}
			page := []map[string]any{}
			if q.Get("by") == "tenant" && start > 0 {
				start-- // served again, as after a model refresh between two pages: shown once
			}
			for _, g := range groups[start:end] {
				c := map[string]any{"key": g["key"], "cost": g["cost"], "share": g["share"]}
				if q.Get("step") != "total" {
					c["days"] = days(string(g["cost"].(json.Number)))
				}
				page = append(page, c)
			}
			out := map[string]any{"by": q.Get("by"), "step": q.Get("step"), "total": json.Number("600.75"), "currency": "USD", "groups": page,
				"group_count": len(groups), "how_calculated": how}
			if q.Get("step") != "total" {
				out["by_day"] = days("600.75")
			}
			if next != "" {
				out["next_cursor"] = next
			}
			write(w, http.StatusOK, env(out))
		case r.URL.Path == "/v1/recommendations":
			mu.Lock()
			recQueries = append(recQueries, r.URL.RawQuery)
			mu.Unlock()
			items := recs
			if k := q.Get("kind"); k != "" {
				items = nil
				for _, rec := range recs {
					if rec["kind"] == k {
						items = append(items, rec)
					}
				}
			}
			start, end, next, err := webFakePage(q, len(items), 3)
			if err != nil {
				bad(w, err)
				return
			}
			out := map[string]any{"items": items[start:end], "count": len(items), "savings_monthly": map[string]any{"low": json.Number("1"), "high": json.Number("2")},
				"notes": []string{}, "config": map[string]any{"lookback_days": 14}, "labels": json.RawMessage(labels)}
			if next != "" {
				out["next_cursor"] = next
			}
			write(w, http.StatusOK, env(out))
		case strings.HasPrefix(r.URL.Path, "/v1/recommendations/"):
			id := strings.TrimPrefix(r.URL.Path, "/v1/recommendations/")
			mu.Lock()
			oneHits[id]++
			mu.Unlock()
			for _, rec := range recs {
				if rec["id"] == id {
					write(w, http.StatusOK, env(rec))
					return
				}
			}
			write(w, http.StatusNotFound, `{"error":{"code":"not_found","message":"no such recommendation"}}`)
		case r.URL.Path == "/v1/vendors/compare", strings.HasPrefix(r.URL.Path, "/v1/initiatives"):
			write(w, http.StatusForbidden, `{"error":{"code":"forbidden","message":"not allowed"}}`)
		default:
			write(w, http.StatusNotFound, `{"error":{"code":"not_found","message":"no such endpoint"}}`)
		}
	})
	p := scriptedWebPage(t, browser, mux, "403|404")
	prev := p.render()
	p.do(chromedp.SetValue(chromedp.CSS("#token"), webFakeToken), chromedp.Click(chromedp.CSS("#token-signin")))
	p.waitView("overview", prev)
	require.Equal(t, []string{"overview", "breakdowns", "tenants", "recommendations"}, p.navIDs())

	// Overview: five underutilized resources listed, the other two named, with a link.
	require.Equal(t, 5, p.count("#underutilized li"))
	require.Contains(t, p.text("#under-rest"), "2 more on the Recommendations view (7 in all")
	require.Equal(t, "#/recommendations?kind=consolidate_vps", webEval[string](p, `document.querySelector('#under-more').hash`))
	p.chrome("overview")

	// The fourth underutilized resource is on the second page of the listing: the page opens it
	// through GET /v1/recommendations/{id}, first and focused.
	linked := under[3]["recommendation_id"].(string)
	require.Equal(t, recs[5]["id"], linked)
	p.clickTo("#underutilized li:nth-child(4) a", "recommendations")
	mu.Lock()
	require.Equal(t, 1, oneHits[linked], "GET /v1/recommendations/%s", linked)
	mu.Unlock()
	require.Equal(t, "9 suggestion(s)", p.text("#recs-summary-h"), "the heading counts the listing, not the page")
	require.Equal(t, []string{"rec-" + linked, "rec-" + recs[0]["id"].(string), "rec-" + recs[1]["id"].(string), "rec-" + recs[2]["id"].(string)},
		webEval[[]string](p, `[...document.querySelectorAll('#rec-list article')].map(a => a.id)`))
	require.True(t, webEval[bool](p, fmt.Sprintf(`document.querySelector('#rec-%s').classList.contains('focus')`, linked)))
	require.Contains(t, p.text("#rec-linked"), "further down the list")
	require.Equal(t, "Showing 4 of 9, highest saving first.", p.text("#recs-shown"))
	p.audit("recommendations, first page and a linked one")

	// Show more: the second page adds its two others (the linked one is not shown twice), the
	// keyboard focus moves to the first new one; the third page is the last.
	p.showMore("#recs-more", "#rec-list article", 6)
	require.Equal(t, "rec-"+recs[3]["id"].(string)+"-h", webEval[string](p, `document.activeElement.id`))
	require.Equal(t, "Showing 6 of 9, highest saving first.", p.text("#recs-shown"))
	p.showMore("#recs-more", "#rec-list article", 9)
	require.False(t, p.visible("#recs-more"), "no more after the last page")
	require.Equal(t, "All 9 shown.", p.text("#recs-shown"))
	require.Equal(t, 9, webEval[int](p, `new Set([...document.querySelectorAll('#rec-list article')].map(a => a.id)).size`))
	p.keyboard("recommendations, all pages")

	// The overview's link to the rest: the kind filter is kept on every page.
	p.clickTo("#nav-overview", "overview")
	p.clickTo("#under-more", "recommendations")
	require.Equal(t, "7 suggestion(s)", p.text("#recs-summary-h"))
	require.Equal(t, 3, p.count("#rec-list article"))
	p.showMore("#recs-more", "#rec-list article", 6)
	p.showMore("#recs-more", "#rec-list article", 7)
	require.Equal(t, 7, p.count(`#rec-list article[data-kind="consolidate_vps"]`))
	require.False(t, p.visible("#recs-more"))
	mu.Lock()
	var kindPages int
	for _, rq := range recQueries {
		v, err := url.ParseQuery(rq)
		require.NoError(t, err)
		if v.Get("kind") == "consolidate_vps" && v.Get("cursor") != "" {
			kindPages++
		}
	}
	mu.Unlock()
	require.Equal(t, 2, kindPages, "later pages keep the kind: %v", recQueries)

	// A link to a recommendation not in the listing: said so.
	p.hashTo("#/recommendations/rec_00000000000000ff", "recommendations")
	require.Contains(t, p.text("#rec-missing"), "That recommendation is not in your list")
	p.chrome("recommendation not listed")

	// Tenants: the first page, "N of M", Show more until the last page, in the API's order.
	p.clickTo("#nav-tenants", "tenants")
	require.Equal(t, 3, p.count("#tenant-table tbody tr"))
	require.Equal(t, "3 of 7 tenants shown, costliest first.", p.text("#tenants-shown"))
	require.Contains(t, p.text("#chart-tenants title"), "the 3 costliest of 7 tenants")
	p.audit("tenants, first page")
	p.showMore("#tenants-more", "#tenant-table tbody tr", 6)
	require.Equal(t, "t-104", webEval[string](p, `document.activeElement.dataset.tenant || ''`), "focus on the first new tenant")
	p.showMore("#tenants-more", "#tenant-table tbody tr", 7)
	require.False(t, p.visible("#tenants-more"))
	require.Equal(t, "All 7 tenants shown, costliest first.", p.text("#tenants-shown"))
	var want []string
	for _, g := range tenants {
		want = append(want, g["key"].(string))
	}
	require.Equal(t, want, webEval[[]string](p, `[...document.querySelectorAll('#tenant-table tbody tr a')].map(a => a.dataset.tenant)`))

	// Breakdowns: three resource types fit one page (no note, no button); by tenant is paged.
	p.clickTo("#nav-breakdowns", "breakdowns")
	require.False(t, p.visible("#groups-more"))
	require.Zero(t, p.count("#groups-shown"))
	prev = p.render()
	p.do(chromedp.SetValue(chromedp.CSS("#group-by"), "tenant"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#group-by').dispatchEvent(new Event('change'))`))
	p.waitView("breakdowns", prev)
	require.Equal(t, "Showing the 3 costliest of 7 groups.", p.text("#groups-shown"))
	require.Contains(t, p.text("#panel-groups"), "the 7 groups add up to it exactly")
	p.audit("breakdown by tenant, first page")
	p.showMore("#groups-more", "#panel-groups .table-wrap tbody tr", 6)
	p.showMore("#groups-more", "#panel-groups .table-wrap tbody tr", 7)
	require.Equal(t, "All 7 groups shown.", p.text("#groups-shown"))
	require.Equal(t, 8, p.count("#series option"), "every group loaded has its daily series")
	p.noProblems("pages")
}
