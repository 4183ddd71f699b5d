/**
 * Insert one row unless a row with the same unique key exists — without failing the
 * transaction, and right when another connection inserts the same key at the same instant
 * (the database decides; the loser waits for the winner's commit and then sees a duplicate).
 */
import { sql, type Insertable, type Kysely } from 'kysely';
import { capabilitiesOf } from './dialect-capabilities.js';
import type { Database } from './schema.js';
import { StoreConstraintError } from './store-errors.js';

/**
 * @param key the columns of the unique constraint that decides "already there", with their values
 * @returns true if this call inserted the row, false if one with that key already existed
 *
 * @example
 *   await insertIfAbsent(trx, 'issued_identities', { consultation_id, identity }, row)
 */
export async function insertIfAbsent<T extends keyof Database & string>(
  db: Kysely<Database>,
  table: T,
  key: Partial<Record<keyof Database[T] & string, unknown>>,
  row: Insertable<Database[T]>,
): Promise<boolean> {
  const anyDb = db as unknown as Kysely<any>;
  const keyColumns = Object.keys(key);
  if (keyColumns.length === 0) throw new TypeError('insertIfAbsent needs the columns of a unique key');
  switch (capabilitiesOf(anyDb).singleInsertIfAbsent) {
    case 'on-conflict-do-nothing': {
      const inserted = await anyDb
        .insertInto(table)
        .values(row)
        .onConflict((oc) => oc.columns(keyColumns).doNothing())
        .returning(sql<number>`1`.as('inserted'))
        .execute();
      return inserted.length > 0;
    }
    case 'catch-duplicate-error':
      try {
        await anyDb.insertInto(table).values(row).execute();
        return true;
      } catch (error) {
        if (error instanceof StoreConstraintError && error.constraint === 'unique') return false;
        throw error;
      }
  }
}
