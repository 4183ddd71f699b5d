/**
 * Rejoining (issue 19): a consultation spans rooms. `consultation_rooms` lists every room of a
 * consultation in order (sequence 1, 2, …; UNIQUE (consultation_id, sequence), so two token
 * requests racing to open the next room create it once), with its SID once Twilio answered and
 * when it ended (written by the projector). `consultations.room_sid` / `room_name` stay the
 * current room. Existing consultations get their one room as sequence 1.
 * `consultations.closed_at`: the moment no room may follow any more (the window closed with the
 * consultation interrupted, or it was ended on request) — the fold's close.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import type { DialectCapabilities } from '../dialect-capabilities.js';

const TIMESTAMP = 'char(24)';
const SID = 'varchar(64)';

export function consultationRooms(capabilities: DialectCapabilities): Migration {
  return {
    async up(db: Kysely<any>) {
      const rooms = db.schema.createTable('consultation_rooms');
      await (capabilities.createTableSuffix ? rooms.modifyEnd(capabilities.createTableSuffix) : rooms)
        .addColumn('room_name', 'varchar(128)', (c) => c.primaryKey())
        .addColumn('consultation_id', 'varchar(64)', (c) => c.notNull().references('consultations.id').onDelete('cascade'))
        .addColumn('sequence', 'integer', (c) => c.notNull())
        .addColumn('room_sid', SID, (c) => c.unique()) // NULL until Twilio answers; NULLs do not collide
        .addColumn('created_at', TIMESTAMP, (c) => c.notNull())
        .addColumn('ended_at', TIMESTAMP)
        .addUniqueConstraint('consultation_rooms_sequence_uq', ['consultation_id', 'sequence'])
        .execute();
      await db.schema.alterTable('consultations').addColumn('closed_at', TIMESTAMP).execute();
      await db
        .insertInto('consultation_rooms')
        .columns(['room_name', 'consultation_id', 'sequence', 'room_sid', 'created_at', 'ended_at'])
        .expression((eb: any) =>
          eb.selectFrom('consultations').select(['room_name', 'id', sql<number>`1`.as('sequence'), 'room_sid', 'created_at', 'ended_at']),
        )
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.alterTable('consultations').dropColumn('closed_at').execute();
      await db.schema.dropTable('consultation_rooms').execute();
    },
  };
}
