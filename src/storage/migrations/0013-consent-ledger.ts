/**
 * Recording only with consent (issue 20): the consent ledger `consents` (append-only: one row per
 * decision — identity, kind, given/withdrawn, the consent text's version, who recorded it, when —
 * ordered per consultation by `position`, unique), `tenants.consent_mode` (all-parties,
 * one-party; NULL: off) and `recordings.consent_flag` ('not-consented' when Twilio reported a
 * recording of a participant who had not consented).
 */
import type { Kysely, Migration } from 'kysely';
import type { DialectCapabilities } from '../dialect-capabilities.js';

export function consentLedger(capabilities: DialectCapabilities): Migration {
  return {
    async up(db: Kysely<any>) {
      const table = db.schema.createTable('consents');
      await (capabilities.createTableSuffix ? table.modifyEnd(capabilities.createTableSuffix) : table)
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull().references('tenants.id'))
        .addColumn('consultation_id', 'varchar(64)', (c) => c.notNull().references('consultations.id').onDelete('cascade'))
        .addColumn('position', 'integer', (c) => c.notNull())
        .addColumn('identity', 'varchar(128)', (c) => c.notNull())
        .addColumn('kind', 'varchar(16)', (c) => c.notNull())
        .addColumn('decision', 'varchar(16)', (c) => c.notNull())
        .addColumn('text_version', 'varchar(64)', (c) => c.notNull())
        .addColumn('recorded_by', 'varchar(128)')
        .addColumn('api_key_id', 'varchar(64)')
        .addColumn('recorded_at', 'char(24)', (c) => c.notNull())
        .addUniqueConstraint('consents_position_uq', ['consultation_id', 'position'])
        .execute();
      await db.schema.createIndex('consents_identity_idx').on('consents').columns(['identity']).execute();
      await db.schema.alterTable('tenants').addColumn('consent_mode', 'varchar(16)').execute();
      await db.schema.alterTable('recordings').addColumn('consent_flag', 'varchar(32)').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.alterTable('recordings').dropColumn('consent_flag').execute();
      await db.schema.alterTable('tenants').dropColumn('consent_mode').execute();
      await db.schema.dropTable('consents').execute();
    },
  };
}
