// The overview: bounces per hour or day stacked by class, the top
// reasons, domains and providers, open incidents explained, webhook
// health.
import { get } from './api.js';
import { h, fill, field, table, fmtNum, fmtTime, errorBox, announce, uid } from './dom.js';
import { CLASSES, COLOURS, LABELS } from './classes.js';
import { stackedBars } from './chart.js';

const HOUR = 3600e3;
const DAY = 24 * HOUR;
const RANGES = { '24h': 24 * HOUR, '7d': 7 * DAY, '30d': 30 * DAY };

// state of the view, kept in the location hash so that a reload keeps it.
function readState(params) {
  const range = params.get('range') || '24h';
  const bucket = params.get('bucket') || (range === '24h' || range === '7d' ? 'hour' : 'day');
  return { range, bucket, since: params.get('since') || '', until: params.get('until') || '', lang: params.get('lang') || 'en' };
}

function timeRange(st) {
  if (st.range === 'custom' && st.since && st.until) {
    return { since: new Date(st.since + 'Z').toISOString(), until: new Date(st.until + 'Z').toISOString() };
  }
  const step = st.bucket === 'day' ? DAY : HOUR;
  const until = Math.ceil(Date.now() / step) * step;
  return { since: new Date(until - (RANGES[st.range] || RANGES['24h'])).toISOString(), until: new Date(until).toISOString() };
}

let chart = null;
const INCIDENTS = 8;

