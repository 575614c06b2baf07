// Steward UI — #/cameras: the camera list with health, and the add/edit form.
'use strict';

const CAMERA_FIELDS = {
  id: 'camera-id', name: 'camera-name', url: 'camera-url', username: 'camera-username',
  password: 'camera-password', analysis_fps: 'camera-fps', decode: 'camera-decode',
  transport: 'camera-transport', pace: 'camera-pace', loop: 'camera-loop', gb28181_id: 'camera-gb28181',
  camera_id: 'camera-id',
};

function stateBadge(state) {
  const s = String(state || 'unknown');
  return badge(tOr('state_' + s, s), 'state-' + s.replace(/[^a-z_]/g, ''));
}

async function renderCameras(main) {
  const here = stillHere();
  const status = h('div', { class: 'form-error', hidden: true });
  const tbody = h('tbody');
  const formHolder = h('div', { id: 'camera-form-holder' });
  const addBtn = hasRole('operator')
    ? button('camera_add', () => openCameraForm(formHolder, null, reload), { id: 'camera-add', class: 'primary' })
    : null;
  main.append(
    h('div', { class: 'page-head' }, h('h1', { text: t('cameras_title') }), addBtn),
    formHolder, status,
    h('div', { class: 'table-wrap' }, h('table', { id: 'camera-list', class: 'list' },
      h('thead', {}, h('tr', {}, ['col_name', 'col_state', 'col_fps', 'col_last_frame', 'col_last_error', 'col_zones', 'col_actions']
        .map((k) => h('th', { text: t(k) })))),
      tbody)));

  const reload = reloader(status, here, () => api('GET', '/api/v1/cameras'),
    (answer) => renderCameraRows(tbody, listOf(answer, 'cameras'), formHolder, reload));
  await reload();
  every(5000, reload);
}

function renderCameraRows(tbody, cameras, formHolder, reload) {
  const build = (cam) => {
    const href = '#/cameras/' + encodeURIComponent(cam.id);
    const actions = h('td', { class: 'actions' }, h('a', { class: 'camera-open button-link', href, text: t('zones_title') }));
    const row = h('tr', { dataset: { camera: cam.id } },
      h('td', {}, h('a', { href, class: 'strong camera-name' }), h('div', { class: 'small muted', text: cam.id })),
      h('td'), h('td', { class: 'num' }), h('td'), h('td', { class: 'error-text wrap' }), h('td', { class: 'num' }), actions);
    if (hasRole('operator')) {
      actions.append(button('edit', () => openCameraForm(formHolder, row.camera, reload), { class: 'camera-edit' }));
    }
    updateCameraRow(row, cam);
    return row;
  };
  syncRows(tbody, cameras, (cam) => cam.id, build, updateCameraRow, t('no_cameras'), 7);
}

/** Refreshes a camera row's cells in place (the links and buttons stay the same elements). */
function updateCameraRow(row, cam) {
  const health = cam.health || {};
  row.camera = cam;
  const cells = row.cells;
  $('.camera-name', cells[0]).textContent = cam.name || cam.id;
  const state = String(health.state || 'unknown');
  if (cells[1].dataset.state !== state) {
    cells[1].dataset.state = state;
    setCell(cells[1], stateBadge(state));
  }
  cells[2].textContent = fmtNumber(health.fps, 2);
  cells[3].textContent = fmtTime(health.last_frame_at);
  cells[4].textContent = health.last_error || '';
  cells[5].textContent = String((cam.zones || []).length);
}

