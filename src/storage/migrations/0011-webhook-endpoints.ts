/**
 * Outbound webhooks (issue 17): a tenant's endpoints, the messages fanned out to them from the
 * tenant event log, and every attempt to deliver one.
 *
 * - `webhook_endpoints.log_cursor` is the last log sequence fanned out to the endpoint; it moves
 *   by compare-and-set in the transaction that inserts the messages, so two instances never fan
 *   out one event twice. The secret is stored (deliveries are signed with it); a rotation keeps
 *   the previous one until `previous_secret_until`.
 * - `webhook_messages`: one per (endpoint, event, origin) — UNIQUE `dedupe_key` — claimed by a
 *   leased compare-and-set like the outbox; it holds no payload (read from the log at send time,
 *   so an erasure or retention needs no second place to reach).
 * - `webhook_attempts`: one row per attempt (the deliveries page).
 */
import { sql, type CreateTableBuilder, type Kysely, type Migration } from 'kysely';
import type { DialectCapabilities } from '../dialect-capabilities.js';

const ID = 'varchar(64)';
const TIMESTAMP = 'char(24)';

export function webhookEndpoints(capabilities: DialectCapabilities): Migration {
  const create = <T extends string>(db: Kysely<any>, name: T) => {
    const builder = db.schema.createTable(name);
    return (capabilities.createTableSuffix ? builder.modifyEnd(capabilities.createTableSuffix) : builder) as CreateTableBuilder<T, never>;
  };
  return {
    async up(db: Kysely<any>) {
      await create(db, 'webhook_endpoints')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('tenant_id', ID, (c) => c.notNull().references('tenants.id').onDelete('cascade'))
        .addColumn('url', 'varchar(2048)', (c) => c.notNull())
        .addColumn('event_types', sql.raw(capabilities.jsonColumnType))
        .addColumn('description', 'varchar(500)')
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('disabled_reason', 'varchar(500)')
        .addColumn('secret', 'varchar(128)', (c) => c.notNull())
        .addColumn('previous_secret', 'varchar(128)')
        .addColumn('previous_secret_until', TIMESTAMP)
        .addColumn('log_cursor', 'bigint', (c) => c.notNull())
        .addColumn('failing_since', TIMESTAMP)
        .addColumn('created_at', TIMESTAMP, (c) => c.notNull())
        .addColumn('updated_at', TIMESTAMP, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('webhook_endpoints_tenant_idx').on('webhook_endpoints').columns(['tenant_id', 'created_at']).execute();

      await create(db, 'webhook_messages')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('endpoint_id', ID, (c) => c.notNull().references('webhook_endpoints.id').onDelete('cascade'))
        .addColumn('tenant_id', ID, (c) => c.notNull())
        .addColumn('event_id', ID, (c) => c.notNull())
        .addColumn('event_sequence', 'bigint', (c) => c.notNull())
        .addColumn('event_type', 'varchar(48)', (c) => c.notNull())
        .addColumn('consultation_id', ID, (c) => c.notNull())
        .addColumn('dedupe_key', 'varchar(200)', (c) => c.notNull().unique())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', TIMESTAMP, (c) => c.notNull())
        .addColumn('first_attempt_at', TIMESTAMP)
        .addColumn('locked_by', ID)
        .addColumn('locked_until', TIMESTAMP)
        .addColumn('created_at', TIMESTAMP, (c) => c.notNull())
        .addColumn('finished_at', TIMESTAMP)
        .execute();
      await db.schema.createIndex('webhook_messages_due_idx').on('webhook_messages').columns(['status', 'next_attempt_at']).execute();
      await db.schema
        .createIndex('webhook_messages_order_idx')
        .on('webhook_messages')
        .columns(['endpoint_id', 'consultation_id', 'status', 'event_sequence'])
        .execute();

      await create(db, 'webhook_attempts')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('message_id', ID, (c) => c.notNull().references('webhook_messages.id').onDelete('cascade'))
        .addColumn('endpoint_id', ID, (c) => c.notNull())
        .addColumn('event_id', ID, (c) => c.notNull())
        .addColumn('event_type', 'varchar(48)', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('response_status', 'integer')
        .addColumn('latency_ms', 'integer')
        .addColumn('error', 'varchar(500)')
        .addColumn('attempted_at', TIMESTAMP, (c) => c.notNull())
        .addColumn('next_attempt_at', TIMESTAMP)
        .execute();
      await db.schema
        .createIndex('webhook_attempts_endpoint_idx')
        .on('webhook_attempts')
        .columns(['endpoint_id', 'attempted_at'])
        .execute();
      await db.schema.createIndex('webhook_attempts_message_idx').on('webhook_attempts').columns(['message_id', 'status']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('webhook_attempts').execute();
      await db.schema.dropTable('webhook_messages').execute();
      await db.schema.dropTable('webhook_endpoints').execute();
    },
  };
}
