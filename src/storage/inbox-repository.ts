/**
 * The callback inbox: the database, through the UNIQUE dedupe_key, is the authority on whether
 * an event was seen before — also when two connections (processes, instances) insert the same
 * event at the same instant: the second waits for the first to commit and is then refused.
 */
import { sql, type Kysely } from 'kysely';
import { capabilitiesOf } from './dialect-capabilities.js';
import type { Database, NewCallback } from './schema.js';
import { shapedStatement } from './shaped-statement.js';

/** Rows per INSERT statement: 16 columns each stays far below every engine's parameter limit. */
const CHUNK = 200;
/**
 * And bytes per INSERT statement: a row's params can be hundreds of KiB (a 64 KiB body of escapes
 * grows in JSON), and MySQL/MariaDB refuse — and drop the connection on — a statement larger than
 * max_allowed_packet (16 MiB by default). Counted as 3 bytes per UTF-16 unit, the UTF-8 worst case.
 */
const CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Inserts callbacks unless their dedupe_key is already stored.
 * @returns per row, in the order given: true if inserted, false if a duplicate (of a stored row
 *          or of an earlier row in the same call) was refused. Other errors (a NOT NULL, a type)
 *          are raised, never swallowed.
 * Rows must carry fresh ids from newId(): on MySQL the inserted rows are told apart by them.
 */
export async function insertCallbacks(db: Kysely<Database>, rows: readonly NewCallback[]): Promise<boolean[]> {
  const result = rows.map(() => false);
  const firstIndexByKey = new Map<string, number>();
  rows.forEach((row, index) => {
    if (!firstIndexByKey.has(row.dedupe_key)) firstIndexByKey.set(row.dedupe_key, index);
  });
  // One row per key; in key order, so that concurrent batches take their locks in the same
  // order and cannot deadlock each other on PostgreSQL/MySQL.
  const candidates = [...firstIndexByKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, index]) => rows[index]!);

  const capabilities = capabilitiesOf(db);
  const insertedIds = new Set<string>();
  for (const chunk of chunks(candidates)) {
    if (capabilities.insertedRowDetection === 'returning') {
      for (const row of (await insertReturning(db, chunk)).rows) insertedIds.add(row.id);
    } else {
      await insertGuarded(db, chunk);
      const stored = await callbackIds(
        db,
        chunk.map((row) => row.id),
      );
      for (const row of stored.rows) insertedIds.add(row.id);
    }
  }
  for (const index of firstIndexByKey.values()) result[index] = insertedIds.has(rows[index]!.id);
  return result;
}

/** insertCallbacks(rows) is one INSERT (on its own, it commits atomically). */
export function insertsInOneStatement(rows: readonly NewCallback[]): boolean {
  return chunks(rows).length <= 1;
}

/** The multi-row insert, guarded against a stored (or repeated) dedupe_key. */
function guardedInsert(db: Kysely<Database>, rows: readonly NewCallback[]) {
  const insert = db.insertInto('callbacks').values(rows);
  return capabilitiesOf(db).insertIfAbsent === 'on-conflict-do-nothing'
    ? insert.onConflict((oc) => oc.column('dedupe_key').doNothing())
    : insert.onDuplicateKeyUpdate({ id: sql.ref('id') }); // a no-op that raises nothing else
}

// Compiled once per shape — per number of rows (shaped-statement.ts): one per group commit.
const insertReturning = shapedStatement('insertCallbacks', (db, rows: readonly NewCallback[]) => guardedInsert(db, rows).returning('id'));
const insertGuarded = shapedStatement('insertCallbacks', guardedInsert);
const callbackIds = shapedStatement('callbackIds', (db, ids: readonly string[]) =>
  db.selectFrom('callbacks').select('id').where('id', 'in', ids),
);

/** Consecutive runs of at most CHUNK rows and CHUNK_BYTES of params (a larger row goes alone). */
function chunks(rows: readonly NewCallback[]): NewCallback[][] {
  const result: NewCallback[][] = [];
  let current: NewCallback[] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = row.params.length * 3;
    if (current.length > 0 && (current.length === CHUNK || bytes + size > CHUNK_BYTES)) {
      result.push(current);
      current = [];
      bytes = 0;
    }
    current.push(row);
    bytes += size;
  }
  if (current.length > 0) result.push(current);
  return result;
}

/** A room's accepted callbacks: what the fold reads. */
export async function acceptedCallbacksOfRoom(db: Kysely<Database>, roomSid: string) {
  return db
    .selectFrom('callbacks')
    .select(['id', 'params', 'processed_at', 'source'])
    .where('status', '=', 'accepted')
    .where('room_sid', '=', roomSid)
    .execute();
}

/** The accepted callbacks of a consultation's rooms (rejoining: every room it had): what the fold reads. */
export async function acceptedCallbacksOfRooms(db: Kysely<Database>, roomSids: readonly string[]) {
  if (roomSids.length === 0) return [];
  return (await acceptedOfRooms(db, roomSids)).rows;
}

