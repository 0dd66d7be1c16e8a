// The API client: the token is kept in sessionStorage (gone with the tab)
// and sent as a bearer token on every request; the session (token name
// and scopes) is what GET /v1/session answered at login.

const KEY = 'rebound.token';
const SESSION = 'rebound.session';

export class APIError extends Error {
  constructor(status, problem) {
    const p = problem || {};
    super(p.detail ? `${p.title || 'Error'}: ${p.detail}` : (p.title || `HTTP ${status}`));
    this.status = status;
    this.problem = p;
  }
}

export function token() {
  return sessionStorage.getItem(KEY);
}

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION) || 'null');
  } catch {
    return null;
  }
}

export function canWrite() {
  const s = session();
  return !!(s && s.scopes && s.scopes.includes('write'));
}

// login checks tok with GET /v1/session and keeps it when it is accepted.
export async function login(tok) {
  const res = await fetch('/v1/session', { headers: { Authorization: `Bearer ${tok}` } });
  if (!res.ok) throw await problem(res);
  const s = await res.json();
  sessionStorage.setItem(KEY, tok);
  sessionStorage.setItem(SESSION, JSON.stringify(s));
  return s;
}

export function logout() {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(SESSION);
}

async function problem(res) {
  let p = null;
  try {
    p = await res.json();
  } catch {
    // not a problem document
  }
  return new APIError(res.status, p);
}

// request sends a request with the token; a 401 ends the session.
export async function request(method, path, { query, body, accept } = {}) {
  let url = path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    const s = q.toString();
    if (s) url += '?' + s;
  }
  const headers = { Authorization: `Bearer ${token()}` };
  if (accept) headers.Accept = accept;
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  if (res.status === 401) {
    logout();
    location.hash = '#/login';
    throw await problem(res);
  }
  if (!res.ok) throw await problem(res);
  return res;
}

export async function get(path, query) {
  return (await request('GET', path, { query })).json();
}

// getOrNull is get with a 404 answered as null.
export async function getOrNull(path, query) {
  try {
    return await get(path, query);
  } catch (e) {
    if (e.status === 404) return null;
    throw e;
  }
}

export function enc(s) {
  return encodeURIComponent(s);
}
