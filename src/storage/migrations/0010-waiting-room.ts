/**
 * The waiting room (issue 19): lobby_entries (one row per consultation and identity: its lobby
 * status and when it joined, was decided on, left), consultations.waiting_room and
 * tenants.waiting_room (0/1; the consultation's, when set, wins; NULL: off).
 */
import type { Kysely, Migration } from 'kysely';
import type { DialectCapabilities } from '../dialect-capabilities.js';

const TIMESTAMP = 'char(24)';

export function waitingRoom(capabilities: DialectCapabilities): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('consultations').addColumn('waiting_room', 'integer').execute();
      await db.schema.alterTable('tenants').addColumn('waiting_room', 'integer').execute();
      const lobby = db.schema.createTable('lobby_entries');
      await (capabilities.createTableSuffix ? lobby.modifyEnd(capabilities.createTableSuffix) : lobby)
        .addColumn('consultation_id', 'varchar(64)', (c) => c.notNull().references('consultations.id').onDelete('cascade'))
        .addColumn('identity', 'varchar(128)', (c) => c.notNull())
        .addColumn('role', 'varchar(32)', (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('joined_at', TIMESTAMP, (c) => c.notNull())
        .addColumn('decided_at', TIMESTAMP)
        .addColumn('left_at', TIMESTAMP)
        .addPrimaryKeyConstraint('lobby_entries_pk', ['consultation_id', 'identity'])
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('lobby_entries').execute();
      await db.schema.alterTable('tenants').dropColumn('waiting_room').execute();
      await db.schema.alterTable('consultations').dropColumn('waiting_room').execute();
    },
  };
}
