/**
 * The reconciler's SQL: which consultations are overdue, what their rooms' inbox holds, writing
 * reconciled facts as inbox rows (the same UNIQUE dedupe_key decides), releasing confirmed late
 * callbacks, and the lease that lets one instance at a time reconcile.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { newId } from './ids.js';
import { insertCallbacks } from './inbox-repository.js';
import { insertIfAbsent } from './insert-if-absent.js';
import type { Database, NewCallback } from './schema.js';

export type OverdueReason = 'late-callbacks' | 'quiet' | 'ended' | 'composition';

export interface OverdueQuery {
  /** Not final and unchanged (and not reconciled) since before this: compare with Twilio. */
  readonly quietBefore: string;
  /** Ended before this (and after endedAfter), never reconciled: compare once. */
  readonly endedBefore: string;
  readonly endedAfter: string;
  /** A composition requested (or last changed) before this and not available. */
  readonly compositionBefore: string;
  readonly limit: number;
}

/** Consultations whose record may be missing what Twilio knows, each with why (first reason wins: late, composition, quiet, ended). */
export async function findOverdueConsultations(db: Kysely<Database>, query: OverdueQuery): Promise<Map<string, OverdueReason>> {
  const found = new Map<string, OverdueReason>();
  const add = (rows: { id: string }[], reason: OverdueReason) => {
    for (const row of rows) if (!found.has(row.id) && found.size < query.limit) found.set(row.id, reason);
  };
  // A late callback of any room of the consultation: its current one, or an earlier one
  // (rejoining) through consultation_rooms — two joins on an index each, not one on an OR.
  for (const late of [lateOfCurrentRoom(db), lateOfAnyRoom(db)]) {
    add(
      await late
        .where('callbacks.held', '=', 'late')
        // Held since the last comparison: one Twilio did not confirm then is not asked about again
        // at every pass (it stays held; a newer late callback brings the consultation back).
        .where((eb) =>
          eb.or([eb('consultations.reconciled_at', 'is', null), eb('consultations.reconciled_at', '<', eb.ref('callbacks.received_at'))]),
        )
        .limit(query.limit)
        .execute(),
      'late-callbacks',
    );
  }
  add(
    await db
      .selectFrom('compositions')
      .innerJoin('consultations', 'consultations.id', 'compositions.consultation_id')
      .select('consultations.id')
      .distinct() // a row per room: a consultation once
      .where('compositions.status', 'in', ['enqueued', 'started'])
      .where('compositions.updated_at', '<', query.compositionBefore)
      .where((eb) =>
        eb.or([eb('consultations.reconciled_at', 'is', null), eb('consultations.reconciled_at', '<', query.compositionBefore)]),
      )
      .limit(query.limit)
      .execute(),
    'composition',
  );
  add(
    await db
      .selectFrom('consultations')
      .select('id')
      .where('status', 'in', ['scheduled', 'waiting', 'in-progress'])
      .where('room_sid', 'is not', null)
      .where('updated_at', '<', query.quietBefore)
      .where((eb) => eb.or([eb('reconciled_at', 'is', null), eb('reconciled_at', '<', query.quietBefore)]))
      .orderBy('updated_at')
      .limit(query.limit)
      .execute(),
    'quiet',
  );
  add(
    await db
      .selectFrom('consultations')
      .select('id')
      .where('status', 'in', ['completed', 'no-show'])
      .where('reconciled_at', 'is', null)
      .where('ended_at', '<', query.endedBefore)
      .where('ended_at', '>', query.endedAfter)
      .orderBy('ended_at')
      .limit(query.limit)
      .execute(),
    'ended',
  );
  return found;
}

const lateOfCurrentRoom = (db: Kysely<Database>) =>
  db
    .selectFrom('callbacks')
    .innerJoin('consultations', 'consultations.room_sid', 'callbacks.room_sid')
    .select('consultations.id')
    .distinct();

const lateOfAnyRoom = (db: Kysely<Database>) =>
  db
    .selectFrom('callbacks')
    .innerJoin('consultation_rooms', 'consultation_rooms.room_sid', 'callbacks.room_sid')
    .innerJoin('consultations', 'consultations.id', 'consultation_rooms.consultation_id')
    .select('consultations.id')
    .distinct();

export async function loadConsultationForReconcile(db: Kysely<Database>, id: string) {
  return db
    .selectFrom('consultations')
    .select(['id', 'tenant_id', 'room_sid', 'room_name', 'account_sid', 'status', 'record', 'ended_at', 'updated_at'])
    .where('id', '=', id)
    .executeTakeFirst();
}

/** The room's inbox rows that the record is made of (accepted) or may be (held late). */
export async function loadRoomInbox(db: Kysely<Database>, roomSid: string) {
  return db
    .selectFrom('callbacks')
    .select(['id', 'params', 'status', 'held', 'source', 'event_type', 'participant_sid', 'event_timestamp', 'received_at'])
    .where('room_sid', '=', roomSid)
    .where((eb) => eb.or([eb('status', '=', 'accepted'), eb('held', '=', 'late')]))
    .execute();
}

/** The rooms of a consultation whose composition was requested and is not available or failed yet. */
export async function roomsWithCompositionWaiting(db: Kysely<Database>, consultationId: string): Promise<Set<string>> {
  const rows = await db
    .selectFrom('compositions')
    .select('room_sid')
    .where('consultation_id', '=', consultationId)
    .where('status', 'in', ['enqueued', 'started'])
    .execute();
  return new Set(rows.map((row) => row.room_sid));
}

