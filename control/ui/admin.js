// Steward UI — #/sinks (delivery endpoints and the code table), #/system (status and log
// tail) and #/users (users and API tokens).
'use strict';

function lastKey(path) {
  return String(path).replace(/\[\d+\]/g, '').split('.').pop();
}

// ---- sinks ---------------------------------------------------------------------------------

async function renderSinks(main) {
  const here = stillHere();
  const admin = hasRole('admin');
  const tbody = h('tbody');
  const status = h('div', { class: 'form-error', hidden: true });
  const formHolder = h('div', { id: 'sink-form-holder' });
  const testResult = h('div', { id: 'sink-test-result', class: 'card', hidden: true });
  const codesHolder = h('div', { id: 'codes-holder' });
  main.append(
    h('div', { class: 'page-head' }, h('h1', { text: t('sinks_title') }),
      admin ? button('sink_add', () => openSinkForm(formHolder, null, reload), { id: 'sink-add', class: 'primary' }) : null),
    formHolder, status,
    h('div', { class: 'table-wrap' }, h('table', { id: 'sink-list', class: 'list' },
      h('thead', {}, h('tr', {}, ['col_name', 'col_url', 'col_timeout', 'col_secret', 'col_pending', 'col_delivered', 'col_rejected', 'col_actions']
        .map((k) => h('th', { text: t(k) })))),
      tbody)),
    testResult, codesHolder);

  const reload = reloader(status, here, () => api('GET', '/api/v1/sinks'),
    (answer) => renderSinkRows(tbody, listOf(answer, 'sinks'), formHolder, testResult, reload));
  await reload();
  every(5000, reload);
  await renderCodes(codesHolder, here);
}

function renderSinkRows(tbody, sinks, formHolder, testResult, reload) {
  const build = (s) => {
    const row = h('tr', { dataset: { sink: s.name } },
      h('td', { class: 'strong', text: s.name }), h('td', { class: 'wrap' }), h('td', { class: 'num' }), h('td'),
      h('td', { class: 'num' }), h('td', { class: 'num' }), h('td', { class: 'num' }), h('td', { class: 'actions' }));
    if (hasRole('admin')) {
      row.cells[7].append(
        button('edit', () => openSinkForm(formHolder, row.sink, reload), { class: 'sink-edit' }),
        button('sink_test', (ev) => testSink(row.sink, ev.currentTarget, testResult), { class: 'sink-test' }),
        button('delete', () => deleteSink(row.sink, reload), { class: 'sink-delete danger' }));
    }
    updateSinkRow(row, s);
    return row;
  };
  syncRows(tbody, sinks, (s) => s.name, build, updateSinkRow, t('no_sinks'), 8);
}

function updateSinkRow(row, s) {
  row.sink = s;
  const cells = row.cells;
  cells[1].textContent = s.url || '';
  cells[2].textContent = s.timeout_s === undefined ? '—' : String(s.timeout_s);
  // An MQTT sink's secret is its broker password (none is fine: an anonymous broker).
  const secretSet = s.kind === 'mqtt' ? s.has_password : s.has_secret;
  setCell(cells[3], badge(t(secretSet ? 'secret_set' : 'secret_not_set'), secretSet || s.kind === 'mqtt' ? 'ok' : 'warn'));
  cells[4].textContent = String(s.pending ?? '—');
  cells[5].textContent = String(s.delivered ?? '—');
  cells[6].textContent = String(s.rejected ?? '—');
}

