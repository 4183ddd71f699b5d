/** Sign in with a tenant API key (scope console:read) or the platform operator's token. */
import { ApiError, call } from '../api.js';
import { h } from '../dom.js';
import { saveSession, type Session } from '../session.js';

interface ConsoleSession {
  tenant: { slug: string };
  key: { scopes: string[] };
}

export function signInPage(main: HTMLElement, notice: string | undefined, done: (session: Session) => void): void {
  const error = h('p', { class: 'error', role: 'alert', id: 'sign-in-error' });
  const credential = h('input', {
    id: 'credential',
    name: 'credential',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'credential-help sign-in-error',
  });
  const label = h('label', { for: 'credential' }, 'API key');
  const help = h(
    'p',
    { id: 'credential-help', class: 'help' },
    'A key of your tenant with the console:read scope. It is kept for this tab only.',
  );
  const kind = (value: 'tenant' | 'operator', text: string) =>
    h(
      'label',
      { class: 'choice' },
      h('input', {
        type: 'radio',
        name: 'kind',
        value,
        ...(value === 'tenant' ? { checked: true } : {}),
        onchange: () => {
          label.textContent = value === 'tenant' ? 'API key' : 'Operator token';
          help.textContent =
            value === 'tenant'
              ? 'A key of your tenant with the console:read scope. It is kept for this tab only.'
              : 'The token in ROOMGATE_OPERATOR_TOKEN. It is kept for this tab only.';
        },
      }),
      text,
    );
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'card sign-in',
      'aria-labelledby': 'sign-in-title',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        error.textContent = '';
        const as = (form.querySelector('input[name=kind]:checked') as HTMLInputElement).value as 'tenant' | 'operator';
        const secret = credential.value.trim();
        button.disabled = true;
        try {
          if (as === 'operator') {
            await call('GET', '/v1/operator/tenants', undefined, secret);
            const session: Session = { kind: 'operator', credential: secret, scopes: [] };
            saveSession(session);
            done(session);
          } else {
            const answer = await call<ConsoleSession>('GET', '/v1/console/session', undefined, secret);
            const session: Session = { kind: 'tenant', credential: secret, tenant: answer.tenant.slug, scopes: answer.key.scopes };
            saveSession(session);
            done(session);
          }
        } catch (failure) {
          const status = failure instanceof ApiError ? failure.status : 0;
          error.textContent =
            status === 401
              ? as === 'operator'
                ? 'That operator token is not accepted (or no operator token is configured).'
                : 'That API key is not valid: unknown, revoked or expired.'
              : status === 403
                ? 'That API key lacks the console:read scope.'
                : failure instanceof Error
                  ? failure.message
                  : 'Sign-in failed.';
          credential.focus();
        } finally {
          button.disabled = false;
        }
      },
    },
    h('h1', { id: 'sign-in-title' }, 'Sign in to the Roomgate console'),
    notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
    h('fieldset', {}, h('legend', {}, 'Sign in as'), kind('tenant', 'A tenant (API key)'), kind('operator', 'The platform operator')),
    h('div', { class: 'field' }, label, credential, help),
    error,
    button,
  );
  main.append(form);
  credential.focus();
}
