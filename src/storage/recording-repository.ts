/** Recordings and the compositions (one per room) of a consultation: every query on them, written once. */
import type { Insertable, Kysely, Updateable } from 'kysely';
import { newId } from './ids.js';
import { shapedStatement } from './shaped-statement.js';
import { insertIfAbsent } from './insert-if-absent.js';
import type { CompositionsTable, Database, IsoTimestamp, RecordingsTable } from './schema.js';

type Db = Kysely<Database>;

export async function listConsultationRecordings(db: Db, consultationId: string) {
  return db
    .selectFrom('recordings')
    .select([
      'recording_sid',
      'track_name',
      'participant_sid',
      'kind',
      'status',
      'duration',
      'size',
      'media_uri',
      'created_at',
      'completed_at',
      'consent_flag',
    ])
    .where('consultation_id', '=', consultationId)
    .orderBy('created_at')
    .execute();
}

export type RecordingFields = Omit<Updateable<RecordingsTable>, 'id' | 'consultation_id' | 'recording_sid'>;

/** New recordings of a consultation: one multi-row INSERT (one round trip however many). */
export async function insertRecordings(
  db: Db,
  consultationId: string,
  recordings: readonly { recordingSid: string; fields: RecordingFields & { created_at: IsoTimestamp; status: string } }[],
): Promise<void> {
  if (recordings.length === 0) return;
  await insertRecordingRows(
    db,
    recordings.map(({ recordingSid, fields }) => ({
      id: newId('rec'),
      consultation_id: consultationId,
      recording_sid: recordingSid,
      ...fields,
    })),
  );
}

// Compiled once per shape (shaped-statement.ts): the projector runs these for most callbacks.
const insertRecordingRows = shapedStatement('insertRecordings', (db, rows: Insertable<RecordingsTable>[]) =>
  db.insertInto('recordings').values(rows),
);
const updateRecordingRow = shapedStatement('updateRecording', (db, args: { recordingSid: string; fields: RecordingFields }) =>
  db.updateTable('recordings').set(args.fields).where('recording_sid', '=', args.recordingSid),
);

export async function updateRecording(db: Db, recordingSid: string, fields: RecordingFields): Promise<void> {
  await updateRecordingRow(db, { recordingSid, fields });
}

/**
 * The consultation's compositions, one per room that was composed, in the rooms' order
 * (consultation_rooms.sequence; a room not listed there last).
 */
export async function findConsultationCompositions(db: Db, consultationId: string) {
  const rows = await db
    .selectFrom('compositions')
    .leftJoin('consultation_rooms', 'consultation_rooms.room_sid', 'compositions.room_sid')
    .select([
      'compositions.room_sid',
      'compositions.composition_sid',
      'compositions.status',
      'compositions.attempts',
      'compositions.media_uri',
      'compositions.updated_at',
      'consultation_rooms.sequence',
    ])
    .where('compositions.consultation_id', '=', consultationId)
    .execute();
  return rows
    .sort((a, b) => (a.sequence ?? Number.MAX_SAFE_INTEGER) - (b.sequence ?? Number.MAX_SAFE_INTEGER) || (a.room_sid < b.room_sid ? -1 : 1))
    .map(({ sequence: _sequence, ...row }) => row);
}

/** The latest room's composition (what `composition` meant before rooms), or undefined. */
export async function findConsultationComposition(db: Db, consultationId: string) {
  return (await findConsultationCompositions(db, consultationId)).at(-1);
}

/**
 * The room's compositions row, created if absent. Both the outbox handler (after asking Twilio)
 * and the projector (after Twilio's callbacks) write to it, in either order.
 */
export async function ensureCompositionRow(db: Db, consultationId: string, roomSid: string, now: IsoTimestamp): Promise<void> {
  await insertIfAbsent(
    db,
    'compositions',
    { consultation_id: consultationId, room_sid: roomSid },
    {
      id: newId('cmp'),
      consultation_id: consultationId,
      room_sid: roomSid,
      composition_sid: null,
      status: 'requested',
      attempts: 0,
      media_uri: null,
      created_at: now,
      updated_at: now,
    },
  );
}

export async function updateRoomComposition(
  db: Db,
  consultationId: string,
  roomSid: string,
  fields: Omit<Updateable<CompositionsTable>, 'id' | 'consultation_id' | 'room_sid'>,
): Promise<void> {
  await db.updateTable('compositions').set(fields).where('consultation_id', '=', consultationId).where('room_sid', '=', roomSid).execute();
}

/**
 * The composition Twilio was asked for (or adopted) is now the room's: one compare-and-set
 * UPDATE — nothing when the row already names it, else the SID, `enqueued` and one more attempt.
 * The row must exist (ensureCompositionRow).
 */
export async function recordRequestedComposition(
  db: Db,
  consultationId: string,
  roomSid: string,
  compositionSid: string,
  now: IsoTimestamp,
): Promise<void> {
  await db
    .updateTable('compositions')
    .set((eb) => ({ composition_sid: compositionSid, status: 'enqueued', attempts: eb('attempts', '+', 1), updated_at: now }))
    .where('consultation_id', '=', consultationId)
    .where('room_sid', '=', roomSid)
    .where((eb) => eb.or([eb('composition_sid', 'is', null), eb('composition_sid', '<>', compositionSid)]))
    .execute();
}

/** Compositions with their consultation (the demo's summary). */
export async function listCompositions(db: Db, options: { status?: string } = {}) {
  let query = db.selectFrom('compositions').select(['consultation_id', 'status', 'composition_sid', 'media_uri']);
  if (options.status) query = query.where('status', '=', options.status);
  return query.execute();
}
