// Steward UI — the router, the page frame (nav, language), sign-in and first-run setup.
// Pages live in cameras.js, zone-editor.js, incidents.js and admin.js; each exports one
// render function taking (main, ...routeParams).
'use strict';

/** The page being shown: its timers and clean-ups end when the route changes. */
const page = { gen: 0, timers: [], cleanups: [] };

/** Runs fn now and then every ms while this page is shown (skipped while the tab is hidden). */
function every(ms, fn) {
  const gen = page.gen;
  const id = setInterval(() => {
    if (gen !== page.gen) { clearInterval(id); return; }
    if (!document.hidden) fn();
  }, ms);
  page.timers.push(id);
}

/**
 * A page's reload: fetches, then (if the page is still shown) hides `status` and shows the
 * answer; a failure, in fetching or showing, goes into `status`. The page runs it once, then
 * `every` few seconds.
 */
function reloader(status, here, fetch, show) {
  return async () => {
    try {
      const answer = await fetch();
      if (!here()) return;
      status.hidden = true;
      show(answer);
    } catch (e) {
      if (!here()) return;
      status.hidden = false;
      status.textContent = errText(e);
    }
  };
}

function onLeave(fn) {
  page.cleanups.push(fn);
}

/** A function that tells whether the page that asked is still the one shown. */
function stillHere() {
  const gen = page.gen;
  return () => gen === page.gen;
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

const ROUTES = [
  [/^#\/setup$/, renderSetup, { open: true }],
  [/^#\/login$/, renderLogin, { open: true }],
  [/^#\/cameras$/, renderCameras],
  [/^#\/cameras\/([^/]+)$/, renderZoneEditor],
  [/^#\/incidents$/, renderIncidents],
  [/^#\/incidents\/([^/]+)$/, renderIncident],
  [/^#\/sinks$/, renderSinks],
  [/^#\/system$/, renderSystem],
  [/^#\/users$/, renderUsers, { role: 'admin' }],
];

function leavePage() {
  page.gen++;
  page.timers.forEach(clearInterval);
  page.timers = [];
  const cleanups = page.cleanups;
  page.cleanups = [];
  cleanups.forEach((fn) => { try { fn(); } catch (_) { /* ignore */ } });
}

function route() {
  leavePage();
  const hash = location.hash || '';
  if (session.setupRequired && hash !== '#/setup') { location.replace('#/setup'); return; }
  if (!session.setupRequired && hash === '#/setup') { location.replace(session.user ? '#/cameras' : '#/login'); return; }
  let match = null;
  let entry = null;
  for (const r of ROUTES) {
    match = hash.match(r[0]);
    if (match) { entry = r; break; }
  }
  if (!entry) { location.replace(session.user ? '#/cameras' : '#/login'); return; }
  const opts = entry[2] || {};
  if (!opts.open && !session.user) { location.replace('#/login'); return; }
  renderFrame(hash);
  const main = clear($('#main'));
  if (opts.role && !hasRole(opts.role)) {
    main.append(h('p', { class: 'form-error', text: t('forbidden') }));
    return;
  }
  const params = match.slice(1).map(decodeURIComponent);
  Promise.resolve(entry[1](main, ...params)).catch((err) => showPageError(main, err));
}

function showPageError(main, err) {
  if (err && err.status === 401) return; // already on the way to sign-in
  main.append(h('p', { class: 'form-error', attrs: { role: 'alert' }, text: errText(err) }));
}

/** Nav, user name and language button, reflecting the session and the route. */
function renderFrame(hash) {
  const signedIn = !!session.user;
  $('#nav').hidden = !signedIn;
  $('#userbox').hidden = !signedIn;
  if (signedIn) {
    $('#user-display').textContent = `${session.user.name} (${tOr('role_' + session.user.role, session.user.role)})`;
    $$('#nav a').forEach((a) => {
      const target = a.getAttribute('href');
      a.classList.toggle('active', hash === target || hash.startsWith(target + '/'));
      if (a.dataset.role) a.hidden = !hasRole(a.dataset.role);
    });
  }
  $('#lang-toggle').textContent = t('lang_other');
}

// ---- setup and sign-in -------------------------------------------------------------------

function credentialsForm(prefix, titleKey, submitKey, withRepeat, onSubmit) {
  const user = h('input', { id: `${prefix}-username`, name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { id: `${prefix}-password`, name: 'password', type: 'password', required: true,
    autocomplete: withRepeat ? 'new-password' : 'current-password' });
  const pass2 = withRepeat ? h('input', { id: `${prefix}-password2`, type: 'password', autocomplete: 'new-password', required: true }) : null;
  const err = h('div', { id: `${prefix}-error`, class: 'form-error', hidden: true, attrs: { role: 'alert' } });
  const submit = h('button', { id: `${prefix}-submit`, type: 'submit', class: 'primary', text: t(submitKey) });
  const form = h('form', { class: 'card narrow', attrs: { novalidate: '' } },
    h('h1', { text: t(titleKey) }),
    withRepeat ? h('p', { class: 'hint', text: t('setup_hint') }) : null,
    field('username', user), field('password', pass), pass2 ? field('password2', pass2) : null,
    err, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    if (!user.value.trim()) { fieldError(user.id, t('required'), form); return; }
    if (!pass.value) { fieldError(pass.id, t('required'), form); return; }
    if (pass2 && pass.value !== pass2.value) { fieldError(pass2.id, t('passwords_differ'), form); return; }
    submit.disabled = true;
    try {
      await onSubmit(user.value.trim(), pass.value);
    } catch (e) {
      const mapped = (f) => (/user|name/.test(f) ? user.id : /password/.test(f) ? pass.id : null);
      showErrors(form, e instanceof ApiError ? e : new ApiError(0, { error: String(e) }), mapped);
    } finally {
      submit.disabled = false;
    }
  });
  setTimeout(() => user.focus(), 0);
  return form;
}

/** After setup or sign-in: take the new session (and its CSRF token) and go on. */
async function signedIn(answer) {
  if (answer && answer.user) session.user = answer.user;
  if (answer && answer.csrf_token) session.csrf = answer.csrf_token;
  session.setupRequired = false;
  if (!answer || !answer.user || !answer.csrf_token) await loadSession();
  go('#/cameras');
}

function renderSetup(main) {
  main.append(credentialsForm('setup', 'setup_title', 'setup_submit', true, async (username, password) => {
    try {
      await signedIn(await api('POST', '/api/v1/setup', { username, password }, { noRedirect: true }));
    } catch (e) {
      if (e.status === 409) { // someone else finished the setup meanwhile
        await loadSession();
        go('#/login');
        return;
      }
      throw e;
    }
  }));
}

function renderLogin(main) {
  main.append(credentialsForm('login', 'login_title', 'login_submit', false, async (username, password) => {
    await signedIn(await api('POST', '/api/v1/session', { username, password }, { noRedirect: true }));
  }));
}

async function logout() {
  try { await api('DELETE', '/api/v1/session', undefined, { noRedirect: true }); } catch (_) { /* signed out anyway */ }
  session.user = null;
  try { await loadSession(); } catch (_) { /* the login page will try again */ }
  go('#/login');
}

// ---- start -------------------------------------------------------------------------------

async function start() {
  applyStaticLabels();
  $('#lang-toggle').addEventListener('click', () => {
    saveZoneDraft();
    setLang(LANG === 'zh' ? 'en' : 'zh');
    route();
  });
  $('#logout').addEventListener('click', logout);
  window.addEventListener('hashchange', route);
  for (;;) {
    try {
      await loadSession();
      break;
    } catch (e) {
      clear($('#main')).append(h('p', { class: 'form-error', text: errText(e) }));
      await new Promise((r) => setTimeout(r, 3000));
    }
  }
  route();
}

document.addEventListener('DOMContentLoaded', start);
