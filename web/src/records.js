// Pieces shared by the search and suppressions views: records, the raw
// message panel, suppression state and its history, the lift form.
import { get, getOrNull, request, enc, canWrite } from './api.js';
import { h, fill, field, table, fmtTime, errorBox, announce } from './dom.js';

// rawPanel is where a raw message is shown, as text.
export function rawPanel() {
  const pre = h('pre', { class: 'raw', tabindex: '0', 'aria-label': 'Raw message' });
  const title = h('h2', { tabindex: '-1' }, 'Raw message');
  const panel = h('section', { class: 'card wide raw-panel', hidden: true, 'aria-label': 'Raw message' },
    h('div', { class: 'row' }, title,
      h('button', { type: 'button', class: 'link', onclick() { panel.hidden = true; } }, 'Close')), pre);
  panel.show = async (id) => {
    panel.hidden = false;
    title.textContent = `Raw message ${id}`;
    pre.textContent = 'Loading…';
    title.focus();
    try {
      const res = await request('GET', `/v1/messages/${enc(id)}/raw`, { accept: 'message/rfc822' });
      // Shown as text, whatever the message says it is.
      pre.textContent = await res.text();
      pre.dataset.message = String(id);
    } catch (e) {
      fill(pre, e.message);
    }
  };
  return panel;
}

function evidence(r) {
  const parts = [];
  if (r.evidence) parts.push(r.evidence);
  if (r.diagnostic) parts.push(r.diagnostic);
  return parts.join(' — ');
}

function authText(r) {
  if (r.auth) return r.auth;
  return r.authenticated ? 'authenticated' : '';
}

// recordsTable lists bounce records; raw opens a message's raw text.
export function recordsTable(caption, records, raw) {
  return table(caption, ['Time (UTC)', 'Recipient', 'Class', 'Reason', 'Status', 'Confidence', 'Evidence', 'Auth', 'Message'],
    records.map((r) => [
      fmtTime(r.received_at), r.recipient,
      h('span', { class: `cls cls-${r.class}` }, r.class), r.reason, r.status || r.smtp_code || '',
      r.confidence || '', h('span', { class: 'evidence' }, evidence(r)), authText(r),
      h('button', { type: 'button', class: 'small', onclick: () => raw.show(r.message_id), 'aria-label': `Raw message ${r.message_id}` }, `#${r.message_id}`),
    ]), { class: 'records' });
}

// suppressionPanel shows the suppression state of address with its
// history, and (for a write token) lift or add controls.
export async function suppressionPanel(address, onChange) {
  const sec = h('section', { class: 'card wide', 'aria-label': `Suppression of ${address}` });
  const [sup, hist] = await Promise.all([
    getOrNull(`/v1/suppressions/${enc(address)}`),
    get(`/v1/suppressions/${enc(address)}/history`).catch(() => ({ changes: [] })),
  ]);
  const refresh = async () => {
    const fresh = await suppressionPanel(address, onChange);
    sec.replaceWith(fresh);
    if (onChange) onChange();
  };
  sec.append(h('h2', null, 'Suppression'));
  if (sup) {
    sec.append(h('p', { class: 'state', dataset: { state: 'suppressed' } },
      h('strong', { class: 'bad' }, 'Suppressed'), ` (${sup.cause}${sup.reason ? ', ' + sup.reason : ''}) since ${fmtTime(sup.since)} UTC`,
      sup.expires ? `, until ${fmtTime(sup.expires)} UTC` : ''));
    if (canWrite()) sec.append(liftForm(address, refresh));
  } else {
    sec.append(h('p', { class: 'state', dataset: { state: 'not-suppressed' } }, h('strong', { class: 'ok' }, 'Not suppressed')));
    if (canWrite()) sec.append(addForm(address, refresh));
  }
  const changes = (hist && hist.changes) || [];
  sec.append(changes.length
    ? table('History', ['Time (UTC)', 'Action', 'Cause', 'Reason', 'By', 'Note'],
      changes.map((c) => [fmtTime(c.time), c.action, c.cause || '', c.reason || '', c.actor || '', c.note || '']), { class: 'history' })
    : h('p', { class: 'muted' }, 'No history.'));
  return sec;
}

// liftForm lifts the suppression of address with a note.
export function liftForm(address, done) {
  const note = h('input', { type: 'text', name: 'note', required: true, maxlength: '500', autocomplete: 'off' });
  const msg = h('div', { 'aria-live': 'polite' });
  return h('form', {
    class: 'inline write', 'aria-label': `Lift the suppression of ${address}`,
    async onsubmit(e) {
      e.preventDefault();
      try {
        await request('DELETE', `/v1/suppressions/${enc(address)}`, { body: { note: note.value } });
        announce(`Suppression of ${address} lifted.`);
        await done();
      } catch (err) {
        fill(msg, errorBox(err));
      }
    },
  }, field(`Note for lifting ${address}`, note), h('button', { type: 'submit', class: 'danger' }, 'Lift suppression'), msg);
}

// addForm suppresses an address by hand; without address it asks for one.
export function addForm(address, done) {
  const addr = address ? null : h('input', { type: 'email', name: 'address', required: true, autocomplete: 'off' });
  const reason = h('input', { type: 'text', name: 'reason', maxlength: '200', autocomplete: 'off' });
  const note = h('input', { type: 'text', name: 'note', maxlength: '500', autocomplete: 'off' });
  const duration = h('select', { name: 'duration' },
    [['', 'Until lifted'], ['24h', '1 day'], ['168h', '7 days'], ['720h', '30 days'], ['2160h', '90 days']].map(([v, t]) => h('option', { value: v }, t)));
  const msg = h('div', { 'aria-live': 'polite' });
  return h('form', {
    class: 'inline write', 'aria-label': address ? `Suppress ${address}` : 'Add a suppression',
    async onsubmit(e) {
      e.preventDefault();
      const a = address || addr.value.trim();
      const body = { reason: reason.value, note: note.value };
      if (duration.value) body.duration = duration.value;
      try {
        await request('PUT', `/v1/suppressions/${enc(a)}`, { body });
        announce(`${a} suppressed.`);
        await done(a);
      } catch (err) {
        fill(msg, errorBox(err));
      }
    },
  }, addr ? field('Address', addr) : null, field('Reason', reason), field('Note', note), field('Expires', duration),
  h('button', { type: 'submit' }, address ? `Suppress ${address}` : 'Add suppression'), msg);
}
