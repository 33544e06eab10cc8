// gridhost dashboard: plain ES module, no build step, no asset from outside gridhost. It polls
// the read API every POLL_MS and redraws; every text from the API goes in as text, never as HTML.
const POLL_MS = 2000;
const HISTORY_MS = 3600_000;
const SVG = 'http://www.w3.org/2000/svg';

/** Server time minus browser time, from each response's Date header (ages and the chart's "now"). */
let clockSkewMs = 0;
const serverNow = () => Date.now() + clockSkewMs;

/** pool -> evaluations of the last hour, oldest first; and the time of the newest one fetched. */
const history = new Map();
/** Event ids whose details the operator opened (kept open across redraws). */
const openEvents = new Set();

// ---- tiny DOM helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// ---- formatting

function ago(iso) {
  if (!iso) return '';
  const sec = Math.max(0, Math.round((serverNow() - Date.parse(iso)) / 1000));
  if (sec < 90) return `${sec}s`;
  if (sec < 5400) return `${Math.round(sec / 60)}m`;
  if (sec < 172800) return `${Math.round(sec / 3600)}h`;
  return `${Math.round(sec / 86400)}d`;
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour12: false });
}

function num(v, digits = 1) {
  return typeof v === 'number' && Number.isFinite(v) ? (Number.isInteger(v) ? String(v) : v.toFixed(digits)) : '–';
}

const unit = (metric) => (metric === 'cpu' ? '%' : '');

function issueLine(file, i) {
  return `${file}:${i.line}:${i.col}: ${i.path ? `${i.path}: ` : ''}${i.message}${i.found === undefined ? '' : ` (found ${JSON.stringify(i.found)})`}`;
}

// ---- API

async function api(path) {
  const r = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' });
  const date = r.headers.get('date');
  if (date) clockSkewMs = Date.parse(date) + 500 - Date.now();
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body?.error?.message ?? `${r.status} ${r.statusText}`);
  return body;
}

// ---- charts

/**
 * A time chart of the last hour. `lines`: { label, cls, points: [[ms, value]], step }.
 * Values are drawn as given; gaps (null) break the line.
 */
