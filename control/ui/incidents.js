// Steward UI — #/incidents (filtered list, refreshed every 5 s) and #/incidents/ID (events,
// evidence, documents as sent, deliveries and their attempts, resend).
'use strict';

const PAGE_SIZE = 50;
/** Filters survive a visit to an incident's page. */
const incidentFilters = { kind: '', camera: '', state: '', since: '', until: '', offset: 0 };

function incidentStateBadge(state) {
  const s = String(state || '');
  return badge(tOr('istate_' + s, s), 'istate-' + s.replace(/[^a-z_]/g, ''));
}

function deliveryBadge(sink, state) {
  const s = String(state || '');
  const b = badge(`${sink}: ${tOr('dstate_' + s, s)}`, 'delivery delivery-' + s.replace(/[^a-z_]/g, ''));
  b.dataset.sink = sink;
  return b;
}

async function renderIncidents(main) {
  const here = stillHere();
  const f = incidentFilters;
  const kind = select('filter-kind', [['', t('all')], ...KINDS.map((k) => [k, kindLabel(k)])], f.kind);
  const camera = select('filter-camera', [['', t('all')]], '');
  const state = select('filter-state', [['', t('all')], ['open', t('istate_open')], ['resolved', t('istate_resolved')]], f.state);
  const since = h('input', { id: 'filter-since', type: 'datetime-local', value: f.since, step: 1 });
  const until = h('input', { id: 'filter-until', type: 'datetime-local', value: f.until, step: 1 });
  const status = h('div', { class: 'form-error', hidden: true });
  const tbody = h('tbody');
  const summary = h('span', { id: 'incident-total', class: 'muted' });
  const prev = button('prev', () => { f.offset = Math.max(0, f.offset - PAGE_SIZE); reload(); }, { id: 'incident-prev' });
  const next = button('next', () => { f.offset += PAGE_SIZE; reload(); }, { id: 'incident-next' });
  main.append(
    h('div', { class: 'page-head' }, h('h1', { text: t('incidents_title') })),
    h('form', { id: 'incident-filters', class: 'filters' },
      field('filter_kind', kind), field('filter_camera', camera), field('filter_state', state),
      field('filter_since', since), field('filter_until', until),
      h('div', { class: 'field' }, h('label', { text: '\u00a0' }), button('filter_clear', () => {
        Object.assign(f, { kind: '', camera: '', state: '', since: '', until: '', offset: 0 });
        [kind, camera, state, since, until].forEach((el) => { el.value = ''; });
        reload();
      }, { id: 'filter-clear' }))),
    status,
    h('div', { class: 'table-wrap' }, h('table', { id: 'incident-list', class: 'list clickable' },
      h('thead', {}, h('tr', {}, ['col_kind', 'col_camera', 'col_zone', 'col_state', 'col_opened', 'col_updated', 'col_delivery']
        .map((k) => h('th', { text: t(k) })))),
      tbody)),
    h('div', { class: 'pager' }, prev, summary, next));

  const inputs = { kind, camera, state, since, until };
  for (const [key, el] of Object.entries(inputs)) {
    el.addEventListener('change', () => { f[key] = el.value; f.offset = 0; reload(); });
  }
  $('#incident-filters').addEventListener('submit', (ev) => { ev.preventDefault(); reload(); });

  api('GET', '/api/v1/cameras').then((answer) => {
    if (!here()) return;
    for (const cam of listOf(answer, 'cameras')) camera.append(h('option', { value: cam.id, text: cam.name && cam.name !== cam.id ? `${cam.name} (${cam.id})` : cam.id }));
    if (f.camera && !$$('option', camera).some((o) => o.value === f.camera)) camera.append(h('option', { value: f.camera, text: f.camera }));
    camera.value = f.camera;
  }).catch(() => {});

  function query() {
    const q = new URLSearchParams();
    if (f.kind) q.set('kind', f.kind);
    if (f.camera) q.set('camera', f.camera);
    if (f.state) q.set('state', f.state);
    if (localToRfc3339(f.since)) q.set('since', localToRfc3339(f.since));
    if (localToRfc3339(f.until)) q.set('until', localToRfc3339(f.until));
    q.set('limit', String(PAGE_SIZE));
    q.set('offset', String(f.offset));
    return q.toString();
  }
  const reload = reloader(status, here, () => api('GET', '/api/v1/incidents?' + query()), (answer) => {
    const list = listOf(answer, 'incidents');
    const total = answer && typeof answer.total === 'number' ? answer.total : list.length;
    renderIncidentRows(tbody, list);
    summary.textContent = total ? `${f.offset + 1}–${f.offset + list.length} · ${t('total', total)}` : t('total', 0);
    prev.disabled = f.offset === 0;
    next.disabled = f.offset + list.length >= total;
  });
  await reload();
  every(5000, reload);
}

