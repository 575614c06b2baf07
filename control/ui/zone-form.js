// Steward UI — the zone editor's form: the selected zone's id, name and rules (one section per
// kind, parameters prefilled with their defaults), saving, deleting, and the per-kind actions
// (clean reference, lit level). The canvas and the zone list are in zone-editor.js.
'use strict';

/** Every rule's parameters with their defaults (null: no default, empty means unset). */
const COMMON_PARAMS = [['dwell_s', 300], ['resolve_after_s', 60], ['renotify_s', null], ['cooldown_s', 120]];
const RULE_PARAMS = {
  illegal_parking: [['miss_tolerance_s', 30], ['iou_threshold', 0.5], ['min_confidence', 0.35]],
  street_vending: [['min_persons', 1], ['reach', 0.08], ['static_objects', true], ['miss_tolerance_s', 30], ['iou_threshold', 0.4], ['min_confidence', 0.35]],
  exposed_waste: [['learn_s', 30], ['threshold', 35], ['min_area', 0.0005]],
  unlit_signage: [['dark_ratio', 0.35], ['lit_level', null]],
};
const SCHEDULE_KEYS = [['windows', 'sched_windows'], ['weekdays', 'sched_weekdays'], ['dates', 'sched_dates'], ['except_dates', 'sched_except_dates']];

// ---- keeping an edit across a re-render (language switch) ---------------------------------

let zoneDraft = null;

/** Remembers the zone being edited (polygon and form values) before the page is drawn again. */
function saveZoneDraft() {
  if (!ZE || !editing()) return;
  const values = {};
  $$('#zone-form input, #zone-form select').forEach((el) => { values[el.id] = el.type === 'checkbox' ? el.checked : el.value; });
  zoneDraft = { cameraId: ZE.cameraId, isNew: ZE.isNew, selected: ZE.selected, poly: ZE.poly.map((p) => p.slice()), values };
}

function restoreZoneDraft() {
  const d = zoneDraft;
  zoneDraft = null;
  if (!d || !ZE || d.cameraId !== ZE.cameraId) return;
  if (d.isNew) newZone();
  else if (ZE.zones.some((z) => z.id === d.selected)) selectZone(d.selected);
  else return;
  ZE.poly = d.poly;
  for (const [id, value] of Object.entries(d.values)) {
    const el = id && document.getElementById(id);
    if (!el) continue;
    if (el.type === 'checkbox') {
      el.checked = value;
      el.dispatchEvent(new Event('change'));
    } else el.value = value;
  }
  polygonChanged();
}

// ---- the zone form -------------------------------------------------------------------------

function renderZoneForm() {
  const holder = clear($('#zone-form-holder'));
  if (!editing()) return;
  const editable = hasRole('operator');
  const zone = ZE.original || { id: '', name: '', rules: [] };
  const idInput = h('input', { id: 'zone-id', value: zone.id || '', readOnly: !ZE.isNew, autocomplete: 'off', placeholder: ZE.isNew ? suggestZoneId() : '' });
  const nameInput = h('input', { id: 'zone-name', value: zone.name || '', autocomplete: 'off' });
  nameInput.addEventListener('input', drawZones);
  idInput.addEventListener('input', drawZones);
  const form = h('form', { id: 'zone-form', class: 'card', attrs: { novalidate: '' } },
    h('div', { class: 'grid' }, field('zone_id', idInput), field('zone_name', nameInput)),
    h('div', { class: 'field' }, h('span', { id: 'zone-points', class: 'small', text: t('zone_points', ZE.poly.length) })),
    h('h3', { text: t('rules') }),
    KINDS.map((kind) => ruleSection(kind, (zone.rules || []).find((r) => r.kind === kind))),
    formError(),
    h('div', { class: 'actions' },
      editable ? h('button', { type: 'submit', id: 'zone-save', class: 'primary', text: t('zone_save') }) : null,
      editable && !ZE.isNew ? button('zone_delete', deleteZone, { id: 'zone-delete', class: 'danger' }) : null),
    h('div', { id: 'zone-status', class: 'status', attrs: { role: 'status' } }));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); saveZone(form); });
  holder.append(form);
}

function suggestZoneId() {
  const ids = new Set(ZE.zones.map((z) => z.id));
  let n = ZE.zones.length + 1;
  while (ids.has(`zone-${n}`)) n++;
  return `zone-${n}`;
}

