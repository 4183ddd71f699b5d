/**
 * The consultations table: every query on it, written once, named for what it returns.
 * Functions take the database or a transaction (a Transaction is a Kysely).
 */
import { sql, type Kysely } from 'kysely';
import { initialFoldState } from '../core/consultation/consultation-state.js';
import { statusHistoryJson } from '../core/consultation/status-history.js';
import { insertFirstRooms } from './consultation-room-repository.js';
import { roomsWithAcceptedCallbacks } from './inbox-repository.js';
import type { ConsultationUpdate, Database, IsoTimestamp } from './schema.js';
import { shapedStatement } from './shaped-statement.js';

type Db = Kysely<Database>;

/** A consultation as the API (or a test, or a bench) creates it, before Twilio calls back. */
export interface NewConsultation {
  readonly id: string;
  readonly tenantId: string;
  readonly roomName: string;
  readonly roomSid: string | null;
  /** The Twilio account (AC…) the room is created under; null for a pre-0004 row. */
  readonly accountSid: string | null;
  readonly record: boolean;
  readonly scheduledAt: IsoTimestamp | null;
  readonly now: IsoTimestamp;
  /** The platform's own reference, unique per tenant (a second one → StoreConstraintError 'unique'). */
  readonly externalRef?: string | null;
  /** A small object of the platform's labels (no personal data). */
  readonly metadata?: Record<string, string> | null;
  /** The slot's length; with scheduledAt it makes the appointment window. */
  readonly durationMinutes?: number | null;
  /** The waiting room; null → the tenant's setting. */
  readonly waitingRoom?: boolean | null;
  /** 'new' | 'established': picks the billing evidence's code ladder. */
  readonly patientStatus?: string | null;
  /** The appointment window's end (the no-show sweep's key). */
  readonly windowClosesAt?: IsoTimestamp | null;
}

/**
 * Inserts scheduled consultations, each with its first room (one statement per 200 of each).
 * Each starts with the fold state of no events (and its status history), so the projector steps
 * its first callbacks onto it instead of folding it again from the inbox — unless its room
 * already has accepted callbacks (a fixture's, given a room SID): NULL then, and the first fold
 * reads them all. A room SID given costs one read per 200; the API's (SID still unknown) none.
 */
export async function insertConsultations(db: Db, consultations: readonly NewConsultation[]): Promise<void> {
  const initial = initialFoldState();
  const foldStart = { fold_state: JSON.stringify(initial), status_history: statusHistoryJson(initial.timeline) };
  for (let start = 0; start < consultations.length; start += 200) {
    const chunk = consultations.slice(start, start + 200);
    const called = await roomsWithAcceptedCallbacks(
      db,
      chunk.flatMap((consultation) => (consultation.roomSid === null ? [] : [consultation.roomSid])),
    );
    await db
      .insertInto('consultations')
      .values(
        chunk.map((consultation) => ({
          id: consultation.id,
          tenant_id: consultation.tenantId,
          room_sid: consultation.roomSid,
          room_name: consultation.roomName,
          account_sid: consultation.accountSid,
          status: 'scheduled',
          record: consultation.record ? 1 : 0,
          scheduled_at: consultation.scheduledAt,
          started_at: null,
          ended_at: null,
          created_at: consultation.now,
          updated_at: consultation.now,
          version: 0,
          external_ref: consultation.externalRef ?? null,
          metadata: consultation.metadata ? JSON.stringify(consultation.metadata) : null,
          duration_minutes: consultation.durationMinutes ?? null,
          window_closes_at: consultation.windowClosesAt ?? null,
          patient_status: consultation.patientStatus ?? null,
          waiting_room:
            consultation.waitingRoom === undefined || consultation.waitingRoom === null ? null : consultation.waitingRoom ? 1 : 0,
          ...(consultation.roomSid !== null && called.has(consultation.roomSid) ? { fold_state: null, status_history: null } : foldStart),
        })),
      )
      .execute();
    await insertFirstRooms(
      db,
      chunk.map((consultation) => ({
        consultationId: consultation.id,
        roomName: consultation.roomName,
        roomSid: consultation.roomSid,
        now: consultation.now,
      })),
    );
  }
}

/**
 * Records the room Twilio created (and, when Twilio named it, the account that owns it). Safe to
 * run twice. When the room's first callback overtook Twilio's answer, the webhook's screening has
 * recorded the same SID already (claimConsultationRoomSid, both tables in one transaction) and the
 * projector may be folding the consultation with its row locked: then nothing is written, so the
 * API's answer does not wait behind that fold.
 */
