/**
 * The 'apply-recording-rules' side effect (issue 20): sets the room's Twilio Recording Rules to
 * record only the participants who consent now (core/consultation/consent.ts `recordingRules`).
 * Queued by every consent decision and, in all-parties mode, by every join and leave.
 *
 * The rules are computed when the entry runs, from the ledger and the room's presence as they are
 * then — never from what was true when it was queued — and read again after Twilio answered: if
 * they changed meanwhile (a withdrawal while this ran, or another entry that posted older rules
 * in between), they are posted again. So whichever entry posts last posts the latest rules, and a
 * failure is retried by the outbox with backoff: durable, and the latest consent wins.
 */
import { consentingIdentities, consentModeOf, recordingRules, type RecordingRule } from '../../core/consultation/consent.js';
import { connectedIdentities, findConsentContext, listConsents } from '../../storage/consent-repository.js';
import type { Store } from '../../storage/store.js';
import { consentFacts } from '../consultations/consent-view.js';
import { TwilioApiError, type TwilioRestClient } from '../twilio/twilio-rest-client.js';
import { PermanentOutboxError, type OutboxHandler } from './outbox-worker.js';

const FINAL = ['completed', 'cancelled', 'no-show'];
/** Twilio's answers for a room that is not in progress (53112), completed (53118) or gone (53106). */
const ROOM_OVER = new Set([53112, 53118, 53106]);
/** Posts per run at most, while the ledger keeps moving; then the outbox retries. */
const MAX_ROUNDS = 3;

/**
 * The consultation's current room and the rules it should have now, or undefined when its rules
 * no longer matter. The current room, not the one named when the entry was queued: a consultation
 * may have moved to a new room since (migration 0012).
 */
export async function currentRecordingRules(
  store: Store,
  consultationId: string,
): Promise<{ roomSid: string; rules: RecordingRule[] } | undefined> {
  const context = await findConsentContext(store.db, consultationId);
  if (!context || !context.record || !context.room_sid || FINAL.includes(context.status)) return undefined;
  const mode = consentModeOf(context.consent_mode);
  if (mode === 'off') return undefined;
  const [entries, present] = await Promise.all([listConsents(store.db, [consultationId]), connectedIdentities(store.db, consultationId)]);
  return { roomSid: context.room_sid, rules: recordingRules(mode, consentingIdentities(consentFacts(entries), 'recording'), present) };
}

export function createRecordingRulesHandler(options: { store: Store; twilio: TwilioRestClient }): OutboxHandler {
  return async (entry) => {
    const { consultationId } = entry.payload as { consultationId: string };
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const wanted = await currentRecordingRules(options.store, consultationId);
      if (!wanted) return;
      try {
        await options.twilio.updateRecordingRules(wanted.roomSid, wanted.rules);
      } catch (error) {
        // A room that ended meanwhile records nothing any more: nothing left to set (an
        // interrupted consultation's room, until the next one opens and its first join sets them).
        if (error instanceof TwilioApiError && !error.retryable) {
          if (error.status === 404 || ROOM_OVER.has(error.twilioCode ?? 0)) return;
          if ((await currentRecordingRules(options.store, consultationId)) === undefined) return;
          throw new PermanentOutboxError(error.message);
        }
        throw error;
      }
      const after = await currentRecordingRules(options.store, consultationId);
      if (!after || JSON.stringify(after) === JSON.stringify(wanted)) return;
    }
    throw new Error('the consent ledger kept changing while the Recording Rules were set; trying again');
  };
}
