// Steward UI — the API helper, the session, and small DOM helpers shared by every page.
'use strict';

/** Who is signed in, and the CSRF token every non-GET request carries. */
const session = { user: null, csrf: '', setupRequired: false };

const ROLE_RANK = { viewer: 0, operator: 1, admin: 2 };
function hasRole(role) {
  return !!session.user && (ROLE_RANK[session.user.role] ?? -1) >= ROLE_RANK[role];
}

class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const message = (body && body.error) || (status ? `HTTP ${status}` : 'network error');
    super(message);
    this.status = status;
    this.fields = (body && Array.isArray(body.fields)) ? body.fields : [];
    this.retryAfter = retryAfter || null;
  }
  /** What to show: the API's message, with the retry delay for 429. */
  describe() {
    if (this.status === 429 && this.retryAfter) return `${this.message} (${t('retry_after', this.retryAfter)})`;
    if (this.status === 403 && !this.message) return t('forbidden');
    if (this.status === 0) return t('network_error', this.message);
    return this.message;
  }
}

/** GET /api/v1/session: who is signed in, the CSRF token, whether setup is needed. */
async function loadSession() {
  const s = await api('GET', '/api/v1/session', undefined, { noRedirect: true });
  session.user = s.user || null;
  session.csrf = s.csrf_token || '';
  session.setupRequired = !!s.setup_required;
  return s;
}

/**
 * One request to the control API. body (if any) goes as JSON; non-GET requests carry the CSRF
 * token. Returns the parsed JSON (or a Blob with opts.blob, or null for an empty answer).
 * Throws ApiError carrying {status, message, fields}. A 401 sends the user to the sign-in page
 * (unless opts.noRedirect); a 403 naming CSRF refreshes the token and tries once more.
 */
async function api(method, path, body, opts = {}) {
  const headers = { Accept: opts.blob ? 'image/jpeg, application/json' : 'application/json' };
  const unsafe = method !== 'GET' && method !== 'HEAD';
  if (unsafe && session.csrf) headers['X-CSRF-Token'] = session.csrf;
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, { error: e.message || String(e) });
  }
  if (res.ok) {
    if (opts.blob) return res.blob();
    if (res.status === 204) return null;
    const text = await res.text();
    if (!text) return null;
    const type = res.headers.get('Content-Type') || '';
    return type.includes('json') ? JSON.parse(text) : text;
  }
  let errBody = null;
  try { errBody = await res.json(); } catch (_) { /* not JSON */ }
  const err = new ApiError(res.status, errBody || { error: `${res.status} ${res.statusText}` }, res.headers.get('Retry-After'));
  if (res.status === 401 && !opts.noRedirect) {
    session.user = null;
    session.csrf = '';
    flash(t('session_expired'), 'error');
    try { await loadSession(); } catch (_) { /* the sign-in page shows what is wrong */ }
    go('#/login');
  } else if (res.status === 403 && unsafe && !opts.retried && /csrf/i.test(err.message)) {
    await loadSession();
    if (session.user || path.startsWith('/api/v1/session') || path === '/api/v1/setup') {
      return api(method, path, body, { ...opts, retried: true });
    }
  }
  throw err;
}

/** What went wrong, for the user: the API's message when there is one. */
function errText(e) {
  return e && e.describe ? e.describe() : String(e);
}

/** A list out of an answer that is either an array or {key: [...]}. */
function listOf(answer, key) {
  if (Array.isArray(answer)) return answer;
  if (answer && Array.isArray(answer[key])) return answer[key];
  return [];
}

// ---- DOM ---------------------------------------------------------------------------------

/**
 * Builds an element. props: class, id, text, title, dataset {…}, attrs {…}, on {event: fn},
 * and any other property set directly (type, value, checked, href, placeholder…). Children are
 * nodes or strings (as text: nothing is ever parsed as HTML).
 */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'attrs') for (const [a, v] of Object.entries(value)) el.setAttribute(a, v);
    else if (key === 'on') for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else el[key] = value;
  }
  appendAll(el, children);
  return el;
}

