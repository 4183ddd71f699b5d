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

/** The consultation's billing record as the API shows it, or undefined. */
export async function findConsultationBilling(db: Db, consultationId: string) {
  return db
    .selectFrom('billing_records')
    .select(['id', 'billable_seconds', 'rounded_seconds', 'created_at'])
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
    { id: newId('bil'), consultation_id: consultationId, tenant_id: record.tenantId, created_at: record.now, ...fields },
  );
  // Still one record: a late event that changes the overlap corrects it in place.
  if (!inserted) await db.updateTable('billing_records').set(fields).where('consultation_id', '=', consultationId).execute();
}

/** A tenant's billing records after `since`, oldest first. */
export async function listTenantBillingRecords(db: Db, page: { tenantId: string; limit: number; since?: string }) {
  let query = db
    .selectFrom('billing_records')
    .select(['id', 'consultation_id', 'billable_seconds', 'rounded_seconds', 'intervals', 'created_at'])
    .where('tenant_id', '=', page.tenantId)
    .orderBy('created_at')
    .orderBy('id')
    .limit(page.limit);
  if (page.since) query = query.where('created_at', '>', page.since);
  return query.execute();
}

/** Every billing record (operator summaries, benches). */
export async function listAllBillingRecords(db: Db) {
  return db.selectFrom('billing_records').select(['consultation_id', 'billable_seconds', 'rounded_seconds']).execute();
}
