// Code lookup: what an SMTP reply code, enhanced status code or server
// text means, from the classifier's catalog, in English or Dutch.
import { get } from './api.js';
import { h, fill, field, errorBox } from './dom.js';

const LABELS = { reason: 'Reason', class: 'Class', fix_owner: 'Who fixes it', advice: 'Advice', explanation: 'Explanation' };

export function render(main, params, ctx) {
  const q = params.get('q') || '';
  const lang = params.get('lang') || 'en';
  const input = h('input', { type: 'search', name: 'q', value: q, required: true, autocomplete: 'off', spellcheck: false });
  const langSel = h('select', { name: 'lang' },
    [['en', 'English'], ['nl', 'Nederlands']].map(([v, t]) => h('option', { value: v, selected: v === lang }, t)));
  const form = h('form', {
    class: 'controls', role: 'search',
    onsubmit(e) {
      e.preventDefault();
      ctx.go('explain', new URLSearchParams({ q: input.value.trim(), lang: langSel.value }));
    },
  }, field('Code or server reply', input, 'For example 550 5.7.1, 4.2.2 or a line of a bounce'), field('Language', langSel),
  h('button', { type: 'submit' }, 'Look up'));
  langSel.addEventListener('change', () => { if (input.value.trim()) form.requestSubmit(); });
  const out = h('div', { 'aria-live': 'polite' });
  fill(main, h('h1', null, 'Code lookup'), form, out);
  if (!q) {
    input.focus();
    return Promise.resolve();
  }
  return get('/v1/explain', { q, lang }).then((ex) => {
    const r = ex.result || {};
    fill(out, h('section', { class: 'card wide explain', lang },
      h('h2', null, [ex.smtp_code, ex.status].filter(Boolean).join(' ') || ex.query),
      h('dl', { class: 'facts' }, Object.entries(LABELS).filter(([k]) => r[k])
        .map(([k, t]) => [h('dt', { lang: 'en' }, t), h('dd', null, r[k])]))),
    (ex.entries || []).length ? h('section', { class: 'card wide', lang },
      h('h2', { lang: 'en' }, 'Catalog entries'),
      h('ul', { class: 'entries' }, ex.entries.map((e) => h('li', null,
        h('div', null, h('code', { class: 'code' }, e.code || e.name), ' ', e.provider ? h('span', { class: 'badge' }, e.provider) : null,
          ' ', h('strong', null, e.title || '')),
        e.explanation ? h('p', null, e.explanation) : null,
        h('p', { class: 'muted', lang: 'en' }, [e.reason, e.class, e.fix_owner, e.advice].filter(Boolean).join(' · ')))))) : null);
  }).catch((e) => fill(out, e.status === 404 ? h('p', { role: 'alert' }, `Nothing known about “${q}”.`) : errorBox(e)));
}
