/**
 * Callbacks stored but not yet folded into their consultation have `processed_at` NULL; the
 * projector finds them by this index after a crash.
 */
import type { Kysely, Migration } from 'kysely';
import type { DialectCapabilities } from '../dialect-capabilities.js';
import { dropIndex } from './drop-index.js';

export function callbacksPendingProjection(capabilities: DialectCapabilities): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.createIndex('callbacks_processed_idx').on('callbacks').columns(['processed_at', 'status']).execute();
    },
    async down(db: Kysely<any>) {
      await dropIndex(db, capabilities, 'callbacks_processed_idx', 'callbacks');
    },
  };
}
