// Small DOM helpers. Everything from the server is put in as text (text
// nodes, textContent), never parsed as HTML.

// h makes an element: attrs are properties or attributes (on* functions
// become listeners), children are nodes, strings or arrays of them.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k in el && typeof v !== 'string') {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// clear empties el and appends children.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let ids = 0;
// uid is a fresh id for label/control pairs.
export function uid(prefix) {
  ids++;
  return `${prefix}-${ids}`;
}

// field is a labelled control: a label and the control in a wrapper.
export function field(label, control, hint) {
  if (!control.id) control.id = uid('f');
  const wrap = h('div', { class: 'field' }, h('label', { for: control.id }, label), control);
  if (hint) {
    const hid = uid('hint');
    control.setAttribute('aria-describedby', hid);
    wrap.append(h('small', { id: hid, class: 'hint' }, hint));
  }
  return wrap;
}

// table builds a table with a caption from column headers and rows of
// cells (strings, numbers or nodes); numeric cells are right aligned.
export function table(caption, headers, rows, opts = {}) {
  const t = h('table', { class: opts.class || '' },
    caption ? h('caption', { class: opts.captionClass || '' }, caption) : null,
    h('thead', null, h('tr', null, headers.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', null, rows.map((r) => h('tr', null, r.map((c, i) => {
      const num = typeof c === 'number';
      const tag = i === 0 && opts.rowHeaders ? 'th' : 'td';
      return h(tag, { class: num ? 'num' : '', scope: tag === 'th' ? 'row' : null }, num ? fmtNum(c) : c);
    })))));
  // A wide table scrolls inside its own box on a narrow screen; the box is
  // focusable so that the keyboard can scroll it too.
  return h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': opts.label || caption || 'table' }, t);
}

const nf = new Intl.NumberFormat('en');
export function fmtNum(n) {
  return nf.format(n);
}

// fmtTime shows an RFC 3339 time in UTC, to the minute (or the day).
export function fmtTime(s, day) {
  if (!s) return '';
  const d = new Date(s);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() <= 1) return '';
  const iso = d.toISOString();
  return day ? iso.slice(0, 10) : iso.slice(0, 10) + ' ' + iso.slice(11, 16);
}

// announce tells screen readers what just happened.
export function announce(msg) {
  const s = document.getElementById('status');
  s.textContent = '';
  setTimeout(() => { s.textContent = msg; }, 50);
}

// errorBox shows a failed request.
export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err && err.message ? err.message : String(err));
}
