// spendstream Cost Optimization page. Plain JavaScript, no dependencies, no build step.
//
// Rules this file keeps (issue 6, docs/design.md "The journey it serves"):
//  - it reads only the public JSON API (/v1/...) with the caller's bearer token;
//  - it does no cost arithmetic: every figure shown is one the API computed. JSON numbers are kept
//    as their exact decimal text (JSON.parse's source access) and formatted for reading only:
//    money to the cent, with the exact value in the tooltip, in data-exact and in the tables;
//  - the two labels and the "aggregated as of" stamp are always on screen; a delayed source is
//    named in a banner; each main number has a "How it's calculated";
//  - what a role may not see is not shown (the API answers 403; the page hides the view);
//  - nothing ticks: figures change only when the viewer loads or refreshes them.
'use strict';
(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const main = $('#main');
  const nav = $('#nav');
  const who = $('#who');
  const bannerSlot = $('#banner');
  const asofEl = $('#asof');
  const asofNote = $('#asof-note');
  const TZ = (Intl.DateTimeFormat().resolvedOptions().timeZone) || 'local time';
  const DAY_MS = 86400000;

  const ROLE_NAMES = { cfo: 'CFO', coo: 'COO', procurement: 'Procurement', ops: 'Operations', tenant_admin: 'Tenant admin' };
  const ROLE_HINTS = {
    cfo: 'all costs, tenants, vendors, recommendations and initiatives',
    coo: 'all costs, tenants, vendors, recommendations and initiatives',
    procurement: 'costs by type and vendor, the vendor comparison and vendor recommendations, but no tenant names',
    ops: 'recommendations (no cost totals)',
    tenant_admin: "one tenant's own attributed cost",
  };
  const PIPELINES = { live: 'live usage (VPS and email)', backfill: 'history backfill', posthog: 'product analytics (PostHog)' };
  const KINDS = {
    consolidate_vps: 'Consolidate or downsize a VPS',
    rebalance_ip_pool: 'Rebalance an email IP pool',
    adjust_commitment: 'Adjust commitments',
    adjust_tenant_plan: "Review a tenant's plan",
  };
  const STATUS_NAMES = { proposed: 'Proposed', claimed: 'Claimed', in_progress: 'In progress', succeeded: 'Succeeded', failed: 'Failed', dismissed: 'Dismissed' };
  // The lifecycle of README "Cost API"; the server enforces it (409 otherwise), the page only offers
  // the moves it allows.
  const NEXT = {
    proposed: ['in_progress', 'claimed', 'dismissed'],
    claimed: ['in_progress', 'proposed', 'dismissed'],
    in_progress: ['succeeded', 'failed', 'dismissed'],
    failed: ['in_progress', 'dismissed'],
    succeeded: [],
    dismissed: [],
  };
  const MOVE_NAMES = { claimed: 'Claim', in_progress: 'Move to in progress', succeeded: 'Mark succeeded', failed: 'Mark failed', dismissed: 'Dismiss', proposed: 'Back to proposed' };

  const state = {
    token: null,
    claims: null,
    caps: null, // what the token may see, from the API's answers
    days: 30,
    cache: new Map(),
    currency: null,
    etags: {},
    render: 0,
    envs: [],
    config: null,
    flash: null,
    signingOut: false,
  };

  // ---------- DOM helpers (textContent only: API data is never parsed as HTML) ----------
  function add(el, kids) {
    for (const k of kids.flat(Infinity)) {
      if (k === null || k === undefined || k === false || k === '') continue;
      el.append(k instanceof Node ? k : String(k));
    }
    return el;
  }
  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.setAttribute('class', v);
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    return add(el, kids);
  }
  const SVG = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVG, tag);
    setAttrs(el, attrs);
    return add(el, kids);
  }
  let uidN = 0;
  const uid = (p) => p + '-' + (++uidN);
  const sr = (text) => h('span', { class: 'sr-only' }, text);

  // ---------- numbers: exact decimal text from the API, formatted for reading ----------
  // Every JSON number becomes the string of its digits exactly as the server wrote them.
  function parseExact(text) {
    return JSON.parse(text, function (key, value, ctx) {
      if (typeof value === 'number') return ctx && typeof ctx.source === 'string' ? ctx.source : String(value);
      return value;
    });
  }
  const fmts = new Map();
  function nf(key, opts) {
    if (!fmts.has(key)) fmts.set(key, new Intl.NumberFormat(undefined, opts));
    return fmts.get(key);
  }
  function isNum(v) { return v !== null && v !== undefined && v !== '' && Number.isFinite(Number(v)); }
  // Intl formats a decimal string exactly (no float conversion), rounding half away from zero.
  function fmtMoney(v, cur) {
    if (!isNum(v)) return '—';
    if (cur) {
      try { return nf('m' + cur, { style: 'currency', currency: cur, minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v); } catch (e) { /* not an ISO code */ }
    }
    return nf('d2', { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v) + (cur ? ' ' + cur : '');
  }
  function fmtExact(v, cur) {
    if (!isNum(v)) return '—';
    return nf('exact', { minimumFractionDigits: 0, maximumFractionDigits: 20 }).format(v) + (cur ? ' ' + cur : '');
  }
  function fmtPct(v, digits) {
    if (!isNum(v)) return '—';
    const d = digits === undefined ? 1 : digits;
    return nf('p' + d, { style: 'percent', minimumFractionDigits: d, maximumFractionDigits: d }).format(v);
  }
  function fmtNum(v, digits) {
    if (!isNum(v)) return '—';
    const d = digits === undefined ? 2 : digits;
    return nf('n' + d, { maximumFractionDigits: d }).format(v);
  }
  function money(v, cur) {
    const exact = isNum(v) ? 'Exact: ' + fmtExact(v, cur) : 'not available';
    return h('span', { class: 'num money', 'data-exact': isNum(v) ? v : '', 'data-currency': cur || '', title: exact }, fmtMoney(v, cur));
  }
  function pct(v, digits) { return h('span', { class: 'num', 'data-exact': isNum(v) ? v : '', title: isNum(v) ? 'Exact fraction: ' + v : null }, fmtPct(v, digits)); }
  function count(v) { return h('span', { class: 'num', 'data-exact': isNum(v) ? v : '' }, fmtNum(v, 0)); }
  function range(low, high, cur, suffix) {
    const unit = suffix ? h('span', { class: 'unit' }, suffix) : null;
    if (low === high) return h('span', { class: 'range' }, money(low, cur), unit);
    return h('span', { class: 'range' }, money(low, cur), ' – ', money(high, cur), unit);
  }

  // ---------- dates: the viewer's time zone for instants, UTC for the API's day windows ----------
  const dtFull = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'long' });
  const dtShort = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  const dayUTC = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
  const dayYearUTC = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' });
  function when(iso, short) {
    if (!iso) return '—';
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    return h('time', { datetime: iso, title: iso }, (short ? dtShort : dtFull).format(d));
  }
  // A window [from, to): whole UTC days as their first and last day, other spans as instants in
  // the viewer's time zone.
  function windowText(w) {
    if (!w || !w.from || !w.to) return '';
    const from = new Date(w.from);
    const last = new Date(Date.parse(w.to) - 1);
    if (isNaN(from) || isNaN(last)) return w.from + ' to ' + w.to;
    if (from.getTime() % DAY_MS !== 0 || Date.parse(w.to) % DAY_MS !== 0) return dtShort.format(from) + ' – ' + dtShort.format(new Date(w.to));
    const a = dayYearUTC.format(from);
    const b = dayYearUTC.format(last);
    return (a === b ? a : a + ' – ' + b) + ' (UTC days)';
  }

  // ---------- the API ----------
  function clearCache() { state.cache.clear(); }
  async function call(path, opts) {
    opts = opts || {};
    const headers = { Accept: 'application/json' };
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    if (opts.etag) headers['If-Match'] = opts.etag;
    let res;
    try {
      res = await fetch(path, { method: opts.method || 'GET', headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), cache: 'no-store', credentials: 'omit', redirect: 'error' });
    } catch (e) {
      return { ok: false, status: 0, error: { code: 'network', message: 'spendstream did not answer (' + (e && e.message ? e.message : 'network error') + ')' } };
    }
    let body = null;
    try {
      const text = await res.text();
      body = text ? parseExact(text) : null;
    } catch (e) { body = null; }
    const out = { ok: res.ok, status: res.status, body, etag: res.headers.get('ETag'), retryAfter: res.headers.get('Retry-After') };
    if (!res.ok) out.error = (body && body.error) || { code: 'http_' + res.status, message: res.statusText || 'request failed' };
    if (res.status === 401 && opts.auth !== false) unauthenticated();
    return out;
  }
  // get reads a GET once per page state (until Refresh, a window change or sign-out). Failures
  // other than 403 are not kept, so the next visit asks again.
  function get(path) {
    if (!state.cache.has(path)) {
      const p = call(path).then((r) => {
        if (!r.ok && r.status !== 403 && state.cache.get(path) === p) state.cache.delete(path);
        return r;
      });
      state.cache.set(path, p);
    }
    return state.cache.get(path);
  }
  const allowed = (r) => r && r.status !== 403 && r.status !== 401;
  // The window parameter: the last N whole UTC days up to the end of today (the API's default is 30).
  function winQ(sep) {
    if (state.days === 30) return '';
    const now = new Date();
    const end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    const from = new Date(end - state.days * DAY_MS).toISOString().replace('.000Z', 'Z');
    return sep + 'from=' + encodeURIComponent(from);
  }
  const enc = encodeURIComponent;

  // ---------- errors in words ----------
  function errorBox(res, what) {
    const msg = (res.error && res.error.message) || '';
    let title;
    let text;
    const acts = [];
    switch (res.status) {
      case 0:
        title = 'spendstream cannot be reached.';
        text = 'Check that it is running, then use Refresh. (' + msg + ')';
        break;
      case 401:
        title = 'Your sign-in is no longer accepted.';
        text = 'Sign in again.';
        break;
      case 403:
        title = 'Not allowed.';
        text = 'Your role may not see ' + what + '.';
        break;
      case 404:
        title = 'Not found.';
        text = msg ? msg.charAt(0).toUpperCase() + msg.slice(1) + '.' : 'There is no such item.';
        break;
      case 429:
        title = 'Too many requests right now.';
        text = 'Wait ' + (res.retryAfter ? res.retryAfter + ' s' : 'a few seconds') + ', then use Refresh.';
        break;
      case 503:
        if (res.error && res.error.code === 'computing') {
          title = 'Still computing the figures for this window.';
          text = 'A long window of a large fleet takes a while the first time; the work goes on meanwhile. Use Refresh in ' + (res.retryAfter ? res.retryAfter + ' s' : 'a few seconds') + '.';
          break;
        }
        title = 'A data source is unavailable: ' + (msg || 'a dependency') + '.';
        text = 'The figures for ' + what + ' come back once it recovers; nothing is lost meanwhile. Use Refresh in a minute.';
        break;
      default:
        title = 'Could not load ' + what + '.';
        text = 'The server answered ' + res.status + (msg ? ': ' + msg : '') + '.';
    }
    if (res.status === 503 || res.status === 429 || res.status === 0) acts.push(h('button', { type: 'button', class: 'secondary', onclick: refresh }, 'Refresh'));
    return h('div', { class: 'msg error', role: 'alert', 'data-status': res.status }, h('strong', {}, title), ' ', text, acts.length ? h('div', { class: 'actions' }, acts) : null);
  }

  // ---------- freshness: the stamp and the delayed banner ----------
  function resetContext() {
    state.envs = [];
    asofEl.textContent = 'loading…';
    asofEl.removeAttribute('datetime');
    asofEl.setAttribute('data-state', 'loading');
    asofNote.textContent = '';
    bannerSlot.replaceChildren();
  }
  // track notes a response the view shows: its stamp and freshness feed the header. The view's
  // primary response also stamps main[data-asof], the data its main figures come from.
  function track(rid, res, primary) {
    if (rid !== state.render || !res || !res.ok || !res.body || typeof res.body !== 'object') return;
    if (!('aggregated_as_of' in res.body)) return;
    if (primary) main.setAttribute('data-asof', res.body.aggregated_as_of || '');
    state.envs.push(res.body);
    updateContext();
  }
  function updateContext() {
    let oldest = null;
    let unknown = false;
    let delayedStatus = false;
    const delayed = new Map();
    for (const e of state.envs) {
      if (e.aggregated_as_of === null) unknown = true;
      else if (!oldest || Date.parse(e.aggregated_as_of) < Date.parse(oldest)) oldest = e.aggregated_as_of;
      const f = e.freshness;
      if (!f) continue;
      if (f.status === 'delayed') delayedStatus = true;
      for (const src of f.sources || []) if (src.status === 'delayed') delayed.set(src.pipeline, src);
    }
    if (oldest) {
      asofEl.textContent = dtFull.format(new Date(oldest));
      asofEl.setAttribute('datetime', oldest);
      asofEl.setAttribute('data-tz', TZ);
      asofEl.setAttribute('data-state', unknown ? 'partial' : 'known');
      asofNote.textContent = '(your time zone, ' + TZ + ')' + (unknown ? '; some partitions have not reported yet' : '');
    } else if (state.envs.length) {
      asofEl.textContent = 'not known yet';
      asofEl.removeAttribute('datetime');
      asofEl.setAttribute('data-state', 'unknown');
      asofNote.textContent = '(the pipeline has not completed a first flush of every partition)';
    }
    if (delayed.size || delayedStatus) {
      const names = [];
      for (const [p, src] of delayed) {
        const lag = isNum(src.lag_seconds) ? ' (about ' + Math.max(1, Math.round(Number(src.lag_seconds) / 60)) + ' min behind)' : ' (no watermark yet)';
        names.push((PIPELINES[p] || p) + lag);
      }
      bannerSlot.replaceChildren(h('div', { class: 'banner', id: 'delayed-banner', 'data-sources': [...delayed.keys()].join(',') },
        h('strong', {}, 'Some data is delayed.'),
        names.length ? (names.length > 1 ? 'These sources are behind: ' : 'This source is behind: ') + names.join('; ') + '. ' : 'A source is behind. ',
        'The figures below are still shown, complete up to the "aggregated as of" time above; events after it are added when the pipeline catches up.'));
    } else {
      bannerSlot.replaceChildren();
    }
  }

  // ---------- sign-in ----------
  function decodeClaims(tok) {
    try {
      const part = tok.split('.')[1] || '';
      const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
      const json = atob(b64 + '==='.slice((b64.length + 3) % 4));
      const c = JSON.parse(json);
      const roles = Array.isArray(c.roles) ? c.roles : (c.roles ? [c.roles] : (c.role ? [c.role] : []));
      return { sub: String(c.sub || ''), roles: roles.map(String), tenant: c.tenant_id ? String(c.tenant_id) : '', exp: typeof c.exp === 'number' ? c.exp : null };
    } catch (e) {
      return { sub: '', roles: [], tenant: '', exp: null };
    }
  }
  function store(tok) {
    try {
      if (tok) sessionStorage.setItem('spendstream.token', tok);
      else sessionStorage.removeItem('spendstream.token');
    } catch (e) { /* storage off: the sign-in lasts this page */ }
  }
  function signIn(tok) {
    state.token = tok;
    state.claims = decodeClaims(tok);
    state.caps = null;
    state.currency = null;
    state.etags = {};
    clearCache();
    store(tok);
    if (location.hash && location.hash !== '#/') history.replaceState(null, '', location.pathname + location.search);
    route(false);
  }
  function signOut(message) {
    state.token = null;
    state.claims = null;
    state.caps = null;
    clearCache();
    store(null);
    history.replaceState(null, '', location.pathname + location.search);
    renderSignin(message);
  }
  function unauthenticated() {
    if (!state.token || state.signingOut) return;
    state.signingOut = true;
    setTimeout(() => {
      state.signingOut = false;
      signOut({ title: 'Your sign-in is no longer accepted.', text: 'The token expired or is not valid for this spendstream. Sign in again.' });
    }, 0);
  }
  async function loadConfig() {
    if (state.config) return state.config;
    const r = await call('/ui/config.json', { auth: false });
    state.config = r.ok && r.body ? r.body : { demo: null };
    return state.config;
  }
  function renderWho() {
    if (!state.token) { who.replaceChildren(); return; }
    const c = state.claims;
    const role = c.roles.map((r) => ROLE_NAMES[r] || r).join(', ') || 'unknown role';
    who.replaceChildren(
      h('span', { id: 'who-role' }, 'Signed in as ', h('strong', {}, role), c.tenant ? ' for tenant ' + c.tenant : '', c.sub ? ' (' + c.sub + ')' : ''),
      h('button', { type: 'button', class: 'secondary', id: 'signout', onclick: () => signOut(null) }, 'Sign out'));
  }
  async function renderSignin(message) {
    const rid = ++state.render;
    nav.hidden = true;
    nav.replaceChildren();
    renderWho();
    resetContext();
    asofEl.textContent = 'not loaded yet (sign in first)';
    asofEl.setAttribute('data-state', 'none');
    document.title = 'Sign in · Cost Optimization · spendstream';
    main.setAttribute('data-view', 'signin');
    main.setAttribute('data-render', String(rid));
    main.removeAttribute('data-asof');
    main.setAttribute('data-state', 'loading');
    const cfg = await loadConfig();
    if (rid !== state.render) return;
    const out = h('div', { class: 'signin' });
    const errSlot = h('div', { id: 'signin-error', role: 'alert' });
    if (message) errSlot.append(h('div', { class: 'msg error' }, h('strong', {}, message.title), ' ', message.text));
    if (cfg.demo && cfg.demo.roles && cfg.demo.roles.length) {
      const scoped = new Set(cfg.demo.tenant_scoped_roles || []);
      const roleSel = h('select', { id: 'demo-role', name: 'role', 'aria-describedby': 'demo-role-hint' }, cfg.demo.roles.map((r) => h('option', { value: r }, ROLE_NAMES[r] || r)));
      const roleHint = h('p', { class: 'hint', id: 'demo-role-hint', 'aria-live': 'polite' });
      const tenantSel = h('select', { id: 'demo-tenant', name: 'tenant' }, (cfg.demo.tenants || []).map((t) => h('option', { value: t }, t)));
      const tenantField = h('div', { class: 'field', hidden: true }, h('label', { for: 'demo-tenant' }, 'Tenant'), tenantSel);
      const sync = () => {
        tenantField.hidden = !scoped.has(roleSel.value);
        roleHint.textContent = ROLE_HINTS[roleSel.value] ? 'By default this role sees ' + ROLE_HINTS[roleSel.value] + '.' : '';
      };
      roleSel.addEventListener('change', sync);
      sync();
      const form = h('form', { id: 'demo-form', 'aria-labelledby': 'demo-h' },
        h('h2', { id: 'demo-h' }, 'Local demo: sign in as a role'),
        h('p', { class: 'hint' }, 'This spendstream runs with the local demo credentials (loopback only). Pick a role to see the page as it would; what each role may see is set by the server (defaults shown).'),
        h('div', { class: 'field' }, h('label', { for: 'demo-role' }, 'Role'), roleSel, roleHint),
        tenantField,
        h('button', { type: 'submit', id: 'demo-signin' }, 'Sign in as this role'));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const body = { role: roleSel.value };
        if (scoped.has(roleSel.value)) body.tenant = tenantSel.value;
        const r = await call('/ui/demo-token', { method: 'POST', body, auth: false });
        if (r.ok && r.body && r.body.token) signIn(r.body.token);
        else errSlot.replaceChildren(errorBox(r, 'the demo sign-in'));
      });
      out.append(h('section', { class: 'panel' }, form));
    }
    const ta = h('textarea', { id: 'token', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'token-hint' });
    const paste = h('form', { id: 'token-form', 'aria-labelledby': 'token-h' },
      h('h2', { id: 'token-h' }, 'Sign in with an API token'),
      h('div', { class: 'field' }, h('label', { for: 'token' }, 'API token (JWT)'), ta,
        h('p', { class: 'hint', id: 'token-hint' }, 'Paste the bearer token your identity provider or administrator gave you. It stays in this browser tab (session storage) and is sent only to this spendstream.')),
      h('button', { type: 'submit', id: 'token-signin' }, 'Sign in'));
    paste.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const tok = ta.value.trim().replace(/^Bearer\s+/i, '');
      if (tok) signIn(tok);
    });
    out.append(h('section', { class: 'panel' }, paste));
    main.replaceChildren(h('h1', { id: 'view-title', tabindex: '-1' }, 'Cost Optimization: sign in'), errSlot, out);
    main.setAttribute('data-state', 'ready');
  }

  // ---------- capabilities: asked of the API, never assumed ----------
  async function probe(rid) {
    const c = { scoped: !!state.claims.tenant, tenant: false, overview: false, byTenant: false, byProvider: false, vendors: false, recs: false, inits: false };
    main.replaceChildren(h('h1', { id: 'view-title', tabindex: '-1' }, 'Loading what your role may see…'), h('div', { class: 'cards', 'aria-hidden': 'true' }, skelCard(), skelCard(), skelCard()));
    main.setAttribute('aria-busy', 'true');
    main.setAttribute('data-state', 'loading');
    const fr = await get('/v1/freshness');
    if (fr.status === 401 || rid !== state.render) return null;
    if (c.scoped) {
      // A tenant-scoped token never holds a cross-tenant capability; only its tenant is asked for.
      c.tenant = allowed(await get('/v1/tenants/' + enc(state.claims.tenant) + '/costs' + winQ('?')));
    } else {
      const [ov, ve, re, ini] = await Promise.all([get('/v1/costs/overview' + winQ('?')), get('/v1/vendors/compare?kind=email' + winQ('&')), get('/v1/recommendations'), get('/v1/initiatives')]);
      c.overview = allowed(ov);
      c.vendors = allowed(ve);
      c.recs = allowed(re);
      c.inits = allowed(ini);
      if (ov.ok) state.currency = ov.body.data.estimated_monthly_spend.currency;
      if (c.overview) {
        const [bt, bp] = await Promise.all([get('/v1/costs/breakdown?by=tenant&step=total' + winQ('&')), get('/v1/costs/breakdown?by=provider&step=total' + winQ('&'))]);
        c.byTenant = allowed(bt);
        c.byProvider = allowed(bp);
      }
      c.tenant = c.byTenant;
    }
    if (state.token === null || rid !== state.render) return null;
    return c;
  }
  const VIEWS = [
    { id: 'overview', label: () => 'Overview', ok: (c) => c.overview },
    { id: 'breakdowns', label: () => 'Breakdowns', ok: (c) => c.overview },
    { id: 'tenants', label: (c) => (c.scoped ? 'My tenant (' + state.claims.tenant + ')' : 'Tenants'), ok: (c) => c.tenant },
    { id: 'vendors', label: () => 'Vendors', ok: (c) => c.vendors },
    { id: 'recommendations', label: () => 'Recommendations', ok: (c) => c.recs },
    { id: 'initiatives', label: () => 'Initiatives', ok: (c) => c.inits },
  ];
  const visibleViews = () => VIEWS.filter((v) => state.caps && v.ok(state.caps));
  function landing() {
    const vis = visibleViews();
    if (state.caps.scoped && vis.some((v) => v.id === 'tenants')) return 'tenants';
    return vis.length ? vis[0].id : '';
  }
  function renderNav(current) {
    const vis = visibleViews();
    nav.replaceChildren(...vis.map((v) => h('a', { href: '#/' + v.id, id: 'nav-' + v.id, 'aria-current': v.id === current ? 'page' : null }, v.label(state.caps))));
    nav.hidden = vis.length === 0;
  }

  // ---------- routing (#/view/arg?params) ----------
  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, '');
    const qi = raw.indexOf('?');
    const path = qi < 0 ? raw : raw.slice(0, qi);
    const parts = path.split('/').filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch (e) { return p; } });
    return { view: parts[0] || '', arg: parts[1] || '', params: new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1)) };
  }
  function go(hash) { if (location.hash !== hash) location.hash = hash; else route(true); }
  function refresh() { clearCache(); route(false); }
  async function route(userNav) {
    if (!state.token) { renderSignin(null); return; }
    renderWho();
    const rid = ++state.render;
    resetContext();
    if (!state.caps) {
      const caps = await probe(rid);
      if (!caps) return;
      state.caps = caps;
    }
    let r = parseHash();
    const vis = visibleViews();
    if (!vis.some((v) => v.id === r.view)) {
      const land = landing();
      if (!land) {
        nav.hidden = true;
        main.replaceChildren(h('h1', { id: 'view-title', tabindex: '-1' }, 'Nothing to show for your role'),
          h('div', { class: 'msg note' }, 'The API allows your role none of the cost views (overview, tenants, vendors, recommendations, initiatives). Ask an administrator for a role with cost access.'));
        main.removeAttribute('aria-busy');
        main.setAttribute('data-view', 'none');
        main.setAttribute('data-state', 'ready');
        return;
      }
      history.replaceState(null, '', '#/' + land);
      r = parseHash();
    }
    if (state.caps.scoped && r.view === 'tenants' && r.arg && r.arg !== state.claims.tenant) {
      history.replaceState(null, '', '#/tenants'); // a tenant-scoped caller has one tenant only
      r = parseHash();
    }
    renderNav(r.view);
    main.setAttribute('data-render', String(rid));
    main.removeAttribute('data-asof');
    main.setAttribute('data-view', r.view);
    main.setAttribute('data-state', 'loading');
    main.setAttribute('aria-busy', 'true');
    try {
      await RENDER[r.view](r, rid);
    } catch (e) {
      if (rid !== state.render) return;
      main.append(h('div', { class: 'msg error', role: 'alert' }, h('strong', {}, 'This view failed to render.'), ' ', String(e && e.message ? e.message : e)));
      main.setAttribute('data-state', 'error');
    }
    if (rid !== state.render) return;
    if (!state.envs.length) {
      // Nothing on screen carries a stamp (the view failed): show the pipelines' own.
      track(rid, await get('/v1/freshness'));
      if (rid !== state.render) return;
      if (!state.envs.length) {
        asofEl.textContent = 'not available (the API did not answer)';
        asofEl.setAttribute('data-state', 'unavailable');
      }
    }
    main.removeAttribute('aria-busy');
    if (main.getAttribute('data-state') === 'loading') main.setAttribute('data-state', 'ready');
    if (userNav) {
      const t = $('#view-title');
      if (t) t.focus();
    }
  }
  window.addEventListener('hashchange', () => route(true));

  // ---------- shared view pieces ----------
  function setMain(rid, ...nodes) {
    if (rid !== state.render) return false;
    main.replaceChildren(...nodes);
    return true;
  }
  function viewHead(title, controls, noWindow) {
    document.title = title + ' · Cost Optimization · spendstream';
    const sub = h('p', { id: 'view-sub' });
    const head = h('div', { class: 'view-head' }, h('div', {}, h('h1', { id: 'view-title', tabindex: '-1' }, title), sub), h('div', { class: 'controls' }, controls || [], noWindow ? null : windowControl(), h('button', { type: 'button', class: 'secondary', id: 'refresh', onclick: refresh }, 'Refresh')));
    head.sub = sub;
    return head;
  }
  function windowControl() {
    const sel = h('select', { id: 'window' }, [7, 30, 90].map((d) => h('option', { value: d, selected: d === state.days }, 'Last ' + d + ' days')));
    sel.addEventListener('change', () => { state.days = Number(sel.value); clearCache(); route(false); });
    return [h('label', { for: 'window' }, 'Cost window'), sel];
  }
  function skelCard() {
    return h('div', { class: 'card', 'aria-hidden': 'true' }, h('div', { class: 'skel line short' }), h('div', { class: 'skel big' }), h('div', { class: 'skel line' }), h('div', { class: 'skel line short' }));
  }
  function skelPanel() { return h('div', { class: 'panel', 'aria-hidden': 'true' }, h('div', { class: 'skel line short' }), h('div', { class: 'skel block' })); }
  function loadingNote() { return h('p', { class: 'sr-only', role: 'status' }, 'Loading…'); }
  function card(o) {
    const hid = o.id + '-h';
    return h('section', { class: 'card', id: o.id, 'aria-labelledby': hid }, h('h2', { id: hid }, o.title), o.big ? h('p', { class: 'big' }, o.big) : null, o.body || null, o.sub ? h('p', { class: 'sub' }, o.sub) : null, o.how || null);
  }
  function panel(id, title, ...kids) {
    return h('section', { class: 'panel', id, 'aria-labelledby': id + '-h' }, h('h2', { id: id + '-h' }, title), kids);
  }
  function list(items) { return h('ul', {}, (items || []).map((i) => h('li', {}, i))); }
  // how renders an API how_calculated object, with the exact figures it explains.
  function how(hc, what, exact) {
    if (!hc) return null;
    const rows = [['Method', hc.method], ['Inputs', hc.inputs && hc.inputs.length ? list(hc.inputs) : '—'], ['Price list', hc.price_list_version || '—'], ['Window', hc.window ? windowText(hc.window) + ' · ' + hc.window.from + ' to ' + hc.window.to : '—']];
    for (const e of exact || []) rows.push(e);
    return h('details', { class: 'how' }, h('summary', {}, "How it's calculated", sr(': ' + what)),
      h('div', {}, h('dl', {}, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))));
  }
  function table(caption, cols, rows, opts) {
    opts = opts || {};
    const t = h('table', { id: opts.id || null, class: cols.length > 8 ? 'wide' : null },
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
      h('tbody', {}, rows.map((r) => trow(cols, r))));
    // Focusable, so a keyboard can scroll a table wider than the screen.
    return h('div', { class: 'table-wrap', tabindex: '0', role: 'group', 'aria-label': (caption || opts.label || 'table') + ' (table)' }, t);
  }
  function trow(cols, r) { return h('tr', {}, r.map((v, i) => (i === 0 ? h('th', { scope: 'row' }, v) : h('td', { class: cols[i].num ? 'num' : null }, v)))); }
  function figures(caption, cols, rows, open) {
    return h('details', { class: 'more', open: !!open }, h('summary', {}, 'Figures as a table', sr(': ' + caption)), h('div', {}, table(caption, cols, rows)));
  }
  function pill(rating) { return h('span', { class: 'pill ' + (rating || '') }, rating || '—'); }
  function truncate(t, n) { t = String(t); return t.length > n ? t.slice(0, n - 1) + '…' : t; }
  function noCurrencyNote(cur) {
    return cur ? null : h('p', { class: 'hint' }, 'Amounts are in the price list\'s currency (this response does not name it).');
  }

  // ---------- charts: inline SVG, each with a text alternative (title, desc and a table) ----------
  function barChart(o) {
    const rows = o.rows;
    const W = 640;
    const row = 30;
    const top = 6;
    const labelW = 150;
    const valW = 170;
    const barW = W - labelW - valW;
    const H = top * 2 + row * Math.max(rows.length, 1);
    const max = Math.max(0, ...rows.map((r) => Number(r.value) || 0));
    const tid = uid('t');
    const did = uid('d');
    const desc = rows.length ? rows.map((r) => r.label + ': ' + fmtMoney(r.value, o.cur) + (r.share !== undefined ? ' (' + fmtPct(r.share) + ')' : '')).join('; ') : 'No data in this window.';
    const svg = s('svg', { class: 'chart bars', viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-labelledby': tid + ' ' + did, id: o.id || null },
      s('title', { id: tid }, o.title), s('desc', { id: did }, desc));
    rows.forEach((r, i) => {
      const y = top + i * row;
      const v = Number(r.value) || 0;
      const w = max > 0 ? Math.max((v / max) * barW, v > 0 ? 1.5 : 0) : 0;
      svg.append(s('text', { x: labelW - 8, y: y + row / 2 + 4, 'text-anchor': 'end' }, truncate(r.label, 22)));
      svg.append(s('rect', { class: 'bar', x: labelW, y: y + 6, width: w.toFixed(1), height: row - 12, rx: 2 }, s('title', {}, r.label + ': ' + fmtExact(r.value, o.cur))));
      svg.append(s('text', { x: (labelW + w + 6).toFixed(1), y: y + row / 2 + 4 }, fmtMoney(r.value, o.cur) + (r.share !== undefined ? ' · ' + fmtPct(r.share) : '')));
    });
    return svg;
  }
  function timeChart(o) {
    const days = o.days || [];
    const W = 1100;
    const H = 250;
    const L = 8;
    const R = 8;
    const T = 30;
    const B = 26;
    const pw = W - L - R;
    const ph = H - T - B;
    const vals = days.map((d) => Number(d.cost) || 0);
    const max = Math.max(0, ...vals);
    const peak = days[vals.indexOf(max)];
    const tid = uid('t');
    const did = uid('d');
    const first = days.length ? dayYearUTC.format(new Date(days[0].day)) : '';
    const last = days.length ? dayYearUTC.format(new Date(days[days.length - 1].day)) : '';
    const desc = days.length ? 'Modeled cost per UTC day from ' + first + ' to ' + last + '; highest day ' + (peak ? dayYearUTC.format(new Date(peak.day)) + ' at ' + fmtMoney(peak.cost, o.cur) : '') + '. Every day is in the table below the chart.' : 'No days in this window.';
    const svg = s('svg', { class: 'chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-labelledby': tid + ' ' + did, id: o.id || null }, s('title', { id: tid }, o.title), s('desc', { id: did }, desc));
    svg.append(s('line', { class: 'grid', x1: L, x2: W - R, y1: T, y2: T }));
    svg.append(s('line', { class: 'axis', x1: L, x2: W - R, y1: T + ph, y2: T + ph }));
    if (peak) svg.append(s('text', { x: L, y: 16 }, 'Highest day: ' + fmtMoney(peak.cost, o.cur) + ' (' + dayUTC.format(new Date(peak.day)) + ')'));
    const bw = pw / Math.max(days.length, 1);
    days.forEach((d, i) => {
      const v = vals[i];
      const bh = max > 0 ? (v / max) * ph : 0;
      svg.append(s('rect', { class: 'bar', x: (L + i * bw + bw * 0.15).toFixed(1), y: (T + ph - bh).toFixed(1), width: Math.max(bw * 0.7, 1).toFixed(1), height: bh.toFixed(1) }, s('title', {}, dayYearUTC.format(new Date(d.day)) + ': ' + fmtExact(d.cost, o.cur))));
    });
    const ticks = days.length > 2 ? [0, Math.floor((days.length - 1) / 2), days.length - 1] : days.map((_, i) => i);
    for (const i of ticks) {
      const x = L + i * bw + bw / 2;
      svg.append(s('text', { x: x.toFixed(1), y: H - 8, 'text-anchor': i === 0 ? 'start' : (i === days.length - 1 ? 'end' : 'middle'), class: 'muted' }, dayUTC.format(new Date(days[i].day))));
    }
    return svg;
  }
  function timeFigures(caption, days, cur) {
    return figures(caption, [{ label: 'Day (UTC)' }, { label: 'Cost (exact)', num: true }], days.map((d) => [dayYearUTC.format(new Date(d.day)), h('span', { class: 'num', 'data-exact': d.cost }, fmtExact(d.cost, cur))]));
  }
  const GROUP_COLS = [{ label: 'Group' }, { label: 'Cost (exact)', num: true }, { label: 'Share of total', num: true }];
  const groupRow = (g, cur, link) => [link ? link(g) : g.key, h('span', { class: 'num', 'data-exact': g.cost }, fmtExact(g.cost, cur)), pct(g.share)];
  function groupFigures(caption, groups, cur, link) {
    return figures(caption, GROUP_COLS, groups.map((g) => groupRow(g, cur, link)));
  }
  // A bar chart keeps to the costliest groups; its title says how many of how many.
  const CHART_MAX = 25;
  function topOf(n, all, noun) { return n < all ? ': the ' + fmtNum(n, 0) + ' costliest of ' + fmtNum(all, 0) + ' ' + noun : ''; }

  // ---------- long listings come a page at a time (limit, cursor → next_cursor) ----------
  // pager shows what is on screen out of how many (o.text) and, while the API names a next page,
  // a "Show more" button that GETs it (o.path plus its cursor) and hands its data to o.onPage,
  // which adds what is new (a page served from a refreshed model may repeat an item) and returns
  // the first added element: the focus moves there, so a keyboard continues from the new rows.
  function pager(o) {
    const status = h('p', { class: 'sub', id: o.id + '-shown', role: 'status', tabindex: '-1' });
    const msg = h('div', {});
    const btn = h('button', { type: 'button', class: 'secondary', id: o.id + '-more' }, o.label);
    let next = o.next || '';
    let busy = false;
    const sync = () => { status.textContent = o.text(); btn.hidden = !next; };
    btn.addEventListener('click', async () => {
      if (busy || !next) return;
      busy = true;
      btn.setAttribute('aria-disabled', 'true');
      const res = await get(o.path + (o.path.indexOf('?') < 0 ? '?' : '&') + 'cursor=' + enc(next));
      busy = false;
      btn.removeAttribute('aria-disabled');
      if (o.rid !== state.render) return;
      track(o.rid, res);
      if (!res.ok) { msg.replaceChildren(errorBox(res, 'the next page')); return; }
      msg.replaceChildren();
      next = res.body.data.next_cursor || '';
      const first = o.onPage(res.body.data);
      sync();
      const to = first || (next ? null : status);
      if (to) {
        if (to.tabIndex < 0 && !to.hasAttribute('tabindex')) to.setAttribute('tabindex', '-1');
        to.focus();
      }
    });
    sync();
    const box = h('div', { class: 'pager', id: o.id }, status, h('div', { class: 'actions' }, btn), msg);
    box.sync = sync;
    return box;
  }
  const countOf = (v, shown) => (isNum(v) ? Number(v) : shown);
  // scatter: performance against cost, one labelled point per vendor.
  function scatter(o) {
    const W = 640;
    const H = 320;
    const L = 70;
    const R = 110;
    const T = 20;
    const B = 50;
    const pts = o.points.filter((p) => isNum(p.x) && isNum(p.y));
    const tid = uid('t');
    const did = uid('d');
    const skipped = o.points.filter((p) => !(isNum(p.x) && isNum(p.y))).map((p) => p.label);
    const desc = pts.map((p) => p.label + ': ' + o.xName + ' ' + o.xFmt(p.x) + ', ' + o.yName + ' ' + o.yFmt(p.y)).join('; ') + (skipped.length ? '. Not plotted (no value): ' + skipped.join(', ') : '') + '.';
    const svg = s('svg', { class: 'chart bars', viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-labelledby': tid + ' ' + did, id: o.id || null }, s('title', { id: tid }, o.title), s('desc', { id: did }, desc));
    const xs = pts.map((p) => Number(p.x));
    const ys = pts.map((p) => Number(p.y));
    const xmax = Math.max(...xs, 0) || 1;
    let ymin = Math.min(...ys);
    let ymax = Math.max(...ys);
    if (!pts.length) { ymin = 0; ymax = 1; }
    if (ymax - ymin < 1e-9) { ymin -= 0.01; ymax += 0.01; }
    const pad = (ymax - ymin) * 0.15;
    const y0 = ymin - pad;
    const y1 = ymax + pad;
    const px = (v) => L + (v / (xmax * 1.1)) * (W - L - R);
    const py = (v) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
    svg.append(s('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }), s('line', { class: 'axis', x1: L, x2: L, y1: T, y2: H - B }));
    svg.append(s('text', { x: (L + (W - R)) / 2, y: H - 8, 'text-anchor': 'middle' }, o.xTitle));
    svg.append(s('text', { x: 14, y: (T + H - B) / 2, 'text-anchor': 'middle', transform: 'rotate(-90 14 ' + (T + H - B) / 2 + ')' }, o.yTitle));
    if (pts.length) {
      const iMax = xs.indexOf(Math.max(...xs));
      svg.append(s('text', { x: L, y: H - B + 16, 'text-anchor': 'middle', class: 'muted' }, o.xFmt('0')));
      svg.append(s('text', { x: px(xs[iMax]).toFixed(1), y: H - B + 16, 'text-anchor': 'middle', class: 'muted' }, o.xFmt(pts[iMax].x)));
      const iLo = ys.indexOf(Math.min(...ys));
      const iHi = ys.indexOf(Math.max(...ys));
      svg.append(s('text', { x: L - 6, y: (py(ys[iLo]) + 4).toFixed(1), 'text-anchor': 'end', class: 'muted' }, o.yFmt(pts[iLo].y)));
      if (iHi !== iLo) svg.append(s('text', { x: L - 6, y: (py(ys[iHi]) + 4).toFixed(1), 'text-anchor': 'end', class: 'muted' }, o.yFmt(pts[iHi].y)));
    }
    pts.forEach((p) => {
      const cx = px(Number(p.x));
      const cy = py(Number(p.y));
      svg.append(s('circle', { class: 'dot', cx: cx.toFixed(1), cy: cy.toFixed(1), r: 6 }, s('title', {}, p.label + ': ' + o.xName + ' ' + o.xFmt(p.x) + ', ' + o.yName + ' ' + o.yFmt(p.y))));
      svg.append(s('text', { x: (cx + 10).toFixed(1), y: (cy + 4).toFixed(1) }, p.label));
    });
    return svg;
  }

  // ---------- Overview ----------
  async function viewOverview(r, rid) {
    const head = viewHead('Cost overview');
    const top = h('div', { class: 'cards' }, skelCard(), skelCard());
    const drivers = h('div', { class: 'cards' }, skelCard(), skelCard(), skelCard());
    const rest = h('div', {}, skelPanel());
    if (!setMain(rid, head, loadingNote(), top, drivers, rest)) return;
    const res = await get('/v1/costs/overview' + winQ('?'));
    if (rid !== state.render) return;
    track(rid, res, true);
    if (!res.ok) { top.replaceWith(errorBox(res, 'the cost overview')); drivers.remove(); rest.remove(); return; }
    const d = res.body.data;
    const cur = d.estimated_monthly_spend.currency;
    state.currency = cur;
    head.sub.textContent = 'Window: ' + windowText(res.body.window) + ' · price list ' + d.price_list_version;
    const sv = d.estimated_savings;
    top.replaceChildren(
      card({ id: 'card-monthly', title: 'Estimated monthly infrastructure spend', big: money(d.estimated_monthly_spend.amount, cur),
        sub: ['Modeled from ', money(d.window_total.amount, cur), ' over the window; "How it\'s calculated" shows the scaling.'],
        how: how(d.estimated_monthly_spend.how_calculated, 'estimated monthly spend', [['Exact figure', fmtExact(d.estimated_monthly_spend.amount, cur)], ['Window total', fmtExact(d.window_total.amount, cur)], ['How the window total is built', d.window_total.how_calculated.method]]) }),
      card({ id: 'card-savings', title: 'Estimated savings opportunities', big: range(sv.low, sv.high, cur, ' per month'),
        sub: ['A range, not a promise: ', count(sv.opportunities), ' suggestion(s) to validate. ', state.caps.recs ? h('a', { href: '#/recommendations', id: 'see-recs' }, 'See the recommendations') : null],
        how: how(sv.how_calculated, 'savings range', [['Exact range', fmtExact(sv.low, cur) + ' – ' + fmtExact(sv.high, cur)]]) }));
    const dcards = [];
    if (d.top_tenants && d.top_tenants.length) {
      dcards.push(card({ id: 'card-tenants', title: 'Top costly tenants', body: h('ol', { class: 'drivers', id: 'top-tenants' }, d.top_tenants.map((g) => h('li', {},
        g.key === 'unattributed' || !state.caps.tenant ? h('span', {}, g.key) : h('a', { href: '#/tenants/' + enc(g.key), 'data-tenant': g.key }, g.key),
        h('span', {}, money(g.cost, cur), ' · ', pct(g.share))))),
      how: how(d.window_total.how_calculated, 'tenant attribution', [['Figures', 'Each tenant\'s attributed share of the window total; unattributed cost is never spread.']]) }));
    }
    if (d.top_vendors && d.top_vendors.length) {
      dcards.push(card({ id: 'card-vendors', title: 'Top costly vendors', body: h('ol', { class: 'drivers', id: 'top-vendors' }, d.top_vendors.map((g) => h('li', {},
        state.caps.vendors ? h('a', { href: '#/vendors' }, g.key) : h('span', {}, g.key), h('span', {}, money(g.cost, cur), ' · ', pct(g.share))))),
      how: how(d.window_total.how_calculated, 'vendor costs', [['Figures', 'Each provider\'s part of the window total.']]) }));
    }
    // The API lists the largest few and counts them all; each one is a recommendation the caller
    // may see (GET /v1/recommendations/{id} opens it, wherever it sits in the listing).
    const under = (d.underutilized_resources || []).slice(0, 5);
    const underAll = countOf(d.underutilized_count, under.length);
    const recsView = state.caps.recs ? h('a', { href: '#/recommendations?kind=consolidate_vps', id: 'under-more' }, 'Recommendations view') : 'Recommendations view';
    dcards.push(card({ id: 'card-under', title: 'Underutilized resources', body: under.length
      ? h('ul', { class: 'drivers', id: 'underutilized' }, under.map((u) => h('li', {},
        state.caps.recs ? h('a', { href: '#/recommendations/' + enc(u.recommendation_id) }, truncate(u.resource_ids.join(', '), 40)) : h('span', { title: u.summary }, truncate(u.resource_ids.join(', '), 40)),
        h('span', {}, range(u.savings_monthly.low, u.savings_monthly.high, cur, '/mo')))))
      : h('p', { class: 'sub' }, 'No underutilized VPS over the recommendation lookback.'),
    sub: underAll > under.length ? h('span', { id: 'under-rest' }, count(underAll - under.length), ' more on the ', recsView, ' (', count(underAll), ' in all, largest saving first).') : null,
    how: how(sv.how_calculated, 'underutilized resources', [['Figures', 'VPS whose daily p95 CPU and memory stayed under the thresholds; each range is that recommendation\'s monthly saving.']]) }));
    drivers.replaceChildren(...dcards);
    const types = d.by_resource_type || [];
    const extra = [];
    extra.push(panel('panel-types', 'Spend by resource type', barChart({ id: 'chart-types', title: 'Modeled cost by resource type over the window', rows: types.map((g) => ({ label: g.key, value: g.cost, share: g.share })), cur }),
      groupFigures('Cost by resource type', types, cur), h('p', { class: 'hint' }, 'More breakdowns (provider, plan, tier, over time) are on the ', h('a', { href: '#/breakdowns' }, 'Breakdowns'), ' view.')));
    const notes = [];
    notes.push(h('p', {}, 'Unattributed (no tenant could be given this cost; it is never spread): ', money(d.unattributed, cur), '.'));
    if (d.unpriced && d.unpriced.length) {
      notes.push(h('details', { class: 'more' }, h('summary', {}, 'Without a price in the price list: ' + d.unpriced.length + ' item(s), costed 0'),
        h('div', {}, table('Unpriced items', [{ label: 'Kind' }, { label: 'Resource' }, { label: 'Provider' }, { label: 'Plan' }, { label: 'Reason' }], d.unpriced.map((u) => [u.kind, u.resource_id || '—', u.provider, u.plan || '—', u.reason])))));
    } else notes.push(h('p', {}, 'Everything in the window has a price in the price list.'));
    if (d.warnings && d.warnings.length) {
      notes.push(h('details', { class: 'more' }, h('summary', {}, 'Input the model worked around: ' + d.warnings.length + ' kind(s)'),
        h('div', {}, table('Model warnings', [{ label: 'Reason' }, { label: 'Count', num: true }, { label: 'Example' }], d.warnings.map((w) => [w.reason, count(w.count), w.example])))));
    }
    extra.push(panel('panel-notes', 'What the totals leave out', notes));
    rest.replaceChildren(h('div', { class: 'panel-grid' }, extra));
  }

  // ---------- Breakdowns ----------
  async function viewBreakdowns(r, rid) {
    const c = state.caps;
    const dims = [['resource_type', 'resource type', true], ['provider', 'provider (vendor)', c.byProvider], ['plan', 'plan', true], ['tier', 'tier', true], ['tenant', 'tenant', c.byTenant]].filter((x) => x[2]);
    const by = dims.some((x) => x[0] === r.params.get('by')) ? r.params.get('by') : 'resource_type';
    const byName = dims.find((x) => x[0] === by)[1];
    const sel = h('select', { id: 'group-by' }, dims.map(([k, name]) => h('option', { value: k, selected: k === by }, name)));
    sel.addEventListener('change', () => go('#/breakdowns?by=' + sel.value));
    const head = viewHead('Cost breakdowns', [h('label', { for: 'group-by' }, 'Group by'), sel]);
    const body = h('div', {}, h('div', { class: 'panel-grid' }, skelPanel(), skelPanel()));
    if (!setMain(rid, head, loadingNote(), body)) return;
    const path = '/v1/costs/breakdown?by=' + by + '&step=1d' + winQ('&');
    const res = await get(path);
    if (rid !== state.render) return;
    track(rid, res, true);
    if (!res.ok) { body.replaceChildren(errorBox(res, 'this breakdown')); return; }
    const d = res.body.data;
    const cur = d.currency;
    // groups is a page (the costliest first); total and by_day cover every group.
    const groups = d.groups.slice();
    const all = countOf(d.group_count, groups.length);
    const seen = new Set(groups.map((g) => g.key));
    head.sub.textContent = 'Window: ' + windowText(res.body.window) + ' · total ' + fmtMoney(d.total, cur);
    const link = by === 'tenant' && c.tenant ? (g) => (g.key === 'unattributed' ? g.key : h('a', { href: '#/tenants/' + enc(g.key) }, g.key)) : null;
    const bars = groups.slice(0, CHART_MAX);
    const figs = groupFigures('Cost by ' + byName, groups, cur, link);
    const series = h('select', { id: 'series' }, h('option', { value: '' }, 'Total'), groups.map((g) => h('option', { value: g.key }, g.key)));
    const more = all > groups.length || d.next_cursor ? pager({ id: 'groups', rid, path, next: d.next_cursor, label: 'Show more groups',
      text: () => (groups.length < all ? 'Showing the ' + fmtNum(groups.length, 0) + ' costliest of ' + fmtNum(all, 0) + ' groups.' : 'All ' + fmtNum(all, 0) + ' groups shown.'),
      onPage: (pg) => {
        let first = null;
        for (const g of pg.groups || []) {
          if (seen.has(g.key)) continue;
          seen.add(g.key);
          groups.push(g);
          const tr = trow(GROUP_COLS, groupRow(g, cur, link));
          $('tbody', figs).append(tr);
          series.append(h('option', { value: g.key }, g.key));
          first = first || $('a', tr) || tr.firstChild;
        }
        figs.open = true;
        return first;
      } }) : null;
    const groupsPanel = panel('panel-groups', 'Spend by ' + byName,
      h('p', { class: 'sub' }, 'Total ', money(d.total, cur), ' over the window; ', all > 1 ? 'the ' + fmtNum(all, 0) + ' groups add up to it exactly.' : 'the groups add up to it exactly.'),
      barChart({ id: 'chart-groups', title: 'Modeled cost by ' + byName + topOf(bars.length, all, 'groups'), rows: bars.map((g) => ({ label: g.key, value: g.cost, share: g.share })), cur }),
      figs, more,
      how(d.how_calculated, 'breakdown', [['Exact total', fmtExact(d.total, cur)]]));
    const chartBox = h('div', { class: 'chart-box' });
    const drawSeries = () => {
      const g = groups.find((x) => x.key === series.value);
      const days = g ? g.days || [] : d.by_day || [];
      const name = g ? byName + ' ' + g.key : 'the total';
      chartBox.replaceChildren(timeChart({ id: 'chart-time', title: 'Modeled cost per day: ' + name, days, cur }), timeFigures('Cost per day: ' + name, days, cur));
    };
    series.addEventListener('change', drawSeries);
    drawSeries();
    const timePanel = panel('panel-time', 'Over time', h('div', { class: 'controls' }, h('label', { for: 'series' }, 'Series'), series), chartBox);
    body.replaceChildren(groupsPanel, timePanel);
  }

  // ---------- Tenants ----------
  async function viewTenants(r, rid) {
    if (state.caps.scoped) return viewTenant(state.claims.tenant, rid, false);
    if (r.arg) return viewTenant(r.arg, rid, true);
    const head = viewHead('Tenants by attributed cost');
    const body = h('div', {}, skelPanel());
    if (!setMain(rid, head, loadingNote(), body)) return;
    // The ranking is a page at a time (the API's default size); "Show more tenants" adds the next.
    const path = '/v1/costs/breakdown?by=tenant&step=total' + winQ('&');
    const res = await get(path);
    if (rid !== state.render) return;
    track(rid, res, true);
    if (!res.ok) { body.replaceChildren(errorBox(res, 'the tenant ranking')); return; }
    const d = res.body.data;
    const cur = d.currency;
    const all = countOf(d.group_count, d.groups.length);
    const seen = new Set(d.groups.map((g) => g.key));
    const cols = [{ label: 'Tenant' }, { label: 'Cost', num: true }, { label: 'Share', num: true }];
    const row = (g) => [g.key === 'unattributed' ? 'unattributed (not spread)' : h('a', { href: '#/tenants/' + enc(g.key), 'data-tenant': g.key }, g.key), money(g.cost, cur), pct(g.share)];
    const tbl = table('Tenants by attributed cost', cols, d.groups.map(row), { id: 'tenant-table' });
    const more = pager({ id: 'tenants', rid, path, next: d.next_cursor, label: 'Show more tenants',
      text: () => (seen.size < all ? fmtNum(seen.size, 0) + ' of ' + fmtNum(all, 0) + ' tenants shown, costliest first.' : 'All ' + fmtNum(all, 0) + ' tenants shown, costliest first.'),
      onPage: (pg) => {
        let first = null;
        for (const g of pg.groups || []) {
          if (seen.has(g.key)) continue;
          seen.add(g.key);
          const tr = trow(cols, row(g));
          $('tbody', tbl).append(tr);
          first = first || $('a', tr) || tr.firstChild;
        }
        return first;
      } });
    const bars = d.groups.slice(0, CHART_MAX);
    head.sub.textContent = 'Window: ' + windowText(res.body.window) + ' · pick a tenant for its attribution';
    body.replaceChildren(h('div', { class: 'panel-grid' },
      panel('panel-rank', 'Ranking', tbl, more,
        how(d.how_calculated, 'tenant attribution', [['Exact total', fmtExact(d.total, cur)]])),
      panel('panel-rank-chart', 'Cost by tenant', barChart({ id: 'chart-tenants', title: 'Modeled cost by tenant' + topOf(bars.length, all, 'tenants'), rows: bars.map((g) => ({ label: g.key, value: g.cost, share: g.share })), cur }),
        bars.length < all ? h('p', { class: 'hint', id: 'chart-tenants-note' }, 'The chart shows the ' + fmtNum(bars.length, 0) + ' costliest of ' + fmtNum(all, 0) + ' tenants; the ranking lists them all.') : null)));
  }
  async function viewTenant(id, rid, back) {
    const head = viewHead('Tenant ' + id, back ? [h('a', { href: '#/tenants' }, 'All tenants')] : null);
    const top = h('div', { class: 'cards' }, skelCard(), skelCard());
    const body = h('div', {}, h('div', { class: 'panel-grid' }, skelPanel(), skelPanel()));
    if (!setMain(rid, head, loadingNote(), top, body)) return;
    const res = await get('/v1/tenants/' + enc(id) + '/costs' + winQ('?'));
    if (rid !== state.render) return;
    track(rid, res, true);
    if (!res.ok) { top.replaceWith(errorBox(res, 'this tenant')); body.remove(); return; }
    const d = res.body.data;
    const cur = d.currency || state.currency;
    head.sub.replaceChildren('Window: ' + windowText(d.window) + ' · plan ', h('span', { class: 'pill', id: 'tenant-plan' }, d.plan || 'unknown'), ' · tier ', h('span', { class: 'pill' }, d.tier || 'unknown'));
    top.replaceChildren(
      card({ id: 'card-tenant-total', title: 'Attributed cost in the window', big: money(d.total, cur), sub: ['Dedicated resources in full, shared ones by usage share.'], how: how(d.how_calculated, 'tenant cost', [['Exact figure', fmtExact(d.total, cur)]]) }),
      card({ id: 'card-tenant-monthly', title: 'Estimated monthly cost', big: money(d.estimated_monthly, cur), sub: ['The window\'s attributed cost scaled to 730 hours, as the API computes it.'], how: how(d.how_calculated, 'estimated monthly cost', [['Exact figure', fmtExact(d.estimated_monthly, cur)], ['Scaling', 'to 730 hours from the days of the window with cost data (server side)']]) }));
    const res2 = d.resources || [];
    const email = d.email || [];
    body.replaceChildren(
      noCurrencyNote(cur) || '',
      h('div', { class: 'panel-grid' },
        panel('panel-t-types', 'By resource type', barChart({ id: 'chart-t-types', title: 'Tenant cost by resource type', rows: (d.by_resource_type || []).map((g) => ({ label: g.key, value: g.cost, share: g.share })), cur }), groupFigures('Tenant cost by resource type', d.by_resource_type || [], cur)),
        panel('panel-t-providers', 'By provider', barChart({ id: 'chart-t-providers', title: 'Tenant cost by provider', rows: (d.by_provider || []).map((g) => ({ label: g.key, value: g.cost, share: g.share })), cur }), groupFigures('Tenant cost by provider', d.by_provider || [], cur))),
      panel('panel-t-time', 'Over time', timeChart({ id: 'chart-t-time', title: 'Tenant cost per day', days: d.by_day || [], cur }), timeFigures('Tenant cost per day', d.by_day || [], cur)),
      panel('panel-t-resources', 'Resources attributed to this tenant', res2.length ? table('Resources', [{ label: 'Resource' }, { label: 'Kind' }, { label: 'Provider' }, { label: 'Plan' }, { label: 'Region' }, { label: 'Shared' }, { label: 'Hours', num: true }, { label: 'Basis' }, { label: 'Share', num: true }, { label: 'Cost', num: true }],
        res2.map((x) => [x.id, x.kind, x.provider, x.plan, x.region, x.shared ? 'shared' : 'dedicated', fmtNum(x.hours, 2), x.basis, pct(x.share), money(x.cost, cur)]), { id: 'tenant-resources' }) : h('p', {}, 'No resources in this window.')),
      panel('panel-t-email', 'Email attributed to this tenant', email.length ? table('Email', [{ label: 'Provider' }, { label: 'Basis' }, { label: 'Messages sent', num: true }, { label: 'Share', num: true }, { label: 'Cost', num: true }],
        email.map((x) => [x.provider, x.basis, count(x.messages_sent), pct(x.share), money(x.cost, cur)])) : h('p', {}, 'No email in this window.')));
  }

  // ---------- Vendors ----------
  async function viewVendors(r, rid) {
    const kind = r.arg === 'vps' ? 'vps' : 'email';
    const switcher = h('div', { class: 'controls', role: 'group', 'aria-label': 'Vendor kind' },
      h('a', { href: '#/vendors/email', class: 'button' + (kind === 'email' ? '' : ' secondary'), 'aria-current': kind === 'email' ? 'page' : null, id: 'vendors-email' }, 'Email providers'),
      h('a', { href: '#/vendors/vps', class: 'button' + (kind === 'vps' ? '' : ' secondary'), 'aria-current': kind === 'vps' ? 'page' : null, id: 'vendors-vps' }, 'VPS providers'));
    const head = viewHead('Vendor comparison: performance against cost', switcher);
    const body = h('div', {}, h('div', { class: 'panel-grid' }, skelPanel(), skelPanel()));
    if (!setMain(rid, head, loadingNote(), body)) return;
    const res = await get('/v1/vendors/compare?kind=' + kind + winQ('&'));
    if (rid !== state.render) return;
    track(rid, res, true);
    if (!res.ok) { body.replaceChildren(errorBox(res, 'the vendor comparison')); return; }
    const d = res.body.data;
    const cur = d.currency || state.currency;
    head.sub.textContent = 'Window: ' + windowText(res.body.window);
    const hc = how(d.how_calculated, 'vendor comparison');
    if (kind === 'email') {
      const em = d.email || [];
      body.replaceChildren(noCurrencyNote(cur) || '', h('div', { class: 'panel-grid' },
        panel('panel-v-scatter', 'Delivery rate against cost per 1,000 delivered', scatter({ id: 'chart-vendors', title: 'Email providers: delivery rate against cost per 1,000 delivered messages', points: em.map((v) => ({ label: v.provider, x: v.cost_per_thousand_delivered, y: v.delivery_rate })),
          xTitle: 'Cost per 1,000 delivered', yTitle: 'Delivery rate', xName: 'cost per 1,000 delivered', yName: 'delivery rate', xFmt: (v) => fmtMoney(v, cur), yFmt: (v) => fmtPct(v, 1) }),
        h('p', { class: 'hint' }, 'Up and to the left is better: more delivered for less.')),
        panel('panel-v-cost', 'Cost by email provider', barChart({ id: 'chart-v-cost', title: 'Modeled cost by email provider', rows: em.map((v) => ({ label: v.provider, value: v.cost })), cur }))),
      panel('panel-v-table', 'Email providers', table('Email providers: volume, quality and cost', [{ label: 'Provider' }, { label: 'Sent', num: true }, { label: 'Delivered', num: true }, { label: 'Delivery rate', num: true }, { label: 'Bounce rate', num: true }, { label: 'Complaint rate', num: true }, { label: 'IPs', num: true }, { label: 'Volume cost', num: true }, { label: 'Base fee', num: true }, { label: 'IP cost', num: true }, { label: 'Cost', num: true }, { label: 'Per 1,000 delivered', num: true }],
        em.map((v) => [v.provider, count(v.sent), count(v.delivered), pct(v.delivery_rate, 2), pct(v.bounce_rate, 2), pct(v.complaint_rate, 2), count(v.ips), money(v.volume_cost, cur), money(v.base_fee, cur), money(v.ip_cost, cur), money(v.cost, cur), money(v.cost_per_thousand_delivered, cur)]), { id: 'vendor-table' }), hc),
      panel('panel-v-pools', 'Email pools', table('Email pools', [{ label: 'Pool' }, { label: 'Sent', num: true }, { label: 'Delivery rate', num: true }, { label: 'Bounce rate', num: true }, { label: 'Complaint rate', num: true }, { label: 'IPs', num: true }, { label: 'Cost', num: true }, { label: 'Per 1,000 delivered', num: true }],
        (d.email_pools || []).map((p) => [p.provider + '/' + p.pool, count(p.sent), pct(p.delivery_rate, 2), pct(p.bounce_rate, 2), pct(p.complaint_rate, 2), count((p.ips || []).length), money(p.cost, cur), money(p.cost_per_thousand_delivered, cur)]))));
    } else {
      const vp = d.vps || [];
      body.replaceChildren(noCurrencyNote(cur) || '', h('div', { class: 'panel-grid' },
        panel('panel-v-scatter', 'Utilization against cost per utilized vCPU-hour', scatter({ id: 'chart-vendors', title: 'VPS providers: CPU utilization against cost per utilized vCPU-hour', points: vp.map((v) => ({ label: v.provider, x: v.cost_per_utilized_vcpu_hour, y: v.utilization })),
          xTitle: 'Cost per utilized vCPU-hour', yTitle: 'Utilization', xName: 'cost per utilized vCPU-hour', yName: 'utilization', xFmt: (v) => fmtMoney(v, cur), yFmt: (v) => fmtPct(v, 1) }),
        h('p', { class: 'hint' }, 'Up and to the left is better: more of what is paid for is used, and a used vCPU-hour costs less.')),
        panel('panel-v-cost', 'Cost by VPS provider', barChart({ id: 'chart-v-cost', title: 'Modeled cost by VPS provider', rows: vp.map((v) => ({ label: v.provider, value: v.cost })), cur }))),
      panel('panel-v-table', 'VPS providers', table('VPS providers: capacity, use and cost', [{ label: 'Provider' }, { label: 'Instances', num: true }, { label: 'Cost', num: true }, { label: 'vCPU-h provisioned', num: true }, { label: 'vCPU-h utilized', num: true }, { label: 'Utilization', num: true }, { label: 'Per utilized vCPU-h', num: true }, { label: 'CPU avg', num: true }, { label: 'CPU p95', num: true }, { label: 'Memory avg', num: true }, { label: 'Memory p95', num: true }],
        vp.map((v) => [v.provider, count(v.instances), money(v.cost, cur), fmtNum(v.vcpu_hours_provisioned, 1), fmtNum(v.vcpu_hours_utilized, 1), pct(v.utilization), money(v.cost_per_utilized_vcpu_hour, cur), pct(v.cpu_avg), pct(v.cpu_p95), pct(v.mem_avg), pct(v.mem_p95)]), { id: 'vendor-table' }), hc));
    }
  }

  // ---------- Recommendations ----------
  function recCurrency(rec) {
    if (rec.currency) return rec.currency;
    if (state.currency) return state.currency;
    for (const m of rec.evidence || []) {
      const mm = /^([A-Z]{3})(\/month)?$/.exec(m.unit || '');
      if (mm) return mm[1];
    }
    return null;
  }
  function evidenceValue(m, cur) {
    const u = m.unit || '';
    if (u === 'fraction') return pct(m.value);
    const mm = /^([A-Z]{3})(\/month)?$/.exec(u);
    if (mm) return h('span', {}, money(m.value, mm[1]), mm[2] ? ' per month' : '');
    if (u === 'ratio') return h('span', { class: 'num', 'data-exact': m.value }, fmtNum(m.value, 4) + '×');
    return h('span', { class: 'num', 'data-exact': m.value, title: 'Exact: ' + m.value }, fmtNum(m.value, 4) + ' ' + u);
  }
  const human = (n) => {
    const t = String(n).replace(/_/g, ' ').replace(/\bcpu\b/g, 'CPU').replace(/\bmem\b/g, 'memory').replace(/\bip\b/g, 'IP').replace(/\bvcpu\b/g, 'vCPU');
    return t.charAt(0).toUpperCase() + t.slice(1);
  };
  function trackedMap(ini) {
    const m = new Map();
    if (!ini || !ini.ok) return m;
    for (const i of ini.body.data) {
      const prev = m.get(i.recommendation_id);
      const open = i.status !== 'failed' && i.status !== 'dismissed';
      if (!prev || (open && !prev.open)) m.set(i.recommendation_id, { id: i.id, status: i.status, open });
    }
    return m;
  }
  function recTargets(t) {
    const parts = [];
    if (t.resource_ids && t.resource_ids.length) parts.push(t.resource_ids.length + ' resource(s): ' + truncate(t.resource_ids.join(', '), 120));
    if (t.providers && t.providers.length) parts.push('providers ' + t.providers.join(', '));
    if (t.pools && t.pools.length) parts.push('pools ' + t.pools.join(', '));
    if (t.tenant_ids && t.tenant_ids.length) parts.push('tenants ' + t.tenant_ids.join(', '));
    return parts.length ? h('p', { class: 'sub' }, 'Targets: ' + parts.join(' · ')) : null;
  }
  function recArticle(rec, tracked, rid) {
    const cur = recCurrency(rec);
    const id = 'rec-' + rec.id;
    const actions = h('div', { class: 'actions' });
    const renderActions = () => {
      const t = tracked.get(rec.id);
      if (!state.caps.inits) { actions.replaceChildren(); return; }
      if (t && t.open) {
        actions.replaceChildren(h('p', { class: 'status' }, 'Tracked as an initiative: ' + (STATUS_NAMES[t.status] || t.status) + '. '), h('a', { href: '#/initiatives/' + enc(t.id), class: 'open-initiative' }, 'Open the initiative'));
        return;
      }
      const btn = h('button', { type: 'button', class: 'track', 'aria-expanded': 'false', 'aria-controls': id + '-form' }, 'Track as initiative');
      const owner = h('input', { id: id + '-owner', name: 'owner', autocomplete: 'off', maxlength: '200' });
      const notes = h('input', { id: id + '-notes', name: 'notes', autocomplete: 'off', maxlength: '2000' });
      const msg = h('div', { role: 'status' });
      const form = h('form', { class: 'inline-form', id: id + '-form', hidden: true, 'aria-label': 'Track this recommendation as an initiative' },
        h('div', { class: 'field' }, h('label', { for: id + '-owner' }, 'Owner (optional)'), owner),
        h('div', { class: 'field' }, h('label', { for: id + '-notes' }, 'Notes (optional)'), notes),
        h('button', { type: 'submit', class: 'create' }, 'Create initiative'),
        h('button', { type: 'button', class: 'secondary', onclick: () => { form.hidden = true; btn.setAttribute('aria-expanded', 'false'); btn.focus(); } }, 'Cancel'));
      btn.addEventListener('click', () => { form.hidden = false; btn.setAttribute('aria-expanded', 'true'); owner.focus(); });
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const body = { recommendation_id: rec.id };
        if (owner.value.trim()) body.owner = owner.value.trim();
        if (notes.value.trim()) body.notes = notes.value.trim();
        const res = await call('/v1/initiatives', { method: 'POST', body });
        if (res.ok) {
          const ini = res.body.data;
          state.etags[ini.id] = res.etag;
          state.cache.delete('/v1/initiatives');
          tracked.set(rec.id, { id: ini.id, status: ini.status, open: true });
          renderActions();
          actions.prepend(h('div', { class: 'msg ok', role: 'status' }, 'Initiative created (' + (STATUS_NAMES[ini.status] || ini.status) + ').'));
          const a = $('.open-initiative', actions);
          if (a) a.focus();
        } else if (res.status === 409) {
          state.cache.delete('/v1/initiatives');
          msg.replaceChildren(h('div', { class: 'msg error' }, 'This recommendation already has an open initiative. ', h('a', { href: '#/initiatives' }, 'See the initiatives')));
        } else msg.replaceChildren(errorBox(res, 'initiatives'));
      });
      actions.replaceChildren(btn, form, msg);
    };
    renderActions();
    const ev = rec.evidence || [];
    return h('article', { class: 'rec', id, 'aria-labelledby': id + '-h', 'data-kind': rec.kind },
      h('p', { class: 'hint' }, KINDS[rec.kind] || rec.kind),
      h('h2', { id: id + '-h', tabindex: '-1' }, rec.summary),
      h('div', { class: 'meta' },
        h('span', {}, 'Saving: ', h('b', {}, range(rec.savings_monthly.low, rec.savings_monthly.high, cur, ' per month'))),
        h('span', {}, 'Performance risk: ', pill(rec.performance_risk)),
        h('span', {}, 'Effort: ', pill(rec.effort))),
      h('p', { class: 'sub' }, rec.confidence),
      recTargets(rec.targets || {}),
      h('details', { class: 'more' }, h('summary', {}, 'Rationale and evidence', sr(': ' + truncate(rec.summary, 60))),
        h('div', {}, h('h3', {}, 'Assumptions'), list(rec.assumptions),
          table('Evidence', [{ label: 'Measure' }, { label: 'Value', num: true }, { label: 'Window' }], ev.map((m) => [human(m.name), evidenceValue(m, cur), windowText(m.window)])))),
      how(rec.how_calculated, truncate(rec.summary, 60), [['Exact range', fmtExact(rec.savings_monthly.low, cur) + ' – ' + fmtExact(rec.savings_monthly.high, cur)]]),
      actions);
  }
  async function viewRecs(r, rid) {
    const kind = KINDS[r.params.get('kind')] ? r.params.get('kind') : '';
    const sel = h('select', { id: 'rec-kind' }, h('option', { value: '' }, 'All kinds'), Object.keys(KINDS).map((k) => h('option', { value: k, selected: k === kind }, KINDS[k])));
    sel.addEventListener('change', () => go('#/recommendations' + (sel.value ? '?kind=' + sel.value : '')));
    const head = viewHead('Recommendations', [h('label', { for: 'rec-kind' }, 'Kind'), sel], true);
    const summary = h('div', {}, skelCard());
    const body = h('div', {}, skelPanel());
    if (!setMain(rid, head, loadingNote(), summary, body)) return;
    const path = '/v1/recommendations' + (kind ? '?kind=' + kind : '');
    const [res, ini] = await Promise.all([get(path), state.caps.inits ? get('/v1/initiatives') : null]);
    if (rid !== state.render) return;
    track(rid, res, true);
    track(rid, ini);
    if (!res.ok) { summary.replaceWith(errorBox(res, 'the recommendations')); body.remove(); return; }
    const d = res.body.data;
    const items = d.items || [];
    const cur = items.length ? recCurrency(items[0]) : state.currency;
    const lb = items.length && items[0].how_calculated ? items[0].how_calculated.window : null;
    head.sub.textContent = 'Suggestions to validate, never automatic commitments' + (lb ? ' · lookback ' + windowText(lb) : '') + (d.config ? ' (' + d.config.lookback_days + ' days)' : '');
    // items is a page (highest saving first); count and savings_monthly cover the whole listing.
    const all = countOf(d.count, items.length);
    summary.replaceChildren(h('section', { class: 'panel', id: 'recs-summary', 'aria-labelledby': 'recs-summary-h' }, h('h2', { id: 'recs-summary-h', 'data-count': all }, fmtNum(all, 0) + ' suggestion(s)'),
      h('p', {}, 'Estimated savings if all are done: ', h('b', {}, range(d.savings_monthly.low, d.savings_monthly.high, cur, ' per month')), ' — a range, not a promise.'),
      d.notes && d.notes.length ? h('details', { class: 'more' }, h('summary', {}, 'Notes from the recommender'), h('div', {}, list(d.notes))) : null));
    const tracked = trackedMap(ini);
    const seen = new Set(items.map((it) => it.id)); // from the listing's pages
    const shown = new Set(seen); // on screen (a linked one may come first, on its own)
    const listEl = h('div', { class: 'recs', id: 'rec-list' }, items.map((it) => recArticle(it, tracked, rid)));
    const more = pager({ id: 'recs', rid, path, next: d.next_cursor, label: 'Show more recommendations',
      text: () => (seen.size < all ? 'Showing ' + fmtNum(seen.size, 0) + ' of ' + fmtNum(all, 0) + ', highest saving first.' : (all > items.length ? 'All ' + fmtNum(all, 0) + ' shown.' : '')),
      onPage: (pg) => {
        let first = null;
        for (const it of pg.items || []) {
          seen.add(it.id);
          if (shown.has(it.id)) continue;
          shown.add(it.id);
          const art = recArticle(it, tracked, rid);
          listEl.append(art);
          first = first || $('h2', art);
        }
        return first;
      } });
    body.replaceChildren(items.length ? null : h('div', { class: 'msg note', id: 'recs-none' }, 'No recommendation of this kind over the lookback.'), listEl, more);
    if (r.arg) {
      let el = document.getElementById('rec-' + r.arg);
      if (!el) {
        // A link (the overview, an initiative, a bookmark) may name one beyond the first page.
        const one = await get('/v1/recommendations/' + enc(r.arg));
        if (rid !== state.render) return;
        if (one.ok && one.body && one.body.data && one.body.data.id === r.arg) {
          track(rid, one);
          const rec = one.body.data;
          el = recArticle(rec, tracked, rid);
          shown.add(rec.id);
          if (!kind || rec.kind === kind) seen.add(rec.id);
          more.sync();
          listEl.prepend(el);
          body.prepend(h('div', { class: 'msg note', id: 'rec-linked' }, kind && rec.kind !== kind
            ? 'The recommendation you followed a link to is not of the kind chosen; it is shown first.'
            : 'The recommendation you followed a link to is further down the list; it is shown first.'));
        } else if (one.status === 404 || one.status === 400) {
          body.prepend(h('div', { class: 'msg note', id: 'rec-missing' }, 'That recommendation is not in your list (it may no longer apply, or your role does not see its kind).'));
        } else body.prepend(errorBox(one, 'that recommendation'));
      }
      if (el) {
        el.classList.add('focus');
        el.scrollIntoView({ block: 'start' });
        const t = document.getElementById('rec-' + r.arg + '-h');
        if (t) setTimeout(() => t.focus(), 0);
      }
    }
  }

  // ---------- Initiatives ----------
  function expected(ini) {
    const e = ini.expected_savings;
    if (!e || !e.savings_monthly) return '—';
    return range(e.savings_monthly.low, e.savings_monthly.high, e.currency, ' per month');
  }
  async function viewInitiatives(r, rid) {
    if (r.arg) return viewInitiative(r.arg, rid);
    const head = viewHead('Initiatives', null, true);
    const body = h('div', {}, skelPanel());
    if (!setMain(rid, head, loadingNote(), body)) return;
    const res = await get('/v1/initiatives');
    if (rid !== state.render) return;
    track(rid, res, true);
    if (!res.ok) { body.replaceChildren(errorBox(res, 'the initiatives')); return; }
    const list = res.body.data || [];
    head.sub.textContent = 'Recommendations someone decided to act on, and where they stand';
    body.replaceChildren(list.length
      ? panel('panel-inits', list.length + ' initiative(s)', table('Initiatives', [{ label: 'Initiative' }, { label: 'Kind' }, { label: 'Status' }, { label: 'Owner' }, { label: 'Expected saving', num: true }, { label: 'Realized (monthly)', num: true }, { label: 'Updated' }],
        list.map((i) => [h('a', { href: '#/initiatives/' + enc(i.id), 'data-initiative': i.id }, i.title), KINDS[i.kind] || i.kind, STATUS_NAMES[i.status] || i.status, i.owner || '—', expected(i),
          i.realized_savings ? money(i.realized_savings.saved_monthly, i.realized_savings.currency || (i.expected_savings && i.expected_savings.currency)) : (i.status === 'succeeded' ? 'not measured yet' : '—'), when(i.updated_at, true)]), { id: 'initiative-table' }))
      : h('div', { class: 'msg note' }, 'No initiatives yet. Mark a recommendation as an initiative on the ', state.caps.recs ? h('a', { href: '#/recommendations' }, 'Recommendations') : 'Recommendations', ' view.'));
  }
  const FIELD_NAMES = { status: 'status', owner: 'owner', notes: 'notes', changed_at: 'change date' };
  function fieldValue(field, v) {
    if (!v) return '(unset)';
    if (field === 'status') return STATUS_NAMES[v] || v;
    if (field === 'changed_at' && !isNaN(new Date(v))) return dtShort.format(new Date(v));
    return '“' + v + '”';
  }
  function localInput(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (isNaN(d)) return '';
    const p = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes());
  }
  async function viewInitiative(id, rid) {
    const head = viewHead('Initiative', [h('a', { href: '#/initiatives' }, 'All initiatives')], true);
    const body = h('div', {}, skelCard(), skelPanel());
    if (!setMain(rid, head, loadingNote(), body)) return;
    const res = await call('/v1/initiatives/' + enc(id));
    if (rid !== state.render) return;
    track(rid, res, true);
    if (!res.ok) { body.replaceChildren(errorBox(res, 'this initiative')); return; }
    state.etags[id] = res.etag;
    renderInitiative(res.body.data, head, body, rid, null);
  }
  function renderInitiative(ini, head, body, rid, flash) {
    const cur = (ini.realized_savings && ini.realized_savings.currency) || (ini.expected_savings && ini.expected_savings.currency);
    head.querySelector('h1').textContent = 'Initiative: ' + ini.title;
    document.title = 'Initiative · Cost Optimization · spendstream';
    head.sub.textContent = (KINDS[ini.kind] || ini.kind) + ' · created ' + dtShort.format(new Date(ini.created_at)) + ' by ' + ini.created_by;
    const msg = h('div', { role: 'status', id: 'initiative-msg' }, flash || '');
    const patch = async (change, what) => {
      const res = await call('/v1/initiatives/' + enc(ini.id), { method: 'PATCH', body: change, etag: state.etags[ini.id] || '"' + ini.revision + '"' });
      if (rid !== state.render) return;
      state.cache.delete('/v1/initiatives');
      if (res.ok) {
        state.etags[ini.id] = res.etag;
        state.envs = [];
        track(rid, res, true);
        renderInitiative(res.body.data, head, body, rid, h('div', { class: 'msg ok' }, what + ' Saved.'));
        const st = $('#initiative-status');
        if (st) st.focus();
      } else if (res.status === 412) {
        const again = await call('/v1/initiatives/' + enc(ini.id));
        if (again.ok) {
          state.etags[ini.id] = again.etag;
          renderInitiative(again.body.data, head, body, rid, h('div', { class: 'msg error' }, 'Someone else changed this initiative meanwhile; this is its current state. Check it and try again.'));
        } else msg.replaceChildren(errorBox(again, 'this initiative'));
      } else if (res.status === 409) {
        msg.replaceChildren(h('div', { class: 'msg error' }, h('strong', {}, 'Not possible now: '), res.error.message));
      } else msg.replaceChildren(errorBox(res, 'changes to initiatives'));
    };
    const moves = (NEXT[ini.status] || []).map((to) => h('button', { type: 'button', class: to === 'dismissed' || to === 'proposed' || to === 'failed' ? 'secondary' : null, 'data-to': to, onclick: () => patch({ status: to }, 'Status: ' + (STATUS_NAMES[to] || to) + '.') }, MOVE_NAMES[to] || to));
    const owner = h('input', { id: 'ini-owner', value: ini.owner || '', autocomplete: 'off', maxlength: '200' });
    const notes = h('textarea', { id: 'ini-notes', maxlength: '2000' });
    notes.value = ini.notes || '';
    const changed = h('input', { id: 'ini-changed', type: 'datetime-local', value: localInput(ini.changed_at), 'aria-describedby': 'ini-changed-hint' });
    const form = h('form', { class: 'inline-form', id: 'ini-form', 'aria-label': 'Initiative details' },
      h('div', { class: 'field' }, h('label', { for: 'ini-owner' }, 'Owner'), owner),
      h('div', { class: 'field' }, h('label', { for: 'ini-changed' }, 'Change made at (your time zone)'), changed, h('span', { class: 'hint', id: 'ini-changed-hint' }, 'Realized savings compare the time after it with the same span before.')),
      h('div', { class: 'field' }, h('label', { for: 'ini-notes' }, 'Notes'), notes),
      h('button', { type: 'submit', id: 'ini-save' }, 'Save details'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const change = {};
      if (owner.value !== (ini.owner || '')) change.owner = owner.value;
      if (notes.value !== (ini.notes || '')) change.notes = notes.value;
      if (changed.value && changed.value !== localInput(ini.changed_at)) {
        const d = new Date(changed.value);
        if (!isNaN(d)) change.changed_at = d.toISOString().replace('.000Z', 'Z');
      }
      if (!Object.keys(change).length) { msg.replaceChildren(h('div', { class: 'msg note' }, 'Nothing changed.')); return; }
      patch(change, 'Details updated.');
    });
    let realized;
    if (ini.realized_savings) {
      const rs = ini.realized_savings;
      realized = panel('panel-realized', 'Realized savings',
        h('p', { class: 'big', id: 'realized-monthly' }, money(rs.saved_monthly, cur), h('span', { class: 'sub' }, ' per month')),
        h('p', { class: 'sub' }, 'Modeled cost of the targets ', money(rs.before.cost, cur), ' before (', windowText(rs.before.window), ') against ', money(rs.after.cost, cur), ' after (', windowText(rs.after.window), '): saved ', money(rs.saved, cur), ' over the span.'),
        rs.notes && rs.notes.length ? list(rs.notes) : null,
        rs.labels && rs.labels.length ? h('p', { class: 'hint' }, rs.labels.join(' ')) : null,
        how(rs.how_calculated, 'realized savings', [['Exact monthly', fmtExact(rs.saved_monthly, cur)], ['Exact saved', fmtExact(rs.saved, cur)]]));
    } else {
      realized = panel('panel-realized', 'Realized savings', h('p', {}, ini.realized_note || (ini.status === 'succeeded' ? 'Not measured yet.' : 'Measured once the initiative has succeeded, from its change date.')));
    }
    const hist = (ini.history || []).slice().reverse();
    body.replaceChildren(
      msg,
      h('section', { class: 'panel', id: 'panel-ini', 'aria-labelledby': 'panel-ini-h' },
        h('h2', { id: 'panel-ini-h' }, 'Status: ', h('span', { class: 'status', id: 'initiative-status', tabindex: '-1', 'data-status': ini.status }, STATUS_NAMES[ini.status] || ini.status)),
        h('div', { class: 'meta' },
          h('span', {}, 'Expected saving: ', h('b', {}, expected(ini))),
          h('span', {}, 'Owner: ', h('b', {}, ini.owner || '—')),
          h('span', {}, 'Change made: ', h('b', {}, ini.changed_at ? when(ini.changed_at, true) : 'not yet')),
          h('span', {}, 'Recommendation: ', state.caps.recs ? h('a', { href: '#/recommendations/' + enc(ini.recommendation_id) }, ini.recommendation_id) : ini.recommendation_id)),
        ini.targets && ini.targets.length ? h('p', { class: 'sub' }, 'Targets: ' + truncate(ini.targets.join(', '), 200)) : null,
        moves.length ? h('div', { class: 'actions', role: 'group', 'aria-label': 'Change the status' }, moves) : h('p', { class: 'sub' }, 'This initiative is closed (' + (STATUS_NAMES[ini.status] || ini.status) + ').'),
        form),
      realized,
      panel('panel-history', 'History', h('ol', { id: 'history' }, hist.map((c) => h('li', { 'data-fields': (c.fields || []).map((f) => f.field + ':' + f.from + '>' + f.to).join(' ') }, when(c.at, true), ' by ', c.by, ': ',
        (c.fields || []).map((f) => (FIELD_NAMES[f.field] || f.field) + ' ' + fieldValue(f.field, f.from) + ' → ' + fieldValue(f.field, f.to)).join('; ') || c.note || 'created')))));
  }

  const RENDER = { overview: viewOverview, breakdowns: viewBreakdowns, tenants: viewTenants, vendors: viewVendors, recommendations: viewRecs, initiatives: viewInitiatives };

  // ---------- start ----------
  try {
    const tok = sessionStorage.getItem('spendstream.token');
    if (tok) { state.token = tok; state.claims = decodeClaims(tok); }
  } catch (e) { /* no storage */ }
  route(false);
})();
