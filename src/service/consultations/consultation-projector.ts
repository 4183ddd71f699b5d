/**
 * Recomputes a consultation's record from all its accepted callbacks (the pure fold in core) and
 * writes it, inside the ingesting transaction. Side effects are queued in the outbox under the
 * keys the fold gives them, so the database itself keeps each to one; the billing record is
 * unique per consultation. Returns the live events the change produced, published after commit.
 */
import { isVideoEvent } from '../../core/consultation/consultation-event.js';
import { parseVideoEvent } from '../../core/consultation/video-event-from-callback.js';
import { foldConsultation, type ConsultationRecord } from '../../core/consultation/consultation-state.js';
import { findBillingFields, upsertBillingRecord } from '../../storage/billing-repository.js';
import { findConsultationForProjection, findConsultationRecordFields, updateConsultation } from '../../storage/consultation-repository.js';
import { acceptedCallbacksOfRoom, markCallbacksProcessed } from '../../storage/inbox-repository.js';
import { enqueueOutboxEntry, existingOutboxKeys } from '../../storage/outbox-repository.js';
import {
  deleteSessions,
  insertSession,
  issuedRolesOfConsultation,
  listConsultationSessions,
  updateSession,
} from '../../storage/participant-repository.js';
import {
  ensureCompositionRow,
  findConsultationComposition,
  insertRecording,
  listConsultationRecordings,
  updateConsultationComposition,
  updateRecording,
} from '../../storage/recording-repository.js';
import { lockFreeConsultations } from '../../storage/row-locks.js';
import type { StoreTransaction } from '../../storage/store.js';
import type { LiveEvent } from '../live/live-events.js';