function appendAll(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/**
 * Brings tbody's rows in line with items without replacing the rows that stay (so a click or a
 * selection on a row survives the 5-second refresh): build(item) makes a new row, update(row,
 * item) refreshes an existing one. emptyText is shown when there are no items.
 */
function syncRows(tbody, items, keyOf, build, update, emptyText, columns) {
  const existing = new Map();
  for (const tr of Array.from(tbody.rows)) {
    if (tr.dataset.key === undefined) tr.remove();
    else existing.set(tr.dataset.key, tr);
  }
  let prev = null;
  for (const item of items) {
    const key = String(keyOf(item));
    let row = existing.get(key);
    if (row) {
      existing.delete(key);
      update(row, item);
    } else {
      row = build(item);
      row.dataset.key = key;
    }
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (row !== want) tbody.insertBefore(row, want);
    prev = row;
  }
  existing.forEach((tr) => tr.remove());
  if (!items.length) tbody.append(h('tr', {}, h('td', { colSpan: columns, class: 'empty', text: emptyText })));
}

/** Replaces a cell's content with the given nodes/strings. */
function setCell(cell, ...content) {
  clear(cell);
  appendAll(cell, content);
}

const $ = (sel, root) => (root || document).querySelector(sel);
const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

/** A labelled input: <div class="field"><label for=id>…</label>input<div class="field-error"></div></div>. */
function field(labelKey, input, extraClass) {
  return h('div', { class: 'field' + (extraClass ? ' ' + extraClass : '') },
    h('label', { htmlFor: input.id, text: t(labelKey) }), input);
}

/** A checkbox with its label after it. */
function checkField(labelKey, input) {
  return h('div', { class: 'field check' }, input, h('label', { htmlFor: input.id, text: t(labelKey) }));
}

function select(id, options, value) {
  const el = h('select', { id });
  for (const [val, label] of options) el.append(h('option', { value: val, text: label }));
  if (value !== undefined && value !== null) el.value = value;
  return el;
}

function button(labelKey, on, props) {
  return h('button', { type: 'button', text: t(labelKey), ...(props || {}), on: { click: on } });
}

function badge(text, cls) {
  return h('span', { class: 'badge ' + (cls || ''), text });
}

/** Removes the error marks that showErrors put inside root. */
function clearErrors(root) {
  $$('.field-error', root).forEach((el) => el.remove());
  $$('.invalid', root).forEach((el) => { el.classList.remove('invalid'); el.removeAttribute('aria-invalid'); });
  $$('.form-error', root).forEach((el) => { el.textContent = ''; el.hidden = true; });
}

/** Shows message next to the input with id (after its .field wrapper's input). */
function fieldError(inputId, message, root) {
  const input = document.getElementById(inputId);
  if (!input || (root && !root.contains(input))) return false;
  input.classList.add('invalid');
  input.setAttribute('aria-invalid', 'true');
  const holder = input.closest('.field') || input.parentElement;
  const msg = h('div', { class: 'field-error', text: message, dataset: { for: inputId }, attrs: { role: 'alert' } });
  holder.append(msg);
  return true;
}

/**
 * Shows an ApiError in a form: err.error in root's .form-error, and each fields[] entry next to
 * the input that mapField(path) names (an id, or null: then it goes to the .form-error too).
 */
function showErrors(root, err, mapField) {
  clearErrors(root);
  const general = $('.form-error', root);
  const leftover = [];
  for (const f of (err.fields || [])) {
    const id = mapField ? mapField(f.field || '') : null;
    const where = f.line ? ` (${f.line}:${f.column || 0})` : '';
    if (!id || !fieldError(id, f.message + where, root)) leftover.push(`${f.field}: ${f.message}${where}`);
  }
  if (general) {
    general.hidden = false;
    general.textContent = '';
    general.append(h('div', { text: err.describe ? err.describe() : String(err.message || err) }));
    for (const line of leftover) general.append(h('div', { class: 'small', text: line }));
  }
}

function formError() {
  return h('div', { class: 'form-error', hidden: true, attrs: { role: 'alert' } });
}

/** A short message at the top of the page. */
function flash(message, kind) {
  const box = $('#flash');
  if (!box) return;
  box.textContent = message;
  box.className = 'flash ' + (kind || 'info');
  box.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { box.hidden = true; }, kind === 'error' ? 8000 : 3000);
}

// ---- formatting ----------------------------------------------------------------------------

function fmtTime(value) {
  if (!value) return '—';
  const d = new Date(value);
  if (isNaN(d.getTime())) return String(value);
  return d.toLocaleString(locale(), { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function fmtNumber(value, digits) {
  if (value === null || value === undefined || value === '') return '—';
  const n = Number(value);
  if (!isFinite(n)) return String(value);
  return n.toFixed(digits === undefined ? 1 : digits);
}

function fmtBytes(value) {
  const n = Number(value);
  if (!isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function fmtDuration(seconds) {
  const s = Math.floor(Number(seconds));
  if (!isFinite(s)) return '—';
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  return (d ? `${d}d ` : '') + `${hh}h ${String(mm).padStart(2, '0')}m ${String(s % 60).padStart(2, '0')}s`;
}

/** datetime-local value → RFC 3339 (UTC), or '' when empty/invalid. */
function localToRfc3339(value) {
  if (!value) return '';
  const d = new Date(value);
  return isNaN(d.getTime()) ? '' : d.toISOString();
}

function copyText(text, btn) {
  const done = () => { if (btn) btn.textContent = t('copied'); };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, () => {});
  else {
    const area = h('textarea', { value: text, class: 'offscreen' });
    document.body.append(area);
    area.select();
    try { document.execCommand('copy'); done(); } catch (_) { /* ignore */ }
    area.remove();
  }
}