/** The add/edit form; cam is null to add. */
function openCameraForm(holder, cam, reload) {
  clear(holder);
  const editing = !!cam;
  const c = cam || {};
  const keep = editing && c.has_credentials ? t('unchanged') : '';
  const inputs = {
    id: h('input', { id: 'camera-id', value: c.id || '', readOnly: editing, required: true, autocomplete: 'off' }),
    name: h('input', { id: 'camera-name', value: c.name || '' }),
    url: h('input', { id: 'camera-url', value: c.url || '', required: true, class: 'wide', placeholder: 'rtsp://192.0.2.10:554/Streaming/Channels/102' }),
    username: h('input', { id: 'camera-username', value: '', placeholder: keep, autocomplete: 'off' }),
    password: h('input', { id: 'camera-password', type: 'password', value: '', placeholder: keep, autocomplete: 'new-password' }),
    fps: h('input', { id: 'camera-fps', type: 'number', step: 'any', min: '0.1', max: '30', value: c.analysis_fps ?? 1 }),
    decode: select('camera-decode', [['all', t('decode_all')], ['keyframes', t('decode_keyframes')]], c.decode || 'all'),
    transport: select('camera-transport', [['tcp', 'TCP'], ['udp', 'UDP']], c.transport || 'tcp'),
    pace: select('camera-pace', [['fast', t('pace_fast')], ['realtime', t('pace_realtime')]], c.pace || 'fast'),
    loop: h('input', { id: 'camera-loop', type: 'checkbox', checked: !!c.loop }),
    gb: h('input', { id: 'camera-gb28181', value: c.gb28181_id || '', inputMode: 'numeric', maxLength: 20 }),
  };
  const testImg = h('img', { id: 'camera-test-image', alt: '', hidden: true });
  const testMsg = h('div', { id: 'camera-test-status', class: 'small' });
  const form = h('form', { id: 'camera-form', class: 'card', attrs: { novalidate: '' } },
    h('h2', { text: t(editing ? 'camera_edit' : 'camera_add') }),
    h('div', { class: 'grid' },
      field('camera_id', inputs.id), field('camera_name', inputs.name),
      field('camera_url', inputs.url, 'span2'),
      field('camera_username', inputs.username), field('camera_password', inputs.password),
      field('camera_fps', inputs.fps), field('camera_decode', inputs.decode),
      field('camera_transport', inputs.transport), field('camera_pace', inputs.pace),
      checkField('camera_loop', inputs.loop), field('camera_gb28181', inputs.gb)),
    formError(),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', id: 'camera-save', class: 'primary', text: t('save') }),
      button('camera_test', () => testCamera(form, inputs, cam, testImg, testMsg), { id: 'camera-test' }),
      button('cancel', () => clear(holder), { id: 'camera-cancel' }),
      editing ? button('delete', () => deleteCamera(form, cam, holder, reload), { id: 'camera-delete', class: 'danger' }) : null),
    testMsg, testImg);
  form.addEventListener('submit', (ev) => { ev.preventDefault(); saveCamera(form, inputs, cam, holder, reload); });
  holder.append(form);
  (editing ? inputs.name : inputs.id).focus();
  form.scrollIntoView({ block: 'nearest' });
}

function cameraBody(inputs, editing) {
  const body = {
    id: inputs.id.value.trim(),
    url: inputs.url.value.trim(),
    analysis_fps: inputs.fps.value === '' ? undefined : Number(inputs.fps.value),
    decode: inputs.decode.value,
    transport: inputs.transport.value,
    pace: inputs.pace.value,
    loop: inputs.loop.checked,
  };
  const name = inputs.name.value.trim();
  if (name) body.name = name;
  if (inputs.username.value) body.username = inputs.username.value;
  if (inputs.password.value) body.password = inputs.password.value;
  const gb = inputs.gb.value.trim();
  if (gb) body.gb28181_id = gb;
  else if (editing) body.gb28181_id = undefined;
  return body;
}

function mapCameraField(path) {
  const key = path.replace(/^.*\./, '').replace(/\[\d+\]$/, '');
  return CAMERA_FIELDS[key] || null;
}

async function saveCamera(form, inputs, cam, holder, reload) {
  clearErrors(form);
  const body = cameraBody(inputs, !!cam);
  if (!body.id) { fieldError('camera-id', t('required'), form); return; }
  if (!body.url) { fieldError('camera-url', t('required'), form); return; }
  if (inputs.fps.validity.badInput) { fieldError('camera-fps', t('not_a_number'), form); return; }
  const save = $('#camera-save', form);
  save.disabled = true;
  try {
    if (cam) await api('PUT', '/api/v1/cameras/' + encodeURIComponent(cam.id), body);
    else await api('POST', '/api/v1/cameras', body);
    clear(holder);
    flash(t('saved'), 'ok');
    await reload();
  } catch (e) {
    showErrors(form, e, mapCameraField);
  } finally {
    save.disabled = false;
  }
}

async function testCamera(form, inputs, cam, img, msg) {
  clearErrors(form);
  const body = { url: inputs.url.value.trim() };
  if (inputs.username.value) body.username = inputs.username.value;
  if (inputs.password.value) body.password = inputs.password.value;
  if (cam) body.camera_id = cam.id;
  if (!body.url) { fieldError('camera-url', t('required'), form); return; }
  const btn = $('#camera-test', form);
  btn.disabled = true;
  msg.className = 'small';
  msg.textContent = t('camera_testing');
  try {
    const blob = await api('POST', '/api/v1/cameras/test', body, { blob: true });
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(blob);
    img.hidden = false;
    msg.textContent = t('camera_test_ok');
  } catch (e) {
    img.hidden = true;
    msg.className = 'small error-text';
    msg.textContent = errText(e);
    showErrors(form, e, mapCameraField);
  } finally {
    btn.disabled = false;
  }
}

async function deleteCamera(form, cam, holder, reload) {
  if (!window.confirm(t('confirm_delete', cam.name || cam.id))) return;
  try {
    await api('DELETE', '/api/v1/cameras/' + encodeURIComponent(cam.id));
    clear(holder);
    flash(t('deleted'), 'ok');
    await reload();
  } catch (e) {
    showErrors(form, e, mapCameraField);
  }
}
