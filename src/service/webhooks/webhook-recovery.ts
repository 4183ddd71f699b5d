/**
 * Recovery: the events of the tenant's log since a time, up to what was already fanned out to
 * the endpoint, queued for it again (later events are the fan-out's). Each is a new message
 * with the event's id as its `webhook-id`, so a receiver that deduplicates sees each once.
 */
import { newId } from '../../storage/ids.js';
import type { Store } from '../../storage/store.js';
import { insertWebhookMessages, tenantEventHeads, type WebhookEndpointRow } from '../../storage/webhook-repository.js';

export const MAX_RECOVERED = 10_000;
const BATCH = 500;

export async function recoverWebhookEvents(store: Store, endpoint: WebhookEndpointRow, since: string, now: string): Promise<number> {
  const types = endpoint.event_types ? new Set(JSON.parse(endpoint.event_types) as string[]) : undefined;
  const upTo = Number(endpoint.log_cursor);
  const recovery = newId('rec');
  let after = 0;
  let queued = 0;
  while (queued < MAX_RECOVERED) {
    const events = await tenantEventHeads(store.db, endpoint.tenant_id, { after, upTo, since, limit: BATCH });
    if (events.length === 0) break;
    after = events.at(-1)!.sequence;
    const chosen = events.filter((event) => !types || types.has(event.type)).slice(0, MAX_RECOVERED - queued);
    await insertWebhookMessages(
      store.db,
      chosen.map((event) => ({
        endpointId: endpoint.id,
        tenantId: endpoint.tenant_id,
        eventId: event.id,
        eventSequence: event.sequence,
        eventType: event.type,
        consultationId: event.consultation_id,
        dedupeKey: `${endpoint.id}/${event.id}/${recovery}`,
        now,
      })),
    );
    queued += chosen.length;
  }
  return queued;
}
