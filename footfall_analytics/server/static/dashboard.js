// Footfall dashboard: reads its view from the URL's query string, asks this server's /api/ for
// the reports, draws them with Chart.js (served from /static/vendor). Values go into the page
// as text, never as HTML. Nothing is fetched from anywhere but this server.
// Logged in, the session cookie goes with every request and POSTs carry the CSRF token the page
// was served with (X-CSRF-Token); a 401 goes to /login. Opened from a share link (/s/<token>),
// the page shows that one report only, asking for it with X-Share-Token.
'use strict';

const FIELDS = ['event', 'type', 'source', 'page_url', 'page_path', 'referrer', 'referrer_host',
  'channel', 'section', 'library_name', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term',
  'utm_content', 'gclid', 'gbraid', 'wbraid', 'fbclid', 'msclkid', 'ttclid', 'properties.'];
const OPS = ['eq', 'neq', 'in', 'not_in', 'contains', 'gt', 'lt'];
const COLORS = ['#2f6fde', '#12b76a', '#f79009', '#7a5af8', '#ee46bc', '#06aed4', '#667085'];
const charts = {};
const $ = (id) => document.getElementById(id);
const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content || '';
const SHARE = meta('footfall-share');

// A median time between funnel steps, in the unit a reader expects.
function duration(seconds) {
  if (seconds < 90) return `${seconds.toFixed(0)} s`;
  if (seconds < 90 * 60) return `${(seconds / 60).toFixed(1)} min`;
  if (seconds < 48 * 3600) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function isoDay(d) { return d.toISOString().slice(0, 10); }

// ---- the view <-> the URL -------------------------------------------------------------------

// The period: a preset (period=all, 7d, 30d, 90d; all data on first open, so a history imported
// last year answers at once) or chosen dates (from/to, end exclusive). Each answer says which
// period it covered (period.from/to/kind); the header shows it.
const PRESETS = ['all', '7d', '30d', '90d'];

function defaults() {
  return { interval: 'day', window: '1d', model: 'last' };
}

function readView(search) {
  const q = new URLSearchParams(search ?? location.search);
  const d = defaults();
  const dated = Boolean(q.get('from') || q.get('to'));
  return {
    period: dated ? '' : (PRESETS.includes(q.get('period')) ? q.get('period') : 'all'),
    from: q.get('from') || '', to: q.get('to') || '',
    interval: q.get('interval') || d.interval, steps: q.get('steps') || '',
    window: q.get('window') || d.window, breakdown: q.get('breakdown') || '',
    model: q.get('model') || d.model, filters: q.getAll('filter'),
    stepFilters: q.getAll('step_filter'),
  };
}

// `field:op:value` of a filter row (its inputs in that order), '' when the field is empty.
function rowSpec(row) {
  const [field, op, value] = row.querySelectorAll('input, select');
  return field.value.trim() ? `${field.value.trim()}:${op.value}:${value.value}` : '';
}

// The funnel's steps as typed in #steps (blanks dropped), as the API splits them.
function stepNames() {
  return $('steps').value.split(',').map((s) => s.trim()).filter(Boolean);
}

function formView() {
  const filters = [...$('filter-rows').querySelectorAll('.filter-row')].map(rowSpec).filter(Boolean);
  // step_filter=<n>:field:op:value, for the steps shown (a step removed from #steps takes its
  // filters out of the view; they come back if the step does).
  const stepFilters = [...$('step-rows').querySelectorAll('.step-row:not([hidden])')]
    .flatMap((stepRow) => [...stepRow.querySelectorAll('.filter-row')].map(rowSpec)
      .filter(Boolean).map((spec) => `${stepRow.dataset.step}:${spec}`));
  const period = $('period').value;
  return {
    period, from: period ? '' : $('from').value, to: period ? '' : $('to').value,
    interval: $('interval').value,
    steps: $('steps').value.trim(), window: $('window').value.trim(),
    breakdown: $('breakdown').value.trim(), model: $('model').value, filters, stepFilters,
  };
}

function viewQuery(view) {
  const q = new URLSearchParams();
  for (const key of ['period', 'from', 'to', 'interval', 'steps', 'window', 'breakdown', 'model']) {
    if (view[key]) q.set(key, view[key]);
  }
  for (const f of view.filters) q.append('filter', f);
  for (const f of view.stepFilters) q.append('step_filter', f);
  return q;
}

function addFilterRow(spec, container) {
  const [field = '', op = 'eq', ...rest] = (spec || '').split(':');
  const row = el('div', undefined, 'filter-row');
  const fieldInput = el('input'); fieldInput.setAttribute('list', 'field-names');
  fieldInput.placeholder = 'field'; fieldInput.size = 14; fieldInput.value = field;
  fieldInput.className = 'filter-field';
  const opSelect = el('select'); opSelect.className = 'filter-op';
  for (const o of OPS) { const opt = el('option', o); opt.value = o; opSelect.append(opt); }
  opSelect.value = OPS.includes(op) ? op : 'eq';
  const valueInput = el('input'); valueInput.placeholder = 'value (a|b for in)';
  valueInput.size = 16; valueInput.value = rest.join(':'); valueInput.className = 'filter-value';
  const remove = el('button', '×', 'secondary'); remove.type = 'button';
  remove.addEventListener('click', () => row.remove());
  row.append(fieldInput, opSelect, valueInput, remove);
  (container || $('filter-rows')).append(row);
  return row;
}

// One row per funnel step under the builder, each with its own filters ("+ filter"). Rows follow
// #steps as it is typed; rows past the last step are hidden, not dropped, so a step that is
// deleted and typed again keeps its filters.
function stepRow(n) {
  const rows = $('step-rows');
  while (rows.children.length < n) {
    const k = rows.children.length + 1;
    const row = el('div', undefined, 'step-row'); row.dataset.step = String(k);
    const name = el('span', undefined, 'step-name');
    const add = el('button', '+ filter', 'secondary add-step-filter'); add.type = 'button';
    add.title = `a filter on step ${k} only`;
    const filters = el('div', undefined, 'step-filters');
    add.addEventListener('click', () => addFilterRow('', filters));
    row.append(name, add, filters);
    rows.append(row);
  }
  return rows.children[n - 1];
}

function syncStepRows() {
  const names = stepNames();
  if (names.length) stepRow(names.length);
  [...$('step-rows').children].forEach((row, i) => {
    row.hidden = i >= names.length;
    if (i < names.length) row.querySelector('.step-name').textContent = `${i + 1}. ${names[i]}`;
  });
}

function fillForm(view) {
  for (const key of ['period', 'from', 'to', 'interval', 'steps', 'window', 'breakdown', 'model']) {
    $(key).value = view[key] || '';
  }
  $('filter-rows').replaceChildren();
  view.filters.forEach((spec) => addFilterRow(spec));
  $('step-rows').replaceChildren();
  for (const spec of view.stepFilters) {
    const [n, ...rest] = spec.split(':');
    // A malformed or out-of-range step number is left to the API, which explains it.
    if (/^[0-9]+$/.test(n) && Number(n) >= 1 && Number(n) <= 10) {
      addFilterRow(rest.join(':'), stepRow(Number(n)).querySelector('.step-filters'));
    }
  }
  syncStepRows();
}

// ---- fetching -------------------------------------------------------------------------------

function toLogin() {
  location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
}

async function api(path, params) {
  // A share link may read its one report with exactly its stored query, nothing else.
  const query = SHARE ? meta('footfall-share-query') : params;
  const headers = SHARE ? { 'X-Share-Token': SHARE } : {};
  const response = await fetch(`/api/${path}?${query}`, { headers });
  if (response.status === 401 && !SHARE) { toLogin(); throw new Error('login required'); }
  const body = await response.json();
  if (!response.ok) {
    const where = body.parameter ? ` (${body.parameter})` : '';
    throw new Error(`${body.message || response.statusText}${where}`);
  }
  return body;
}

// A state-changing request from the session: same origin, with the page's CSRF token.
async function post(path, body, contentType) {
  const response = await fetch(path, {
    method: 'POST', body, headers: { 'Content-Type': contentType, 'X-CSRF-Token': meta('footfall-csrf') },
  });
  if (response.status === 401) { toLogin(); throw new Error('login required'); }
  const data = await response.json();
  if (!response.ok) throw new Error(data.message || response.statusText);
  return data;
}

function status(id, text, isError) {
  const node = $(id); node.textContent = text; node.classList.toggle('error', Boolean(isError));
}

function draw(id, config) {
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart($(id), config);
}

function base(view, withFilters) {
  const q = new URLSearchParams(view.period ? { period: view.period } : {});
  if (!view.period) { if (view.from) q.set('from', view.from); if (view.to) q.set('to', view.to); }
  if (withFilters) for (const f of view.filters) q.append('filter', f);
  return q;
}

// The query each shareable report is asked with: the share button signs exactly this.
const QUERIES = {
  'events-over-time': (view) => {
    const q = base(view, true); q.set('interval', view.interval); return q;
  },
  funnel: (view) => {
    const q = base(view, true);
    q.set('steps', view.steps); q.set('window', view.window);
    for (const f of view.stepFilters) q.append('step_filter', f);
    if (view.breakdown) q.set('breakdown', view.breakdown);
    return q;
  },
  retention: (view) => base(view, false),
};

// ---- the reports ----------------------------------------------------------------------------

async function overTime(view) {
  const q = QUERIES['events-over-time'](view);
  const body = await api('events-over-time', q);
  const labels = body.rows.map((r) => r.t.slice(0, view.interval === 'hour' ? 16 : 10).replace('T', ' '));
  draw('chart-over-time', {
    type: 'line',
    data: { labels, datasets: [
      { label: 'events', data: body.rows.map((r) => r.events), borderColor: COLORS[0], tension: 0.2, pointRadius: 0 },
      { label: 'persons', data: body.rows.map((r) => r.persons), borderColor: COLORS[1], tension: 0.2, pointRadius: 0 },
    ] },
    options: { maintainAspectRatio: false, animation: false, interaction: { mode: 'index', intersect: false } },
  });
  const total = body.rows.reduce((n, r) => n + r.events, 0);
  status('over-time-status', `${total.toLocaleString()} events`);
  showPeriod(body.period);
}

// "Period: 2024-01-01 – 2024-02-29 (all data)": the period the answers cover, from the API.
const KINDS = { all: 'all data', last: 'the last days chosen', given: 'chosen dates',
  default: 'default: the last 30 days' };
function showPeriod(period) {
  const to = new Date(period.to); to.setUTCMilliseconds(to.getUTCMilliseconds() - 1);
  const node = $('period-used');
  node.textContent = `Period: ${period.from.slice(0, 10)} – ${isoDay(to)} (${KINDS[period.kind] || period.kind})`;
  node.dataset.from = period.from; node.dataset.to = period.to; node.dataset.kind = period.kind;
}

// Stored event names, most frequent first; asked once per page.
let storedEvents;
function eventNames() {
  storedEvents = storedEvents || api('events', new URLSearchParams()).then((b) => b.events);
  return storedEvents;
}

// First open, no steps in the URL: the builder's placeholder steps when they are all stored, else
// the three most frequent stored events, so the funnel answers without typing.
async function firstSteps() {
  const names = (await eventNames()).map((e) => e.event);
  const placeholder = $('steps').placeholder.split(',');
  if (placeholder.every((s) => names.includes(s))) return placeholder.join(',');
  return names.length >= 2 ? names.slice(0, 3).join(',') : '';
}

async function founding(view) {
  const q = base(view, false);
  q.set('utm_source', $('founding-source').value.trim() || 'facebook');
  q.set('window', $('founding-window').value.trim() || '1d');
  const body = await api('founding', q);
  const out = $('founding-persons'); out.textContent = body.persons.toLocaleString();
  out.dataset.persons = String(body.persons);
  status('founding-status', '');
}

async function funnel(view) {
  const table = $('funnel-table');
  let drawn = false;
  if (!view.steps && !SHARE) {
    // Steps shown in the builder but not put in the URL: the view stays the user's.
    view = { ...view, steps: await firstSteps().catch(() => '') };
    drawn = Boolean(view.steps);
    if (drawn) { $('steps').value = view.steps; syncStepRows(); }
  }
  if (!view.steps) {
    table.tHead.replaceChildren(); table.tBodies[0].replaceChildren();
    status('funnel-status', 'Enter two or more steps and run the funnel.');
    return;
  }
  status('funnel-status', 'running…');
  delete $('funnel-status').dataset.query;
  const q = QUERIES.funnel(view);
  let body;
  try {
    body = await api('funnel', q);
  } catch (error) {
    status('funnel-status', error.message, true);
    return;
  }
  const groups = body.groups;
  const steps = view.steps.split(',').map((s) => s.trim()).filter(Boolean);
  const head = el('tr');
  head.append(el('th', view.breakdown || 'step'));
  steps.forEach((s, i) => {
    const th = el('th', `${i + 1}. ${s}`);
    const own = view.stepFilters.filter((f) => f.split(':')[0] === String(i + 1))
      .map((f) => f.split(':').slice(1).join(':'));
    if (own.length) th.append(el('small', ` (${own.join(', ')})`, 'step-filter-note'));
    head.append(th);
  });
  table.tHead.replaceChildren(head);
  const rows = groups.map((g) => {
    const tr = el('tr'); tr.dataset.breakdown = g.breakdown;
    tr.append(el('td', view.breakdown ? (g.breakdown || '(none)') : 'persons'));
    for (const s of g.steps) {
      const td = el('td', undefined, 'persons');
      td.dataset.persons = String(s.persons);
      const median = s.median_seconds_from_previous;
      td.textContent = `${s.persons} (${(s.rate_from_start * 100).toFixed(1)}%)`;
      if (median != null) {
        td.dataset.median = String(median);
        td.append(el('small', `median ${duration(median)} after step ${s.step - 1}`, 'median'));
      }
      tr.append(td);
    }
    return tr;
  });
  table.tBodies[0].replaceChildren(...rows);
  draw('chart-funnel', {
    type: 'bar',
    data: {
      labels: steps,
      datasets: groups.slice(0, COLORS.length).map((g, i) => ({
        label: view.breakdown ? (g.breakdown || '(none)') : 'persons',
        data: g.steps.map((s) => s.persons), backgroundColor: COLORS[i],
      })),
    },
    options: { maintainAspectRatio: false, animation: false },
  });
  const note = drawn ? ' (steps drawn from your stored events: edit them and run)' : '';
  status('funnel-status', (groups.length ? 'ok' : 'ok: nobody entered this funnel in the period') + note);
  $('funnel-status').dataset.query = q.toString();  // which run is shown (tests wait on it)
}

async function attribution(view) {
  const parts = [];
  for (const dimension of ['campaign', 'section']) {
    const q = base(view, false); q.set('model', view.model); q.set('dimension', dimension);
    const body = await api('attribution', q);
    const rows = body.rows.slice(0, 12);
    draw(`chart-attr-${dimension}`, {
      type: 'bar',
      data: { labels: rows.map((r) => r.value), datasets: [
        { label: 'conversions', data: rows.map((r) => r.conversions), backgroundColor: COLORS[0] },
        { label: 'revenue', data: rows.map((r) => r.revenue), backgroundColor: COLORS[1], xAxisID: 'x2' },
      ] },
      options: { indexAxis: 'y', maintainAspectRatio: false, animation: false,
        scales: { x: { position: 'bottom' }, x2: { position: 'top', grid: { drawOnChartArea: false } } } },
    });
    parts.push(`${dimension}: ${body.rows.reduce((n, r) => n + r.conversions, 0).toFixed(0)} conversions`);
  }
  status('attribution-status', parts.join(' · '));
}

async function retentionTable(view) {
  const body = await api('retention', QUERIES.retention(view));
  const cohorts = new Map();
  for (const r of body.rows) {
    if (!cohorts.has(r.cohort_week)) {
      cohorts.set(r.cohort_week, { size: r.cohort_size, start: r.cohort_start, weeks: [] });
    }
    cohorts.get(r.cohort_week).weeks[r.week] = r.rate;
  }
  const maxWeek = Math.max(0, ...body.rows.map((r) => r.week));
  const head = el('tr'); head.append(el('th', 'cohort'), el('th', 'persons'));
  for (let w = 0; w <= maxWeek; w++) head.append(el('th', `w${w}`));
  $('retention-table').tHead.replaceChildren(head);
  const rows = [...cohorts].map(([week, c]) => {
    // A cohort cut by the period's start is labelled with the first day it holds.
    const label = c.start === week ? week : `${c.start} (part of the week of ${week})`;
    const tr = el('tr'); tr.append(el('td', label), el('td', c.size));
    for (let w = 0; w <= maxWeek; w++) {
      const rate = c.weeks[w];
      const td = el('td', rate == null ? '' : `${(rate * 100).toFixed(0)}%`, 'heat');
      if (rate == null) { td.title = 'not yet: this week has not started'; td.classList.add('future'); }
      if (rate != null) td.style.background = `rgba(47, 111, 222, ${0.15 + 0.85 * rate})`;
      if (rate != null && rate < 0.4) td.style.color = '#1d2330';
      tr.append(td);
    }
    return tr;
  });
  $('retention-table').tBodies[0].replaceChildren(...rows);
  status('retention-status', cohorts.size ? '' : 'no cohorts in this period');
  $('retention-definitions').textContent = body.definitions;
}

async function topTables(view) {
  const fill = (id, rows, key) => $(id).tBodies[0].replaceChildren(...rows.map((r) => {
    const tr = el('tr'); tr.append(el('td', r[key] || '(none)'), el('td', r.events ?? r.sessions), el('td', r.persons));
    return tr;
  }));
  for (const kind of ['events', 'pages', 'campaigns']) {
    const q = base(view, true); q.set('kind', kind); q.set('limit', '8');
    fill(`top-${kind}`, (await api('top', q)).rows, 'value');
  }
  fill('top-channels', (await api('sessions/channels', base(view, false))).rows, 'channel');
}

async function conversions() {
  const body = await api('conversions/status', new URLSearchParams());
  if (!body.configured) { status('conversions-status', 'not configured'); return; }
  // The ledger's totals survive uploader restarts; the process counters restart at 0.
  status('conversions-status', body.platforms.map((p) => {
    const t = p.totals;
    const all = t ? `${t.uploaded} uploaded, ${t.duplicate} duplicates, ` +
      `${t.dead_lettered} dead-lettered in all; since its start ` : '';
    return `${p.platform}: ${all}${p.seen} seen, ${p.uploaded} uploaded, ` +
      `${p.duplicates} duplicates, ${p.dead_lettered} dead-lettered, breaker ${p.breaker ?? '?'}`;
  }).join(' · ') || 'running');
}

async function suggestions() {
  const names = $('event-names');
  try {
    const events = await eventNames();
    names.replaceChildren(...['$page', '$screen', '$any', ...events.map((e) => e.event)]
      .map((v) => { const o = el('option'); o.value = v; return o; }));
  } catch (error) { /* suggestions are optional */ }
  $('field-names').replaceChildren(...FIELDS.map((v) => { const o = el('option'); o.value = v; return o; }));
}

function guard(id, promise) {
  return promise.catch((error) => status(id, error.message, true));
}

// An empty database: say how to send a first event instead of empty charts.
async function emptyNote() {
  const empty = (await eventNames().catch(() => [null])).length === 0;
  $('empty').hidden = !empty;
}

async function render() {
  document.body.dataset.ready = '0';
  const view = readView();
  const share = $('share'); share.href = location.href;
  await Promise.all([
    emptyNote(),
    guard('over-time-status', overTime(view)),
    funnel(view),
    guard('founding-status', founding(view)),
    guard('attribution-status', attribution(view)),
    guard('retention-status', retentionTable(view)),
    guard('conversions-status', topTables(view)),
    guard('conversions-status', conversions()),
  ]);
  document.body.dataset.ready = '1';
}

// ---- SQL, share links, logout -----------------------------------------------------------------

async function runSql() {
  status('sql-status', 'running…');
  try {
    const body = await post('/api/sql?limit=200', $('sql-text').value, 'text/plain');
    const head = el('tr');
    for (const c of body.columns) head.append(el('th', c.name));
    $('sql-table').tHead.replaceChildren(head);
    $('sql-table').tBodies[0].replaceChildren(...body.rows.map((row) => {
      const tr = el('tr');
      for (const v of row) tr.append(el('td', typeof v === 'object' && v !== null ? JSON.stringify(v) : v));
      return tr;
    }));
    status('sql-status', `${body.row_count} rows${body.truncated ? ' (truncated)' : ''}`);
  } catch (error) { status('sql-status', error.message, true); }
}

async function createShare() {
  const report = $('share-report').value;
  const view = readView();
  if (report === 'funnel' && !view.steps) {
    status('share-status', 'run a funnel first', true); return;
  }
  try {
    const body = await post('/api/share', JSON.stringify({ report, query: QUERIES[report](view).toString() }),
      'application/json');
    const out = $('share-url'); out.value = body.url; out.hidden = false; out.select();
    status('share-status', `expires ${body.expires_at.slice(0, 10)}`);
    navigator.clipboard?.writeText(body.url).catch(() => {});
  } catch (error) { status('share-status', error.message, true); }
}

async function logout() {
  await fetch('/logout', { method: 'POST', headers: { 'X-CSRF-Token': meta('footfall-csrf') } });
  location.assign('/login');
}

// A share link's page: only its report, no controls.
const SECTIONS = { 'events-over-time': ['over-time', overTime], funnel: ['funnel', funnel],
  retention: ['retention', retentionTable] };

async function renderShared() {
  document.body.dataset.ready = '0';
  const report = meta('footfall-share-report');
  const [id, draw_] = SECTIONS[report] || [];
  for (const node of [$('controls'), $('account'), ...document.querySelectorAll('#funnel .builder, #step-rows')]) node.hidden = true;
  $('shared-note').hidden = false;
  for (const section of document.querySelectorAll('main > section')) section.hidden = section.id !== id;
  if (draw_) await guard(`${id}-status`, draw_(readView(`?${meta('footfall-share-query')}`)));
  document.body.dataset.ready = '1';
}

function apply(event) {
  if (event) event.preventDefault();
  history.pushState(null, '', `?${viewQuery(formView())}`);
  render();
}

window.addEventListener('DOMContentLoaded', () => {
  if (SHARE) { renderShared(); return; }
  $('user').textContent = meta('footfall-user');
  $('logout').addEventListener('click', logout);
  $('share-create').addEventListener('click', createShare);
  $('sql-run').addEventListener('click', runSql);
  fillForm(readView());
  $('from').disabled = $('to').disabled = Boolean($('period').value);
  $('add-filter').addEventListener('click', () => addFilterRow(''));
  $('steps').addEventListener('input', syncStepRows);
  $('controls').addEventListener('submit', apply);
  $('run-funnel').addEventListener('click', apply);
  $('model').addEventListener('change', apply);
  $('period').addEventListener('change', () => {
    const custom = !$('period').value;
    $('from').disabled = $('to').disabled = !custom;
    if (!custom) apply();
  });
  for (const id of ['from', 'to']) $(id).addEventListener('change', () => { $('period').value = ''; });
  $('founding-run').addEventListener('click', () => guard('founding-status', founding(readView())));
  window.addEventListener('popstate', () => { fillForm(readView()); render(); });
  suggestions();
  render();
});