export async function setConsultationRoom(db: Db, id: string, room: { roomSid: string; accountSid?: string }): Promise<void> {
  const current = await db.selectFrom('consultations').select(['room_sid', 'account_sid']).where('id', '=', id).executeTakeFirst();
  if (current?.room_sid === room.roomSid && (room.accountSid === undefined || current.account_sid === room.accountSid)) return;
  await db
    .updateTable('consultations')
    .set({ room_sid: room.roomSid, ...(room.accountSid ? { account_sid: room.accountSid } : {}) })
    .where('id', '=', id)
    .execute();
  await db
    .updateTable('consultation_rooms')
    .set({ room_sid: room.roomSid })
    .where('consultation_id', '=', id)
    .where('sequence', '=', 1)
    .where('room_sid', 'is', null)
    .execute();
}

/**
 * Sets the SID of a consultation's room that has none yet (a callback overtook the API's write):
 * in its rooms, and on the consultation when it is the current room.
 */
export async function claimConsultationRoomSid(db: Db, id: string, roomSid: string, roomName: string): Promise<void> {
  await db
    .updateTable('consultation_rooms')
    .set({ room_sid: roomSid })
    .where('consultation_id', '=', id)
    .where('room_name', '=', roomName)
    .where('room_sid', 'is', null)
    .execute();
  await db
    .updateTable('consultations')
    .set({ room_sid: roomSid })
    .where('id', '=', id)
    .where('room_name', '=', roomName)
    .where('room_sid', 'is', null)
    .execute();
}

export async function markConsultationCancelled(db: Db, id: string, now: IsoTimestamp): Promise<void> {
  await db.updateTable('consultations').set({ status: 'cancelled', updated_at: now }).where('id', '=', id).execute();
}

/** The whole row, only when it belongs to the tenant. */
export async function findTenantConsultation(db: Db, tenantId: string, id: string) {
  return db.selectFrom('consultations').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
}

/** The status of one consultation, or undefined. */
export async function findConsultationStatus(db: Db, id: string): Promise<string | undefined> {
  return (await db.selectFrom('consultations').select('status').where('id', '=', id).executeTakeFirst())?.status;
}

/** A consultation's statuses with the moment each was entered (JSON text), or undefined. */
export async function findConsultationStatusHistory(db: Db, id: string): Promise<string | null | undefined> {
  return (await db.selectFrom('consultations').select('status_history').where('id', '=', id).executeTakeFirst())?.status_history;
}

/** One page of a tenant's consultations, newest first; `limit + 1` rows, so the caller knows if more follow. */
export async function listTenantConsultationsPage(
  db: Db,
  page: { tenantId: string; limit: number; status?: string; externalRef?: string; before?: { createdAt: string; id: string } },
) {
  let query = db
    .selectFrom('consultations')
    .selectAll()
    .where('tenant_id', '=', page.tenantId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(page.limit + 1);
  if (page.status) query = query.where('status', '=', page.status);
  if (page.externalRef !== undefined) query = query.where('external_ref', '=', page.externalRef);
  const before = page.before;
  if (before) {
    query = query.where((eb) =>
      eb.or([eb('created_at', '<', before.createdAt), eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)])]),
    );
  }
  return query.execute();
}

/** The tenant's consultation with this external reference, if any. */
export async function findConsultationByExternalRef(db: Db, tenantId: string, externalRef: string) {
  return db
    .selectFrom('consultations')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('external_ref', '=', externalRef)
    .executeTakeFirst();
}

/**
 * Cancels the consultation if it is still `scheduled` or `waiting` (the check and the change are
 * one statement: a callback that starts it meanwhile wins). Returns whether it was cancelled.
 */