function paramInput(kind, name, def, value) {
  const id = `${kind}-${name}`;
  if (typeof def === 'boolean') {
    return checkField('param_' + name, h('input', { id, type: 'checkbox', checked: value === undefined ? def : !!value }));
  }
  const shown = value !== undefined && value !== null ? value : def !== null ? def : '';
  const input = h('input', { id, type: 'number', step: 'any', value: String(shown), inputMode: 'decimal' });
  if (name === 'min_persons') input.step = '1';
  return field('param_' + name, input);
}

function ruleSection(kind, rule) {
  const r = rule || {};
  const check = h('input', { id: `rule-${kind}`, type: 'checkbox', checked: !!rule });
  const section = h('fieldset', { class: 'rule' + (rule ? '' : ' off'), dataset: { kind } },
    h('legend', {}, check, h('label', { htmlFor: check.id, text: kindLabel(kind) }), h('span', { class: 'small muted', text: ' ' + kind })));
  check.addEventListener('change', () => section.classList.toggle('off', !check.checked));
  const grid = h('div', { class: 'grid' });
  for (const [name, def] of COMMON_PARAMS.concat(RULE_PARAMS[kind])) grid.append(paramInput(kind, name, def, r[name]));
  const sched = r.schedule || {};
  for (const [key, label] of SCHEDULE_KEYS) {
    const value = Array.isArray(sched[key]) ? sched[key].join(', ') : (sched[key] || '');
    grid.append(field(label, h('input', { id: `${kind}-${key}`, value, autocomplete: 'off' }), 'span2'));
  }
  section.append(grid);
  if (kind === 'exposed_waste') section.append(zoneAction('capture_reference', 'capture-reference', captureReference,
    r.reference ? t('reference_current', r.reference) : ''));
  if (kind === 'unlit_signage') section.append(zoneAction('record_lit_level', 'record-lit-level', recordLitLevel, ''));
  return section;
}

function zoneAction(labelKey, id, fn, statusText) {
  const status = h('span', { id: `${id}-status`, class: 'small status', text: statusText });
  if (!hasRole('operator')) return h('div', { class: 'actions' }, status);
  return h('div', { class: 'actions' }, button(labelKey, () => fn(status), { id }), status);
}

function splitList(text) {
  return text.split(/[,，;；\n]/).map((s) => s.trim()).filter(Boolean);
}

/** The zone as the API wants it, or {problems} naming inputs that do not hold numbers. */
function collectZone() {
  const problems = [];
  const idInput = $('#zone-id');
  if (ZE.isNew && !idInput.value.trim()) idInput.value = idInput.placeholder || suggestZoneId();
  const zone = { id: idInput.value.trim(), polygon: ZE.poly.map(([x, y]) => [round4(x), round4(y)]), rules: [] };
  const name = $('#zone-name').value.trim();
  if (name) zone.name = name;
  if (zone.polygon.length < 3) problems.push(['zone-points', t('zone_need_points')]);
  const kinds = [];
  for (const kind of KINDS) {
    if (!$(`#rule-${kind}`).checked) continue;
    const original = ZE.original ? (ZE.original.rules || []).find((r) => r.kind === kind) : null;
    const rule = { ...(original || {}), kind };
    for (const [param, def] of COMMON_PARAMS.concat(RULE_PARAMS[kind])) {
      const input = $(`#${kind}-${param}`);
      delete rule[param];
      if (typeof def === 'boolean') {
        if (input.checked !== def) rule[param] = input.checked;
        continue;
      }
      if (input.validity.badInput) { problems.push([input.id, t('not_a_number')]); continue; }
      const text = input.value.trim();
      if (text === '') { if (param === 'dwell_s') rule.dwell_s = def; continue; }
      const n = Number(text);
      if (!isFinite(n)) { problems.push([input.id, t('not_a_number')]); continue; }
      if (param === 'dwell_s' || n !== def) rule[param] = n;
    }
    const schedule = { ...(rule.schedule || {}) };
    for (const [key] of SCHEDULE_KEYS) {
      const list = splitList($(`#${kind}-${key}`).value);
      if (list.length) schedule[key] = list;
      else delete schedule[key];
    }
    if (Object.keys(schedule).length) rule.schedule = schedule;
    else delete rule.schedule;
    zone.rules.push(rule);
    kinds.push(kind);
  }
  return { zone, kinds, problems };
}

