/**
 * Serialises transactions that work on the same consultations, across connections and
 * instances: whoever locks second waits for the first to commit, then reads what it wrote.
 */
import { capabilitiesOf } from './dialect-capabilities.js';
import type { StoreTransaction } from './schema.js';

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