export async function cancelOpenConsultation(db: Db, tenantId: string, id: string, now: IsoTimestamp): Promise<boolean> {
  const result = await db
    .updateTable('consultations')
    .set((eb) => ({ status: 'cancelled', ended_at: now, updated_at: now, version: eb('version', '+', 1) }))
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .where('status', 'in', ['scheduled', 'waiting'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * The consultations a batch of callbacks may belong to, one row per matching room (any of a
 * consultation's rooms, migration 0012): by room SID, or by room name while the SID is unknown.
 */
export async function findConsultationsForRooms(db: Db, roomSids: readonly string[], roomNames: readonly string[]) {
  if (roomSids.length === 0) return [];
  const { rows } = await consultationsForRooms(db, { roomSids, roomNames });
  const strip = ({ own_row: _ownRow, ...row }: (typeof rows)[number]) => row;
  const rooms = rows.filter((row) => Number(row.own_row) === 0).map(strip);
  const seen = new Set(rooms.map((row) => row.room_name));
  return [...rooms, ...rows.filter((row) => Number(row.own_row) === 1 && !seen.has(row.room_name)).map(strip)];
}

// One statement (one round trip on the inbox's hot path): every room of a consultation
// (rejoining, migration 0012), then — tagged — the consultations' own current room, for one
// written without its rooms row (fixtures, rows from before 0012 on a partial copy). Compiled
// once per pair of list lengths (shaped-statement.ts): one per inbox batch.
const consultationsForRooms = shapedStatement(
  'findConsultationsForRooms',
  (db, { roomSids, roomNames }: { roomSids: readonly string[]; roomNames: readonly string[] }) =>
    db
      .selectFrom('consultation_rooms')
      .innerJoin('consultations', 'consultations.id', 'consultation_rooms.consultation_id')
      .select([
        'consultations.id',
        'consultations.tenant_id',
        'consultation_rooms.room_sid',
        'consultation_rooms.room_name',
        'consultations.account_sid',
        sql<number>`0`.as('own_row'),
      ])
      .where((eb) =>
        eb.or([
          eb('consultation_rooms.room_sid', 'in', roomSids),
          ...(roomNames.length
            ? [eb.and([eb('consultation_rooms.room_sid', 'is', null), eb('consultation_rooms.room_name', 'in', roomNames)])]
            : []),
        ]),
      )
      .unionAll(
        db
          .selectFrom('consultations')
          .select(['id', 'tenant_id', 'room_sid', 'room_name', 'account_sid', sql<number>`1`.as('own_row')])
          .where((eb) =>
            eb.or([
              eb('room_sid', 'in', roomSids),
              ...(roomNames.length ? [eb.and([eb('room_sid', 'is', null), eb('room_name', 'in', roomNames)])] : []),
            ]),
          ),
      ),
);

/** What the projector needs of these consultations and their tenants: one statement for a batch. */
export async function findConsultationsForProjection(db: Db, ids: readonly string[]) {
  if (ids.length === 0) return [];
  return (await consultationsForProjection(db, ids)).rows;
}

const consultationsForProjection = shapedStatement('findConsultationsForProjection', (db, ids: readonly string[]) =>
  db
    .selectFrom('consultations')
    .innerJoin('tenants', 'tenants.id', 'consultations.tenant_id')
    .select([
      'consultations.id',
      'consultations.tenant_id',
      'consultations.room_sid',
      'consultations.record',
      'consultations.status',
      'consultations.started_at',
      'consultations.ended_at',
      'consultations.version',
      'consultations.fold_state',
      'consultations.no_show_missing',
      'consultations.window_closes_at',
      'consultations.closed_at',
      'consultations.patient_status',
      'tenants.billing_rounding_seconds',
      'tenants.kind as tenant_kind',
      'tenants.billing_code_set',
      'tenants.billing_flat_mode',
      'tenants.consent_mode',
    ])
    .where('consultations.id', 'in', ids),
);

export async function updateConsultation(db: Db, id: string, fields: ConsultationUpdate): Promise<void> {
  await updateConsultationRow(db, { id, fields });
}

// Compiled once per shape (shaped-statement.ts): the projector runs it for most callbacks.
const updateConsultationRow = shapedStatement('updateConsultation', (db, args: { id: string; fields: ConsultationUpdate }) =>
  db.updateTable('consultations').set(args.fields).where('id', '=', args.id),
);

/** Consultations with accepted callbacks that no projection has folded yet (left by a crash). */
export async function consultationsWithUnfoldedCallbacks(db: Db): Promise<string[]> {
  const current = await db
    .selectFrom('callbacks')
    .innerJoin('consultations', 'consultations.room_sid', 'callbacks.room_sid')
    .select('consultations.id')
    .distinct()
    .where('callbacks.processed_at', 'is', null)
    .where('callbacks.status', '=', 'accepted')
    .execute();
  // …and those of its earlier rooms (rejoining, migration 0012).
  const earlier = await db
    .selectFrom('callbacks')
    .innerJoin('consultation_rooms', 'consultation_rooms.room_sid', 'callbacks.room_sid')
    .select('consultation_rooms.consultation_id as id')
    .distinct()
    .where('callbacks.processed_at', 'is', null)
    .where('callbacks.status', '=', 'accepted')
    .execute();
  return [...new Set([...current, ...earlier].map((row) => row.id))];
}

/** Number of consultations per status. */
export async function countConsultationsByStatus(db: Db): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('consultations')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));
}
