/**
 * The tenant billing chain (migration 0014): every billing record version appended as an entry
 * hashed over its content and the previous entry's hash (core/billing/billing-chain.ts).
 * Appending runs in the transaction that writes the version: the tenant's head row is moved on
 * first (one upsert, which takes its row lock and keeps it to commit), so two transactions —
 * two projectors, two instances — append one after the other and never fork the chain. On
 * SQLite the write transaction holds the whole database, which gives the same order.
 */
import { sql, type Insertable, type Kysely } from 'kysely';
import {
  chainHash,
  GENESIS_HASH,
  type BillingChainEntry,
  type BillingVersionContent,
  type StoredChainEntry,
} from '../core/billing/billing-chain.js';
import { canonicalJson } from '../core/billing/canonical-json.js';
import { capabilitiesOf } from './dialect-capabilities.js';
import type { BillingRecordVersionsTable, Database, StoreTransaction } from './schema.js';
import { shapedStatement } from './shaped-statement.js';

type Db = Kysely<Database>;

export interface ChainPosition {
  readonly sequence: number;
  readonly hash: string;
  readonly previousHash: string;
}

/** Appends one billing record version to its tenant's chain; returns where it landed. */
export async function appendBillingVersion(
  trx: StoreTransaction,
  version: Omit<BillingChainEntry, 'sequence' | 'previousHash'>,
): Promise<ChainPosition> {
  const head = await advanceHead(trx, version.tenantId);
  const entry: BillingChainEntry = { ...version, sequence: head.sequence, previousHash: head.previousHash };
  const hash = chainHash(entry);
  await insertVersion(trx, {
    tenant_id: entry.tenantId,
    sequence: entry.sequence,
    billing_record_id: entry.billingRecordId,
    consultation_id: entry.consultationId,
    version: entry.version,
    recorded_at: entry.recordedAt,
    content: canonicalJson(entry.content),
    previous_hash: entry.previousHash,
    hash,
  });
  await setHeadHash(trx, { tenantId: entry.tenantId, hash });
  return { sequence: entry.sequence, hash, previousHash: entry.previousHash };
}

// A billing record's version costs these statements: compiled once (shaped-statement.ts).
const insertVersion = shapedStatement('insertBillingVersion', (db, row: Insertable<BillingRecordVersionsTable>) =>
  db.insertInto('billing_record_versions').values(row),
);
const setHeadHash = shapedStatement('setBillingChainHeadHash', (db, args: { tenantId: string; hash: string }) =>
  db.updateTable('billing_chain_heads').set({ last_hash: args.hash }).where('tenant_id', '=', args.tenantId),
);
const advanceHeadStatement = shapedStatement('advanceBillingChainHead', (db, tenantId: string) => {
  const insert = db.insertInto('billing_chain_heads').values({ tenant_id: tenantId, last_sequence: 1, last_hash: GENESIS_HASH });
  return capabilitiesOf(db).insertIfAbsent === 'on-duplicate-key-noop'
    ? insert.onDuplicateKeyUpdate({ last_sequence: sql<number>`last_sequence + 1` })
    : // PostgreSQL, SQLite: the moved head comes back with the upsert (one round trip, not two);
      // last_hash is not touched by it, so it is still the previous entry's.
      insert
        .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ last_sequence: sql<number>`billing_chain_heads.last_sequence + 1` }))
        .returning(['last_sequence', 'last_hash']);
});
const chainHead = shapedStatement('findBillingChainHead', (db, tenantId: string) =>
  db.selectFrom('billing_chain_heads').select(['last_sequence', 'last_hash']).where('tenant_id', '=', tenantId),
);

/**
 * Moves the tenant's head on by one (an upsert: the row lock is taken even for the tenant's first
 * entry, when two transactions create the row at once) and returns the new sequence and the hash
 * the entry must chain to (the head's hash before this entry).
 */
async function advanceHead(trx: StoreTransaction, tenantId: string): Promise<{ sequence: number; previousHash: string }> {
  const upserted = await advanceHeadStatement(trx, tenantId);
  const row =
    capabilitiesOf(trx).insertIfAbsent === 'on-duplicate-key-noop'
      ? (await chainHead(trx, tenantId)).rows[0]
      : (upserted.rows[0] as { last_sequence: number; last_hash: string } | undefined);
  if (!row) throw new Error('billing chain head: no row after its upsert');
  return { sequence: Number(row.last_sequence), previousHash: row.last_hash };
}

/** One page of the tenant's chain in sequence order, after `afterSequence`. */
export async function listBillingChain(db: Db, tenantId: string, afterSequence: number, limit: number): Promise<StoredChainEntry[]> {
  const rows = await db
    .selectFrom('billing_record_versions')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('sequence', '>', afterSequence)
    .orderBy('sequence')
    .limit(limit)
    .execute();
  return rows.map(toEntry);
}

/** The last chain entry of a billing record (its current version), or undefined. */
export async function findLastBillingVersion(db: Db, tenantId: string, billingRecordId: string): Promise<StoredChainEntry | undefined> {
  const row = await db
    .selectFrom('billing_record_versions')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('billing_record_id', '=', billingRecordId)
    .orderBy('sequence', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? toEntry(row) : undefined;
}

/** One version of a billing record as chained, or undefined. */
export async function findBillingVersion(
  db: Db,
  tenantId: string,
  billingRecordId: string,
  version: number,
): Promise<StoredChainEntry | undefined> {
  const row = await db
    .selectFrom('billing_record_versions')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('billing_record_id', '=', billingRecordId)
    .where('version', '=', version)
    .executeTakeFirst();
  return row ? toEntry(row) : undefined;
}

/** The tenant's chain head (0 entries: undefined). */
export async function findBillingChainHead(db: Db, tenantId: string) {
  return db.selectFrom('billing_chain_heads').select(['last_sequence', 'last_hash']).where('tenant_id', '=', tenantId).executeTakeFirst();
}

function toEntry(row: Database['billing_record_versions']): StoredChainEntry {
  return {
    tenantId: row.tenant_id,
    sequence: Number(row.sequence),
    billingRecordId: row.billing_record_id,
    consultationId: row.consultation_id,
    version: Number(row.version),
    recordedAt: row.recorded_at,
    content: JSON.parse(row.content) as BillingVersionContent,
    previousHash: row.previous_hash,
    hash: row.hash,
  };
}
