/**
 * The projector folds incrementally: each consultation keeps its folded state (JSON, the
 * fold's own format — core/consultation/consultation-state.ts `ConsultationFoldState`), so a new
 * callback is stepped onto it instead of re-reading the room's history. NULL means "fold again
 * from the callbacks" (a consultation from before this migration, or one whose state an erasure
 * cleared). `status_history` is the status timeline the API returns (JSON: [{ status, at }]).
 * The index finds a room's callbacks not yet folded without walking its whole history.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import type { DialectCapabilities } from '../dialect-capabilities.js';
import { dropIndex } from './drop-index.js';

export function consultationFoldState(capabilities: DialectCapabilities): Migration {
  const json = sql.raw(capabilities.jsonColumnType);
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('consultations').addColumn('fold_state', json).execute();
      await db.schema.alterTable('consultations').addColumn('status_history', json).execute();
      await db.schema.createIndex('callbacks_room_unfolded_idx').on('callbacks').columns(['room_sid', 'processed_at']).execute();
    },
    async down(db: Kysely<any>) {
      await dropIndex(db, capabilities, 'callbacks_room_unfolded_idx', 'callbacks');
      await db.schema.alterTable('consultations').dropColumn('status_history').execute();
      await db.schema.alterTable('consultations').dropColumn('fold_state').execute();
    },
  };
}
