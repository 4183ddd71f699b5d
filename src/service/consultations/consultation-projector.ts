/**
 * Recomputes a consultation's record from all its accepted callbacks (the pure fold in core) and
 * writes it, inside the ingesting transaction. Side effects are queued in the outbox under the
 * keys the fold gives them, so the database itself keeps each to one; the billing record is
 * unique per consultation. Returns the live events the change produced, published after commit.
 */
import { isVideoEvent } from '../../core/consultation/consultation-event.js';
import { parseVideoEvent } from '../../core/consultation/video-event-from-callback.js';
import { foldConsultation, type ConsultationRecord } from '../../core/consultation/consultation-state.js';
import { newId } from '../../storage/ids.js';
import { insertIfAbsent } from '../../storage/insert-if-absent.js';
import { lockConsultations } from '../../storage/row-locks.js';
import type { StoreTransaction } from '../../storage/store.js';
import type { LiveEvent } from '../live/live-events.js';
import { ensureCompositionRow } from './composition-row.js';

export interface ProjectionResult {
  readonly live: LiveEvent[];
  /** True when new outbox entries were queued (the worker is woken after commit). */
  readonly queuedEffects: boolean;
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
  // cannot see yet: the row lock makes it wait, then read them.
  const ids = [...consultationIds].sort();
  await lockConsultations(trx, ids);
  for (const id of ids) {
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
    .select(['id', 'params', 'processed_at', 'source'])
    .where('status', '=', 'accepted')
    .where('room_sid', '=', consultation.room_sid ?? '')
    .execute();
  // The same schema parse that admitted each callback (one reading of every field); a fact the
  // reconciler read from Twilio's REST API is marked so, and gives way to a callback of the same fact.
  const events = callbacks
    .map((row) => {
      const event = parseVideoEvent(JSON.parse(row.params) as [string, string][]);
      return isVideoEvent(event) && row.source !== 'callback' ? { ...event, source: row.source } : event;
    })
    .filter(isVideoEvent);
  const roomSid = consultation.room_sid;
  if (!roomSid) return { live: [], queuedEffects: false };
  const newlyFolded = callbacks.filter((row) => row.processed_at === null).map((row) => row.id);
  if (newlyFolded.length > 0) await trx.updateTable('callbacks').set({ processed_at: now }).where('id', 'in', newlyFolded).execute();

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
  // Only what changed is written: most callbacks touch one session or one recording.
  const startedAt = iso(record.startedAt);
  const endedAt = iso(record.endedAt);
  if (before.status !== record.status || before.startedAt !== startedAt || before.endedAt !== endedAt) {
    await trx
      .updateTable('consultations')
      .set({ status: record.status, started_at: startedAt, ended_at: endedAt, updated_at: now, version: consultation.version + 1 })
      .where('id', '=', id)
      .execute();
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
    trx.selectFrom('consultations').select(['status', 'started_at', 'ended_at']).where('id', '=', id).executeTakeFirstOrThrow(),
    trx
      .selectFrom('participant_sessions')
      .select(['participant_sid', 'identity', 'connected_at', 'disconnected_at'])
      .where('consultation_id', '=', id)
      .execute(),
    trx
      .selectFrom('recordings')
      .select(['recording_sid', 'track_name', 'status', 'duration', 'size', 'media_uri', 'created_at', 'completed_at'])
      .where('consultation_id', '=', id)
      .execute(),
    trx.selectFrom('compositions').select(['status', 'composition_sid', 'media_uri']).where('consultation_id', '=', id).executeTakeFirst(),
    trx
      .selectFrom('billing_records')
      .select(['billable_seconds', 'rounded_seconds', 'intervals'])
      .where('consultation_id', '=', id)
      .executeTakeFirst(),
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
    if (previous) {
      await trx
        .updateTable('participant_sessions')
        .set(fields)
        .where('consultation_id', '=', id)
        .where('participant_sid', '=', session.participantSid)
        .execute();
    } else {
      await trx
        .insertInto('participant_sessions')
        .values({
          id: newId('ps'), // the UNIQUE (consultation, participant SID) decides, not the id
          consultation_id: id,
          participant_sid: session.participantSid,
          ...fields,
        })
        .execute();
    }
  }
  const gone = [...before.keys()].filter((sid) => !keep.has(sid));
  if (gone.length > 0)
    await trx.deleteFrom('participant_sessions').where('consultation_id', '=', id).where('participant_sid', 'in', gone).execute();
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
      status: recording.status,
      duration: recording.duration ?? null,
      size: recording.size ?? null,
      media_uri: recording.mediaUri ?? null,
      created_at: iso(recording.startedAt) ?? before.get(recording.recordingSid)?.created_at ?? now,
      completed_at: iso(recording.completedAt),
    };
    const previous = before.get(recording.recordingSid);
    if (same(previous, fields)) continue;
    if (previous) {
      await trx.updateTable('recordings').set(fields).where('recording_sid', '=', recording.recordingSid).execute();
    } else {
      await trx
        .insertInto('recordings')
        .values({ id: newId('rec'), consultation_id: id, recording_sid: recording.recordingSid, ...fields })
        .execute();
    }
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
  billed: Snapshot['billing'],
  now: string,
): Promise<boolean> {
  let queued = false;
  const outboxKeys = record.effects.filter((effect) => effect.kind !== 'record-billing').map((effect) => effect.key);
  const known = new Set(
    outboxKeys.length === 0
      ? []
      : (await trx.selectFrom('outbox').select('dedupe_key').where('dedupe_key', 'in', outboxKeys).execute()).map((row) => row.dedupe_key),
  );
  for (const effect of record.effects) {
    if (effect.kind === 'record-billing') {
      const row = {
        billable_seconds: effect.billing.billableSeconds,
        rounded_seconds: effect.billing.roundedSeconds,
        intervals: JSON.stringify(effect.billing.intervals.map((interval) => ({ start: iso(interval.start), end: iso(interval.end) }))),
      };
      if (same(billed, row)) continue;
      const inserted = await insertIfAbsent(
        trx,
        'billing_records',
        { consultation_id: id },
        { id: newId('bil'), consultation_id: id, tenant_id: tenantId, created_at: now, ...row },
      );
      // Still one record: a late event that changes the overlap corrects it in place.
      if (!inserted) await trx.updateTable('billing_records').set(row).where('consultation_id', '=', id).execute();
      continue;
    }
    if (known.has(effect.key)) continue;
    const inserted = await insertIfAbsent(
      trx,
      'outbox',
      { dedupe_key: effect.key },
      {
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
      },
    );
    queued ||= inserted;
  }
  return queued;
}
