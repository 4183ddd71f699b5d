/**
 * Callbacks stored but not yet folded into their consultation have `processed_at` NULL; the
 * projector finds them by this index after a crash.
 */
import type { Kysely, Migration } from 'kysely';

export function callbacksPendingProjection(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.createIndex('callbacks_processed_idx').on('callbacks').columns(['processed_at', 'status']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropIndex('callbacks_processed_idx').on('callbacks').execute();
    },
  };
}
