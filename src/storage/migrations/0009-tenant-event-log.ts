/**
 * The durable per-tenant event log (issue 17): every change of a consultation is one row, with
 * a sequence that strictly increases per tenant. `tenant_event_counters` holds each tenant's
 * last sequence; the transaction that records a change increments it and keeps its row lock to
 * commit, so sequences commit in order (a reader never sees N+1 before N) and never repeat.
 */
import { sql, type CreateTableBuilder, type Kysely, type Migration } from 'kysely';
import type { DialectCapabilities } from '../dialect-capabilities.js';

const ID = 'varchar(64)';
const TIMESTAMP = 'char(24)';

export function tenantEventLog(capabilities: DialectCapabilities): Migration {
  const create = <T extends string>(db: Kysely<any>, name: T) => {
    const builder = db.schema.createTable(name);
    return (capabilities.createTableSuffix ? builder.modifyEnd(capabilities.createTableSuffix) : builder) as CreateTableBuilder<T, never>;
  };
  return {
    async up(db: Kysely<any>) {
      await create(db, 'tenant_event_counters')
        .addColumn('tenant_id', ID, (c) => c.primaryKey().references('tenants.id').onDelete('cascade'))
        .addColumn('last_sequence', 'bigint', (c) => c.notNull())
        .execute();
      await create(db, 'tenant_events')
        .addColumn('tenant_id', ID, (c) => c.notNull().references('tenants.id').onDelete('cascade'))
        .addColumn('sequence', 'bigint', (c) => c.notNull())
        .addColumn('id', ID, (c) => c.notNull().unique())
        .addColumn('type', 'varchar(48)', (c) => c.notNull())
        .addColumn('consultation_id', ID, (c) => c.notNull())
        .addColumn('occurred_at', TIMESTAMP, (c) => c.notNull())
        .addColumn('payload', sql.raw(capabilities.jsonColumnType), (c) => c.notNull())
        .addPrimaryKeyConstraint('tenant_events_pk', ['tenant_id', 'sequence'])
        .execute();
      await db.schema.createIndex('tenant_events_time_idx').on('tenant_events').columns(['tenant_id', 'occurred_at']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('tenant_events').execute();
      await db.schema.dropTable('tenant_event_counters').execute();
    },
  };
}
