/**
 * Smaller inbox commits. Every index on `callbacks` is written by every callback, and an index
 * whose keys arrive in random order dirties one page per row: at 28 callbacks per group commit,
 * ≈ 200 pages (800 KB of WAL on SQLite) were written per commit. So:
 * - `callbacks_idempotency_idx` goes: no query reads Twilio's idempotency token by value
 *   (dedupe_key is the authority on "seen before").
 * - Where the engine has partial indexes (SQLite, PostgreSQL), the indexes that serve one state
 *   hold only the rows in that state: the callbacks not yet folded (the fold's read and the crash
 *   sweep, which replaces callbacks_processed_idx), the held ones, and the rows that name a
 *   participant or a composition. A folded callback leaves the unfolded index, so it stays a few
 *   pages however large the table grows. MySQL/MariaDB keep their full indexes.
 * Callback ids are also time-ordered from now on (ids.ts newSortableId), so the primary key's
 * index is appended to instead of written at random.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import type { DialectCapabilities } from '../dialect-capabilities.js';
import { dropIndex } from './drop-index.js';

/** Indexes of a sparse column, kept under their names: partial now, holding only the rows that have one. */
const SPARSE: readonly { name: string; columns: string[]; present: string }[] = [
  { name: 'callbacks_held_idx', columns: ['held', 'room_sid'], present: 'held' },
  { name: 'callbacks_identity_idx', columns: ['participant_identity'], present: 'participant_identity' },
  { name: 'callbacks_composition_idx', columns: ['composition_sid'], present: 'composition_sid' },
];

export function callbacksLeanIndexes(capabilities: DialectCapabilities): Migration {
  const drop = (db: Kysely<any>, name: string) => dropIndex(db, capabilities, name, 'callbacks');
  return {
    async up(db: Kysely<any>) {
      await drop(db, 'callbacks_idempotency_idx');
      if (!capabilities.partialIndexes) return;
      await drop(db, 'callbacks_room_unfolded_idx');
      await drop(db, 'callbacks_processed_idx');
      await db.schema
        .createIndex('callbacks_unfolded_idx')
        .on('callbacks')
        .columns(['room_sid', 'status'])
        .where(sql.ref('processed_at'), 'is', null)
        .execute();
      for (const index of SPARSE) {
        await drop(db, index.name);
        await db.schema
          .createIndex(index.name)
          .on('callbacks')
          .columns(index.columns)
          .where(sql.ref(index.present), 'is not', null)
          .execute();
      }
    },
    async down(db: Kysely<any>) {
      if (capabilities.partialIndexes) {
        for (const index of SPARSE) {
          await drop(db, index.name);
          await db.schema.createIndex(index.name).on('callbacks').columns(index.columns).execute();
        }
        await drop(db, 'callbacks_unfolded_idx');
        await db.schema.createIndex('callbacks_processed_idx').on('callbacks').columns(['processed_at', 'status']).execute();
        await db.schema.createIndex('callbacks_room_unfolded_idx').on('callbacks').columns(['room_sid', 'processed_at']).execute();
      }
      await db.schema.createIndex('callbacks_idempotency_idx').on('callbacks').column('idempotency_token').execute();
    },
  };
}
