/** Quarantined callbacks with their reason (never a signature, a secret or the payload). */
import { get } from '../api.js';
import { h, replace, table, time } from '../dom.js';
import type { Page } from '../main.js';
import type { Page as ListPage } from '../types.js';

interface Quarantined {
  id: string;
  at: string;
  reason: string;
  event: string | null;
  roomSid: string | null;
  accountSid: string | null;
}

export const quarantinePage: Page = (main) => {
  const body = h('div', {}, h('p', { role: 'status' }, 'Loading…'));
  main.append(
    h('h1', {}, 'Quarantined callbacks'),
    h('p', { class: 'help' }, 'Signed callbacks kept aside and never applied, newest first.'),
    body,
  );
  void (async () => {
    try {
      const page = await get<ListPage<Quarantined>>('/v1/operator/quarantine?limit=200');
      replace(
        body,
        table(
          'Quarantined callbacks',
          ['At', 'Reason', 'Event', 'Room', 'Account'],
          page.data.map((row) => [time(row.at), h('strong', {}, row.reason), row.event ?? '—', row.roomSid ?? '—', row.accountSid ?? '—']),
          true,
        ),
      );
    } catch (error) {
      replace(body, h('p', { class: 'error' }, `Could not load the quarantine: ${(error as Error).message}`));
    }
  })();
};