export async function loadIssuedIdentities(db: Kysely<Database>, consultationId: string): Promise<Set<string>> {
  const rows = await db.selectFrom('issued_identities').select('identity').where('consultation_id', '=', consultationId).execute();
  return new Set(rows.map((row) => row.identity));
}

/**
 * The inbox key of a reconciled fact: `r` + 63 hex digits of SHA-256 over room and fact — never
 * equal to an event key (64 hex) or a quarantined body's key (`q…`). Writing the same fact twice
 * (two passes, two instances) is therefore a no-op.
 */
export function reconciledDedupeKey(roomSid: string, fact: string): string {
  return `r${createHash('sha256').update(`${roomSid}\u0000${fact}`).digest('hex').slice(0, 63)}`;
}

export interface ReconciledRowInput {
  readonly roomSid: string;
  readonly accountSid: string;
  readonly fact: string;
  readonly event: string;
  readonly params: readonly (readonly [string, string])[];
  readonly now: string;
  /** Default 'reconciled'. */
  readonly source?: 'reconciled' | 'operator';
}

export function reconciledRow(input: ReconciledRowInput): NewCallback {
  const field = (name: string) => input.params.find(([key]) => key === name)?.[1];
  const timestamp = field('Timestamp') ?? input.now;
  return {
    id: newId('cb'),
    dedupe_key: reconciledDedupeKey(input.roomSid, input.source === 'operator' ? `operator ${input.fact}` : input.fact),
    idempotency_token: null,
    account_sid: input.accountSid,
    room_sid: input.roomSid,
    composition_sid: field('CompositionSid') ?? null,
    event_type: input.event,
    event_timestamp: new Date(timestamp).toISOString(),
    sequence_number: null,
    participant_sid: field('ParticipantSid') ?? null,
    participant_identity: field('ParticipantIdentity') ?? null,
    params: JSON.stringify(input.params),
    status: 'accepted',
    received_at: input.now,
    processed_at: null,
    source: input.source ?? 'reconciled',
  };
}

/** @returns how many rows were new */
export async function insertReconciledFacts(db: Kysely<Database>, rows: readonly NewCallback[]): Promise<number> {
  if (rows.length === 0) return 0;
  return (await insertCallbacks(db, rows)).filter(Boolean).length;
}

/** Late callbacks confirmed by the REST API become accepted (to be folded). @returns how many. */
export async function releaseHeldCallbacks(db: Kysely<Database>, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await db
    .updateTable('callbacks')
    .set({ status: 'accepted', held: null, processed_at: null })
    .where('id', 'in', [...ids])
    .where('held', '=', 'late')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function markReconciled(db: Kysely<Database>, id: string, now: string): Promise<void> {
  await db.updateTable('consultations').set({ reconciled_at: now }).where('id', '=', id).execute();
}

/** What the reconciler compares before and after, to know whether it changed the record. */
export async function recordDigest(db: Kysely<Database>, id: string): Promise<string> {
  const [row, sessions, recordings, compositions, billing] = await Promise.all([
    db.selectFrom('consultations').select(['status', 'started_at', 'ended_at']).where('id', '=', id).executeTakeFirst(),
    db
      .selectFrom('participant_sessions')
      .select(['participant_sid', 'connected_at', 'disconnected_at'])
      .where('consultation_id', '=', id)
      .orderBy('participant_sid')
      .execute(),
    db.selectFrom('recordings').select(['recording_sid', 'status']).where('consultation_id', '=', id).orderBy('recording_sid').execute(),
    db
      .selectFrom('compositions')
      .select(['room_sid', 'status', 'composition_sid'])
      .where('consultation_id', '=', id)
      .orderBy('room_sid')
      .execute(),
    db.selectFrom('billing_records').select(['billable_seconds', 'rounded_seconds']).where('consultation_id', '=', id).executeTakeFirst(),
  ]);
  return JSON.stringify([row, sessions, recordings, compositions, billing ?? null]);
}

/** The Timestamp of the room's last applied event (ISO), if any: where an operator's completion closes the record. */
export async function lastEventAt(db: Kysely<Database>, roomSid: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('callbacks')
    .select((eb) => eb.fn.max('event_timestamp').as('last'))
    .where('room_sid', '=', roomSid)
    .where('status', '=', 'accepted')
    .executeTakeFirst();
  return row?.last ?? undefined;
}

/** Composition SIDs the record saw fail: a retry must not adopt one of them. */
export async function failedCompositionSids(db: Kysely<Database>, roomSid: string): Promise<Set<string>> {
  const rows = await db
    .selectFrom('callbacks')
    .select('composition_sid')
    .where('room_sid', '=', roomSid)
    .where('status', '=', 'accepted')
    .where('event_type', '=', 'composition-failed')
    .execute();
  return new Set(rows.map((row) => row.composition_sid).filter((sid): sid is string => sid !== null));
}

/**
 * Takes (or renews) the named lease for `holder` until `expiresAt`, unless another holder's lease
 * is still running. A compare-and-set UPDATE: on every engine, one caller wins.
 * @returns true when `holder` now holds the lease
 */
export async function acquireLease(db: Kysely<Database>, name: string, holder: string, now: string, expiresAt: string): Promise<boolean> {
  if (await insertIfAbsent(db, 'reconcile_leases', { name }, { name, holder, expires_at: expiresAt })) return true;
  const result = await db
    .updateTable('reconcile_leases')
    .set({ holder, expires_at: expiresAt })
    .where('name', '=', name)
    .where((eb) => eb.or([eb('holder', '=', holder), eb('expires_at', '<', now)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function releaseLease(db: Kysely<Database>, name: string, holder: string): Promise<void> {
  await db.deleteFrom('reconcile_leases').where('name', '=', name).where('holder', '=', holder).execute();
}
