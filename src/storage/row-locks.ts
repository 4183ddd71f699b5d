/**
 * Serialises transactions that work on the same consultations, across connections and
 * instances: whoever locks second waits for the first to commit, then reads what it wrote — or,
 * for background work, skips the row and comes back to it later.
 */
import type { Kysely } from 'kysely';
import { capabilitiesOf } from './dialect-capabilities.js';
import type { Database, StoreTransaction } from './schema.js';

/** Locks the consultations' rows until the transaction ends, in id order (no lock-order deadlock). */
export async function lockConsultations(trx: StoreTransaction, ids: readonly string[]): Promise<void> {
  if (ids.length === 0 || capabilitiesOf(trx).rowLocks === 'whole-database') return;
  await trx
    .selectFrom('consultations')
    .select('id')
    .where('id', 'in', [...ids].sort())
    .orderBy('id')
    .forUpdate()
    .execute();
}

/**
 * Locks, until the transaction ends, those of the consultations' rows that no other transaction
 * holds, and returns their ids; a row held elsewhere is skipped at once (FOR UPDATE SKIP LOCKED:
 * PostgreSQL, MySQL 8, MariaDB 10.6+), never waited for. The semantic every fold keeps: a
 * consultation is folded only inside a transaction that holds its row lock; one that was
 * skipped stays due and is tried again later — so a session that holds a row for ever (a dead
 * host's open transaction, until the server ends it) stalls that one consultation, not the rest.
 * On SQLite the write transaction holds the whole database: every id is returned.
 */
export function lockFreeConsultations(trx: StoreTransaction, ids: readonly string[]): Promise<string[]> {
  return lockFreeRows(trx, 'consultations', ids);
}

/**
 * The same for the rows background workers claim (outbox entries, webhook endpoints and
 * messages): those no other transaction holds are locked and their ids returned, sorted; a held
 * one is passed over, never waited for, and stays due. On SQLite: every id.
 */
export async function lockFreeRows(
  trx: Kysely<Database>,
  table: 'consultations' | 'outbox' | 'webhook_endpoints' | 'webhook_messages',
  ids: readonly string[],
): Promise<string[]> {
  if (ids.length === 0) return [];
  if (capabilitiesOf(trx).rowLocks === 'whole-database') return [...ids].sort();
  const rows = await trx
    .selectFrom(table)
    .select('id')
    .where('id', 'in', [...ids].sort())
    .orderBy('id')
    .forUpdate()
    .skipLocked()
    .execute();
  return rows.map((row) => row.id);
}
