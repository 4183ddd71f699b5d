/**
 * The tenant API as a contract (issue 16):
 * - idempotency_keys: one row per (tenant, Idempotency-Key) — the request's fingerprint and, once
 *   answered, the answer itself, replayed for 24 h. The primary key is what makes twenty
 *   concurrent requests with one key produce one effect: only one insert wins.
 * - consultations.external_ref (unique per tenant when set) and metadata (small JSON object).
 * - billing_records.updated_at and version: a correction moves updated_at and bumps version, so a
 *   consumer syncing by `updatedSince` sees it (existing rows start at version 1, updated = created).
 * - tenants.rate_limit_per_minute: the per-key request budget; NULL → the service default.
 */
import { sql, type CreateTableBuilder, type Kysely, type Migration } from 'kysely';
import type { DialectCapabilities } from '../dialect-capabilities.js';
import { dropIndex } from './drop-index.js';

const ID = 'varchar(64)';
const TIMESTAMP = 'char(24)';

export function tenantApiContract(capabilities: DialectCapabilities): Migration {
  const json = sql.raw(capabilities.jsonColumnType);
  const table = <N extends string>(db: Kysely<any>, name: N) => {
    const builder = db.schema.createTable(name);
    return (capabilities.createTableSuffix ? builder.modifyEnd(capabilities.createTableSuffix) : builder) as CreateTableBuilder<N, never>;
  };
  return {
    async up(db: Kysely<any>) {
      await table(db, 'idempotency_keys')
        .addColumn('tenant_id', ID, (c) => c.notNull())
        .addColumn('idempotency_key', 'varchar(255)', (c) => c.notNull())
        .addColumn('fingerprint', 'char(64)', (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull().check(sql`status in ('in-progress', 'done')`))
        .addColumn('response_status', 'integer')
        .addColumn('response_body', json)
        .addColumn('response_location', 'varchar(2048)')
        .addColumn('locked_until', TIMESTAMP, (c) => c.notNull())
        .addColumn('created_at', TIMESTAMP, (c) => c.notNull())
        .addColumn('expires_at', TIMESTAMP, (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_keys_pk', ['tenant_id', 'idempotency_key'])
        .execute();
      await db.schema.createIndex('idempotency_keys_expires_idx').on('idempotency_keys').column('expires_at').execute();

      await db.schema.alterTable('consultations').addColumn('external_ref', 'varchar(128)').execute();
      await db.schema.alterTable('consultations').addColumn('metadata', json).execute();
      // NULLs never collide in a unique index on any of the three engines: only set refs are unique.
      await db.schema
        .createIndex('consultations_external_ref_uq')
        .on('consultations')
        .columns(['tenant_id', 'external_ref'])
        .unique()
        .execute();

      await db.schema.alterTable('billing_records').addColumn('updated_at', TIMESTAMP).execute();
      await db.schema
        .alterTable('billing_records')
        .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
        .execute();
      await db
        .updateTable('billing_records')
        .set({ updated_at: sql`created_at` })
        .execute();
      await db.schema.createIndex('billing_records_updated_idx').on('billing_records').columns(['tenant_id', 'updated_at', 'id']).execute();

      await db.schema.alterTable('tenants').addColumn('rate_limit_per_minute', 'integer').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.alterTable('tenants').dropColumn('rate_limit_per_minute').execute();
      await dropIndex(db, capabilities, 'billing_records_updated_idx', 'billing_records');
      await db.schema.alterTable('billing_records').dropColumn('version').execute();
      await db.schema.alterTable('billing_records').dropColumn('updated_at').execute();
      await dropIndex(db, capabilities, 'consultations_external_ref_uq', 'consultations');
      await db.schema.alterTable('consultations').dropColumn('metadata').execute();
      await db.schema.alterTable('consultations').dropColumn('external_ref').execute();
      await db.schema.dropTable('idempotency_keys').execute();
    },
  };
}
