// Steward UI — #/cameras/ID: the zone editor. The camera's latest frame on a canvas, zones as
// polygons (normalised 0–1 coordinates), and the form for the selected zone and its rules.
'use strict';

const ZONE_COLORS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#bfef45'];

/** Every rule's parameters with their defaults (null: no default, empty means unset). */
const COMMON_PARAMS = [['dwell_s', 300], ['resolve_after_s', 60], ['renotify_s', null], ['cooldown_s', 120]];
const RULE_PARAMS = {
  illegal_parking: [['miss_tolerance_s', 30], ['iou_threshold', 0.5], ['min_confidence', 0.35]],
  street_vending: [['min_persons', 1], ['reach', 0.08], ['static_objects', true], ['miss_tolerance_s', 30], ['iou_threshold', 0.4], ['min_confidence', 0.35]],
  exposed_waste: [['learn_s', 30], ['threshold', 35], ['min_area', 0.0005]],
  unlit_signage: [['dark_ratio', 0.35], ['lit_level', null]],
};
const SCHEDULE_KEYS = [['windows', 'sched_windows'], ['weekdays', 'sched_weekdays'], ['dates', 'sched_dates'], ['except_dates', 'sched_except_dates']];

const round4 = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;

/** The editor's state for the page being shown. */
let ZE = null;

async function renderZoneEditor(main, cameraId) {
  const here = stillHere();
  ZE = {
    cameraId, camera: null, zones: [], selected: null, isNew: false, poly: [], original: null,
    image: null, imageUrl: null, loaded: false, drag: null, sentKinds: [], here,
  };
  const canvas = h('canvas', { id: 'zone-canvas', width: 960, height: 540, attrs: { 'aria-label': t('zones_title') } });
  ZE.canvas = canvas;
  ZE.ctx = canvas.getContext('2d');
  const snapStatus = h('div', { id: 'snapshot-status', class: 'small muted', text: t('snapshot_loading') });
  const canvasWrap = h('div', { class: 'canvas-wrap' }, canvas);
  const editable = hasRole('operator');
  main.append(
    h('div', { class: 'page-head' },
      h('a', { href: '#/cameras', class: 'back', text: t('back_to_cameras') }),
      h('h1', { id: 'zone-camera-title', text: t('zones_title') + ' · ' + cameraId })),
    h('div', { class: 'editor' },
      h('section', { class: 'editor-canvas' },
        h('div', { class: 'toolbar' },
          button('snapshot_refresh', () => loadSnapshot(), { id: 'snapshot-refresh' }),
          editable ? button('zone_new', newZone, { id: 'zone-new', class: 'primary' }) : null,
          editable ? button('zone_undo', undoPoint, { id: 'zone-undo' }) : null,
          editable ? button('zone_clear', clearPoints, { id: 'zone-clear' }) : null),
        canvasWrap, snapStatus,
        h('p', { id: 'zone-hint', class: 'hint', text: t('zone_hint_none') })),
      h('aside', { class: 'editor-side' },
        h('h2', { text: t('zone_list') }), h('ul', { id: 'zone-list', class: 'zone-list' }),
        h('div', { id: 'zone-form-holder' }))));
  bindCanvas(canvas, editable);
  const observer = new ResizeObserver(() => { fitCanvas(); drawZones(); });
  observer.observe(canvasWrap);
  onLeave(() => {
    observer.disconnect();
    if (ZE && ZE.imageUrl) URL.revokeObjectURL(ZE.imageUrl);
    ZE = null;
  });
  await loadCamera();
  if (!here()) return;
  renderZoneForm();
  loadSnapshot();
  every(3000, () => { if (ZE && !ZE.loaded && !ZE.loading) loadSnapshot(); });
}

async function loadCamera() {
  const cam = await api('GET', '/api/v1/cameras/' + encodeURIComponent(ZE.cameraId));
  if (!ZE) return;
  ZE.camera = cam;
  ZE.zones = Array.isArray(cam.zones) ? cam.zones : [];
  $('#zone-camera-title').textContent = t('zones_title') + ' · ' + (cam.name || cam.id);
  renderZoneList();
  drawZones();
}

