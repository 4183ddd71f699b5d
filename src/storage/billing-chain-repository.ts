/**
 * The tenant billing chain (migration 0014): every billing record version appended as an entry
 * hashed over its content and the previous entry's hash (core/billing/billing-chain.ts).
 * Appending runs in the transaction that writes the version: the tenant's head row is moved on
 * first (one upsert, which takes its row lock and keeps it to commit), so two transactions —
 * two projectors, two instances — append one after the other and never fork the chain. On
 * SQLite the write transaction holds the whole database, which gives the same order.
 */
import { sql, type Kysely } from 'kysely';
import {
  chainHash,
  GENESIS_HASH,
  type BillingChainEntry,
  type BillingVersionContent,
  type StoredChainEntry,
} from '../core/billing/billing-chain.js';
import { canonicalJson } from '../core/billing/canonical-json.js';
import { capabilitiesOf } from './dialect-capabilities.js';
import type { Database, StoreTransaction } from './schema.js';

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
  await trx
    .insertInto('billing_record_versions')
    .values({
      tenant_id: entry.tenantId,
      sequence: entry.sequence,
      billing_record_id: entry.billingRecordId,
      consultation_id: entry.consultationId,
      version: entry.version,
      recorded_at: entry.recordedAt,
      content: canonicalJson(entry.content),
      previous_hash: entry.previousHash,
      hash,
    })
    .execute();
  await trx.updateTable('billing_chain_heads').set({ last_hash: hash }).where('tenant_id', '=', entry.tenantId).execute();
  return { sequence: entry.sequence, hash, previousHash: entry.previousHash };
}

/**
 * Moves the tenant's head on by one (an upsert: the row lock is taken even for the tenant's first
 * entry, when two transactions create the row at once) and returns the new sequence and the hash
 * the entry must chain to (the head's hash before this entry).
 */
async function advanceHead(trx: StoreTransaction, tenantId: string): Promise<{ sequence: number; previousHash: string }> {
  const insert = trx.insertInto('billing_chain_heads').values({ tenant_id: tenantId, last_sequence: 1, last_hash: GENESIS_HASH });
  if (capabilitiesOf(trx).insertIfAbsent === 'on-duplicate-key-noop') {
    await insert.onDuplicateKeyUpdate({ last_sequence: sql<number>`last_sequence + 1` }).execute();
  } else {
    await insert
      .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ last_sequence: sql<number>`billing_chain_heads.last_sequence + 1` }))
      .execute();
  }
  const row = await trx
    .selectFrom('billing_chain_heads')
    .select(['last_sequence', 'last_hash'])
    .where('tenant_id', '=', tenantId)
    .executeTakeFirstOrThrow();
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
