/**
 * What the fold adds for recording that follows consent (issue 20), in the projection's
 * transaction: every join (and, in all-parties mode, every leave: who is present decides) queues
 * new Recording Rules; a recording Twilio reports of a participant who had not consented when it
 * started is flagged in the record (`recordings.consent_flag`), appears in the event log
 * (`recording.unconsented`) and queues the alert (outbox, once per recording).
 */
import { consentedAt, consentModeOf } from '../../core/consultation/consent.js';
import { FINAL_STATUSES, type ConsultationRecord, type RecordingState } from '../../core/consultation/consultation-state.js';
import { flagRecordingConsent, listConsents } from '../../storage/consent-repository.js';
import { enqueueOutboxEntry } from '../../storage/outbox-repository.js';
import type { StoreTransaction } from '../../storage/store.js';
import type { LiveEvent } from '../live/live-events.js';
import { APPLY_RECORDING_RULES, REPORT_UNCONSENTED_RECORDING } from '../outbox/consent-effects.js';
import { consentFacts } from './consent-view.js';

export interface ConsentProjectionInput {
  readonly consultation: {
    readonly id: string;
    readonly tenant_id: string;
    readonly room_sid: string;
    readonly record: number;
    readonly consent_mode: string | null;
  };
  /** The sessions as they were before this fold. */
  readonly before: ReadonlyMap<string, { disconnected_at: string | null }>;
  readonly record: ConsultationRecord;
  /** Recordings this fold inserted. */
  readonly newRecordings: readonly RecordingState[];
  /** recordingSid → ParticipantIdentity, from the recording callbacks of this fold. */
  readonly identityOfRecording: ReadonlyMap<string, string>;
  readonly now: string;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export async function projectConsent(
  trx: StoreTransaction,
  input: ConsentProjectionInput,
): Promise<{ live: LiveEvent[]; queuedEffects: boolean }> {
  const { consultation, record, now } = input;
  const mode = consentModeOf(consultation.consent_mode);
  const live: LiveEvent[] = [];
  let queuedEffects = false;
  if (mode === 'off' || !consultation.record) return { live, queuedEffects };
  const enqueue = async (kind: string, key: string, payload: Record<string, unknown>) => {
    queuedEffects = (await enqueueOutboxEntry(trx, { kind, key, payload, now })) || queuedEffects;
  };

  // Not once the consultation is over (a room of an interrupted one may follow: it gets rules too).
  if (!FINAL_STATUSES.includes(record.status)) {
    for (const session of record.sessions) {
      const previous = input.before.get(session.participantSid);
      // A join sets the rules in both modes: a room opened later (a rejoin) gets them with its
      // first participant, however it was created. A leave matters to all-parties only.
      const joined = !previous && session.connectedAt !== null;
      const left = mode === 'all-parties' && session.disconnectedAt !== null && !previous?.disconnected_at;
      for (const change of [joined ? 'joined' : undefined, left ? 'left' : undefined]) {
        if (!change) continue;
        await enqueue(APPLY_RECORDING_RULES, `recording-rules:${consultation.id}:${session.participantSid}:${change}`, {
          consultationId: consultation.id,
          roomSid: consultation.room_sid,
        });
      }
    }
  }

  if (input.newRecordings.length === 0) return { live, queuedEffects };
  const facts = consentFacts(await listConsents(trx, [consultation.id]));
  const identityOfSession = new Map(record.sessions.map((session) => [session.participantSid, session.identity]));
  for (const recording of input.newRecordings) {
    const identity =
      input.identityOfRecording.get(recording.recordingSid) ??
      (recording.participantSid ? identityOfSession.get(recording.participantSid) : undefined);
    const startedAt = iso(recording.startedAt) ?? now;
    if (identity !== undefined && consentedAt(facts, identity, startedAt)) continue;
    await flagRecordingConsent(trx, recording.recordingSid, 'not-consented');
    live.push({
      tenantId: consultation.tenant_id,
      consultationId: consultation.id,
      type: 'recording.unconsented',
      at: now,
      data: { recordingSid: recording.recordingSid, identity: identity ?? null, kind: recording.kind ?? null, startedAt },
    });
    await enqueue(REPORT_UNCONSENTED_RECORDING, `unconsented:${recording.recordingSid}`, {
      consultationId: consultation.id,
      roomSid: consultation.room_sid,
      recordingSid: recording.recordingSid,
      kind: recording.kind ?? null,
    });
  }
  return { live, queuedEffects };
}