async function loadSnapshot() {
  const z = ZE;
  const status = $('#snapshot-status');
  z.loading = true;
  try {
    const blob = await api('GET', '/api/v1/cameras/' + encodeURIComponent(z.cameraId) + '/snapshot?t=' + Date.now(), undefined, { blob: true });
    if (ZE !== z) return;
    const url = URL.createObjectURL(blob);
    const img = await loadImage(url);
    if (ZE !== z) { URL.revokeObjectURL(url); return; }
    if (z.imageUrl) URL.revokeObjectURL(z.imageUrl);
    z.imageUrl = url;
    z.image = img;
    fitCanvas();
    drawZones();
    z.loaded = true;
    z.canvas.dataset.loaded = 'true';
    status.textContent = `${img.naturalWidth} × ${img.naturalHeight} · ${fmtTime(new Date())}`;
  } catch (e) {
    if (ZE !== z) return;
    status.textContent = t('snapshot_failed', e.describe ? e.describe() : String(e));
  } finally {
    z.loading = false;
  }
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('not a picture'));
    img.src = url;
  });
}

// ---- drawing -------------------------------------------------------------------------------

/** Canvas pixels follow its CSS width (CSS keeps the aspect ratio through height: auto). */
function fitCanvas() {
  if (!ZE) return;
  const c = ZE.canvas;
  const cssWidth = c.parentElement.clientWidth || 960;
  const dpr = window.devicePixelRatio || 1;
  const aspect = ZE.image ? ZE.image.naturalHeight / ZE.image.naturalWidth : 9 / 16;
  const w = Math.max(1, Math.round(cssWidth * dpr));
  const hgt = Math.max(1, Math.round(cssWidth * aspect * dpr));
  if (c.width !== w) c.width = w;
  if (c.height !== hgt) c.height = hgt;
}

function zoneColor(index) {
  return ZONE_COLORS[((index % ZONE_COLORS.length) + ZONE_COLORS.length) % ZONE_COLORS.length];
}

function drawZones() {
  if (!ZE) return;
  const { canvas, ctx } = ZE;
  canvas.classList.toggle('editing', !!editing());
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (ZE.image) ctx.drawImage(ZE.image, 0, 0, canvas.width, canvas.height);
  else { ctx.fillStyle = '#2b2f36'; ctx.fillRect(0, 0, canvas.width, canvas.height); }
  ZE.zones.forEach((zone, i) => {
    if (zone.id === ZE.selected && !ZE.isNew) return;
    drawPolygon(zone.polygon || [], zoneColor(i), false, zone.name || zone.id);
  });
  if (ZE.selected !== null || ZE.isNew) {
    const idx = ZE.isNew ? ZE.zones.length : ZE.zones.findIndex((z) => z.id === ZE.selected);
    const label = ($('#zone-name') && $('#zone-name').value) || ($('#zone-id') && $('#zone-id').value) || '';
    drawPolygon(ZE.poly, zoneColor(idx), true, label);
  }
}

function drawPolygon(points, color, active, label) {
  const { canvas, ctx } = ZE;
  if (!points.length) return;
  const dpr = window.devicePixelRatio || 1;
  const px = points.map(([x, y]) => [x * canvas.width, y * canvas.height]);
  ctx.save();
  ctx.lineJoin = 'round';
  ctx.beginPath();
  px.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
  if (px.length > 2) ctx.closePath();
  ctx.globalAlpha = active ? 0.3 : 0.18;
  ctx.fillStyle = color;
  if (px.length > 2) ctx.fill();
  ctx.globalAlpha = 1;
  ctx.strokeStyle = color;
  ctx.lineWidth = (active ? 3 : 2) * dpr;
  if (active) ctx.setLineDash([]);
  ctx.stroke();
  if (active) {
    for (const [x, y] of px) {
      ctx.beginPath();
      ctx.arc(x, y, 6 * dpr, 0, Math.PI * 2);
      ctx.fillStyle = '#fff';
      ctx.fill();
      ctx.lineWidth = 2 * dpr;
      ctx.stroke();
    }
  }
  if (label) {
    const [lx, ly] = labelPoint(px);
    ctx.font = `${Math.round(13 * dpr)}px system-ui, sans-serif`;
    const w = ctx.measureText(label).width + 8 * dpr;
    ctx.fillStyle = 'rgba(0,0,0,0.65)';
    ctx.fillRect(lx - w / 2, ly - 10 * dpr, w, 20 * dpr);
    ctx.fillStyle = '#fff';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText(label, lx, ly);
  }
  ctx.restore();
}

