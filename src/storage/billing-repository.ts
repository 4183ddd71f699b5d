/** Billing records (one per consultation, UNIQUE): every query on them, written once. */
import type { Kysely } from 'kysely';
import { newId } from './ids.js';
import { insertIfAbsent } from './insert-if-absent.js';
import { shapedStatement } from './shaped-statement.js';
import type { BillingVersionContent } from '../core/billing/billing-chain.js';
import { appendBillingVersion, type ChainPosition } from './billing-chain-repository.js';
import type { Database, IsoTimestamp, JsonText, StoreTransaction } from './schema.js';

type Db = Kysely<Database>;

export interface BillingFields {
  readonly billable_seconds: number;
  readonly rounded_seconds: number;
  /** JSON text: [{ start, end }] as ISO timestamps. */
  readonly intervals: JsonText;
  /** JSON text: the billing evidence (core/billing/billing-evidence.ts); absent → NULL. */
  readonly evidence?: JsonText | null;
}

/** The consultation's billing record as the projector compares it, or undefined. */
export async function findBillingFields(db: Db, consultationId: string) {
  return (await billingFieldsOf(db, consultationId)).rows[0];
}

// The fold of a room's end runs these: compiled once (shaped-statement.ts).
const billingFieldsOf = shapedStatement('findBillingFields', (db, consultationId: string) =>
  db
    .selectFrom('billing_records')
    .select(['billable_seconds', 'rounded_seconds', 'intervals', 'evidence'])
    .where('consultation_id', '=', consultationId),
);
const billingVersionOf = shapedStatement('billingRecordVersion', (db, consultationId: string) =>
  db.selectFrom('billing_records').select(['id', 'version']).where('consultation_id', '=', consultationId),
);

/**
 * Writes the consultation's one billing record: inserted once, corrected in place after — and
 * appends the version now stored to the tenant's billing chain in the same transaction
 * (billing-chain-repository.ts), so no version exists without its chain entry.
 */
export async function upsertBillingRecord(
  db: StoreTransaction,
  record: { consultationId: string; tenantId: string; now: IsoTimestamp; fields: BillingFields },
): Promise<{ id: string; version: number; chain: ChainPosition }> {
  const { consultationId, fields } = record;
  const inserted = await insertIfAbsent(
    db,
    'billing_records',
    { consultation_id: consultationId },
    {
      id: newId('bil'),
      consultation_id: consultationId,
      tenant_id: record.tenantId,
      created_at: record.now,
      updated_at: record.now,
      version: 1,
      ...fields,
      evidence: fields.evidence ?? null,
    },
  );
  // Still one record: a late event that changes the overlap corrects it in place, and the
  // correction is visible to a consumer syncing by updatedSince (updated_at moves, version + 1).
  if (!inserted) {
    await db
      .updateTable('billing_records')
      .set((eb) => ({ ...fields, evidence: fields.evidence ?? null, updated_at: record.now, version: eb('version', '+', 1) }))
      .where('consultation_id', '=', consultationId)
      .execute();
  }
  const row = (await billingVersionOf(db, consultationId)).rows[0];
  if (!row) throw new Error('billing record: no row after its upsert');
  const version = Number(row.version);
  const chain = await appendBillingVersion(db, {
    tenantId: record.tenantId,
    billingRecordId: row.id,
    consultationId,
    version,
    recordedAt: record.now,
    content: billingVersionContent(fields),
  });
  return { id: row.id, version, chain };
}

/** What a billing record version says, as the chain hashes it (from the row's columns). */
export function billingVersionContent(row: {
  billable_seconds: number;
  rounded_seconds: number;
  intervals: JsonText;
  evidence?: JsonText | null;
}): BillingVersionContent {
  return {
    billableSeconds: Number(row.billable_seconds),
    roundedSeconds: Number(row.rounded_seconds),
    intervals: JSON.parse(row.intervals) as BillingVersionContent['intervals'],
    evidence: row.evidence ? (JSON.parse(row.evidence) as unknown) : null,
  };
}

/** One of the tenant's billing records by id (another tenant's: undefined). */
export async function findTenantBillingRecord(db: Db, tenantId: string, id: string) {
  return db
    .selectFrom('billing_records')
    .select([
      'id',
      'consultation_id',
      'billable_seconds',
      'rounded_seconds',
      'intervals',
      'evidence',
      'version',
      'created_at',
      'updated_at',
    ])
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** A page of the tenant's billing records by id, after `afterId` (chain verification). */
export async function listBillingRecordsById(db: Db, tenantId: string, afterId: string, limit: number) {
  return db
    .selectFrom('billing_records')
    .select(['id', 'billable_seconds', 'rounded_seconds', 'intervals', 'evidence', 'version'])
    .where('tenant_id', '=', tenantId)
    .where('id', '>', afterId)
    .orderBy('id')
    .limit(limit)
    .execute();
}

/**
 * One page of the tenant's billing records in the order a syncing consumer needs: by the time of
 * their last change (a correction moves a record to the end), ids breaking ties; `limit + 1`
 * rows, so the caller knows whether another page follows.
 */
export async function listTenantBillingRecords(
  db: Db,
  page: { tenantId: string; limit: number; updatedSince?: IsoTimestamp; after?: { updatedAt: string; id: string } },
) {
  let query = db
    .selectFrom('billing_records')
    .select([
      'id',
      'consultation_id',
      'billable_seconds',
      'rounded_seconds',
      'intervals',
      'evidence',
      'version',
      'created_at',
      'updated_at',
    ])
    .where('tenant_id', '=', page.tenantId)
    .orderBy('updated_at')
    .orderBy('id')
    .limit(page.limit + 1);
  if (page.updatedSince !== undefined) query = query.where('updated_at', '>', page.updatedSince);
  const after = page.after;
  if (after) {
    query = query.where((eb) =>
      eb.or([eb('updated_at', '>', after.updatedAt), eb.and([eb('updated_at', '=', after.updatedAt), eb('id', '>', after.id)])]),
    );
  }
  return query.execute();
}

/** Every billing record (operator summaries, benches). */
export async function listAllBillingRecords(db: Db) {
  return db.selectFrom('billing_records').select(['consultation_id', 'billable_seconds', 'rounded_seconds']).execute();
}