function chart(title, lines, opts = {}) {
  const W = 600, H = 140, L = 34, R = 6, T = 8, B = 18;
  // The last hour, or less while there is less history (a fresh start), but at least 2 minutes.
  const t1 = serverNow();
  const first = Math.min(...lines.flatMap((l) => l.points.map((p) => p[0])), t1);
  const t0 = Math.max(t1 - HISTORY_MS, Math.min(first, t1 - 120_000));
  const values = lines.flatMap((l) => l.points.map((p) => p[1]).filter((v) => typeof v === 'number'));
  let y1 = Math.max(opts.yMin ?? 0, ...values, 1);
  y1 = opts.integer ? Math.ceil(y1 + 0.5) : y1 * 1.1;
  const y0 = 0;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': title });
  svg.append(s('line', { x1: L, y1: y(0), x2: W - R, y2: y(0), stroke: '#d8dee4' }));
  svg.append(s('text', { x: 2, y: T + 8, class: 'axis' }, num(y1, 0)));
  svg.append(s('text', { x: 2, y: H - B, class: 'axis' }, '0'));
  svg.append(s('text', { x: L, y: H - 4, class: 'axis' }, `-${Math.round((t1 - t0) / 60_000)}m`));
  svg.append(s('text', { x: W - R - 22, y: H - 4, class: 'axis' }, 'now'));
  for (const l of lines) {
    let d = '';
    let prev;
    for (const [t, v] of l.points) {
      if (t < t0 || typeof v !== 'number') {
        prev = undefined;
        continue;
      }
      if (prev === undefined) d += `M${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      else if (l.step) d += `H${x(t).toFixed(1)}V${y(v).toFixed(1)}`;
      else d += `L${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      prev = v;
    }
    if (d) svg.append(s('path', { d, class: l.cls, 'data-series': l.label }));
  }
  const legend = lines.map((l) => {
    const last = [...l.points].reverse().find((p) => typeof p[1] === 'number');
    return `${l.label} ${last ? num(last[1]) : '–'}`;
  }).join(' · ');
  return h('div', { class: 'chart', 'data-chart': title }, h('h3', {}, title), svg, h('div', { class: 'legend' }, legend));
}

function poolCharts(pool) {
  const evs = history.get(pool)?.items ?? [];
  const at = (e) => Date.parse(e.at);
  const out = [
    chart('guests', [
      { label: 'current', cls: 'series-value', step: true, points: evs.map((e) => [at(e), e.guests.counted]) },
      { label: 'desired', cls: 'series-desired', step: true, points: evs.map((e) => [at(e), e.acted?.to ?? (e.mode === 'manual' && e.hold?.desired !== undefined ? e.hold.desired : e.mode === 'paused' || e.hold?.cause === 'recommend' ? e.guests.counted : e.decided.to)]) },
      { label: 'min', cls: 'series-min', step: true, points: evs.map((e) => [at(e), e.min]) },
      { label: 'max', cls: 'series-bound', step: true, points: evs.map((e) => [at(e), e.max]) },
    ], { integer: true }),
  ];
  const rules = new Map();
  for (const e of evs) for (const r of e.rules ?? []) rules.set(r.rule, r);
  for (const [name, r] of rules) {
    const pick = (k) => evs.map((e) => [at(e), (e.rules ?? []).find((x) => x.rule === name)?.[k]]);
    const lines = [{ label: `${r.metric}${unit(r.metric) ? ' %' : ''}`, cls: 'series-value', points: pick('value') }];
    if (r.strategy === 'target-tracking') lines.push({ label: 'target', cls: 'series-bound', step: true, points: pick('target') });
    else {
      if (r.above !== undefined) lines.push({ label: 'above', cls: 'series-bound', step: true, points: pick('above') });
      if (r.below !== undefined) lines.push({ label: 'below', cls: 'series-min', step: true, points: pick('below') });
    }
    out.push(chart(`rule ${name}`, lines));
  }
  return h('div', { class: 'charts' }, out);
}

// ---- pools

function banners(p) {
  const out = [];
  if (!p.managed) out.push(h('div', { class: 'banner', 'data-banner': 'unmanaged' }, 'No policy manages this pool any more (its file was removed); its guests keep running until an operator retires them.'));
  const c = p.control;
  if (p.mode === 'paused' && c) out.push(h('div', { class: 'banner', 'data-banner': 'paused' }, `Paused by ${c.by} ${ago(c.at)} ago${c.reason ? `: ${c.reason}` : ''}. It keeps its guests and takes no automatic action until resumed.`));
  if (p.mode === 'manual' && c) out.push(h('div', { class: 'banner info', 'data-banner': 'manual' }, `Held at ${c.desired} by hand by ${c.by} ${ago(c.at)} ago${c.reason ? `: ${c.reason}` : ''}. Rules and schedules do not move it until resumed.`));
  if (p.policyMode === 'recommend') out.push(h('div', { class: 'banner info', 'data-banner': 'recommend' }, `mode: recommend: gridhost recommends ${p.recommended ?? '–'} guests and launches and retires nothing. Set mode: act in its policy to let it act.`));
  for (const b of p.blockers ?? []) out.push(h('div', { class: 'banner error', 'data-banner': b.cause }, `Blocked (${b.cause}): ${b.message}`));
  if (p.policyError) {
    out.push(h('div', { class: 'banner error', 'data-banner': 'policy-error' },
      `Its policy file failed to reload; the last good version keeps running:\n${p.policyError.issues.map((i) => issueLine(p.policyError.file, i)).join('\n')}`));
  }
  return out;
}

function guestsTable(detail) {
  const guests = detail?.guests ?? [];
  if (guests.length === 0) return h('p', { class: 'muted' }, 'no guests');
  return h('table', { class: 'guests' },
    h('thead', {}, h('tr', {}, ['guest', 'state', 'host', 'age', 'cpu', 'load', 'health'].map((c) => h('th', {}, c)))),
    h('tbody', {}, guests.map((g) => {
      const m = g.metrics ?? {};
      const load = Object.entries(m).filter(([k]) => k !== 'cpu').map(([k, v]) => `${k} ${num(v)}`).join(', ');
      const b = g.backend;
      const health = b ? `${b.healthy ? 'healthy' : 'unhealthy'}${b.draining ? ', draining' : ''}${b.inflight !== undefined ? `, ${b.inflight} in flight` : ''}`
        : g.state === 'warm' ? 'paused: warm pool, not counted' : g.state === 'warming' ? 'being made for the warm pool' : 'not in balancer';
      return h('tr', { 'data-guest': g.id },
        h('td', {}, g.id), h('td', { class: `state-${g.state}` }, g.state), h('td', {}, g.host || '–'),
        h('td', { class: 'num' }, ago(g.createdAt)), h('td', { class: 'num' }, m.cpu === undefined ? '–' : `${num(m.cpu)}%`),
        h('td', {}, load || '–'), h('td', {}, health));
    })));
}

function poolCard(p, detail) {
  const counted = p.size;
  const rules = (p.rules ?? []).map((r) => `${r.rule}: ${num(r.value)}${unit(r.metric)} / ${r.target !== undefined ? num(r.target) : [r.above !== undefined ? `>${r.above}` : '', r.below !== undefined ? `<${r.below}` : ''].filter(Boolean).join(' ')}${unit(r.metric)}`);
  const sched = p.schedules?.length ? `schedules in force: ${p.schedules.join(', ')}` : 'no schedule in force';
  const last = p.lastDecision;
  return h('article', { class: 'pool', 'data-pool': p.pool },
    h('div', { class: 'pool-head' },
      h('h2', {}, p.pool),
      h('span', { class: `badge ${p.managed ? p.mode ?? 'auto' : 'unmanaged'}`, 'data-mode': p.managed ? p.mode ?? 'auto' : 'unmanaged' }, p.managed ? p.mode ?? 'auto' : 'unmanaged'),
      p.file ? h('span', { class: 'muted' }, p.file) : null),
    banners(p),
    h('div', { class: 'sizes' },
      [['min', p.min], ['desired', p.desired], ...(p.policyMode === 'recommend' ? [['recommended', p.recommended]] : []), ['current', counted], ['max', p.max]].map(([l, v]) =>
        h('div', { 'data-size': l }, h('div', { class: 'n' }, v ?? '–'), h('div', { class: 'l' }, l)))),
    h('div', { class: 'muted' }, [sched, rules.length ? `rules: ${rules.join(' · ')}` : ''].filter(Boolean).join(' — ')),
    last ? h('p', { class: 'why', 'data-last-decision': '' }, `last decision ${ago(last.at)} ago: ${last.reason}`) : null,
    p.managed ? poolCharts(p.pool) : null,
    guestsTable(detail));
}

// ---- events

function eventItem(e) {
  const id = String(e.id ?? `${e.pool}-${e.at}`);
  const what = e.action === 'scale' ? `scale to ${e.to}` : e.action ?? `${e.direction} ${e.from} → ${e.to}`;
  const details = h('details', { ontoggle: (ev) => (ev.target.open ? openEvents.add(id) : openEvents.delete(id)), open: openEvents.has(id) },
    h('summary', {}, 'inputs'),
    h('pre', {}, JSON.stringify(e.inputs ?? {}, null, 1)));
  return h('li', { 'data-event': id, 'data-pool': e.pool },
    h('div', {}, h('span', { class: 'what' }, `${e.pool}: ${what}`), ' ', h('span', { class: `outcome-${e.outcome}` }, e.outcome), ' ', h('span', { class: 'muted' }, clock(e.at))),
    e.by ? h('div', { class: 'muted' }, `by ${e.by}`) : null,
    h('div', { class: 'reason' }, e.reason),
    e.detail ? h('div', { class: 'muted' }, e.detail) : null,
    details);
}

// ---- the loop

async function fetchHistory(pool) {
  let hist = history.get(pool);
  if (!hist) history.set(pool, (hist = { items: [], newest: undefined }));
  const since = hist.newest ?? new Date(serverNow() - HISTORY_MS).toISOString();
  const body = await api(`api/pools/${encodeURIComponent(pool)}/decisions?since=${encodeURIComponent(since)}&limit=1000`);
  const fresh = (body.decisions ?? []).slice().reverse().filter((d) => hist.newest === undefined || d.at > hist.newest);
  hist.items.push(...fresh);
  if (fresh.length > 0) hist.newest = fresh[fresh.length - 1].at;
  const cut = serverNow() - HISTORY_MS;
  while (hist.items.length > 0 && Date.parse(hist.items[0].at) < cut) hist.items.shift();
}

async function refresh() {
  const overview = await api('api/pools');
  const pools = overview.pools ?? [];
  const details = new Map();
  await Promise.all(pools.map(async (p) => {
    details.set(p.pool, await api(`api/pools/${encodeURIComponent(p.pool)}`).catch(() => undefined));
    if (p.managed) await fetchHistory(p.pool).catch(() => undefined);
  }));
  const events = (await api('api/events?limit=40')).events ?? [];

  const problems = document.getElementById('problems');
  problems.replaceChildren(...(overview.invalidPolicies ?? []).filter((x) => !pools.some((p) => p.policyError?.file === x.file)).map((x) =>
    h('div', { class: 'banner error', 'data-banner': 'invalid-policy', 'data-file': x.file },
      `Policy file ${x.file} is invalid and manages nothing:\n${x.issues.map((i) => issueLine(x.file, i)).join('\n')}`)));
  document.getElementById('pools').replaceChildren(...(pools.length ? pools.map((p) => poolCard(p, details.get(p.pool))) : [h('p', { class: 'muted' }, 'No pools: add a policy to the policies folder.')]));
  document.getElementById('events').replaceChildren(...events.map(eventItem));
}

async function loop() {
  const conn = document.getElementById('conn');
  try {
    await refresh();
    conn.dataset.state = 'live';
    conn.textContent = 'live';
    document.getElementById('updated').textContent = `updated ${new Date().toLocaleTimeString([], { hour12: false })}`;
  } catch (e) {
    conn.dataset.state = 'stale';
    conn.textContent = `not updating: ${e.message}`;
  }
  setTimeout(loop, POLL_MS);
}

loop();
