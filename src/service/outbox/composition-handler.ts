/**
 * The 'request-composition' side effect: ask Twilio to compose a finished room's recordings.
 * Idempotent at the far end: if Twilio already has a live (not failed) composition for the room
 * — say this worker crashed after creating it but before marking the entry done — it is
 * adopted instead of creating a second one. A composition the record saw fail — by its
 * callback, or by reconciliation when Twilio left it stuck in `enqueued` — is never adopted: a
 * retry asks for a new one.
 *
 * A consultation that rejoined has one composition per room: the entry names its room, and only
 * that room's row is written. A room whose recording follows consent (issue 20) is composed from
 * the tracks, in that room, of the participants who consent when the composition is asked for — a
 * participant who withdrew is absent, and a recording flagged as not consented is never a source.
 */
import { ensureCompositionRow, recordRequestedComposition } from '../../storage/recording-repository.js';
import { failedCompositionSids } from '../../storage/reconcile-repository.js';
import { participantSidsOfRoom } from '../../storage/inbox-repository.js';
import type { Store } from '../../storage/store.js';
import { consentingIdentities, consentModeOf } from '../../core/consultation/consent.js';
import { findConsentContext, listConsents } from '../../storage/consent-repository.js';
import { listConsultationSessions } from '../../storage/participant-repository.js';
import { listConsultationRecordings } from '../../storage/recording-repository.js';
import { consentFacts } from '../consultations/consent-view.js';
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
    const sources = await consentedSources(options.store, consultationId, roomSid);
    if (sources && sources.audio.length === 0 && sources.video.length === 0) {
      throw new PermanentOutboxError('no consenting participant has a track to compose');
    }
    let composition;
    try {
      const existing = await options.twilio.listCompositions(roomSid);
      const failed = await failedCompositionSids(options.store.db, roomSid);
      composition =
        existing.find((candidate) => candidate.status !== 'failed' && candidate.status !== 'deleted' && !failed.has(candidate.sid)) ??
        (await options.twilio.createComposition({
          roomSid,
          statusCallback: options.statusCallbackUrl(),
          ...(sources ? { sources } : {}),
        }));
    } catch (error) {
      if (error instanceof TwilioApiError && !error.retryable) throw new PermanentOutboxError(error.message);
      throw error;
    }
    // Written with the entry's done mark, in one commit (on SQLite one fsync on the record
    // thread's connection, which the inbox's commits wait for). A retry adopts the composition.
    const now = options.clock().toISOString();
    return async (trx) => {
      await ensureCompositionRow(trx, consultationId, roomSid, now);
      await recordRequestedComposition(trx, consultationId, roomSid, composition.sid, now);
    };
  };
}

/** The track names of consenting participants' recordings in the room; undefined: consent off, every track. */
async function consentedSources(
  store: Store,
  consultationId: string,
  roomSid: string,
): Promise<{ audio: string[]; video: string[] } | undefined> {
  const context = await findConsentContext(store.db, consultationId);
  if (!context || consentModeOf(context.consent_mode) === 'off') return undefined;
  const [entries, recordings, sessions, inRoom] = await Promise.all([
    listConsents(store.db, [consultationId]),
    listConsultationRecordings(store.db, consultationId),
    listConsultationSessions(store.db, consultationId),
    participantSidsOfRoom(store.db, roomSid),
  ]);
  const consenting = consentingIdentities(consentFacts(entries), 'recording');
  const identityOf = new Map(sessions.map((session) => [session.participant_sid, session.identity]));
  const sources = { audio: [] as string[], video: [] as string[] };
  for (const recording of recordings) {
    const identity = recording.participant_sid ? identityOf.get(recording.participant_sid) : undefined;
    if (recording.status !== 'completed' || recording.consent_flag || !recording.track_name) continue;
    if (!recording.participant_sid || !inRoom.has(recording.participant_sid)) continue; // another room's track
    if (identity === undefined || !consenting.has(identity)) continue;
    if (recording.kind === 'audio') sources.audio.push(recording.track_name);
    else if (recording.kind === 'video') sources.video.push(recording.track_name);
  }
  return sources;
}
