/**
 * Reconciliation (issue 18) and late callbacks (issue 13.5):
 * - callbacks.source: 'callback' (Twilio sent it) or 'reconciled' (a fact Roomgate read from
 *   Twilio's REST API and wrote as a synthetic inbox row, folded like any callback).
 * - callbacks.held: 'late' for a genuine, validly signed callback older than the replay window:
 *   stored (status 'quarantined', so nothing applies it) until the reconciler has confirmed it
 *   against the REST API and released it (status 'accepted', held NULL). NULL otherwise.
 * - consultations.reconciled_at: the last time the reconciler looked at the consultation.
 * - reconcile_leases: one row per lease name; the instance whose lease has not expired runs the
 *   reconciler, the others wait (one instance at a time, whatever the engine).
 */
import type { Kysely, Migration } from 'kysely';
import type { DialectCapabilities } from '../dialect-capabilities.js';
import { dropIndex } from './drop-index.js';

const TIMESTAMP = 'char(24)';

export function reconciliation(capabilities: DialectCapabilities): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .alterTable('callbacks')
        .addColumn('source', 'varchar(16)', (c) => c.notNull().defaultTo('callback'))
        .execute();
      await db.schema.alterTable('callbacks').addColumn('held', 'varchar(16)').execute();
      await db.schema.createIndex('callbacks_held_idx').on('callbacks').columns(['held', 'room_sid']).execute();
      await db.schema.alterTable('consultations').addColumn('reconciled_at', TIMESTAMP).execute();
      const leases = db.schema.createTable('reconcile_leases');
      await (capabilities.createTableSuffix ? leases.modifyEnd(capabilities.createTableSuffix) : leases)
        .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('holder', 'varchar(64)', (c) => c.notNull())
        .addColumn('expires_at', TIMESTAMP, (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('reconcile_leases').execute();
      await db.schema.alterTable('consultations').dropColumn('reconciled_at').execute();
      await dropIndex(db, capabilities, 'callbacks_held_idx', 'callbacks');
      await db.schema.alterTable('callbacks').dropColumn('held').execute();
      await db.schema.alterTable('callbacks').dropColumn('source').execute();
    },
  };
}
