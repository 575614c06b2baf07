// Steward UI — #/cameras/ID: the zone editor. The camera's latest frame on a canvas, zones as
// polygons (normalised 0–1 coordinates), and the form for the selected zone and its rules.
'use strict';

const ZONE_COLORS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#bfef45'];

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
  restoreZoneDraft();
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
    status.textContent = t('snapshot_failed', errText(e));
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