function openSinkForm(holder, sink, reload) {
  clear(holder);
  const editing = !!sink;
  const s = sink || {};
  // An MQTT sink (made in the config file or through the API) is edited here for its broker
  // address and password; its other keys keep their values.
  const mqtt = s.kind === 'mqtt';
  const name = h('input', { id: 'sink-name', value: s.name || '', readOnly: editing, autocomplete: 'off' });
  const url = h('input', { id: 'sink-url', value: s.url || '', class: 'wide', placeholder: 'https://platform.example/api/incidents' });
  const secret = h('input', { id: 'sink-secret', type: 'password', value: '', autocomplete: 'new-password',
    placeholder: editing && (mqtt ? s.has_password : s.has_secret) ? t('secret_keep') : (mqtt ? '' : t('secret_required')) });
  const timeout = h('input', { id: 'sink-timeout', type: 'number', step: 'any', min: '0', value: s.timeout_s ?? 10 });
  // TLS files: paths on the box (the key's contents are never shown or sent).
  const tls = ['ca_file', 'client_cert', 'client_key'].map((key) => [key,
    h('input', { id: 'sink-' + key.replace('_', '-'), class: 'wide', value: s[key] || '', autocomplete: 'off', placeholder: t('pem_path_hint') })]);
  const form = h('form', { id: 'sink-form', class: 'card', attrs: { novalidate: '' } },
    h('h2', { text: t(editing ? 'sink_edit' : 'sink_add') }),
    h('div', { class: 'grid' }, field('sink_name', name), mqtt ? null : field('sink_timeout', timeout),
      field('sink_url', url, 'span2'), field(mqtt ? 'sink_password' : 'sink_secret', secret),
      ...(mqtt ? [] : tls.map(([key, input]) => field('sink_' + key, input, 'span2')))),
    formError(),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', id: 'sink-save', class: 'primary', text: t('save') }),
      button('cancel', () => clear(holder), { id: 'sink-cancel' })));
  const ids = { name: 'sink-name', url: 'sink-url', hmac_secret: 'sink-secret', password: 'sink-secret', timeout_s: 'sink-timeout',
    ca_file: 'sink-ca-file', client_cert: 'sink-client-cert', client_key: 'sink-client-key' };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    if (!name.value.trim()) { fieldError('sink-name', t('required'), form); return; }
    if (!url.value.trim()) { fieldError('sink-url', t('required'), form); return; }
    if (!editing && !secret.value) { fieldError('sink-secret', t('required'), form); return; }
    const body = { url: url.value.trim() };
    if (mqtt) {
      body.kind = 'mqtt';
      if (secret.value) body.password = secret.value;
    } else {
      if (secret.value) body.hmac_secret = secret.value;
      if (timeout.value !== '') body.timeout_s = Number(timeout.value);
      // Only what changed: an empty value removes the file, an untouched one keeps it as written.
      for (const [key, input] of tls) {
        if (input.value.trim() !== (s[key] || '')) body[key] = input.value.trim();
      }
    }
    try {
      await api('PUT', '/api/v1/sinks/' + encodeURIComponent(name.value.trim()), body);
      clear(holder);
      flash(t('saved'), 'ok');
      await reload();
    } catch (e) {
      showErrors(form, e, (path) => ids[lastKey(path)] || null);
    }
  });
  holder.append(form);
  (editing ? url : name).focus();
}

async function testSink(sink, btn, box) {
  btn.disabled = true;
  box.hidden = false;
  clear(box).append(h('h2', { text: `${t('sink_test')} · ${sink.name}` }), h('p', { text: t('sink_testing') }));
  try {
    const r = await api('POST', `/api/v1/sinks/${encodeURIComponent(sink.name)}/test`) || {};
    const ok = typeof r.status === 'number' && r.status >= 200 && r.status < 300;
    clear(box).append(
      h('h2', { text: `${t('sink_test')} · ${sink.name}` }),
      h('p', {}, badge(t('sink_test_result', r.status ?? '—', r.latency_ms ?? '—'), ok ? 'ok' : 'bad')),
      h('pre', { class: 'sink-test-body', text: typeof r.body === 'string' ? r.body : JSON.stringify(r.body ?? r, null, 2) }));
  } catch (e) {
    clear(box).append(h('h2', { text: `${t('sink_test')} · ${sink.name}` }), h('p', { class: 'error-text', text: errText(e) }));
  } finally {
    btn.disabled = false;
  }
}

async function deleteSink(sink, reload) {
  if (!window.confirm(t('confirm_delete', sink.name))) return;
  try {
    await api('DELETE', '/api/v1/sinks/' + encodeURIComponent(sink.name));
    flash(t('deleted'), 'ok');
    await reload();
  } catch (e) {
    flash(errText(e), 'error');
  }
}

// ---- codes ---------------------------------------------------------------------------------

const CODE_KEYS = [['gb47678', 'codes_gb47678'], ['cjt214', 'codes_cjt214'], ['city', 'codes_city']];

