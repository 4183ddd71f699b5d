import { newId } from '../storage/ids.js';
import type { Store } from '../storage/store.js';
import type { SecurityEventSink } from './security-monitor.js';

/** Security events into the store's security_events table, one insert per batch. */
export function securityEventSink(store: Store): SecurityEventSink {
  return {
    async record(events) {
      if (events.length === 0) return;
      await store.db
        .insertInto('security_events')
        .values(
          events.map((event) => ({
            id: newId('sev'),
            reason: event.reason,
            remote_address: event.remoteAddress,
            path: event.path,
            claimed_account_sid: event.claimedAccountSid ?? null,
            detail: JSON.stringify(event.detail ?? {}),
            created_at: event.at.toISOString(),
          })),
        )
        .execute();
    },
  };
}