function labelPoint(px) {
  const sx = px.reduce((s, p) => s + p[0], 0) / px.length;
  const sy = px.reduce((s, p) => s + p[1], 0) / px.length;
  return [sx, sy];
}

// ---- pointer interaction -------------------------------------------------------------------

/** The pointer's place in normalised coordinates, and the canvas's CSS size. */
function pointerAt(ev) {
  const r = ZE.canvas.getBoundingClientRect();
  return { x: round4((ev.clientX - r.left) / r.width), y: round4((ev.clientY - r.top) / r.height), w: r.width, h: r.height };
}

function hitRadius(ev) {
  return ev.pointerType === 'touch' ? 20 : 10;
}

function hitVertex(p, ev) {
  const r = hitRadius(ev);
  let best = -1;
  let bestD = Infinity;
  ZE.poly.forEach(([x, y], i) => {
    const d = Math.hypot((x - p.x) * p.w, (y - p.y) * p.h);
    if (d <= r && d < bestD) { best = i; bestD = d; }
  });
  return best;
}

function hitEdge(p, ev) {
  const n = ZE.poly.length;
  if (n < 2) return -1;
  const r = hitRadius(ev);
  for (let i = 0; i < n; i++) {
    if (n === 2 && i === 1) break;
    const a = ZE.poly[i];
    const b = ZE.poly[(i + 1) % n];
    const ax = a[0] * p.w; const ay = a[1] * p.h; const bx = b[0] * p.w; const by = b[1] * p.h;
    const qx = p.x * p.w; const qy = p.y * p.h;
    const len2 = (bx - ax) ** 2 + (by - ay) ** 2;
    const s = len2 ? Math.max(0, Math.min(1, ((qx - ax) * (bx - ax) + (qy - ay) * (by - ay)) / len2)) : 0;
    if (Math.hypot(qx - (ax + s * (bx - ax)), qy - (ay + s * (by - ay))) <= r) return i;
  }
  return -1;
}

