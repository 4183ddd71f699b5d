/**
 * consultation_rooms (migration 0012): every room of a consultation, in order. The first is
 * written with the consultation; a later one is claimed (UNIQUE consultation_id + sequence: two
 * token requests racing to reopen create it once), then given its SID once Twilio answered.
 * `consultations.room_sid` / `room_name` follow the current (latest) room.
 */
import type { Kysely } from 'kysely';
import { insertIfAbsent } from './insert-if-absent.js';
import { shapedStatement } from './shaped-statement.js';
import type { Database, IsoTimestamp } from './schema.js';

type Db = Kysely<Database>;

export interface ConsultationRoom {
  readonly consultationId: string;
  readonly sequence: number;
  readonly roomName: string;
  readonly roomSid: string | null;
  readonly createdAt: IsoTimestamp;
  readonly endedAt: IsoTimestamp | null;
}

/** The first room of each new consultation (insertConsultations calls it). */
export async function insertFirstRooms(
  db: Db,
  rooms: readonly { consultationId: string; roomName: string; roomSid: string | null; now: IsoTimestamp }[],
): Promise<void> {
  if (rooms.length === 0) return;
  await db
    .insertInto('consultation_rooms')
    .values(
      rooms.map((room) => ({
        room_name: room.roomName,
        consultation_id: room.consultationId,
        sequence: 1,
        room_sid: room.roomSid,
        created_at: room.now,
        ended_at: null,
      })),
    )
    .execute();
}

/** The rooms of these consultations, in order (a consultation written without its rooms row: none). */
export async function listConsultationRooms(db: Db, consultationIds: readonly string[]): Promise<ConsultationRoom[]> {
  if (consultationIds.length === 0) return [];
  const { rows } = await roomsOf(db, consultationIds);
  return rows.map((row) => ({
    consultationId: row.consultation_id,
    sequence: row.sequence,
    roomName: row.room_name,
    roomSid: row.room_sid,
    createdAt: row.created_at,
    endedAt: row.ended_at,
  }));
}

/**
 * Claims the next room of a consultation: true when this call created row `sequence`, false when
 * another request did first (its room is the one to join).
 */
export async function claimNextRoom(
  db: Db,
  room: { consultationId: string; sequence: number; roomName: string; now: IsoTimestamp },
): Promise<boolean> {
  return insertIfAbsent(
    db,
    'consultation_rooms',
    { consultation_id: room.consultationId, sequence: room.sequence },
    {
      room_name: room.roomName,
      consultation_id: room.consultationId,
      sequence: room.sequence,
      room_sid: null,
      created_at: room.now,
      ended_at: null,
    },
  );
}

/** Makes a claimed room the consultation's current one: its name now, its SID once Twilio answered. */
export async function makeCurrentRoom(db: Db, consultationId: string, room: { roomName: string; roomSid: string | null }): Promise<void> {
  if (room.roomSid !== null) {
    await db.updateTable('consultation_rooms').set({ room_sid: room.roomSid }).where('room_name', '=', room.roomName).execute();
  }
  await db
    .updateTable('consultations')
    .set({ room_name: room.roomName, room_sid: room.roomSid })
    .where('id', '=', consultationId)
    .execute();
}

/** Withdraws a claimed room Twilio could not create (the next request claims it again). */
export async function releaseRoomClaim(db: Db, roomName: string): Promise<void> {
  await db.deleteFrom('consultation_rooms').where('room_name', '=', roomName).where('room_sid', 'is', null).execute();
}

/** Records a room's SID by its name (a callback overtook the API's write, or Twilio answered). */
export async function setRoomSidByName(db: Db, roomName: string, roomSid: string): Promise<void> {
  await db
    .updateTable('consultation_rooms')
    .set({ room_sid: roomSid })
    .where('room_name', '=', roomName)
    .where('room_sid', 'is', null)
    .execute();
}

/** Records rooms' ends as the fold saw them (only rooms not marked yet). */
export async function markRoomsEnded(db: Db, consultationId: string, ends: Readonly<Record<string, IsoTimestamp>>): Promise<void> {
  for (const [roomSid, endedAt] of Object.entries(ends)) await markRoomEnded(db, { consultationId, roomSid, endedAt });
}

// The fold runs these (every batch; every room's end): compiled once per shape (shaped-statement.ts).
const roomsOf = shapedStatement('listConsultationRooms', (db, consultationIds: readonly string[]) =>
  db
    .selectFrom('consultation_rooms')
    .selectAll()
    .where('consultation_id', 'in', consultationIds)
    .orderBy('consultation_id')
    .orderBy('sequence'),
);
const markRoomEnded = shapedStatement('markRoomEnded', (db, args: { consultationId: string; roomSid: string; endedAt: IsoTimestamp }) =>
  db
    .updateTable('consultation_rooms')
    .set({ ended_at: args.endedAt })
    .where('consultation_id', '=', args.consultationId)
    .where('room_sid', '=', args.roomSid)
    .where('ended_at', 'is', null),
);

/** Sets the consultation's close (first one wins). True when this call set it. */
export async function closeConsultation(db: Db, consultationId: string, at: IsoTimestamp): Promise<boolean> {
  const result = await db
    .updateTable('consultations')
    .set({ closed_at: at })
    .where('id', '=', consultationId)
    .where('closed_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Interrupted consultations whose window closed at or before `now` and that no one closed yet. */
export async function listInterruptedPastWindow(db: Db, now: IsoTimestamp, limit: number) {
  return db
    .selectFrom('consultations')
    .select(['id', 'tenant_id', 'window_closes_at'])
    .where('window_closes_at', '<=', now)
    .where('status', '=', 'interrupted')
    .where('closed_at', 'is', null)
    .orderBy('window_closes_at')
    .orderBy('id')
    .limit(limit)
    .execute();
}
