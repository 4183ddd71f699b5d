import { newId } from '../../storage/ids.js';
import { insertIfAbsent } from '../../storage/insert-if-absent.js';
import type { StoreTransaction } from '../../storage/store.js';

/**
 * The consultation's one compositions row, created if absent. Both the outbox handler (after
 * asking Twilio) and the projector (after Twilio's callbacks) write to it, in either order.
 */
export async function ensureCompositionRow(trx: StoreTransaction, consultationId: string, now: string): Promise<void> {
  await insertIfAbsent(
    trx,
    'compositions',
    { consultation_id: consultationId },
    {
      id: newId('cmp'),
      consultation_id: consultationId,
      composition_sid: null,
      status: 'requested',
      attempts: 0,
      media_uri: null,
      created_at: now,
      updated_at: now,
    },
  );
}
