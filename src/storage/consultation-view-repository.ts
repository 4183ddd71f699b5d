/**
 * Reads of a tenant's consultations as the API shows them, always scoped by tenant id: one page
 * of a list (newest first, keyset-paged, filtered by status / externalRef) and the full views
 * of several consultations in a fixed number of queries (participants, sessions, timeline and
 * billing are fetched for all of them at once, never one consultation at a time).
 */
import type { Kysely } from 'kysely';
import type { ConsultationRow, Database } from './schema.js';

export interface ConsultationPageQuery {
  readonly tenantId: string;
  readonly limit: number;
  readonly after?: { readonly createdAt: string; readonly id: string };
  readonly status?: string;
  readonly externalRef?: string;
}

/** Up to limit + 1 rows, so the caller knows whether another page follows. */
export async function listTenantConsultations(db: Kysely<Database>, query: ConsultationPageQuery): Promise<ConsultationRow[]> {
  let select = db
    .selectFrom('consultations')
    .selectAll()
    .where('tenant_id', '=', query.tenantId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(query.limit + 1);
  if (query.status !== undefined) select = select.where('status', '=', query.status);
  if (query.externalRef !== undefined) select = select.where('external_ref', '=', query.externalRef);
  const after = query.after;
  if (after) {
    select = select.where((eb) =>
      eb.or([eb('created_at', '<', after.createdAt), eb.and([eb('created_at', '=', after.createdAt), eb('id', '<', after.id)])]),
    );
  }
  return select.execute();
}

export async function findTenantConsultationRow(db: Kysely<Database>, tenantId: string, id: string): Promise<ConsultationRow | undefined> {
  return db.selectFrom('consultations').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
}

export async function findConsultationByExternalRef(db: Kysely<Database>, tenantId: string, externalRef: string) {
  return db
    .selectFrom('consultations')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('external_ref', '=', externalRef)
    .executeTakeFirst();
}

/** What the view needs besides the consultation rows, for all of them at once. */
export async function loadConsultationDetails(db: Kysely<Database>, consultations: readonly ConsultationRow[]) {
  const ids = consultations.map((row) => row.id);
  const roomSids = consultations.flatMap((row) => (row.room_sid ? [row.room_sid] : []));
  if (ids.length === 0) return { participants: [], sessions: [], timeline: [], billing: [] };
  const [participants, sessions, timeline, billing] = await Promise.all([
    db
      .selectFrom('participants')
      .select(['consultation_id', 'identity', 'role'])
      .where('consultation_id', 'in', ids)
      .orderBy('identity')
      .execute(),
    db
      .selectFrom('participant_sessions')
      .select(['consultation_id', 'participant_sid', 'identity', 'connected_at', 'disconnected_at'])
      .where('consultation_id', 'in', ids)
      .orderBy('connected_at')
      .execute(),
    roomSids.length === 0
      ? Promise.resolve([])
      : db
          .selectFrom('callbacks')
          .select(['room_sid', 'event_type', 'event_timestamp', 'participant_identity', 'status'])
          .where('room_sid', 'in', roomSids)
          .orderBy('event_timestamp')
          .orderBy('id')
          .execute(),
    db
      .selectFrom('billing_records')
      .select(['consultation_id', 'id', 'billable_seconds', 'rounded_seconds', 'version', 'created_at', 'updated_at'])
      .where('consultation_id', 'in', ids)
      .execute(),
  ]);
  return { participants, sessions, timeline, billing };
}
