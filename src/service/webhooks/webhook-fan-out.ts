/**
 * Fan-out: the tenant event log → one message per (endpoint, event) the endpoint subscribes to.
 * Each endpoint is moved on in its own transaction: its events after the cursor are read, the
 * cursor is moved by compare-and-set, the messages inserted — all or nothing. Two instances
 * fanning out the same endpoint at once: one compare-and-set finds the cursor moved, its
 * transaction rolls back, no message exists twice (UNIQUE dedupe_key would refuse it anyway).
 */
import {
  advanceEndpointCursor,
  endpointsBehindLog,
  insertWebhookMessages,
  tenantEventHeads,
  type NewWebhookMessage,
} from '../../storage/webhook-repository.js';
import type { Store } from '../../storage/store.js';

class CursorMoved extends Error {}

const EVENTS_PER_PASS = 500;

/** One pass over the endpoints behind their log; returns how many messages it queued. */
export async function fanOutWebhooks(store: Store, now: () => Date, endpointsPerPass = 100): Promise<number> {
  let queued = 0;
  for (const endpoint of await endpointsBehindLog(store.db, endpointsPerPass)) {
    const types = endpoint.event_types ? new Set(JSON.parse(endpoint.event_types) as string[]) : undefined;
    try {
      queued += await store.transaction(async (trx) => {
        const events = await tenantEventHeads(trx, endpoint.tenant_id, { after: endpoint.log_cursor, limit: EVENTS_PER_PASS });
        const last = events.at(-1);
        if (!last) return 0;
        if (!(await advanceEndpointCursor(trx, { id: endpoint.id, from: endpoint.log_cursor, to: last.sequence }))) throw new CursorMoved();
        const at = now().toISOString();
        const messages: NewWebhookMessage[] = events
          .filter((event) => !types || types.has(event.type))
          .map((event) => ({
            endpointId: endpoint.id,
            tenantId: endpoint.tenant_id,
            eventId: event.id,
            eventSequence: event.sequence,
            eventType: event.type,
            consultationId: event.consultation_id,
            dedupeKey: `${endpoint.id}/${event.id}`,
            now: at,
          }));
        await insertWebhookMessages(trx, messages);
        return messages.length;
      });
    } catch (error) {
      // Another instance moved this endpoint on first: its messages are the ones.
      if (!(error instanceof CursorMoved)) throw error;
    }
  }
  return queued;
}
