/** The tenant's API keys: create one with a scope picker (shown once), revoke one. */
import { ApiError, del, get, post } from '../api.js';
import { badge, h, replace, table, time } from '../dom.js';
import type { Page } from '../main.js';
import { can } from '../session.js';
import type { Page as ListPage } from '../types.js';

interface ApiKey {
  id: string;
  prefix: string;
  scopes: string[];
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  createdAt: string;
}

const SCOPES = [
  'console:read',
  'consultations:read',
  'consultations:write',
  'tokens:issue',
  'recordings:read',
  'billing:read',
  'events:read',
  'audit:read',
  'privacy:erase',
  'keys:manage',
  'webhooks:manage',
  'settings:manage',
  'consents:write',
];

export const keysPage: Page = (main, session) => {
  main.append(h('h1', {}, 'API keys'));
  if (!can(session, 'keys:manage')) {
    main.append(h('p', { class: 'notice' }, 'This key lacks keys:manage.'));
    return;
  }
  const status = h('p', { role: 'status', class: 'help', id: 'keys-status' });
  const created = h('div', { id: 'created-key' });
  const list = h('div', {});
  const held = SCOPES.filter((scope) => can(session, scope));
  const picker = h(
    'fieldset',
    { class: 'scopes' },
    h('legend', {}, 'Scopes (only those your key holds can be granted)'),
    held.map((scope) => h('label', { class: 'choice' }, h('input', { type: 'checkbox', name: 'scope', value: scope }), scope)),
  );
  const expires = h('input', { id: 'expires', name: 'expires', type: 'date' });

  const load = async () => {
    try {
      const page = await get<ListPage<ApiKey>>('/v1/api-keys?limit=200');
      replace(
        list,
        table(
          'Keys, newest first',
          ['Key', 'Scopes', 'Created', 'Last used', 'Expires', 'State', ''],
          page.data.map((key) => [
            h('code', {}, `${key.prefix}…`),
            key.scopes.join(', '),
            time(key.createdAt),
            time(key.lastUsedAt),
            time(key.expiresAt),
            key.revokedAt ? badge('revoked') : badge('active'),
            key.revokedAt
              ? ''
              : h(
                  'button',
                  {
                    type: 'button',
                    class: 'danger revoke',
                    'data-key': key.id,
                    'aria-label': `Revoke key ${key.prefix}`,
                    onclick: async (event: Event) => {
                      const button = event.currentTarget as HTMLButtonElement;
                      // Two steps: the first press asks, the second revokes.
                      if (button.dataset.confirm !== 'yes') {
                        button.dataset.confirm = 'yes';
                        button.textContent = 'Confirm revoke';
                        button.setAttribute('aria-label', `Confirm: revoke key ${key.prefix}`);
                        return;
                      }
                      button.disabled = true;
                      try {
                        await del(`/v1/api-keys/${key.id}`);
                        status.textContent = `Key ${key.prefix}… revoked.`;
                        await load();
                      } catch (error) {
                        if (!(error instanceof ApiError && error.status === 401))
                          status.textContent = `Could not revoke: ${(error as Error).message}`;
                      }
                    },
                  },
                  'Revoke',
                ),
          ]),
        ),
      );
    } catch (error) {
      replace(list, h('p', { class: 'error' }, `Could not load keys: ${(error as Error).message}`));
    }
  };

  main.append(
    h(
      'form',
      {
        class: 'card',
        'aria-labelledby': 'create-key-title',
        onsubmit: async (event: Event) => {
          event.preventDefault();
          const scopes = Array.from(picker.querySelectorAll<HTMLInputElement>('input[name=scope]:checked')).map((input) => input.value);
          if (scopes.length === 0) {
            status.textContent = 'Pick at least one scope.';
            return;
          }
          try {
            const key = await post<ApiKey & { key: string }>('/v1/api-keys', {
              scopes,
              ...(expires.value ? { expiresAt: `${expires.value}T00:00:00.000Z` } : {}),
            });
            replace(
              created,
              h(
                'div',
                { class: 'card secret', role: 'status' },
                h('p', {}, 'New key — copy it now, it is not shown again:'),
                h('output', { id: 'new-key', class: 'secret-value' }, key.key),
              ),
            );
            status.textContent = `Key ${key.prefix}… created.`;
            await load();
          } catch (error) {
            status.textContent = `Could not create the key: ${(error as Error).message}`;
          }
        },
      },
      h('h2', { id: 'create-key-title' }, 'Create a key'),
      picker,
      h('div', { class: 'field' }, h('label', { for: 'expires' }, 'Expires on (optional)'), expires),
      h('button', { type: 'submit' }, 'Create key'),
    ),
    created,
    status,
    h('h2', {}, 'Keys'),
    list,
  );
  void load();
};
