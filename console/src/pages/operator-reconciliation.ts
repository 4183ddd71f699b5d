/** What the reconciler did: its lease, late callbacks it holds, records it changed, consultations it compared. */
import { get } from '../api.js';
import { badge, h, replace, table, time } from '../dom.js';
import type { Page } from '../main.js';

interface Activity {
  lease: { holder: string; expiresAt: string } | null;
  heldLateCallbacks: number;
  changes: { at: string; consultationId: string; outcome: string; reason: string | null; facts: string[]; confirmedLate: number }[];
  compared: { consultationId: string; tenant: string; status: string; reconciledAt: string }[];
}

export const reconciliationPage: Page = (main) => {
  const body = h('div', { class: 'stack' }, h('p', { role: 'status' }, 'Loading…'));
  main.append(h('h1', {}, 'Reconciliation'), body);
  void (async () => {
    try {
      const activity = await get<Activity>('/v1/operator/reconciliation');
      replace(
        body,
        h(
          'dl',
          { class: 'kv card' },
          h('dt', {}, 'Lease'),
          h('dd', {}, activity.lease ? [`held by ${activity.lease.holder} until `, time(activity.lease.expiresAt)] : 'not held'),
          h('dt', {}, 'Late callbacks held'),
          h('dd', {}, String(activity.heldLateCallbacks)),
        ),
        table(
          'Records the reconciler changed',
          ['At', 'Consultation', 'Outcome', 'Why', 'Facts added', 'Late confirmed'],
          activity.changes.map((change) => [
            time(change.at),
            change.consultationId,
            badge(change.outcome),
            change.reason ?? '—',
            change.facts.join(', ') || '—',
            String(change.confirmedLate),
          ]),
        ),
        table(
          'Consultations compared with Twilio most recently',
          ['Compared', 'Consultation', 'Tenant', 'Status'],
          activity.compared.map((row) => [time(row.reconciledAt), row.consultationId, row.tenant, badge(row.status)]),
        ),
      );
    } catch (error) {
      replace(body, h('p', { class: 'error' }, `Could not load reconciliation activity: ${(error as Error).message}`));
    }
  })();
};