function renderIncidentRows(tbody, incidents) {
  const build = (inc) => {
    const href = '#/incidents/' + encodeURIComponent(inc.id);
    const row = h('tr', { dataset: { incident: inc.id }, tabIndex: 0 },
      h('td', {}, h('a', { href, class: 'incident-open' })), h('td'), h('td'), h('td'), h('td'), h('td'), h('td', { class: 'badges' }));
    row.addEventListener('click', (ev) => { if (!ev.target.closest('a')) location.hash = href; });
    row.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') location.hash = href; });
    updateIncidentRow(row, inc);
    return row;
  };
  syncRows(tbody, incidents, (inc) => inc.id, build, updateIncidentRow, t('no_incidents'), 7);
}

/** Refreshes an incident row in place; unchanged rows are left alone. */
function updateIncidentRow(row, inc) {
  const sig = JSON.stringify([inc.kind, inc.camera, inc.zone, inc.state, inc.opened_at, inc.updated_at, inc.delivery, LANG]);
  if (row.dataset.sig === sig) return;
  row.dataset.sig = sig;
  const cells = row.cells;
  $('a', cells[0]).textContent = kindLabel(inc.kind);
  cells[1].textContent = inc.camera || '';
  cells[2].textContent = inc.zone || '';
  setCell(cells[3], incidentStateBadge(inc.state));
  cells[4].textContent = fmtTime(inc.opened_at);
  cells[5].textContent = fmtTime(inc.updated_at);
  setCell(cells[6], Object.entries(inc.delivery || {}).map(([sink, st]) => [deliveryBadge(sink, st), ' ']));
}

// ---- one incident --------------------------------------------------------------------------

async function renderIncident(main, id) {
  const here = stillHere();
  const body = h('div', { id: 'incident-detail' });
  main.append(
    h('div', { class: 'page-head' },
      h('a', { href: '#/incidents', class: 'back', text: t('back_to_incidents') }),
      h('h1', { text: t('incident_title', id) }),
      button('refresh', () => load(), { id: 'incident-refresh' })),
    body);
  async function load() {
    const inc = await api('GET', '/api/v1/incidents/' + encodeURIComponent(id));
    if (!here()) return;
    renderIncidentDetail(clear(body), inc);
  }
  await load();
}

function renderIncidentDetail(root, inc) {
  const events = Array.isArray(inc.events) ? inc.events : [];
  root.append(h('dl', { class: 'facts' },
    fact(t('col_kind'), kindLabel(inc.kind) + ` (${inc.kind})`),
    fact(t('col_camera'), inc.camera), fact(t('col_zone'), inc.zone),
    fact(t('col_state'), incidentStateBadge(inc.state)),
    fact(t('col_opened'), fmtTime(inc.opened_at)),
    inc.updated_at ? fact(t('col_updated'), fmtTime(inc.updated_at)) : null));
  if (hasRole('operator')) root.append(resendBox(inc, events));
  let first = true;
  for (const ev of events) {
    root.append(eventSection(inc, ev, first));
    first = false;
  }
}

function fact(label, value) {
  return [h('dt', { text: label }), h('dd', {}, value === undefined || value === null ? '—' : value)];
}

function resendBox(inc, events) {
  const sinks = new Set();
  events.forEach((ev) => (ev.deliveries || []).forEach((d) => sinks.add(d.sink)));
  const sinkSel = select('incident-resend-sink', [['', t('resend_all')], ...[...sinks].map((s) => [s, s])], '');
  const result = h('span', { id: 'incident-resend-result', class: 'status', attrs: { role: 'status' } });
  const btn = button('incident_resend', async () => {
    btn.disabled = true;
    result.textContent = '…';
    result.className = 'status';
    try {
      const answer = await api('POST', `/api/v1/incidents/${encodeURIComponent(inc.id)}/resend`, sinkSel.value ? { sink: sinkSel.value } : {});
      result.textContent = t('resend_done') + (answer && typeof answer === 'object' ? ' · ' + summarize(answer) : '');
      result.className = 'status ok';
    } catch (e) {
      result.textContent = errText(e);
      result.className = 'status error-text';
    } finally {
      btn.disabled = false;
    }
  }, { id: 'incident-resend' });
  return h('div', { class: 'actions card' }, btn, sinkSel, result);
}

/** A one-line account of a small JSON answer (`queued: 3`). */
function summarize(obj) {
  return Object.entries(obj).filter(([, v]) => typeof v !== 'object').map(([k, v]) => `${k}: ${v}`).join(', ');
}

