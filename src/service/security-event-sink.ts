import { insertSecurityEvents } from '../storage/audit-repository.js';
import type { Store } from '../storage/store.js';
import type { SecurityEventSink } from './security-monitor.js';

/**
 * Security events into the store's security_events table, one insert per batch. What a refused
 * request claimed (its AccountSid, of any length) is bounded to the columns first, so one
 * oversized value cannot make the insert — and with it every event of the batch — fail.
 */
export function securityEventSink(store: Store): SecurityEventSink {
  return {
    async record(events) {
      await insertSecurityEvents(
        store.db,
        events.map((event) => ({
          reason: bounded(event.reason, 64),
          remoteAddress: bounded(event.remoteAddress, 64),
          path: bounded(event.path, 2048),
          claimedAccountSid: event.claimedAccountSid === undefined ? null : bounded(event.claimedAccountSid, 64),
          ...(event.detail ? { detail: event.detail } : {}),
          at: event.at.toISOString(),
        })),
      );
    },
  };
}

/** At most `max` characters, with no NUL (PostgreSQL refuses it in text). */
function bounded(value: string, max: number): string {
  const clean = value.replaceAll('\u0000', '\uFFFD');
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}…`;
}
