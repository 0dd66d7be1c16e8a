// The dashboard's entry point: hash routing (#/view?params), so that a
// reload keeps the view and its filters.
import './style.css';
import { session, logout, token } from './api.js';
import * as overview from './overview.js';
import * as search from './search.js';
import * as suppressions from './suppressions.js';
import * as explain from './explain.js';
import * as loginView from './login.js';

const VIEWS = { overview, search, suppressions, explain, login: loginView };
const TITLES = { overview: 'Overview', search: 'Search', suppressions: 'Suppressions', explain: 'Code lookup', login: 'Sign in' };

const ctx = {
  go(view, params) {
    const q = params ? String(params) : '';
    const next = `#/${view}${q ? '?' + q : ''}`;
    if (location.hash === next) route();
    else location.hash = next;
  },
};

function parse() {
  const m = /^#\/([a-z]+)(?:\?(.*))?$/.exec(location.hash);
  return m ? { view: m[1], params: new URLSearchParams(m[2] || '') } : { view: 'overview', params: new URLSearchParams() };
}

function route() {
  let { view, params } = parse();
  if (!VIEWS[view]) view = 'overview';
  const s = session();
  if (view !== 'login' && !(s && token())) {
    location.replace('#/login');
    return;
  }
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  const out = document.getElementById('logout');
  const signedIn = view !== 'login' && s;
  nav.hidden = who.hidden = out.hidden = !signedIn;
  if (signedIn) {
    who.textContent = `${s.token} (${(s.scopes || []).join(', ')})`;
    for (const a of nav.querySelectorAll('a')) {
      if (a.getAttribute('href') === `#/${view}`) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }
  document.title = `${TITLES[view]} · Rebound`;
  const main = document.getElementById('main');
  // data-ready names the view once it has loaded what it shows.
  const root = document.documentElement;
  const hash = location.hash;
  delete root.dataset.ready;
  delete root.dataset.overview;
  Promise.resolve(VIEWS[view].render(main, params, ctx)).finally(() => {
    if (location.hash === hash) root.dataset.ready = hash;
  });
}

document.getElementById('logout').addEventListener('click', () => {
  logout();
  ctx.go('login');
});
// What the Content-Security-Policy blocked, for tests and debugging: the
// app itself should never be.
window.rebound = window.rebound || {};
window.rebound.blocked = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.rebound.blocked.push(`${e.effectiveDirective} ${e.blockedURI}`);
});
window.addEventListener('hashchange', route);
route();