function eventSection(inc, ev, first) {
  const evName = tOr('event_' + ev.event, ev.event);
  const section = h('section', { class: 'event card', dataset: { seq: ev.seq } },
    h('h2', {}, t('event_n', ev.seq, evName), ' ', h('span', { class: 'muted small', text: fmtTime(ev.created_at) })));
  const evidence = Array.isArray(ev.evidence) ? ev.evidence : [];
  if (evidence.length) {
    section.append(h('h3', { text: t('evidence') }), h('div', { class: 'evidence-list' }, evidence.map((item) => evidenceItem(inc, ev, item))));
  }
  const deliveries = Array.isArray(ev.deliveries) ? ev.deliveries : [];
  if (deliveries.length) section.append(h('h3', { text: t('deliveries') }), deliveryTable(deliveries));
  const attempts = Array.isArray(ev.attempts) ? ev.attempts : [];
  if (attempts.length) section.append(h('details', { class: 'delivery-log' }, h('summary', { text: t('delivery_log', attempts.length) }), attemptTable(attempts)));
  const pre = h('pre', { class: 'incident-json', text: JSON.stringify(ev.document ?? null, null, 2) });
  if (first) pre.id = 'incident-json';
  section.append(h('details', { open: first }, h('summary', { text: t('document') }), pre));
  return section;
}

/** Evidence is served by this device; anything else is shown as text, not loaded. */
function sameOriginUrl(url) {
  try {
    const u = new URL(url, location.href);
    return u.origin === location.origin ? u.pathname + u.search : null;
  } catch (_) {
    return null;
  }
}

function evidenceItem(inc, ev, item) {
  if (item.evicted) {
    return h('figure', { class: 'evidence-item', dataset: { position: item.position ?? '' } },
      h('span', { class: 'muted', text: t('evidence_evicted') }),
      h('figcaption', { text: [item.role, item.media_type].filter(Boolean).join(' · ') }));
  }
  const given = item.url || `/api/v1/incidents/${encodeURIComponent(inc.id)}/evidence/${ev.seq}/${item.position}`;
  const caption = [item.role, item.media_type].filter(Boolean).join(' · ');
  const local = sameOriginUrl(String(given));
  const safe = local !== null;
  const url = safe ? local : String(given);
  let media;
  if (safe && String(item.media_type || 'image/').startsWith('image/')) {
    media = h('img', { class: 'evidence', src: url, alt: item.role || 'evidence', loading: 'lazy' });
  } else if (safe && String(item.media_type).startsWith('video/')) {
    media = h('video', { class: 'evidence-video', src: url, controls: true, preload: 'metadata' });
  } else {
    media = h('span', { class: 'muted', text: url });
  }
  return h('figure', { class: 'evidence-item', dataset: { position: item.position ?? '' } },
    safe ? h('a', { href: url, target: '_blank', rel: 'noopener' }, media) : media,
    h('figcaption', { text: caption }));
}

function deliveryTable(deliveries) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'list delivery-table' },
    h('thead', {}, h('tr', {}, ['col_sink', 'col_state', 'col_attempts', 'col_last_status', 'col_last_error', 'col_delivered_at']
      .map((k) => h('th', { text: t(k) })))),
    h('tbody', {}, deliveries.map((d) => h('tr', { dataset: { sink: d.sink } },
      h('td', { text: d.sink }),
      h('td', {}, badge(tOr('dstate_' + d.state, d.state), 'delivery delivery-' + String(d.state).replace(/[^a-z_]/g, ''))),
      h('td', { class: 'num', text: String(d.attempts ?? '') }),
      h('td', { class: 'num', text: d.last_status === null || d.last_status === undefined ? '—' : String(d.last_status) }),
      h('td', { class: 'error-text wrap', text: d.last_error || '' }),
      h('td', { text: fmtTime(d.delivered_at) }))))));
}

/** The delivery log: one row per attempt, oldest first. */
function attemptTable(attempts) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'list attempt-table' },
    h('thead', {}, h('tr', {}, ['col_attempted_at', 'col_sink', 'col_status', 'col_latency', 'col_error'].map((k) => h('th', { text: t(k) })))),
    h('tbody', {}, attempts.map((a) => h('tr', { dataset: { sink: a.sink } },
      h('td', { text: fmtTime(a.attempted_at) }),
      h('td', { text: a.sink }),
      h('td', { class: 'num', text: a.status === null || a.status === undefined ? '—' : String(a.status) }),
      h('td', { class: 'num', text: String(a.latency_ms ?? '') }),
      h('td', { class: 'error-text wrap', text: a.error || '' }))))));
}
