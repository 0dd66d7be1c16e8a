// Login: a token is checked with GET /v1/session and kept for the tab.
import { login } from './api.js';
import { h, fill, field } from './dom.js';

export function render(main, params, ctx) {
  const input = h('input', { type: 'password', name: 'token', required: true, autocomplete: 'off', spellcheck: false });
  const msg = h('div', { 'aria-live': 'assertive' });
  // POST, so that the token stays out of a URL should the script not run.
  const form = h('form', {
    class: 'card login', method: 'post',
    async onsubmit(e) {
      e.preventDefault();
      fill(msg);
      try {
        await login(input.value.trim());
        ctx.go(params.get('next') || 'overview');
      } catch (err) {
        fill(msg, h('p', { class: 'error', role: 'alert' }, err.status === 401 ? 'That token is not accepted.' : err.message));
        input.focus();
      }
    },
  }, h('h1', null, 'Sign in'),
  h('p', null, 'Give an API token of this server ([[api.tokens]] or REBOUND_API_TOKEN). It is kept in this tab only.'),
  field('API token', input), h('button', { type: 'submit' }, 'Sign in'), msg);
  fill(main, form);
  input.focus();
  return Promise.resolve();
}
