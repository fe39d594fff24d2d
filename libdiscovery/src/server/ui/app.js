// mcp-discovery dashboard: plain JS, no dependencies, served from the daemon
// (CSP: script-src 'self'; no inline code, no eval, no other origin).
//
// Data flow: the scoped fleet is loaded with discover's cursor pagination
// (pages of 1000, yielding between pages so the page never freezes), then kept
// current by the SSE watch, read with fetch() and a stream reader because
// EventSource cannot send an Authorization header. Filters, search, sorting and
// paging run over that in-memory copy; only one page of rows is in the DOM.
// The token lives in sessionStorage and travels only in the Authorization
// header. Its claims are decoded for display and to hide what the level may
// not do; the API remains the authority (a refusal is shown as it comes).
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = 'mcp-discovery.token';
  const STATUSES = ['active', 'unhealthy', 'maintenance', 'inactive'];

  const state = {
    token: null,
    claims: null,
    generation: 0,          // bumped on sign-out: stale loops and requests stop
    services: new Map(),    // serviceId -> record
    lastEventId: null,
    loaded: false,
    sort: { key: 'companyName', dir: 1 },
    page: 0,
    changed: new Set(),
    renderTimer: null,
    watchAbort: null,
    detailId: null,
    detailTimer: null,
  };

  // ---- small helpers -------------------------------------------------------

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') node.textContent = v;
      else if (k === 'class') node.className = v;
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  };
  const svg = (tag, attrs = {}) => {
    const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    return node;
  };
  const fmtTime = (t) => (t ? new Date(t).toLocaleString() : '—');
  const fmtMs = (v) => (typeof v === 'number' ? v.toFixed(1) : '—');
  const list = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

  function notify(message, kind = 'error') {
    const n = $('notice');
    n.textContent = message;
    n.dataset.kind = kind;
    n.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    n.hidden = false;
    clearTimeout(notify.timer);
    notify.timer = setTimeout(() => { n.hidden = true; }, kind === 'error' ? 10000 : 5000);
  }

  // The claims of a JWT, for display only (not verified here: the API verifies).
  function decodeClaims(token) {
    const part = token.split('.')[1];
    if (!part) throw new Error('not a JWT (header.payload.signature)');
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  }

  // What the level may do (API.md's access table), to offer only that.
  const mayOperate = (company) => {
    const c = state.claims || {};
    return c.sao === 'diamond' || c.sao === 'emerald' || (c.sao === 'sapphire' && c.company === company);
  };

  // ---- the API ---------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body) {
      super(body?.error?.message || `HTTP ${status}`);
      this.status = status;
      this.code = body?.error?.code;
    }
  }

  async function api(path, { method = 'GET', body } = {}) {
    const generation = state.generation;
    const headers = { Authorization: `Bearer ${state.token}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, { method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (generation !== state.generation) throw new ApiError(0, { error: { message: 'signed out' } });
    if (res.status === 401) {
      signOut(`The token was refused: ${data?.error?.message || 'unauthenticated'}. Sign in again.`);
      throw new ApiError(401, data);
    }
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
  }

  // ---- sign-in -------------------------------------------------------------------

  function showSignedIn() {
    const c = state.claims;
    $('who').textContent = `${c.sub ?? '?'} · ${c.sao ?? '?'}${c.company ? ` · ${c.company}` : ''}`;
    $('who').title = c.exp ? `token expires ${new Date(c.exp * 1000).toLocaleString()}` : '';
    $('session').hidden = false;
    $('signin').hidden = true;
  }

  async function signIn(token) {
    let claims;
    try {
      claims = decodeClaims(token);
    } catch (e) {
      notify(`That is not a token: ${e.message}`);
      return;
    }
    if (claims.exp && claims.exp * 1000 < Date.now()) {
      notify('That token has expired.');
      return;
    }
    state.token = token;
    state.claims = claims;
    state.generation += 1;
    sessionStorage.setItem(TOKEN_KEY, token);
    showSignedIn();
    route();
    load(state.generation);
  }

  function signOut(message) {
    state.generation += 1;
    state.watchAbort?.abort();
    clearInterval(state.detailTimer);
    sessionStorage.removeItem(TOKEN_KEY);
    Object.assign(state, { token: null, claims: null, lastEventId: null, loaded: false, detailId: null });
    state.services.clear();
    setConnection('offline');
    $('session').hidden = true;
    $('overview').hidden = true;
    $('detail').hidden = true;
    $('signin').hidden = false;
    $('token').value = '';
    if (message) notify(message);
    $('token').focus();
  }

  // ---- loading and the live watch -------------------------------------------------

  async function load(generation) {
    state.services.clear();
    state.loaded = false;
    let cursor = null;
    let startIndex = null;
    try {
      do {
        const q = new URLSearchParams({ limit: '1000' });
        if (cursor) q.set('cursor', cursor);
        const page = await api(`/api/v1/services/discover?${q}`);
        if (generation !== state.generation) return;
        if (startIndex === null) startIndex = page.index;
        for (const s of page.services) state.services.set(s.serviceId, s);
        cursor = page.nextCursor;
        $('load-progress').textContent = cursor ? `Loading… ${state.services.size} services so far` : '';
        scheduleRender();
        await sleep(0);  // let the page breathe between pages
      } while (cursor);
    } catch (e) {
      if (generation === state.generation && e.status !== 401) notify(`Could not load services: ${e.message}`);
      return;
    }
    state.loaded = true;
    scheduleRender();
    // Changes after the first page's index are replayed in order, so nothing
    // that happened during the load is lost.
    state.lastEventId = startIndex;
    watch(generation);
  }

  function setConnection(kind, detail = '') {
    const c = $('conn');
    c.dataset.state = kind;
    const text = { live: 'live', connecting: 'connecting…', reconnecting: `reconnecting${detail}`, offline: 'offline' }[kind];
    c.textContent = `Live updates: ${text}`;
  }

  async function watch(generation) {
    let delay = 1000;
    let first = true;
    while (generation === state.generation) {
      setConnection(first ? 'connecting' : 'reconnecting', '…');
      first = false;
      const abort = new AbortController();
      state.watchAbort = abort;
      let lastData = Date.now();
      // Keep-alive comments arrive every 15 s; silence for 40 s means a dead link.
      const watchdog = setInterval(() => { if (Date.now() - lastData > 40000) abort.abort(); }, 5000);
      try {
        const headers = { Authorization: `Bearer ${state.token}`, Accept: 'text/event-stream' };
        if (state.lastEventId !== null) headers['Last-Event-ID'] = String(state.lastEventId);
        const res = await fetch('/api/v1/services/watch', { headers, signal: abort.signal, cache: 'no-store' });
        if (res.status === 401) {
          signOut('The token was refused by the live stream. Sign in again.');
          return;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        setConnection('live');
        delay = 1000;
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          lastData = Date.now();
          buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            handleFrame(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        }
      } catch {
        // aborted or dropped: reconnect below
      } finally {
        clearInterval(watchdog);
      }
      if (generation !== state.generation) return;
      setConnection('reconnecting', ` in ${Math.round(delay / 1000)} s`);
      await sleep(delay);
      delay = Math.min(delay * 2, 15000);
    }
  }

  function handleFrame(frame) {
    let id = null;
    let event = 'message';
    const data = [];
    for (const line of frame.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (id !== null && /^\d+$/.test(id)) state.lastEventId = Number(id);
    if (event !== 'change' || !data.length) return;
    let change;
    try { change = JSON.parse(data.join('\n')); } catch { return; }
    const s = change.service;
    if (!s?.serviceId) return;
    if (change.type === 'delete') state.services.delete(s.serviceId);
    else state.services.set(s.serviceId, s);
    state.changed.add(s.serviceId);
    scheduleRender();
    if (state.detailId === s.serviceId) renderDetailRecord(change.type === 'delete' ? null : s);
  }

  // ---- the overview ---------------------------------------------------------------

  // Coalesces bursts of changes into one render, well within a second (a timer,
  // not requestAnimationFrame, so background tabs stay current too).
  function scheduleRender() {
    if (state.renderTimer) return;
    state.renderTimer = setTimeout(() => {
      state.renderTimer = null;
      renderOverview();
    }, 60);
  }

  function readFilters() {
    return {
      search: $('f-search').value.trim().toLowerCase(),
      company: $('f-company').value,
      region: $('f-region').value,
      environment: $('f-environment').value,
      status: $('f-status').value,
      capabilities: list($('f-capabilities').value),
      tags: list($('f-tags').value),
      tools: list($('f-tools').value),
    };
  }

  function matches(s, f) {
    const info = s.serviceInfo || {};
    if (f.company && s.companyName !== f.company) return false;
    if (f.region && info.region !== f.region) return false;
    if (f.environment && info.environment !== f.environment) return false;
    if (f.status && s.status !== f.status) return false;
    if (f.capabilities.length && !f.capabilities.every((c) => (info.capabilities || []).includes(c))) return false;
    if (f.tags.length && !f.tags.every((t) => (s.tags || []).includes(t))) return false;
    if (f.tools.length) {
      const names = (s.mcp?.tools || []).map((t) => t.name);
      if (!f.tools.every((t) => names.includes(t))) return false;
    }
    if (f.search) {
      const hay = [s.serviceId, s.companyName, s.domain, s.instanceId, info.version, info.region,
        info.endpoints?.primary, ...(s.tags || [])].join(' ').toLowerCase();
      if (!hay.includes(f.search)) return false;
    }
    return true;
  }

  const sortValue = {
    companyName: (s) => s.companyName || '',
    domain: (s) => s.domain || '',
    region: (s) => s.serviceInfo?.region || '',
    environment: (s) => s.serviceInfo?.environment || '',
    status: (s) => s.status || '',
    version: (s) => s.serviceInfo?.version || '',
    responseTime: (s) => s.healthStatus?.responseTime ?? Infinity,
    lastUpdated: (s) => s.lastUpdated || '',
  };

  function sorted(rows) {
    const { key, dir } = state.sort;
    const value = sortValue[key];
    return rows.sort((a, b) => {
      const x = value(a), y = value(b);
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
      return (c || a.serviceId.localeCompare(b.serviceId)) * dir;
    });
  }

  function fillSelect(select, values) {
    const current = select.value;
    const have = new Set([...select.options].map((o) => o.value));
    const want = [...values].sort();
    if (want.length + 1 === have.size && want.every((v) => have.has(v))) return;
    select.replaceChildren(el('option', { value: '', text: 'any' }), ...want.map((v) => el('option', { value: v, text: v })));
    if (current && !want.includes(current)) select.append(el('option', { value: current, text: current }));
    select.value = current;
  }

  function renderCounts() {
    const byStatus = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    const byRegion = new Map();
    const companies = new Set(), regions = new Set(), environments = new Set();
    for (const s of state.services.values()) {
      byStatus[s.status] = (byStatus[s.status] || 0) + 1;
      const region = s.serviceInfo?.region || '(none)';
      byRegion.set(region, (byRegion.get(region) || 0) + 1);
      companies.add(s.companyName);
      if (s.serviceInfo?.region) regions.add(s.serviceInfo.region);
      if (s.serviceInfo?.environment) environments.add(s.serviceInfo.environment);
    }
    $('by-status').replaceChildren(
      el('li', { 'data-status': 'total' }, 'total ', el('b', { text: state.services.size })),
      ...STATUSES.map((s) => el('li', { 'data-status': s }, el('span', { class: `status status-${s}`, text: s }), ' ', el('b', { text: byStatus[s] }))));
    $('by-region').replaceChildren(...[...byRegion].sort((a, b) => b[1] - a[1])
      .map(([r, n]) => el('li', { 'data-region': r }, `${r} `, el('b', { text: n }))));
    fillSelect($('f-company'), companies);
    fillSelect($('f-region'), regions);
    fillSelect($('f-environment'), environments);
  }

  function renderOverview() {
    if (!state.token) return;
    renderCounts();
    const rows = sorted([...state.services.values()].filter((s) => matches(s, readFilters())));
    const size = Number($('page-size').value);
    const pages = Math.max(1, Math.ceil(rows.length / size));
    state.page = Math.min(state.page, pages - 1);
    const start = state.page * size;
    const visible = rows.slice(start, start + size);
    const body = document.createDocumentFragment();
    for (const s of visible) {
      const tr = el('tr', { 'data-id': s.serviceId, class: state.changed.has(s.serviceId) ? 'changed' : null },
        el('td', { text: s.companyName }),
        el('td', {}, el('a', { href: `#/service/${encodeURIComponent(s.serviceId)}`, text: s.domain || s.serviceId })),
        el('td', { text: s.serviceInfo?.region || '—' }),
        el('td', { class: 'hide-narrow', text: s.serviceInfo?.environment || '—' }),
        el('td', {}, el('span', { class: `status status-${s.status}`, text: s.status })),
        el('td', { class: 'hide-narrow', text: s.serviceInfo?.version || '—' }),
        el('td', { class: 'hide-narrow', text: fmtMs(s.healthStatus?.responseTime) }),
        el('td', { class: 'hide-narrow', text: fmtTime(s.lastUpdated) }));
      body.append(tr);
    }
    state.changed.clear();
    $('rows').replaceChildren(body);
    $('services-caption').textContent = `Services: ${rows.length} of ${state.services.size} shown by the filters`;
    $('page-info').textContent = rows.length ? `Rows ${start + 1}–${start + visible.length} of ${rows.length} (page ${state.page + 1} of ${pages})` : 'No services match';
    $('prev').disabled = state.page === 0;
    $('next').disabled = state.page >= pages - 1;
    for (const th of document.querySelectorAll('#services th')) {
      const key = th.querySelector('button').dataset.sort;
      th.setAttribute('aria-sort', key === state.sort.key ? (state.sort.dir > 0 ? 'ascending' : 'descending') : 'none');
    }
  }

  // ---- a service -------------------------------------------------------------------

  function renderDetailRecord(s) {
    if (!s) {
      $('detail-title').textContent = 'Service deregistered';
      $('record').replaceChildren(el('dt', { text: 'status' }), el('dd', { text: 'deregistered' }));
      $('actions').hidden = true;
      return;
    }
    const info = s.serviceInfo || {};
    const h = s.healthStatus || {};
    $('detail-title').textContent = `${s.domain} (${s.companyName})`;
    const fields = [
      ['serviceId', s.serviceId], ['company', s.companyName], ['instance', s.instanceId],
      ['status', el('span', { class: `status status-${s.status}`, text: s.status, id: 'detail-status' })],
      ['version', info.version || '—'], ['region', info.region || '—'], ['environment', info.environment || '—'],
      ['primary', info.endpoints?.primary], ['MCP endpoint', info.endpoints?.mcp || '—'],
      ['capabilities', (info.capabilities || []).join(', ') || '—'], ['tags', (s.tags || []).join(', ') || '—'],
      ['uptime', typeof h.uptime === 'number' ? `${h.uptime.toFixed(2)} %` : '—'],
      ['last check', fmtTime(h.lastCheck)], ['response time', `${fmtMs(h.responseTime)} ms`],
      ['last error', h.lastError || '—'], ['registered', fmtTime(s.registeredAt)], ['updated', fmtTime(s.lastUpdated)],
    ];
    $('record').replaceChildren(...fields.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', {}, v ?? '—')]));
    $('record-json').textContent = JSON.stringify(s, null, 2);
    const tools = s.mcp?.tools || [];
    $('tools').replaceChildren(...(tools.length
      ? tools.map((t) => el('li', {}, el('strong', { text: t.name }), t.description ? ` — ${t.description}` : ''))
      : [el('li', { text: s.mcp ? 'The server reported no tools.' : 'Not introspected (healthCheckConfig.mcp is off, or not checked yet).' })]));
    const operate = mayOperate(s.companyName);
    $('actions').hidden = !operate;
    $('act-maintenance').disabled = s.status === 'maintenance';
    $('act-active').disabled = s.status !== 'maintenance';
  }

  function renderChart(checks) {
    const chart = $('health-chart');
    if (!checks.length) {
      chart.replaceChildren(el('p', { class: 'help', text: 'No checks recorded yet.' }));
      return;
    }
    const ordered = [...checks].reverse();  // oldest first
    const W = 600, H = 160, bar = 14, top = 8, plotH = H - bar - 24;
    const max = Math.max(1, ...ordered.map((c) => c.responseTime || 0));
    const step = ordered.length > 1 ? (W - 40) / (ordered.length - 1) : 0;
    const failed = ordered.filter((c) => !c.ok).length;
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'chart-title' });
    const title = svg('title', { id: 'chart-title' });
    title.textContent = `${ordered.length} recent checks, ${failed} failed; slowest ${max.toFixed(1)} ms`;
    root.append(title);
    root.append(svg('line', { class: 'axis', x1: 30, y1: top + plotH, x2: W - 10, y2: top + plotH }));
    const label = svg('text', { x: 0, y: top + 8 });
    label.textContent = `${Math.round(max)} ms`;
    root.append(label);
    const points = ordered.map((c, i) => (typeof c.responseTime === 'number'
      ? `${30 + i * step},${top + plotH - (c.responseTime / max) * plotH}` : null)).filter(Boolean);
    if (points.length) root.append(svg('polyline', { class: 'line', points: points.join(' ') }));
    const w = Math.max(2, Math.min(16, (W - 40) / ordered.length - 1));
    ordered.forEach((c, i) => {
      const r = svg('rect', { class: c.ok ? 'up' : 'down', x: 30 + i * step - w / 2, y: H - bar - 4, width: w, height: bar });
      const t = svg('title');
      t.textContent = `${fmtTime(c.at)}: ${c.ok ? 'up' : 'down'}${c.error ? ` (${c.error})` : ''}`;
      r.append(t);
      root.append(r);
    });
    chart.replaceChildren(root);
  }

  async function loadHealth(id) {
    try {
      const detail = await api(`/api/v1/services/${encodeURIComponent(id)}/health`);
      if (state.detailId !== id) return;
      const checks = detail.recentChecks || [];
      renderChart(checks);
      $('health-note').textContent = '';
      $('checks').querySelector('tbody').replaceChildren(...checks.map((c) => el('tr', { class: c.ok ? null : 'failed' },
        el('td', { text: fmtTime(c.at) }), el('td', { text: c.ok ? 'up' : 'down' }), el('td', { text: fmtMs(c.responseTime) }),
        el('td', { text: c.endpoint || '—' }), el('td', { text: c.error || '' }))));
    } catch (e) {
      if (state.detailId !== id || e.status === 401) return;
      $('health-chart').replaceChildren();
      $('checks').querySelector('tbody').replaceChildren();
      $('health-note').textContent = e.status === 403
        ? 'Health history is not available at your access level.'
        : `Health history could not be loaded: ${e.message}`;
    }
  }

  async function loadAlerts(id) {
    // Shown only where the daemon answers the alerts endpoint.
    try {
      const data = await api(`/api/v1/alerts?serviceId=${encodeURIComponent(id)}&limit=20`);
      if (state.detailId !== id) return;
      const alerts = data?.alerts || [];
      $('alerts').querySelector('tbody').replaceChildren(...(alerts.length
        ? alerts.map((a) => el('tr', {}, el('td', { text: fmtTime(a.at) }), el('td', { text: a.level }), el('td', { text: a.kind }), el('td', { text: a.message })))
        : [el('tr', {}, el('td', { colspan: 4, text: 'No recent alerts.' }))]));
      $('alerts-card').hidden = false;
    } catch {
      $('alerts-card').hidden = true;
    }
  }

  async function showDetail(id) {
    state.detailId = id;
    $('overview').hidden = true;
    $('detail').hidden = false;
    $('alerts-card').hidden = true;
    $('actions').hidden = true;
    $('health-chart').replaceChildren();
    $('health-note').textContent = '';
    $('checks').querySelector('tbody').replaceChildren();
    let s = state.services.get(id);
    if (!s) {
      try {
        s = await api(`/api/v1/services/${encodeURIComponent(id)}`);
      } catch (e) {
        if (state.detailId !== id) return;
        $('detail-title').textContent = e.status === 404 ? 'No such service' : `Could not load the service: ${e.message}`;
        $('record').replaceChildren();
        return;
      }
    }
    if (state.detailId !== id) return;
    renderDetailRecord(s);
    $('detail-title').focus();
    loadHealth(id);
    loadAlerts(id);
    clearInterval(state.detailTimer);
    state.detailTimer = setInterval(() => { if (state.detailId === id) loadHealth(id); }, 10000);
  }

  function confirmAction(text) {
    const dialog = $('confirm');
    $('confirm-text').textContent = text;
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
      dialog.returnValue = '';
      dialog.showModal();
      $('confirm-ok').focus();
    });
  }

  async function operate(kind) {
    const id = state.detailId;
    const s = state.services.get(id);
    const name = s ? `${s.domain} (${s.instanceId})` : id;
    const text = { maintenance: `Put ${name} into maintenance? The health checker will not change its status until maintenance ends.`,
      active: `End maintenance for ${name}? It becomes active.`,
      deregister: `Deregister ${name}? It is removed from the registry; this cannot be undone.` }[kind];
    if (!(await confirmAction(text))) return;
    try {
      if (kind === 'deregister') {
        await api(`/api/v1/services/${encodeURIComponent(id)}`, { method: 'DELETE' });
        state.services.delete(id);
        notify(`Deregistered ${name}.`, 'info');
        location.hash = '#/';
      } else {
        const updated = await api(`/api/v1/services/${encodeURIComponent(id)}/status`, { method: 'PUT', body: { status: kind } });
        state.services.set(id, updated);
        renderDetailRecord(updated);
        notify(`${name} is now ${updated.status}.`, 'info');
      }
    } catch (e) {
      if (e.status !== 401) notify(`Refused: ${e.message}`);
    }
  }

  // ---- routing -----------------------------------------------------------------------

  function route() {
    if (!state.token) return;
    clearInterval(state.detailTimer);
    const m = location.hash.match(/^#\/service\/([^/]+)$/);
    if (m) {
      showDetail(decodeURIComponent(m[1]));
    } else {
      state.detailId = null;
      $('detail').hidden = true;
      $('overview').hidden = false;
      renderOverview();
    }
  }

  // ---- wiring ----------------------------------------------------------------------------

  document.addEventListener('DOMContentLoaded', () => {
    $('signin-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const token = $('token').value.trim().replace(/^Bearer\s+/i, '');
      if (token) signIn(token);
    });
    $('signout').addEventListener('click', () => signOut());
    const refilter = () => { state.page = 0; scheduleRender(); };
    for (const id of ['f-search', 'f-capabilities', 'f-tags', 'f-tools']) $(id).addEventListener('input', refilter);
    for (const id of ['f-company', 'f-region', 'f-environment', 'f-status', 'page-size']) $(id).addEventListener('change', refilter);
    $('filters').addEventListener('reset', () => setTimeout(refilter, 0));
    $('filters').addEventListener('submit', (e) => e.preventDefault());
    $('prev').addEventListener('click', () => { state.page = Math.max(0, state.page - 1); renderOverview(); });
    $('next').addEventListener('click', () => { state.page += 1; renderOverview(); });
    for (const b of document.querySelectorAll('#services th button')) {
      b.addEventListener('click', () => {
        const key = b.dataset.sort;
        state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : 1 };
        renderOverview();
      });
    }
    $('act-maintenance').addEventListener('click', () => operate('maintenance'));
    $('act-active').addEventListener('click', () => operate('active'));
    $('act-deregister').addEventListener('click', () => operate('deregister'));
    $('detail-title').setAttribute('tabindex', '-1');
    window.addEventListener('hashchange', route);

    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) signIn(saved);
    else {
      $('signin').hidden = false;
      $('token').focus();
    }
  });
})();
