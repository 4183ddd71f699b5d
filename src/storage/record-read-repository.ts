/** Reads of one consultation's recordings and composition, and of a tenant's billing records. */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export async function listConsultationRecordings(db: Kysely<Database>, consultationId: string) {
  return db
    .selectFrom('recordings')
    .select(['recording_sid', 'track_name', 'status', 'duration', 'size', 'media_uri', 'created_at', 'completed_at'])
    .where('consultation_id', '=', consultationId)
    .orderBy('created_at')
    .execute();
}

export async function findConsultationComposition(db: Kysely<Database>, consultationId: string) {
  return db
    .selectFrom('compositions')
    .select(['composition_sid', 'status', 'attempts', 'media_uri', 'updated_at'])
    .where('consultation_id', '=', consultationId)
    .executeTakeFirst();
}

/**
 * One page of the tenant's billing records in the order a syncing consumer needs: by the time
 * of their last change (a correction moves a record to the end), ids breaking ties. Up to
 * limit + 1 rows, so the caller knows whether another page follows.
 */
export async function listBillingRecords(
  db: Kysely<Database>,
  query: { tenantId: string; limit: number; updatedSince?: string; after?: { updatedAt: string; id: string } },
) {
  let select = db
    .selectFrom('billing_records')
    .select(['id', 'consultation_id', 'billable_seconds', 'rounded_seconds', 'intervals', 'version', 'created_at', 'updated_at'])
    .where('tenant_id', '=', query.tenantId)
    .orderBy('updated_at')
    .orderBy('id')
    .limit(query.limit + 1);
  if (query.updatedSince !== undefined) select = select.where('updated_at', '>', query.updatedSince);
  const after = query.after;
  if (after) {
    select = select.where((eb) =>
      eb.or([eb('updated_at', '>', after.updatedAt), eb.and([eb('updated_at', '=', after.updatedAt), eb('id', '>', after.id)])]),
    );
  }
  return select.execute();
}
