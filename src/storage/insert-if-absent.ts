/**
 * Insert one row unless a row with the same unique key exists — without failing the
 * transaction, and right when another connection inserts the same key at the same instant
 * (the database decides; the loser waits for the winner's commit and then sees a duplicate).
 */
import { sql, type Insertable, type Kysely } from 'kysely';
import { capabilitiesOf } from './dialect-capabilities.js';
import type { Database } from './schema.js';
import { shapedStatement, type ShapedStatement } from './shaped-statement.js';
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
  if (Object.keys(key).length === 0) throw new TypeError('insertIfAbsent needs the columns of a unique key');
  const insert = insertOf(table);
  switch (capabilitiesOf(db).singleInsertIfAbsent) {
    case 'on-conflict-do-nothing':
      return (await insert(db, { key, row })).rows.length > 0;
    case 'catch-duplicate-error':
      try {
        await insert(db, { key, row });
        return true;
      } catch (error) {
        if (error instanceof StoreConstraintError && error.constraint === 'unique') return false;
        throw error;
      }
  }
}

type GuardedInsert = ShapedStatement<{ key: Record<string, unknown>; row: Record<string, unknown> }, unknown>;

/** Per table, the insert compiled once per shape (shaped-statement.ts): outbox entries, billing records… */
const inserts = new Map<string, GuardedInsert>();

function insertOf(table: string): GuardedInsert {
  let insert = inserts.get(table);
  if (!insert) {
    insert = shapedStatement(`insertIfAbsent ${table}`, (db, { key, row }) => {
      const anyDb = db as unknown as Kysely<any>;
      // The key's column names are its shape; its values are not read here.
      return capabilitiesOf(db).singleInsertIfAbsent === 'on-conflict-do-nothing'
        ? anyDb
            .insertInto(table)
            .values(row)
            .onConflict((oc) => oc.columns(Object.keys(key)).doNothing())
            .returning(sql<number>`1`.as('inserted'))
        : anyDb.insertInto(table).values(row);
    });
    inserts.set(table, insert);
  }
  return insert;
}
