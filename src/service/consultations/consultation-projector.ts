/**
 * Recomputes a consultation's record from all its accepted callbacks (the pure fold in core) and
 * writes it, inside the ingesting transaction. Side effects are queued in the outbox under the
 * keys the fold gives them, so the database itself keeps each to one; the billing record is
 * unique per consultation. Returns the live events the change produced, published after commit.
 */
import { isVideoEvent, parseVideoEvent } from '../../core/consultation/consultation-event.js';
import { foldConsultation, type ConsultationRecord } from '../../core/consultation/consultation-state.js';
import { newId } from '../../storage/ids.js';
import { insertIfAbsent } from '../../storage/insert-if-absent.js';
import type { StoreTransaction } from '../../storage/store.js';
import type { LiveEvent } from '../live/live-events.js';

export interface ProjectionResult {
  readonly live: LiveEvent[];
  /** True when new outbox entries were queued (the worker is woken after commit). */
  readonly queuedEffects: boolean;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export async function projectConsultations(trx: StoreTransaction, consultationIds: readonly string[], now: string): Promise<ProjectionResult> {
  const live: LiveEvent[] = [];
  let queuedEffects = false;
  for (const id of consultationIds) {
    const result = await projectOne(trx, id, now);
    live.push(...result.live);
    queuedEffects ||= result.queuedEffects;
  }
  return { live, queuedEffects };
}

async function projectOne(trx: StoreTransaction, id: string, now: string): Promise<ProjectionResult> {
  const consultation = await trx
    .selectFrom('consultations')
    .innerJoin('tenants', 'tenants.id', 'consultations.tenant_id')
    .select([
      'consultations.id',
      'consultations.tenant_id',
      'consultations.room_sid',
      'consultations.record',
      'consultations.status',
      'consultations.version',
      'tenants.billing_rounding_seconds',
    ])
    .where('consultations.id', '=', id)
    .executeTakeFirstOrThrow();
  const callbacks = await trx
    .selectFrom('callbacks')
    .select('params')
    .where('status', '=', 'accepted')
    .where('room_sid', '=', consultation.room_sid ?? '')
    .execute();
  const events = callbacks
    .map((row) => parseVideoEvent(Object.fromEntries(JSON.parse(row.params) as [string, string][])))
    .filter(isVideoEvent);
  const roomSid = consultation.room_sid;
  if (!roomSid) return { live: [], queuedEffects: false };

  const roles = await trx.selectFrom('issued_identities').select(['identity', 'role']).where('consultation_id', '=', id).execute();
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
  await trx
    .updateTable('consultations')
    .set({
      status: record.status,
      started_at: iso(record.startedAt),
      ended_at: iso(record.endedAt),
      updated_at: now,
      version: consultation.version + 1,
    })
    .where('id', '=', id)
    .execute();
  await writeSessions(trx, id, record);
  await writeRecordings(trx, id, record, now);
  await writeComposition(trx, id, record, now);
  const queuedEffects = await writeEffects(trx, id, consultation.tenant_id, roomSid, record, now);

  const at = now;
  const base = { tenantId: consultation.tenant_id, consultationId: id, at };
  const live: LiveEvent[] = [];
  if (before.status !== record.status) live.push({ ...base, type: 'consultation.status', data: { from: before.status, to: record.status } });
  for (const session of record.sessions) {
    const previous = before.sessions.get(session.participantSid);
    if (!previous && session.connectedAt !== null) live.push({ ...base, type: 'participant.joined', data: { identity: session.identity, role: session.role, at: iso(session.connectedAt) } });
    if (session.disconnectedAt !== null && !previous?.disconnected_at) live.push({ ...base, type: 'participant.left', data: { identity: session.identity, at: iso(session.disconnectedAt) } });
  }
  for (const recording of record.recordings) {
    if (recording.status === 'completed' && before.recordings.get(recording.recordingSid) !== 'completed') {
      live.push({ ...base, type: 'recording.available', data: { recordingSid: recording.recordingSid } });
    }
  }
  if (record.composition.status === 'available' && before.compositionStatus !== 'available') {
    live.push({ ...base, type: 'composition.available', data: { compositionSid: record.composition.compositionSid } });
  }
  const billing = record.effects.find((effect) => effect.kind === 'record-billing');
  if (billing && !before.billed) live.push({ ...base, type: 'billing.recorded', data: { billableSeconds: billing.billing.billableSeconds, roundedSeconds: billing.billing.roundedSeconds } });
  return { live, queuedEffects };
}

async function snapshot(trx: StoreTransaction, id: string) {
  const [row, sessions, recordings, composition, billing] = await Promise.all([
    trx.selectFrom('consultations').select('status').where('id', '=', id).executeTakeFirstOrThrow(),
    trx.selectFrom('participant_sessions').select(['participant_sid', 'disconnected_at']).where('consultation_id', '=', id).execute(),
    trx.selectFrom('recordings').select(['recording_sid', 'status']).where('consultation_id', '=', id).execute(),
    trx.selectFrom('compositions').select('status').where('consultation_id', '=', id).executeTakeFirst(),
    trx.selectFrom('billing_records').select('id').where('consultation_id', '=', id).executeTakeFirst(),
  ]);
  return {
    status: row.status,
    sessions: new Map(sessions.map((session) => [session.participant_sid, session])),
    recordings: new Map(recordings.map((recording) => [recording.recording_sid, recording.status])),
    compositionStatus: composition?.status,
    billed: Boolean(billing),
  };
}

async function writeSessions(trx: StoreTransaction, id: string, record: ConsultationRecord): Promise<void> {
  await trx.deleteFrom('participant_sessions').where('consultation_id', '=', id).execute();
  const rows = record.sessions
    .filter((session) => session.connectedAt !== null)
    .map((session) => ({
      id: `ps_${id}_${session.participantSid}`.slice(0, 64),
      consultation_id: id,
      participant_sid: session.participantSid,
      identity: session.identity ?? '',
      connected_at: iso(session.connectedAt)!,
      disconnected_at: iso(session.disconnectedAt),
    }));
  if (rows.length > 0) await trx.insertInto('participant_sessions').values(rows).execute();
}

async function writeRecordings(trx: StoreTransaction, id: string, record: ConsultationRecord, now: string): Promise<void> {
  await trx.deleteFrom('recordings').where('consultation_id', '=', id).execute();
  const rows = record.recordings.map((recording) => ({
    id: `rec_${recording.recordingSid}`.slice(0, 64),
    consultation_id: id,
    recording_sid: recording.recordingSid,
    track_name: recording.trackName ?? null,
    status: recording.status,
    duration: recording.duration ?? null,
    size: recording.size ?? null,
    media_uri: recording.mediaUri ?? null,
    created_at: iso(recording.startedAt) ?? now,
    completed_at: iso(recording.completedAt),
  }));
  if (rows.length > 0) await trx.insertInto('recordings').values(rows).execute();
}

async function writeComposition(trx: StoreTransaction, id: string, record: ConsultationRecord, now: string): Promise<void> {
  if (record.composition.status === 'none') return;
  await insertIfAbsent(trx, 'compositions', { consultation_id: id }, {
    id: newId('cmp'),
    consultation_id: id,
    composition_sid: null,
    status: 'requested',
    attempts: 0,
    media_uri: null,
    created_at: now,
    updated_at: now,
  });
  await trx
    .updateTable('compositions')
    .set({
      status: record.composition.status,
      ...(record.composition.compositionSid ? { composition_sid: record.composition.compositionSid } : {}),
      media_uri: record.composition.mediaUri ?? null,
      updated_at: now,
    })
    .where('consultation_id', '=', id)
    .execute();
}

async function writeEffects(
  trx: StoreTransaction,
  id: string,
  tenantId: string,
  roomSid: string,
  record: ConsultationRecord,
  now: string,
): Promise<boolean> {
  let queued = false;
  for (const effect of record.effects) {
    if (effect.kind === 'record-billing') {
      const row = {
        billable_seconds: effect.billing.billableSeconds,
        rounded_seconds: effect.billing.roundedSeconds,
        intervals: JSON.stringify(effect.billing.intervals.map((interval) => ({ start: iso(interval.start), end: iso(interval.end) }))),
      };
      const inserted = await insertIfAbsent(trx, 'billing_records', { consultation_id: id }, { id: newId('bil'), consultation_id: id, tenant_id: tenantId, created_at: now, ...row });
      // Still one record: a late event that changes the overlap corrects it in place.
      if (!inserted) await trx.updateTable('billing_records').set(row).where('consultation_id', '=', id).execute();
      continue;
    }
    const inserted = await insertIfAbsent(trx, 'outbox', { dedupe_key: effect.key }, {
      id: newId('obx'),
      kind: effect.kind,
      dedupe_key: effect.key,
      payload: JSON.stringify({ consultationId: id, roomSid }),
      status: 'pending',
      attempts: 0,
      next_attempt_at: now,
      locked_by: null,
      locked_until: null,
      last_error: null,
      created_at: now,
      done_at: null,
    });
    queued ||= inserted;
  }
  return queued;
}