const acceptedOfRooms = shapedStatement('acceptedCallbacksOfRooms', (db, roomSids: readonly string[]) =>
  db
    .selectFrom('callbacks')
    .select(['id', 'params', 'processed_at', 'source'])
    .where('status', '=', 'accepted')
    .where('room_sid', 'in', roomSids),
);

/** The participants (PA…) the room's accepted callbacks name: Twilio gives each connection to a room its own SID. */
export async function participantSidsOfRoom(db: Kysely<Database>, roomSid: string): Promise<Set<string>> {
  const rows = await db
    .selectFrom('callbacks')
    .select('participant_sid')
    .distinct()
    .where('room_sid', '=', roomSid)
    .where('status', '=', 'accepted')
    .where('participant_sid', 'is not', null)
    .execute();
  return new Set(rows.map((row) => row.participant_sid!));
}

/** Those of these rooms that have an accepted callback stored (a consultation created for one cannot start from "no events"). */
export async function roomsWithAcceptedCallbacks(db: Kysely<Database>, roomSids: readonly string[]): Promise<Set<string>> {
  if (roomSids.length === 0) return new Set();
  const rows = await db
    .selectFrom('callbacks')
    .select('room_sid')
    .distinct()
    .where('room_sid', 'in', roomSids)
    .where('status', '=', 'accepted')
    .execute();
  return new Set(rows.map((row) => row.room_sid!));
}

/**
 * Whether an accepted callback of one of the consultation's rooms is stored (answered 204) but
 * not yet folded into its record: until it is, the record's status may be behind what Twilio
 * said (a decision on the status — a cancel — waits for it).
 */
export async function hasUnfoldedCallbacks(db: Kysely<Database>, id: string): Promise<boolean> {
  const rooms = db.selectFrom('consultation_rooms').select('room_sid').where('consultation_id', '=', id);
  const current = db.selectFrom('consultations').select('room_sid').where('id', '=', id).where('room_sid', 'is not', null);
  const row = await db
    .selectFrom('callbacks')
    .select('id')
    .where('status', '=', 'accepted')
    .where('processed_at', 'is', null)
    .where((eb) => eb.or([eb('room_sid', 'in', rooms), eb('room_sid', 'in', current)]))
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** The accepted callbacks of these rooms that no projection has folded yet (index callbacks_unfolded_idx, partial where the engine has them). */
export async function unfoldedCallbacksOfRooms(db: Kysely<Database>, roomSids: readonly string[]) {
  if (roomSids.length === 0) return [];
  return (await unfoldedOfRooms(db, roomSids)).rows;
}

// The fold's batch statements, compiled once per list length (shaped-statement.ts).
const unfoldedOfRooms = shapedStatement('unfoldedCallbacksOfRooms', (db, roomSids: readonly string[]) =>
  db
    .selectFrom('callbacks')
    .select(['id', 'room_sid', 'params', 'source'])
    .where('room_sid', 'in', roomSids)
    .where('processed_at', 'is', null)
    .where('status', '=', 'accepted'),
);
const markProcessed = shapedStatement('markCallbacksProcessed', (db, args: { ids: readonly string[]; now: string }) =>
  db.updateTable('callbacks').set({ processed_at: args.now }).where('id', 'in', args.ids),
);

/** Marks callbacks as folded into their consultation. */
export async function markCallbacksProcessed(db: Kysely<Database>, ids: readonly string[], now: string): Promise<void> {
  for (let start = 0; start < ids.length; start += 500) await markProcessed(db, { ids: ids.slice(start, start + 500), now });
}

/**
 * One page of the callbacks of a consultation's rooms (any status), in Twilio's Timestamp order, after the cursor;
 * `limit + 1` rows, so the caller knows if more follow.
 */
export async function listRoomCallbacksPage(
  db: Kysely<Database>,
  page: { roomSids: readonly string[]; limit: number; after?: { eventTimestamp: string; id: string } },
) {
  if (page.roomSids.length === 0) return [];
  let query = db
    .selectFrom('callbacks')
    .select(['id', 'room_sid', 'event_type', 'event_timestamp', 'participant_identity', 'status', 'held', 'source'])
    .where('room_sid', 'in', page.roomSids)
    .orderBy('event_timestamp')
    .orderBy('id')
    .limit(page.limit + 1);
  const after = page.after;
  if (after) {
    query = query.where((eb) =>
      eb.or([
        eb('event_timestamp', '>', after.eventTimestamp),
        eb.and([eb('event_timestamp', '=', after.eventTimestamp), eb('id', '>', after.id)]),
      ]),
    );
  }
  return query.execute();
}

/** Every callback of a room (any status), in Twilio's Timestamp order: the raw timeline. */
export async function roomCallbackTimeline(db: Kysely<Database>, roomSid: string, options: { withTrackEvents?: boolean } = {}) {
  let query = db
    .selectFrom('callbacks')
    .select(['event_type', 'event_timestamp', 'participant_identity', 'status'])
    .where('room_sid', '=', roomSid);
  if (options.withTrackEvents === false) query = query.where('event_type', 'not like', 'track-%');
  return query.orderBy('event_timestamp').orderBy('id').execute();
}

/** Number of inbox rows per status. */
export async function countCallbacksByStatus(db: Kysely<Database>): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('callbacks')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));
}
