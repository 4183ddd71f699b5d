/**
 * The 'request-composition' side effect: ask Twilio to compose a finished room's recordings.
 * Idempotent at the far end: if Twilio already has a live (not failed) composition for the room
 * — say this worker crashed after creating it but before marking the entry done — it is
 * adopted instead of creating a second one. A composition the record saw fail — by its
 * callback, or by reconciliation when Twilio left it stuck in `enqueued` — is never adopted: a
 * retry asks for a new one.
 */
import { ensureCompositionRow, findConsultationComposition, updateConsultationComposition } from '../../storage/recording-repository.js';
import { failedCompositionSids } from '../../storage/reconcile-repository.js';
import type { Store } from '../../storage/store.js';
import type { TwilioRestClient } from '../twilio/twilio-rest-client.js';
import { TwilioApiError } from '../twilio/twilio-rest-client.js';
import { PermanentOutboxError, type OutboxHandler } from './outbox-worker.js';

export function createCompositionHandler(options: {
  store: Store;
  twilio: TwilioRestClient;
  clock: () => Date;
  statusCallbackUrl: () => string;
}): OutboxHandler {
  return async (entry) => {
    const { consultationId, roomSid } = entry.payload as { consultationId: string; roomSid: string };
    let composition;
    try {
      const existing = await options.twilio.listCompositions(roomSid);
      const failed = await failedCompositionSids(options.store.db, roomSid);
      composition =
        existing.find((candidate) => candidate.status !== 'failed' && candidate.status !== 'deleted' && !failed.has(candidate.sid)) ??
        (await options.twilio.createComposition({ roomSid, statusCallback: options.statusCallbackUrl() }));
    } catch (error) {
      if (error instanceof TwilioApiError && !error.retryable) throw new PermanentOutboxError(error.message);
      throw error;
    }
    const now = options.clock().toISOString();
    await options.store.transaction(async (trx) => {
      await ensureCompositionRow(trx, consultationId, now);
      const row = await findConsultationComposition(trx, consultationId);
      if (!row) throw new Error(`no compositions row for ${consultationId}`);
      if (row.composition_sid === composition.sid) return;
      await updateConsultationComposition(trx, consultationId, {
        composition_sid: composition.sid,
        status: 'enqueued',
        attempts: row.attempts + 1,
        updated_at: now,
      });
    });
  };
}