export function render(main, params, ctx) {
  const st = readState(params);
  if (chart) {
    chart.destroy();
    chart = null;
  }
  delete document.documentElement.dataset.overview;
  const rangeSel = h('select', { name: 'range' },
    [['24h', 'Last 24 hours'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days'], ['custom', 'Custom']]
      .map(([v, t]) => h('option', { value: v, selected: v === st.range }, t)));
  const bucketSel = h('select', { name: 'bucket' },
    [['hour', 'Hour'], ['day', 'Day']].map(([v, t]) => h('option', { value: v, selected: v === st.bucket }, t)));
  const since = h('input', { type: 'datetime-local', name: 'since', value: st.since, step: '3600' });
  const until = h('input', { type: 'datetime-local', name: 'until', value: st.until, step: '3600' });
  const langSel = h('select', { name: 'lang' },
    [['en', 'English'], ['nl', 'Nederlands']].map(([v, t]) => h('option', { value: v, selected: v === st.lang }, t)));
  const custom = h('div', { class: 'custom', hidden: st.range !== 'custom' },
    field('From (UTC)', since), field('To (UTC)', until));
  rangeSel.addEventListener('change', () => {
    custom.hidden = rangeSel.value !== 'custom';
    if (rangeSel.value === '30d') bucketSel.value = 'day';
    if (rangeSel.value === '24h') bucketSel.value = 'hour';
  });
  const form = h('form', {
    class: 'controls',
    onsubmit(e) {
      e.preventDefault();
      const q = new URLSearchParams({ range: rangeSel.value, bucket: bucketSel.value, lang: langSel.value });
      if (rangeSel.value === 'custom') {
        q.set('since', since.value);
        q.set('until', until.value);
      }
      ctx.go('overview', q);
    },
  }, field('Range', rangeSel), custom, field('Bucket', bucketSel), field('Explanations', langSel),
  h('button', { type: 'submit' }, 'Show'));
  langSel.addEventListener('change', () => form.requestSubmit());

  const body = h('div', { class: 'overview', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
  fill(main, h('h1', null, 'Overview'), form, body);

  const { since: s, until: u } = timeRange(st);
  return get('/v1/overview', { since: s, until: u, bucket: st.bucket, lang: st.lang }).then((ov) => {
    if (!body.isConnected) return;
    draw(body, ov, st);
    body.setAttribute('aria-busy', 'false');
  }).catch((e) => fill(body, errorBox(e)));
}

function bucketLabel(start, bucket) {
  const iso = new Date(start).toISOString();
  return bucket === 'day' ? iso.slice(0, 10) : iso.slice(5, 10) + ' ' + iso.slice(11, 16);
}

function draw(body, ov, st) {
  const labels = ov.buckets.map((b) => bucketLabel(b.start, ov.bucket));
  const totals = ov.totals || {};
  const all = Object.values(totals).reduce((a, b) => a + b, 0);

  const tiles = h('ul', { class: 'tiles', 'aria-label': 'Totals of the range' },
    CLASSES.map((c) => h('li', { class: `tile tile-${c}` },
      h('span', { class: 'swatch', dataset: { class: c } }), h('span', { class: 'tile-label' }, LABELS[c]),
      h('strong', { class: 'tile-num', dataset: { total: c } }, fmtNum(totals[c] || 0)))),
    h('li', { class: 'tile' }, h('span', { class: 'tile-label' }, 'All records'),
      h('strong', { class: 'tile-num', dataset: { total: 'all' } }, fmtNum(all))));

  const canvasId = uid('chart');
  const tableId = uid('chart-table');
  const canvas = h('canvas', { id: canvasId, role: 'img', 'aria-label': `Bounces per ${ov.bucket} by class, from ${fmtTime(ov.since)} to ${fmtTime(ov.until)} UTC; the same numbers are in the table that follows.` });
  const rows = ov.buckets.map((b, i) => [labels[i], ...CLASSES.map((c) => (b.counts && b.counts[c]) || 0)]);
  rows.push(['Total', ...CLASSES.map((c) => totals[c] || 0)]);
  const dataTable = table(`Bounces per ${ov.bucket} by class (UTC)`, [ov.bucket === 'day' ? 'Day' : 'Hour', ...CLASSES.map((c) => LABELS[c])], rows, { rowHeaders: true, class: 'data' });
  dataTable.id = tableId;
  dataTable.classList.add('visually-hidden');
  dataTable.dataset.chartTable = 'overview';
  const toggle = h('button', {
    type: 'button', class: 'link', 'aria-controls': tableId, 'aria-expanded': 'false',
    onclick() {
      const show = dataTable.classList.toggle('visually-hidden') === false;
      toggle.setAttribute('aria-expanded', String(show));
      toggle.textContent = show ? 'Hide data table' : 'Show data table';
    },
  }, 'Show data table');

  const chartBox = h('div', { class: 'chart-box' }, canvas);
  const chartCard = h('section', { class: 'card wide', 'aria-labelledby': canvasId + '-h' },
    h('h2', { id: canvasId + '-h' }, `Bounces per ${ov.bucket}`), chartBox, toggle, dataTable);

  const top = (title, key, entries) => h('section', { class: 'card' }, h('h2', null, title),
    entries && entries.length ? table(null, [key, 'Total', ...CLASSES.map((c) => LABELS[c])],
      entries.map((e) => [e.key, e.total, ...CLASSES.map((c) => (e.counts && e.counts[c]) || 0)]), { label: title, rowHeaders: true })
      : h('p', { class: 'muted' }, 'None in this range.'));

  fill(body, tiles, chartCard,
    h('div', { class: 'grid' },
      top('Top reasons', 'Reason', ov.reasons),
      top('Top destination domains', 'Domain', ov.domains),
      top('Top providers', 'Provider', ov.providers)),
    incidents(ov, st), webhooks(ov));

  chart = stackedBars(canvas, labels, ov.buckets, () => {
    performance.mark('overview-rendered');
    document.documentElement.dataset.overview = 'rendered';
  });
  window.rebound = window.rebound || {};
  window.rebound.charts = { overview: chart };
  window.rebound.overview = { since: ov.since, until: ov.until, bucket: ov.bucket };
  announce(`Overview loaded: ${fmtNum(all)} records.`);
}

function plural(n, word) {
  return `${fmtNum(n)} ${word}${n === 1 ? '' : 's'}`;
}

function incidents(ov, st) {
  const list = ov.incidents || [];
  const sec = h('section', { class: 'card wide' }, h('h2', null, `Open incidents (${fmtNum(ov.incidents_open ?? list.length)})`));
  if (!list.length) {
    sec.append(h('p', { class: 'muted' }, 'No open incidents.'));
    return sec;
  }
  const item = (i) => h('li', { class: 'incident' },
    h('div', { class: 'inc-head' },
      h('code', { class: 'code' }, i.status || '—'), ' ',
      h('strong', null, i.domain), ' ', h('span', { class: 'badge' }, i.reason),
      i.title ? h('span', { class: 'inc-title' }, ' — ', i.title) : null),
    i.explanation ? h('p', null, i.explanation) : null,
    h('p', { class: 'muted', lang: 'en' },
      `${plural(i.count, 'bounce')}, ${plural(i.recipients || 0, 'recipient')} affected; since ${fmtTime(i.first_seen)}, last ${fmtTime(i.last_seen)} UTC`),
    i.sample ? h('details', { lang: 'en' }, h('summary', null, 'Server reply'), h('pre', { class: 'sample' }, i.sample)) : null);
  // The newest few; the rest on demand, so that the page stays short.
  const ul = h('ul', { class: 'incidents', lang: st.lang }, list.slice(0, INCIDENTS).map(item));
  sec.append(ul);
  if (list.length > INCIDENTS) {
    const more = h('button', {
      type: 'button', class: 'secondary',
      onclick() {
        ul.append(...list.slice(INCIDENTS).map(item));
        more.remove();
      },
    }, `Show ${fmtNum(list.length - INCIDENTS)} more`);
    sec.append(more);
  }
  return sec;
}

function webhooks(ov) {
  const hooks = ov.webhooks || [];
  const sec = h('section', { class: 'card wide' }, h('h2', null, 'Webhooks'),
    h('p', null, 'Newest outbox event: ', h('strong', null, fmtNum(ov.outbox_newest || 0))));
  if (!hooks.length) {
    sec.append(h('p', { class: 'muted' }, 'No webhook endpoints.'));
    return sec;
  }
  sec.append(table('Webhook endpoints', ['Endpoint', 'Health', 'Outbox depth', 'Failed attempts', 'Last error', 'Next attempt'],
    hooks.map((w) => [w.name,
      h('span', { class: w.healthy ? 'ok' : 'bad' }, w.healthy ? '✓ healthy' : '✗ failing', w.configured ? '' : ' (not configured)'),
      w.depth === null || w.depth === undefined ? '—' : w.depth, w.attempts || 0, w.last_error || '', fmtTime(w.next_attempt)]),
    { rowHeaders: true, captionClass: 'visually-hidden' }));
  return sec;
}

export { COLOURS };