async function renderCodes(holder, here) {
  let answer;
  try {
    answer = await api('GET', '/api/v1/codes');
  } catch (e) {
    if (here()) holder.append(h('p', { class: 'form-error', text: errText(e) }));
    return;
  }
  if (!here()) return;
  const admin = hasRole('admin');
  const kinds = listOf(answer, 'kinds');
  const form = h('form', { id: 'codes-form', class: 'card', attrs: { novalidate: '' } },
    h('h2', { text: t('codes_title') }), h('p', { class: 'hint', text: t('codes_hint') }),
    h('div', { class: 'table-wrap' }, h('table', { id: 'codes-table', class: 'list' },
      h('thead', {}, h('tr', {}, h('th', { text: t('col_kind') }), CODE_KEYS.map(([, label]) => h('th', { text: t(label) })))),
      h('tbody', {}, kinds.map((k) => codeRow(k, admin))))),
    formError(),
    admin ? h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'codes-save', class: 'primary', text: t('codes_save') }),
      h('span', { id: 'codes-status', class: 'status' })) : null);
  form.addEventListener('submit', (ev) => { ev.preventDefault(); saveCodes(form, kinds); });
  holder.append(form);
}

function codeRow(k, admin) {
  const def = k.default || {};
  const over = k.override || {};
  return h('tr', { dataset: { kind: k.kind } },
    h('td', {}, h('div', { class: 'strong', text: kindLabel(k.kind) }), h('div', { class: 'small muted', text: k.kind })),
    CODE_KEYS.map(([key]) => h('td', {}, h('div', { class: 'field' },
      h('input', { id: `code-${k.kind}-${key}`, value: over[key] || '', placeholder: def[key] || '', readOnly: !admin,
        attrs: { 'aria-label': `${k.kind} ${key}` }, class: 'code-input' })))));
}

async function saveCodes(form, kinds) {
  clearErrors(form);
  const body = {};
  for (const k of kinds) {
    const entry = {};
    for (const [key] of CODE_KEYS) {
      const v = $(`#code-${k.kind}-${key}`, form).value.trim();
      if (v) entry[key] = v;
    }
    if (Object.keys(entry).length) body[k.kind] = entry;
  }
  const status = $('#codes-status', form);
  try {
    await api('PUT', '/api/v1/codes', body);
    status.textContent = t('saved');
    status.className = 'status ok';
  } catch (e) {
    status.textContent = '';
    showErrors(form, e, (path) => {
      const m = String(path).match(/([a-z_]+)\.(gb47678|cjt214|city)/);
      return m ? `code-${m[1]}-${m[2]}` : null;
    });
  }
}

// ---- system --------------------------------------------------------------------------------

async function renderSystem(main) {
  const here = stillHere();
  const info = h('div', { id: 'system-info' });
  const log = h('pre', { id: 'log-tail', class: 'log' });
  const status = h('div', { class: 'form-error', hidden: true });
  main.append(h('div', { class: 'page-head' }, h('h1', { text: t('system_title') })), status, info,
    h('h2', { text: t('log_tail') }), log);
  async function reload() {
    const [sys, logs] = await Promise.allSettled([api('GET', '/api/v1/system'), api('GET', '/api/v1/logs?lines=200')]);
    if (!here()) return;
    const failed = [sys, logs].filter((r) => r.status === 'rejected').map((r) => errText(r.reason));
    status.hidden = !failed.length;
    status.textContent = failed.join(' · ');
    if (sys.status === 'fulfilled') renderSystemInfo(clear(info), sys.value || {});
    if (logs.status === 'fulfilled') {
      const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
      const lines = listOf(logs.value, 'lines');
      log.textContent = lines.join('\n');
      if (atBottom) log.scrollTop = log.scrollHeight;
    }
  }
  await reload();
  every(5000, reload);
}

