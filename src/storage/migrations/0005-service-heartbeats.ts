/**
 * One row per running instance, rewritten by its readiness probe when no callback has been
 * committed lately: a real write, so /readyz answers whether a callback could be stored now
 * (a full disk, a read-only or unreachable database fail it), not whether `select 1` works.
 */
import { sql, type CreateTableBuilder, type Kysely, type Migration } from 'kysely';
import type { DialectCapabilities } from '../dialect-capabilities.js';

export function serviceHeartbeats(capabilities: DialectCapabilities): Migration {
  return {
    async up(db: Kysely<any>) {
      const builder = db.schema.createTable('service_heartbeats');
      await (
        (capabilities.createTableSuffix ? builder.modifyEnd(capabilities.createTableSuffix) : builder) as CreateTableBuilder<
          'service_heartbeats',
          never
        >
      )
        .addColumn('instance_id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('beat_at', 'char(24)', (c) => c.notNull())
        // About the size of a callback's row: a write that small pages could absorb proves less.
        .addColumn('padding', sql.raw(capabilities.jsonColumnType), (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('service_heartbeats').execute();
    },
  };
}
