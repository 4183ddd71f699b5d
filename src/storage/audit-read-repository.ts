/** The tenant's audit rows, newest first, keyset-paged. Up to limit + 1 rows. */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export async function listTenantAuditRows(
  db: Kysely<Database>,
  query: { tenantId: string; limit: number; since?: string; before?: { createdAt: string; id: string } },
) {
  let select = db
    .selectFrom('audit_log')
    .select(['id', 'actor', 'action', 'target', 'outcome', 'detail', 'created_at'])
    .where('tenant_id', '=', query.tenantId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(query.limit + 1);
  if (query.since !== undefined) select = select.where('created_at', '>=', query.since);
  const before = query.before;
  if (before) {
    select = select.where((eb) =>
      eb.or([eb('created_at', '<', before.createdAt), eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)])]),
    );
  }
  return select.execute();
}