function renderSystemInfo(root, s) {
  const has = (v) => v !== undefined && v !== null;
  const rows = [];
  if (has(s.version)) rows.push(fact(t('sys_version'), String(s.version)));
  if (has(s.uptime_s)) rows.push(fact(t('sys_uptime'), fmtDuration(s.uptime_s)));
  if (has(s.platform)) rows.push(fact(t('sys_platform'), String(s.platform)));
  if (s.model) {
    const sha = s.model.sha256 ? String(s.model.sha256) : '';
    rows.push(fact(t('sys_model'), h('span', {}, String(s.model.name || ''), ' ',
      sha ? h('code', { class: 'small', title: sha, text: sha.slice(0, 12) }) : null)));
  }
  if (s.inference) rows.push(fact(t('sys_inference'), t('sys_inference_value', s.inference.runs ?? '—', fmtNumber(s.inference.mean_ms, 1))));
  if (s.outbox) rows.push(fact(t('sys_outbox'), String(s.outbox.pending ?? '—')));
  if (s.disk) {
    rows.push(fact(t('sys_disk'), t('sys_disk_value', s.disk.dir || '', fmtBytes(s.disk.used_bytes), fmtBytes(s.disk.free_bytes))));
    if (typeof s.disk.quota_bytes === 'number') rows.push(fact(t('sys_quota'), t('sys_quota_value', fmtBytes(s.disk.quota_bytes), s.disk.evicted_files || 0)));
    if (s.disk.evidence_paused) rows.push(fact(t('sys_quota'), h('strong', { class: 'error-text', id: 'evidence-paused', text: t('sys_evidence_paused') })));
  }
  if (s.config) {
    rows.push(fact(t('sys_config'), String(s.config.path || '')));
    const problems = Array.isArray(s.config.problems) ? s.config.problems : [];
    rows.push(fact(t('sys_problems'), problems.length
      ? h('ul', { id: 'config-problems', class: 'problems' }, problems.map((p) => h('li', { text: String(p) })))
      : h('span', { id: 'config-problems', class: 'muted', text: t('sys_no_problems') })));
  }
  root.append(h('dl', { class: 'facts' }, rows));
  const cams = Array.isArray(s.cameras) ? s.cameras : [];
  if (cams.length) {
    root.append(h('h2', { text: t('sys_cameras') }), h('div', { class: 'table-wrap' }, h('table', { id: 'system-cameras', class: 'list' },
      h('thead', {}, h('tr', {}, ['col_id', 'col_state', 'col_fps', 'col_latency'].map((k) => h('th', { text: t(k) })))),
      h('tbody', {}, cams.map((c) => h('tr', { dataset: { camera: c.id } },
        h('td', { text: c.id }), h('td', {}, stateBadge(c.state)),
        h('td', { class: 'num', text: fmtNumber(c.fps, 2) }), h('td', { class: 'num', text: fmtNumber(c.latency_ms, 0) })))))));
  }
  root.append(h('details', { class: 'raw' }, h('summary', { text: t('sys_raw') }), h('pre', { text: JSON.stringify(s, null, 2) })));
}

// ---- users and tokens ----------------------------------------------------------------------

const ROLES = ['viewer', 'operator', 'admin'];
const roleOptions = () => ROLES.map((r) => [r, `${t('role_' + r)} (${r})`]);

async function renderUsers(main) {
  const here = stillHere();
  const users = h('div', { id: 'users-holder' });
  const tokens = h('div', { id: 'tokens-holder' });
  main.append(h('div', { class: 'page-head' }, h('h1', { text: t('users_title') })), users,
    h('h1', { text: t('tokens_title') }), tokens);
  await Promise.all([renderUserSection(users, here), renderTokenSection(tokens, here)]);
}

async function renderUserSection(holder, here) {
  const list = listOf(await api('GET', '/api/v1/users'), 'users');
  if (!here()) return;
  clear(holder);
  const reload = () => renderUserSection(holder, here).catch((e) => flash(errText(e), 'error'));
  const tbody = h('tbody');
  if (!list.length) tbody.append(h('tr', {}, h('td', { colSpan: 3, class: 'empty', text: t('no_users') })));
  for (const u of list) {
    const name = u.name || u.username;
    const actions = h('td', { class: 'actions' },
      button('user_password_change', () => changePassword(name, row), { class: 'user-password' }),
      name !== (session.user && session.user.name) ? button('delete', () => deleteUser(name, reload), { class: 'user-delete danger' }) : null);
    const row = h('tr', { dataset: { user: name } },
      h('td', { class: 'strong', text: name }), h('td', { text: tOr('role_' + u.role, u.role) }), actions);
    tbody.append(row);
  }
  const uname = h('input', { id: 'user-username', autocomplete: 'off' });
  const pass = h('input', { id: 'user-password', type: 'password', autocomplete: 'new-password' });
  const role = select('user-role', roleOptions(), 'viewer');
  const form = h('form', { id: 'user-form', class: 'card', attrs: { novalidate: '' } },
    h('h2', { text: t('user_add') }),
    h('div', { class: 'grid' }, field('username', uname), field('password', pass), field('user_role', role)),
    formError(),
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'user-add', class: 'primary', text: t('add') })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    if (!uname.value.trim()) { fieldError('user-username', t('required'), form); return; }
    if (!pass.value) { fieldError('user-password', t('required'), form); return; }
    try {
      await api('POST', '/api/v1/users', { username: uname.value.trim(), password: pass.value, role: role.value });
      flash(t('saved'), 'ok');
      reload();
    } catch (e) {
      showErrors(form, e, (p) => ({ name: 'user-username', username: 'user-username', password: 'user-password', role: 'user-role' }[lastKey(p)] || null));
    }
  });
  holder.append(h('div', { class: 'table-wrap' }, h('table', { id: 'user-list', class: 'list' },
    h('thead', {}, h('tr', {}, ['col_name', 'user_role', 'col_actions'].map((k) => h('th', { text: t(k) })))), tbody)), form);
}

