/**
 * The first schema. Column types are portable spellings (varchar(n), char(24), integer,
 * bigint, text); what differs per engine comes from the capabilities (JSON text type, MySQL's
 * table options). Unique text columns are bounded so MySQL can index them in utf8mb4.
 */
import { sql, type CreateTableBuilder, type Kysely, type Migration } from 'kysely';
import type { DialectCapabilities } from '../dialect-capabilities.js';

const ID = 'varchar(64)';
const SID = 'varchar(64)';
const TIMESTAMP = 'char(24)'; // Date#toISOString(): YYYY-MM-DDTHH:mm:ss.sssZ

export function initialSchema(capabilities: DialectCapabilities): Migration {
  const json = sql.raw(capabilities.jsonColumnType);
  const table = <N extends string>(db: Kysely<any>, name: N) => {
    const builder = db.schema.createTable(name);
    return (capabilities.createTableSuffix ? builder.modifyEnd(capabilities.createTableSuffix) : builder) as CreateTableBuilder<N, never>;
  };

  return {
    async up(db: Kysely<any>): Promise<void> {
      await table(db, 'tenants')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('slug', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('name', 'varchar(200)', (c) => c.notNull())
        .addColumn('kind', 'varchar(16)', (c) => c.notNull().check(sql`kind in ('human', 'veterinary')`))
        .addColumn('billing_rounding_seconds', 'integer', (c) => c.notNull().defaultTo(60))
        .addColumn('retention_days', 'integer', (c) => c.notNull().defaultTo(3650))
        .addColumn('created_at', TIMESTAMP, (c) => c.notNull())
        .execute();

      await table(db, 'api_keys')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('tenant_id', ID, (c) => c.notNull().references('tenants.id').onDelete('cascade'))
        .addColumn('lookup_id', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('secret_hash', 'varchar(128)', (c) => c.notNull())
        .addColumn('scopes', 'varchar(1000)', (c) => c.notNull())
        .addColumn('expires_at', TIMESTAMP)
        .addColumn('revoked_at', TIMESTAMP)
        .addColumn('last_used_at', TIMESTAMP)
        .addColumn('created_at', TIMESTAMP, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('api_keys_tenant_idx').on('api_keys').columns(['tenant_id', 'created_at']).execute();

      // No secrets here: auth tokens live in the environment / config file only.
      await table(db, 'twilio_accounts')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('tenant_id', ID, (c) => c.references('tenants.id').onDelete('set null'))
        .addColumn('account_sid', SID, (c) => c.notNull().unique())
        .addColumn('label', 'varchar(200)', (c) => c.notNull())
        .addColumn('created_at', TIMESTAMP, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('twilio_accounts_tenant_idx').on('twilio_accounts').column('tenant_id').execute();

      await table(db, 'consultations')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('tenant_id', ID, (c) => c.notNull().references('tenants.id'))
        .addColumn('room_sid', SID, (c) => c.unique()) // NULLs do not collide on any engine
        .addColumn('room_name', 'varchar(128)', (c) => c.notNull().unique())
        .addColumn('status', 'varchar(32)', (c) => c.notNull())
        .addColumn('record', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('scheduled_at', TIMESTAMP)
        .addColumn('started_at', TIMESTAMP)
        .addColumn('ended_at', TIMESTAMP)
        .addColumn('created_at', TIMESTAMP, (c) => c.notNull())
        .addColumn('updated_at', TIMESTAMP, (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      // Listing (newest first, keyset on created_at, id) and retention (ended before a date).
      await db.schema
        .createIndex('consultations_tenant_created_idx')
        .on('consultations')
        .columns(['tenant_id', 'created_at', 'id'])
        .execute();
      await db.schema.createIndex('consultations_tenant_status_idx').on('consultations').columns(['tenant_id', 'status']).execute();
      await db.schema.createIndex('consultations_ended_idx').on('consultations').columns(['ended_at']).execute();

      await table(db, 'participants')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('consultation_id', ID, (c) => c.notNull().references('consultations.id').onDelete('cascade'))
        .addColumn('identity', 'varchar(128)', (c) => c.notNull())
        .addColumn('role', 'varchar(32)', (c) => c.notNull())
        .addColumn('participant_sid', SID)
        .addColumn('created_at', TIMESTAMP, (c) => c.notNull())
        .addUniqueConstraint('participants_consultation_identity_uq', ['consultation_id', 'identity'])
        .execute();
      await db.schema.createIndex('participants_identity_idx').on('participants').column('identity').execute();

      await table(db, 'participant_sessions')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('consultation_id', ID, (c) => c.notNull().references('consultations.id').onDelete('cascade'))
        .addColumn('participant_sid', SID, (c) => c.notNull())
        .addColumn('identity', 'varchar(128)', (c) => c.notNull())
        .addColumn('connected_at', TIMESTAMP, (c) => c.notNull())
        .addColumn('disconnected_at', TIMESTAMP)
        .addUniqueConstraint('participant_sessions_consultation_sid_uq', ['consultation_id', 'participant_sid'])
        .execute();
      await db.schema.createIndex('participant_sessions_identity_idx').on('participant_sessions').column('identity').execute();

      await table(db, 'issued_identities')
        .addColumn('consultation_id', ID, (c) => c.notNull().references('consultations.id').onDelete('cascade'))
        .addColumn('identity', 'varchar(128)', (c) => c.notNull())
        .addColumn('role', 'varchar(32)', (c) => c.notNull())
        .addColumn('issued_at', TIMESTAMP, (c) => c.notNull())
        .addColumn('expires_at', TIMESTAMP, (c) => c.notNull())
        .addPrimaryKeyConstraint('issued_identities_pk', ['consultation_id', 'identity'])
        .execute();
      await db.schema.createIndex('issued_identities_identity_idx').on('issued_identities').column('identity').execute();

      // The inbox. dedupe_key is the authority on "seen before"; idempotency_token (Twilio's
      // I-Twilio-Idempotency-Token) is kept and indexed, not unique: Twilio may reuse it.
      await table(db, 'callbacks')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('dedupe_key', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('idempotency_token', 'varchar(128)')
        .addColumn('account_sid', SID, (c) => c.notNull())
        .addColumn('room_sid', SID)
        .addColumn('composition_sid', SID)
        .addColumn('event_type', 'varchar(64)', (c) => c.notNull())
        .addColumn('event_timestamp', TIMESTAMP, (c) => c.notNull())
        .addColumn('sequence_number', 'integer')
        .addColumn('participant_sid', SID)
        .addColumn('participant_identity', 'varchar(128)')
        .addColumn('params', json, (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull().check(sql`status in ('accepted', 'quarantined', 'unmatched')`))
        .addColumn('received_at', TIMESTAMP, (c) => c.notNull())
        .addColumn('processed_at', TIMESTAMP)
        .execute();
      await db.schema.createIndex('callbacks_room_time_idx').on('callbacks').columns(['room_sid', 'event_timestamp']).execute();
      await db.schema.createIndex('callbacks_idempotency_idx').on('callbacks').column('idempotency_token').execute();
      await db.schema.createIndex('callbacks_composition_idx').on('callbacks').column('composition_sid').execute();
      await db.schema.createIndex('callbacks_identity_idx').on('callbacks').column('participant_identity').execute();
      await db.schema.createIndex('callbacks_received_idx').on('callbacks').columns(['received_at']).execute();

      await table(db, 'recordings')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('consultation_id', ID, (c) => c.notNull().references('consultations.id').onDelete('cascade'))
        .addColumn('recording_sid', SID, (c) => c.notNull().unique())
        .addColumn('track_name', 'varchar(255)')
        .addColumn('status', 'varchar(32)', (c) => c.notNull())
        .addColumn('duration', 'integer')
        .addColumn('size', 'bigint')
        .addColumn('media_uri', 'varchar(2048)')
        .addColumn('created_at', TIMESTAMP, (c) => c.notNull())
        .addColumn('completed_at', TIMESTAMP)
        .execute();
      await db.schema.createIndex('recordings_consultation_idx').on('recordings').column('consultation_id').execute();

      await table(db, 'compositions')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('consultation_id', ID, (c) => c.notNull().unique().references('consultations.id').onDelete('cascade'))
        .addColumn('composition_sid', SID, (c) => c.unique())
        .addColumn('status', 'varchar(32)', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('media_uri', 'varchar(2048)')
        .addColumn('created_at', TIMESTAMP, (c) => c.notNull())
        .addColumn('updated_at', TIMESTAMP, (c) => c.notNull())
        .execute();

      await table(db, 'billing_records')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('consultation_id', ID, (c) => c.notNull().unique().references('consultations.id').onDelete('cascade'))
        .addColumn('tenant_id', ID, (c) => c.notNull().references('tenants.id'))
        .addColumn('billable_seconds', 'integer', (c) => c.notNull())
        .addColumn('rounded_seconds', 'integer', (c) => c.notNull())
        .addColumn('intervals', json, (c) => c.notNull())
        .addColumn('created_at', TIMESTAMP, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('billing_records_tenant_idx').on('billing_records').columns(['tenant_id', 'created_at', 'id']).execute();

      await table(db, 'outbox')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('kind', 'varchar(64)', (c) => c.notNull())
        .addColumn('dedupe_key', 'varchar(128)', (c) => c.notNull().unique())
        .addColumn('payload', json, (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull().check(sql`status in ('pending', 'done', 'failed')`))
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', TIMESTAMP, (c) => c.notNull())
        .addColumn('locked_by', 'varchar(128)')
        .addColumn('locked_until', TIMESTAMP)
        .addColumn('last_error', 'varchar(2000)')
        .addColumn('created_at', TIMESTAMP, (c) => c.notNull())
        .addColumn('done_at', TIMESTAMP)
        .execute();
      // The worker's claim query: due pending rows, oldest first.
      await db.schema.createIndex('outbox_due_idx').on('outbox').columns(['status', 'next_attempt_at']).execute();

      await table(db, 'audit_log')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('tenant_id', ID) // no FK: the log outlives what it describes
        .addColumn('actor', 'varchar(128)', (c) => c.notNull())
        .addColumn('action', 'varchar(64)', (c) => c.notNull())
        .addColumn('target', 'varchar(255)', (c) => c.notNull())
        .addColumn('outcome', 'varchar(32)', (c) => c.notNull())
        .addColumn('detail', json, (c) => c.notNull())
        .addColumn('created_at', TIMESTAMP, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_log_tenant_idx').on('audit_log').columns(['tenant_id', 'created_at']).execute();

      await table(db, 'security_events')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('reason', 'varchar(64)', (c) => c.notNull())
        .addColumn('remote_address', 'varchar(64)', (c) => c.notNull())
        .addColumn('path', 'varchar(2048)', (c) => c.notNull())
        .addColumn('claimed_account_sid', SID)
        .addColumn('detail', json, (c) => c.notNull())
        .addColumn('created_at', TIMESTAMP, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('security_events_created_idx').on('security_events').column('created_at').execute();
    },

    async down(db: Kysely<any>): Promise<void> {
      for (const name of [
        'security_events',
        'audit_log',
        'outbox',
        'billing_records',
        'compositions',
        'recordings',
        'callbacks',
        'issued_identities',
        'participant_sessions',
        'participants',
        'consultations',
        'twilio_accounts',
        'api_keys',
        'tenants',
      ]) {
        await db.schema.dropTable(name).ifExists().execute();
      }
    },
  };
}
