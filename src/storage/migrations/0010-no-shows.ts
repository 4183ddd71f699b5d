/**
 * Named no-shows (issue 19): consultations.window_closes_at (set at creation for a consultation
 * with an appointment window; indexed, so the sweep finds the closed ones), no_show_missing
 * (clinician, care-recipient, both) and no_show_waited_seconds.
 */
import type { Kysely, Migration } from 'kysely';
import type { DialectCapabilities } from '../dialect-capabilities.js';
import { dropIndex } from './drop-index.js';

export function noShows(capabilities: DialectCapabilities): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('consultations').addColumn('window_closes_at', 'char(24)').execute();
      await db.schema.alterTable('consultations').addColumn('no_show_missing', 'varchar(16)').execute();
      await db.schema.alterTable('consultations').addColumn('no_show_waited_seconds', 'integer').execute();
      await db.schema.createIndex('consultations_window_closes_idx').on('consultations').columns(['window_closes_at', 'status']).execute();
    },
    async down(db: Kysely<any>) {
      await dropIndex(db, capabilities, 'consultations_window_closes_idx', 'consultations');
      await db.schema.alterTable('consultations').dropColumn('no_show_waited_seconds').execute();
      await db.schema.alterTable('consultations').dropColumn('no_show_missing').execute();
      await db.schema.alterTable('consultations').dropColumn('window_closes_at').execute();
    },
  };
}