/** An inline form under the user's row: PUT /api/v1/users/{name}/password {password}. */
function changePassword(name, row) {
  const existing = row.nextElementSibling;
  if (existing && existing.classList.contains('password-row')) { existing.remove(); return; }
  const input = h('input', { id: 'user-new-password', type: 'password', autocomplete: 'new-password' });
  const form = h('form', { class: 'inline-form', attrs: { novalidate: '' } },
    field('new_password', input), formError(),
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'user-password-save', class: 'primary', text: t('save') })));
  const extra = h('tr', { class: 'password-row' }, h('td', { colSpan: 3 }, form));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    if (!input.value) { fieldError(input.id, t('required'), form); return; }
    try {
      await api('PUT', '/api/v1/users/' + encodeURIComponent(name) + '/password', { password: input.value });
      extra.remove();
      flash(t('password_changed'), 'ok');
    } catch (e) {
      showErrors(form, e, (p) => (lastKey(p) === 'password' ? input.id : null));
    }
  });
  row.after(extra);
  input.focus();
}

async function deleteUser(name, reload) {
  if (!window.confirm(t('confirm_delete', name))) return;
  try {
    await api('DELETE', '/api/v1/users/' + encodeURIComponent(name));
    flash(t('deleted'), 'ok');
    reload();
  } catch (e) {
    flash(errText(e), 'error');
  }
}

async function renderTokenSection(holder, here, created) {
  const list = listOf(await api('GET', '/api/v1/tokens'), 'tokens');
  if (!here()) return;
  clear(holder);
  const reload = (token) => renderTokenSection(holder, here, token).catch((e) => flash(errText(e), 'error'));
  if (created) {
    const copyBtn = button('copy', () => copyText(created, copyBtn), { id: 'token-copy' });
    holder.append(h('div', { class: 'card notice' }, h('p', { text: t('token_created') }),
      h('code', { id: 'token-created', class: 'token', text: created }), ' ', copyBtn));
  }
  const tbody = h('tbody');
  if (!list.length) tbody.append(h('tr', {}, h('td', { colSpan: 5, class: 'empty', text: t('no_tokens') })));
  for (const tok of list) {
    tbody.append(h('tr', { dataset: { token: tok.id } },
      h('td', { class: 'strong', text: tok.name || String(tok.id) }),
      h('td', { text: tOr('role_' + tok.role, tok.role) }),
      h('td', { text: fmtTime(tok.created_at) }),
      h('td', { text: fmtTime(tok.last_used_at) }),
      h('td', { class: 'actions' }, button('delete', () => deleteToken(tok, reload), { class: 'token-delete danger' }))));
  }
  const name = h('input', { id: 'token-name', autocomplete: 'off' });
  const role = select('token-role', roleOptions(), 'viewer');
  const form = h('form', { id: 'token-form', class: 'card', attrs: { novalidate: '' } },
    h('h2', { text: t('token_create') }),
    h('div', { class: 'grid' }, field('token_name', name), field('token_role', role)),
    formError(),
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'token-create', class: 'primary', text: t('token_create') })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    if (!name.value.trim()) { fieldError('token-name', t('required'), form); return; }
    try {
      const answer = await api('POST', '/api/v1/tokens', { name: name.value.trim(), role: role.value });
      reload(answer && (answer.token || answer.secret));
    } catch (e) {
      showErrors(form, e, (p) => ({ name: 'token-name', role: 'token-role' }[lastKey(p)] || null));
    }
  });
  holder.append(h('div', { class: 'table-wrap' }, h('table', { id: 'token-list', class: 'list' },
    h('thead', {}, h('tr', {}, ['token_name', 'token_role', 'col_created', 'col_last_used', 'col_actions'].map((k) => h('th', { text: t(k) })))),
    tbody)), form);
}

async function deleteToken(tok, reload) {
  if (!window.confirm(t('confirm_delete', tok.name || tok.id))) return;
  try {
    await api('DELETE', '/api/v1/tokens/' + encodeURIComponent(tok.id));
    flash(t('deleted'), 'ok');
    reload();
  } catch (e) {
    flash(errText(e), 'error');
  }
}
