// Search: by address, domain or Message-ID, the bounce records with their
// evidence, an address's suppression and history, raw messages; and the
// newest messages that could not be decoded.
import { get } from './api.js';
import { h, fill, field, table, fmtTime, fmtNum, errorBox, announce } from './dom.js';
import { rawPanel, recordsTable, suppressionPanel } from './records.js';

const LIMIT = 100;

// kindOf guesses what q is: <...> is a Message-ID, a@b an address (or a
// Message-ID: both are looked up), a name with a dot a domain.
function kindOf(q, by) {
  if (by && by !== 'auto') return by;
  if (q.startsWith('<')) return 'message_id';
  if (q.includes('@')) return 'address';
  return 'domain';
}

export function render(main, params, ctx) {
  const q = (params.get('q') || '').trim();
  const by = params.get('by') || 'auto';
  const input = h('input', { type: 'search', name: 'q', value: q, required: true, autocomplete: 'off', spellcheck: false });
  const bySel = h('select', { name: 'by' },
    [['auto', 'Guess'], ['address', 'Address'], ['domain', 'Domain'], ['message_id', 'Message-ID']]
      .map(([v, t]) => h('option', { value: v, selected: v === by }, t)));
  const form = h('form', {
    class: 'controls', role: 'search',
    onsubmit(e) {
      e.preventDefault();
      ctx.go('search', new URLSearchParams({ q: input.value.trim(), by: bySel.value }));
    },
  }, field('Address, domain or Message-ID', input), field('Search by', bySel), h('button', { type: 'submit' }, 'Search'));
  const raw = rawPanel();
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  const unrec = h('section', { class: 'card wide' }, h('h2', null, 'Recent unrecognized messages'), h('p', { class: 'muted' }, 'Loading…'));
  fill(main, h('h1', null, 'Search'), form, results, raw, unrec);
  if (!q) input.focus();

  const jobs = [unrecognized(unrec, raw)];
  if (q) jobs.push(search(results, q, kindOf(q, by), by, raw));
  return Promise.all(jobs);
}

async function search(results, q, kind, by, raw) {
  fill(results, h('p', { class: 'muted' }, 'Searching…'));
  try {
    const parts = [];
    if (kind === 'address') {
      const recs = await get('/v1/bounces', { recipient: q, limit: LIMIT });
      parts.push(section(`Records of ${q}`, recs, raw));
      // An address-like query may be a Message-ID written without its
      // angle brackets.
      if (by === 'auto') {
        const byId = await get('/v1/bounces', { message_id: q, limit: LIMIT });
        if (byId.bounces.length) parts.push(section(`Records of the message ${q}`, byId, raw));
      }
      parts.push(await suppressionPanel(q));
    } else if (kind === 'domain') {
      parts.push(section(`Records of ${q}`, await get('/v1/bounces', { domain: q, limit: LIMIT }), raw));
    } else {
      parts.push(section(`Records of the message ${q}`, await get('/v1/bounces', { message_id: q, limit: LIMIT }), raw));
    }
    fill(results, parts);
    announce('Search done.');
  } catch (e) {
    fill(results, errorBox(e));
  }
}

function section(title, page, raw) {
  const recs = page.bounces || [];
  return h('section', { class: 'card wide' }, h('h2', null, title),
    recs.length ? recordsTable(`${fmtNum(recs.length)}${page.next_cursor ? '+' : ''} record${recs.length === 1 && !page.next_cursor ? '' : 's'}, newest first`, recs, raw)
      : h('p', { class: 'muted', dataset: { empty: 'records' } }, 'No records.'));
}

async function unrecognized(sec, raw) {
  try {
    const page = await get('/v1/messages', { unrecognized: 'true', limit: 20 });
    const msgs = page.messages || [];
    fill(sec, h('h2', null, 'Recent unrecognized messages'),
      msgs.length ? table(null, ['Received (UTC)', 'From (envelope)', 'Client', 'Why', 'Message'],
        msgs.map((m) => [fmtTime(m.received_at), m.mail_from || '<>', `${m.helo || ''} ${m.remote_addr || ''}`.trim(), m.parse_error || '',
          h('button', { type: 'button', class: 'small', onclick: () => raw.show(m.id), 'aria-label': `Raw message ${m.id}` }, `#${m.id}`)]),
      { label: 'Recent unrecognized messages', class: 'unrecognized' })
        : h('p', { class: 'muted' }, 'None.'));
  } catch (e) {
    fill(sec, h('h2', null, 'Recent unrecognized messages'), errorBox(e));
  }
}
