// Suppressions: the addresses in force, filtered and paged; lifting and
// adding (write tokens only); a CSV export.
import { get, request, canWrite } from './api.js';
import { h, fill, field, table, fmtTime, errorBox, announce } from './dom.js';
import { addForm, liftForm } from './records.js';

const PAGE = 50;

export function render(main, params, ctx) {
  const domain = params.get('domain') || '';
  const cause = params.get('cause') || '';
  const cursor = params.get('cursor') || '';
  const domainIn = h('input', { type: 'text', name: 'domain', value: domain, autocomplete: 'off', spellcheck: false });
  const causeSel = h('select', { name: 'cause' },
    [['', 'Any'], ['hard', 'Hard bounce'], ['soft', 'Repeated soft bounces'], ['complaint', 'Complaint'], ['manual', 'Manual']]
      .map(([v, t]) => h('option', { value: v, selected: v === cause }, t)));
  const query = () => {
    const q = new URLSearchParams();
    if (domainIn.value.trim()) q.set('domain', domainIn.value.trim());
    if (causeSel.value) q.set('cause', causeSel.value);
    return q;
  };
  const exportMsg = h('span', { class: 'export-msg', 'aria-live': 'polite' });
  const form = h('form', {
    class: 'controls',
    onsubmit(e) {
      e.preventDefault();
      ctx.go('suppressions', query());
    },
  }, field('Domain', domainIn), field('Cause', causeSel), h('button', { type: 'submit' }, 'Filter'),
  h('button', {
    type: 'button', class: 'secondary', dataset: { export: 'csv' },
    async onclick() {
      // The token is a header, so a plain link cannot download the
      // export: fetch it and hand the browser a Blob.
      try {
        const res = await request('GET', '/v1/suppressions/export', { query: Object.fromEntries(query()), accept: 'text/csv' });
        const blob = await res.blob();
        const cd = res.headers.get('Content-Disposition') || '';
        const m = /filename="?([^";]+)"?/.exec(cd);
        const a = h('a', { href: URL.createObjectURL(blob), download: m ? m[1] : 'suppressions.csv' });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(a.href), 10000);
        fill(exportMsg, 'Exported.');
      } catch (err) {
        fill(exportMsg, errorBox(err));
      }
    },
  }, 'Export CSV'), exportMsg);

  const list = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  const lift = h('div', { class: 'lift-box' });
  const write = canWrite();
  const reload = () => render(main, params, ctx);
  fill(main, h('h1', null, 'Suppressions'), form,
    write ? h('details', { class: 'card wide write' }, h('summary', null, 'Add a suppression'),
      addForm(null, (a) => ctx.go('search', new URLSearchParams({ q: a, by: 'address' })))) : null,
    lift, list);

  return get('/v1/suppressions', { domain, cause, cursor, limit: PAGE }).then((page) => {
    const sups = page.suppressions || [];
    const headers = ['Address', 'Cause', 'Reason', 'Since (UTC)', 'Expires (UTC)'];
    if (write) headers.push('Action');
    const rows = sups.map((s) => {
      const link = h('a', { href: '#/search?' + new URLSearchParams({ q: s.address, by: 'address' }) }, s.address);
      const r = [link, s.cause, s.reason || '', fmtTime(s.since), fmtTime(s.expires) || 'never'];
      if (write) {
        r.push(h('button', {
          type: 'button', class: 'small danger', 'aria-label': `Lift ${s.address}`, dataset: { lift: s.address },
          onclick() {
            const f = liftForm(s.address, async () => {
              announce(`Suppression of ${s.address} lifted.`);
              reload();
            });
            fill(lift, h('section', { class: 'card wide' }, h('h2', null, `Lift ${s.address}`), f,
              h('button', { type: 'button', class: 'link', onclick: () => fill(lift) }, 'Cancel')));
            f.querySelector('input').focus();
          },
        }, 'Lift…'));
      }
      return r;
    });
    const nav = h('nav', { class: 'pager', 'aria-label': 'Pages' },
      cursor ? h('a', { href: '#/suppressions?' + new URLSearchParams({ domain, cause }) }, 'First page') : null,
      page.next_cursor ? h('a', { href: '#/suppressions?' + new URLSearchParams({ domain, cause, cursor: page.next_cursor }) }, 'Next page') : null);
    fill(list, sups.length ? table(`Suppressions in force${cursor ? ' (continued)' : ''}`, headers, rows, { class: 'suppressions' })
      : h('p', { class: 'muted' }, 'No suppressions match.'), nav);
  }).catch((e) => fill(list, errorBox(e)));
}