function pointInPolygon(p, poly) {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if ((yi > p.y) !== (yj > p.y) && p.x < ((xj - xi) * (p.y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function editing() {
  return ZE && (ZE.isNew || ZE.selected !== null);
}

function bindCanvas(canvas, editable) {
  canvas.addEventListener('pointerdown', (ev) => {
    if (!ZE || (ev.pointerType === 'mouse' && ev.button !== 0)) return;
    const p = pointerAt(ev);
    if (editable && editing()) {
      const vi = hitVertex(p, ev);
      if (vi >= 0) { startDrag(vi, ev); return; }
      if (ZE.isNew) {
        ZE.poly.push([p.x, p.y]);
        startDrag(ZE.poly.length - 1, ev);
        polygonChanged();
        return;
      }
      const ei = hitEdge(p, ev);
      if (ei >= 0) {
        ZE.poly.splice(ei + 1, 0, [p.x, p.y]);
        startDrag(ei + 1, ev);
        polygonChanged();
        return;
      }
    }
    const other = ZE.zones.find((z) => z.id !== ZE.selected && pointInPolygon(p, z.polygon || []));
    if (other && !ZE.isNew) selectZone(other.id);
  });
  canvas.addEventListener('pointermove', (ev) => {
    if (!ZE) return;
    const p = pointerAt(ev);
    if (ZE.drag && ZE.drag.pointerId === ev.pointerId) {
      ZE.poly[ZE.drag.index] = [p.x, p.y];
      ZE.drag.moved = true;
      drawZones();
      return;
    }
    canvas.classList.toggle('over-vertex', editable && editing() && hitVertex(p, ev) >= 0);
  });
  const endDrag = (ev) => {
    if (!ZE || !ZE.drag || ZE.drag.pointerId !== ev.pointerId) return;
    const moved = ZE.drag.moved;
    ZE.drag = null;
    if (canvas.hasPointerCapture && canvas.hasPointerCapture(ev.pointerId)) canvas.releasePointerCapture(ev.pointerId);
    if (moved) polygonChanged();
  };
  canvas.addEventListener('pointerup', endDrag);
  canvas.addEventListener('pointercancel', endDrag);
  const deleteAt = (ev) => {
    if (!ZE || !editable || !editing()) return false;
    const vi = hitVertex(pointerAt(ev), ev);
    if (vi < 0) return false;
    ev.preventDefault();
    ZE.drag = null;
    ZE.poly.splice(vi, 1);
    polygonChanged();
    return true;
  };
  canvas.addEventListener('dblclick', deleteAt);
  canvas.addEventListener('contextmenu', (ev) => { if (editing()) ev.preventDefault(); deleteAt(ev); });
}

function startDrag(index, ev) {
  ZE.drag = { index, pointerId: ev.pointerId, moved: false };
  try { ZE.canvas.setPointerCapture(ev.pointerId); } catch (_) { /* synthetic events */ }
  ev.preventDefault();
}

function polygonChanged() {
  drawZones();
  const pts = $('#zone-points');
  if (pts) {
    pts.textContent = t('zone_points', ZE.poly.length);
    pts.classList.remove('invalid');
    $$('.field-error[data-for="zone-points"]').forEach((e) => e.remove());
  }
}

function undoPoint() {
  if (!editing() || !ZE.poly.length) return;
  ZE.poly.pop();
  polygonChanged();
}

function clearPoints() {
  if (!editing()) return;
  ZE.poly = [];
  polygonChanged();
}

// ---- zone list and selection ---------------------------------------------------------------

function renderZoneList() {
  const list = clear($('#zone-list'));
  if (!ZE.zones.length) list.append(h('li', { class: 'empty', text: t('no_zones') }));
  ZE.zones.forEach((zone, i) => {
    const swatch = h('span', { class: 'swatch' });
    swatch.style.backgroundColor = zoneColor(i);
    const kinds = (zone.rules || []).map((r) => kindLabel(r.kind)).join('、');
    const li = h('li', { dataset: { zone: zone.id }, tabIndex: 0, class: zone.id === ZE.selected && !ZE.isNew ? 'selected' : '' },
      swatch, h('span', { class: 'strong', text: zone.name || zone.id }), ' ',
      h('span', { class: 'small muted', text: zone.id }), h('div', { class: 'small', text: kinds }));
    li.addEventListener('click', () => selectZone(zone.id));
    li.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); selectZone(zone.id); } });
    list.append(li);
  });
}

function selectZone(id) {
  const zone = ZE.zones.find((z) => z.id === id);
  if (!zone) return;
  ZE.selected = id;
  ZE.isNew = false;
  ZE.original = zone;
  ZE.poly = (zone.polygon || []).map(([x, y]) => [Number(x), Number(y)]);
  $('#zone-hint').textContent = t('zone_hint_edit');
  renderZoneList();
  renderZoneForm();
  drawZones();
}

function newZone() {
  ZE.selected = null;
  ZE.isNew = true;
  ZE.original = null;
  ZE.poly = [];
  $('#zone-hint').textContent = t('zone_hint_new');
  renderZoneList();
  renderZoneForm();
  drawZones();
  $('#zone-id').focus();
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
    if (st) { st.textContent = e.describe ? e.describe() : String(e); st.className = 'status error-text'; }
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
    status.textContent = e.describe ? e.describe() : String(e);
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
