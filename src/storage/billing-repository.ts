/** Billing records (one per consultation, UNIQUE): every query on them, written once. */
import type { Kysely } from 'kysely';
import { newId } from './ids.js';
import { insertIfAbsent } from './insert-if-absent.js';
import type { Database, IsoTimestamp, JsonText } from './schema.js';

type Db = Kysely<Database>;

export interface BillingFields {
  readonly billable_seconds: number;
  readonly rounded_seconds: number;
  /** JSON text: [{ start, end }] as ISO timestamps. */
  readonly intervals: JsonText;
}

/** The consultation's billing record as the projector compares it, or undefined. */
export async function findBillingFields(db: Db, consultationId: string) {
  return db
    .selectFrom('billing_records')
    .select(['billable_seconds', 'rounded_seconds', 'intervals'])
    .where('consultation_id', '=', consultationId)
    .executeTakeFirst();
}

/** Writes the consultation's one billing record: inserted once, corrected in place after. */
export async function upsertBillingRecord(
  db: Db,
  record: { consultationId: string; tenantId: string; now: IsoTimestamp; fields: BillingFields },
): Promise<void> {
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
    },
  );
  // Still one record: a late event that changes the overlap corrects it in place, and the
  // correction is visible to a consumer syncing by updatedSince (updated_at moves, version + 1).
  if (!inserted) {
    await db
      .updateTable('billing_records')
      .set((eb) => ({ ...fields, updated_at: record.now, version: eb('version', '+', 1) }))
      .where('consultation_id', '=', consultationId)
      .execute();
  }
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
    .select(['id', 'consultation_id', 'billable_seconds', 'rounded_seconds', 'intervals', 'version', 'created_at', 'updated_at'])
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