export interface ProjectionResult {
  readonly live: LiveEvent[];
  /** True when new outbox entries were queued (the worker is woken after commit). */
  readonly queuedEffects: boolean;
  /** Consultations whose row another transaction holds: not folded now, to be tried again later. */
  readonly skipped?: readonly string[];
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export async function projectConsultations(
  trx: StoreTransaction,
  consultationIds: readonly string[],
  now: string,
): Promise<ProjectionResult> {
  const live: LiveEvent[] = [];
  let queuedEffects = false;
  // Another instance may be projecting the same consultation from callbacks this transaction
  // cannot see yet: only a consultation whose row lock we hold is folded (row-locks.ts); one
  // held elsewhere is skipped and folded later, once the holder has committed.
  const ids = await lockFreeConsultations(trx, consultationIds);
  const locked = new Set(ids);
  for (const id of ids) {
    const result = await projectOne(trx, id, now);
    live.push(...result.live);
    queuedEffects ||= result.queuedEffects;
  }
  return { live, queuedEffects, skipped: consultationIds.filter((id) => !locked.has(id)) };
}

async function projectOne(trx: StoreTransaction, id: string, now: string): Promise<ProjectionResult> {
  const consultation = await findConsultationForProjection(trx, id);
  const callbacks = await acceptedCallbacksOfRoom(trx, consultation.room_sid ?? '');
  // The same schema parse that admitted each callback (one reading of every field); a fact the
  // reconciler read from Twilio's REST API (or an operator's) is marked so, and gives way to a
  // callback of the same fact.
  const events = callbacks
    .map((row) => {
      const event = parseVideoEvent(JSON.parse(row.params) as [string, string][]);
      return isVideoEvent(event) && row.source !== 'callback' ? { ...event, source: row.source } : event;
    })
    .filter(isVideoEvent);
  const roomSid = consultation.room_sid;
  if (!roomSid) return { live: [], queuedEffects: false };
  const newlyFolded = callbacks.filter((row) => row.processed_at === null).map((row) => row.id);
  await markCallbacksProcessed(trx, newlyFolded, now);

  const roles = await issuedRolesOfConsultation(trx, id);
  const record = foldConsultation(
    {
      id,
      roomSid,
      record: Boolean(consultation.record),
      cancelled: consultation.status === 'cancelled',
      roles: new Map(roles.map((row) => [row.identity, row.role])),
      roundingSeconds: consultation.billing_rounding_seconds,
    },
    events,
  );

  const before = await snapshot(trx, id);
  // Only what changed is written: most callbacks touch one session or one recording.
  const startedAt = iso(record.startedAt);
  const endedAt = iso(record.endedAt);
  if (before.status !== record.status || before.startedAt !== startedAt || before.endedAt !== endedAt) {
    await updateConsultation(trx, id, {
      status: record.status,
      started_at: startedAt,
      ended_at: endedAt,
      updated_at: now,
      version: consultation.version + 1,
    });
  }
  await writeSessions(trx, id, record, before.sessions);
  await writeRecordings(trx, id, record, before.recordings, now);
  await writeComposition(trx, id, record, before.composition, now);
  const queuedEffects = await writeEffects(trx, id, consultation.tenant_id, roomSid, record, before.billing, now);

  const at = now;
  const base = { tenantId: consultation.tenant_id, consultationId: id, at };
  const live: LiveEvent[] = [];
  if (before.status !== record.status)
    live.push({ ...base, type: 'consultation.status', data: { from: before.status, to: record.status } });
  for (const session of record.sessions) {
    const previous = before.sessions.get(session.participantSid);
    if (!previous && session.connectedAt !== null)
      live.push({
        ...base,
        type: 'participant.joined',
        data: { identity: session.identity, role: session.role, at: iso(session.connectedAt) },
      });
    if (session.disconnectedAt !== null && !previous?.disconnected_at)
      live.push({ ...base, type: 'participant.left', data: { identity: session.identity, at: iso(session.disconnectedAt) } });
  }
  for (const recording of record.recordings) {
    if (recording.status === 'completed' && before.recordings.get(recording.recordingSid)?.status !== 'completed') {
      live.push({ ...base, type: 'recording.available', data: { recordingSid: recording.recordingSid } });
    }
  }
  if (record.composition.status === 'available' && before.composition?.status !== 'available') {
    live.push({ ...base, type: 'composition.available', data: { compositionSid: record.composition.compositionSid } });
  }
  const billing = record.effects.find((effect) => effect.kind === 'record-billing');
  if (billing && !before.billing)
    live.push({
      ...base,
      type: 'billing.recorded',
      data: { billableSeconds: billing.billing.billableSeconds, roundedSeconds: billing.billing.roundedSeconds },
    });
  return { live, queuedEffects };
}

async function snapshot(trx: StoreTransaction, id: string) {
  const [row, sessions, recordings, composition, billing] = await Promise.all([
    findConsultationRecordFields(trx, id),
    listConsultationSessions(trx, id),
    listConsultationRecordings(trx, id),
    findConsultationComposition(trx, id),
    findBillingFields(trx, id),
  ]);
  return {
    status: row.status,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    sessions: new Map(sessions.map((session) => [session.participant_sid, session])),
    recordings: new Map(recordings.map((recording) => [recording.recording_sid, recording])),
    composition,
    billing,
  };
}

type Snapshot = Awaited<ReturnType<typeof snapshot>>;

/** True when every field of `next` equals the same field of `previous`. */
function same(previous: object | undefined, next: Record<string, unknown>): boolean {
  return previous !== undefined && Object.entries(next).every(([key, value]) => (previous as Record<string, unknown>)[key] === value);
}

async function writeSessions(trx: StoreTransaction, id: string, record: ConsultationRecord, before: Snapshot['sessions']): Promise<void> {
  const keep = new Set<string>();
  for (const session of record.sessions) {
    if (session.connectedAt === null) continue;
    keep.add(session.participantSid);
    const fields = {
      identity: session.identity ?? '',
      connected_at: iso(session.connectedAt)!,
      disconnected_at: iso(session.disconnectedAt),
    };
    const previous = before.get(session.participantSid);
    if (same(previous, fields)) continue;
    if (previous) await updateSession(trx, id, session.participantSid, fields);
    else await insertSession(trx, id, session.participantSid, fields);
  }
  await deleteSessions(
    trx,
    id,
    [...before.keys()].filter((sid) => !keep.has(sid)),
  );
}

async function writeRecordings(
  trx: StoreTransaction,
  id: string,
  record: ConsultationRecord,
  before: Snapshot['recordings'],
  now: string,
): Promise<void> {
  for (const recording of record.recordings) {
    const fields = {
      track_name: recording.trackName ?? null,
      participant_sid: recording.participantSid ?? null,
      kind: recording.kind ?? null,
      status: recording.status,
      duration: recording.duration ?? null,
      size: recording.size ?? null,
      media_uri: recording.mediaUri ?? null,
      created_at: iso(recording.startedAt) ?? before.get(recording.recordingSid)?.created_at ?? now,
      completed_at: iso(recording.completedAt),
    };
    const previous = before.get(recording.recordingSid);
    if (same(previous, fields)) continue;
    if (previous) await updateRecording(trx, recording.recordingSid, fields);
    else await insertRecording(trx, id, recording.recordingSid, fields);
  }
}

async function writeComposition(
  trx: StoreTransaction,
  id: string,
  record: ConsultationRecord,
  before: Snapshot['composition'],
  now: string,
): Promise<void> {
  if (record.composition.status === 'none') return;
  const unchanged =
    before?.status === record.composition.status &&
    before.media_uri === (record.composition.mediaUri ?? null) &&
    (!record.composition.compositionSid || before.composition_sid === record.composition.compositionSid);
  if (unchanged) return;
  await ensureCompositionRow(trx, id, now);
  await updateConsultationComposition(trx, id, {
    status: record.composition.status,
    ...(record.composition.compositionSid ? { composition_sid: record.composition.compositionSid } : {}),
    media_uri: record.composition.mediaUri ?? null,
    updated_at: now,
  });
}

async function writeEffects(
  trx: StoreTransaction,
  id: string,
  tenantId: string,
  roomSid: string,
  record: ConsultationRecord,
  billed: Snapshot['billing'],
  now: string,
): Promise<boolean> {
  let queued = false;
  const outboxKeys = record.effects.filter((effect) => effect.kind !== 'record-billing').map((effect) => effect.key);
  const known = await existingOutboxKeys(trx, outboxKeys);
  for (const effect of record.effects) {
    if (effect.kind === 'record-billing') {
      const row = {
        billable_seconds: effect.billing.billableSeconds,
        rounded_seconds: effect.billing.roundedSeconds,
        intervals: JSON.stringify(effect.billing.intervals.map((interval) => ({ start: iso(interval.start), end: iso(interval.end) }))),
      };
      if (same(billed, row)) continue;
      await upsertBillingRecord(trx, { consultationId: id, tenantId, now, fields: row });
      continue;
    }
    if (known.has(effect.key)) continue;
    const inserted = await enqueueOutboxEntry(trx, { kind: effect.kind, key: effect.key, payload: { consultationId: id, roomSid }, now });
    queued ||= inserted;
  }
  return queued;
}