/** An error's field path (`rules[0].dwell_s`, `polygon`…) → the input showing it. */
function mapZoneField(path) {
  const m = path.match(/rules\[(\d+)\](?:\.([a-z_]+))?(?:\.([a-z_]+))?/);
  if (m) {
    const kind = ZE.sentKinds[Number(m[1])];
    if (!kind) return null;
    const key = m[2] === 'schedule' ? (m[3] || 'windows') : m[2];
    if (key && document.getElementById(`${kind}-${key}`)) return `${kind}-${key}`;
    return `rule-${kind}`;
  }
  if (/polygon/.test(path)) return 'zone-points';
  if (/(^|\.)name$/.test(path)) return 'zone-name';
  if (/(^|\.)id$/.test(path) || path === 'zone') return 'zone-id';
  return null;
}

async function saveZone(form) {
  clearErrors(form);
  const status = $('#zone-status');
  status.textContent = '';
  status.className = 'status';
  const { zone, kinds, problems } = collectZone();
  if (!zone.id) problems.push(['zone-id', t('required')]);
  if (problems.length) {
    problems.forEach(([id, msg]) => fieldError(id, msg, form));
    return;
  }
  ZE.sentKinds = kinds;
  const z = ZE;
  const save = $('#zone-save');
  save.disabled = true;
  try {
    await api('PUT', `/api/v1/cameras/${encodeURIComponent(z.cameraId)}/zones/${encodeURIComponent(zone.id)}`, zone);
    if (ZE !== z) return;
    await loadCamera();
    if (ZE !== z) return;
    selectZone(zone.id);
    const st = $('#zone-status');
    st.textContent = t('zone_saved');
    st.className = 'status ok';
  } catch (e) {
    if (ZE !== z) return;
    showErrors(form, e, mapZoneField);
  } finally {
    if (save.isConnected) save.disabled = false;
  }
}

async function deleteZone() {
  const id = ZE.selected;
  if (!id || !window.confirm(t('confirm_delete', id))) return;
  const z = ZE;
  try {
    await api('DELETE', `/api/v1/cameras/${encodeURIComponent(z.cameraId)}/zones/${encodeURIComponent(id)}`);
    if (ZE !== z) return;
    ZE.selected = null;
    ZE.original = null;
    ZE.poly = [];
    $('#zone-hint').textContent = t('zone_hint_none');
    await loadCamera();
    renderZoneForm();
    drawZones();
    flash(t('deleted'), 'ok');
  } catch (e) {
    const st = $('#zone-status');
    if (st) { st.textContent = errText(e); st.className = 'status error-text'; }
  }
}

/** POST to a zone's sub-resource; the zone must already be saved. */
async function zonePost(what, status) {
  if (ZE.isNew || !ZE.selected) {
    status.textContent = t('zone_unsaved');
    status.className = 'small status error-text';
    return null;
  }
  status.textContent = '…';
  status.className = 'small status';
  try {
    return await api('POST', `/api/v1/cameras/${encodeURIComponent(ZE.cameraId)}/zones/${encodeURIComponent(ZE.selected)}/${what}`) || {};
  } catch (e) {
    status.textContent = errText(e);
    status.className = 'small status error-text';
    return null;
  }
}

/** Keeps the server's copy of the selected zone current (e.g. a new `reference`) without touching the form. */
async function refreshOriginal() {
  const z = ZE;
  const id = z.selected;
  try {
    const cam = await api('GET', '/api/v1/cameras/' + encodeURIComponent(z.cameraId));
    if (ZE !== z) return;
    z.camera = cam;
    z.zones = Array.isArray(cam.zones) ? cam.zones : z.zones;
    if (z.selected === id) z.original = z.zones.find((zone) => zone.id === id) || z.original;
  } catch (_) { /* keep what we have */ }
}

async function captureReference(status) {
  const answer = await zonePost('reference', status);
  if (answer === null) return;
  status.textContent = answer.reference ? t('reference_current', answer.reference) : t('reference_captured');
  status.className = 'small status ok';
  await refreshOriginal();
}

async function recordLitLevel(status) {
  const answer = await zonePost('lit-level', status);
  if (answer === null) return;
  const level = answer.lit_level;
  if (level !== undefined && level !== null) {
    const rounded = Math.round(Number(level) * 10) / 10;
    $('#unlit_signage-lit_level').value = String(rounded);
    status.textContent = t('lit_level_recorded', rounded);
  } else {
    status.textContent = t('saved');
  }
  status.className = 'small status ok';
  await refreshOriginal();
}
