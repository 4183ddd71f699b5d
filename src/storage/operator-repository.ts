/**
 * What the platform operator's console reads across tenants: security events of a period,
 * tenants with their consultation counts and health signals, and reconciliation activity.
 * Read-only; every query bounded by a period or a limit.
 */
import type { Kysely } from 'kysely';
import type { Database, IsoTimestamp } from './schema.js';

type Db = Kysely<Database>;

/** Security events (refusals and quarantines) at or after `since`, oldest first, at most `limit`. */
export async function listSecurityEventsSince(db: Db, since: IsoTimestamp, limit: number) {
  return db
    .selectFrom('security_events')
    .select(['id', 'reason', 'path', 'claimed_account_sid', 'detail', 'created_at'])
    .where('created_at', '>=', since)
    .orderBy('created_at')
    .orderBy('id')
    .limit(limit)
    .execute();
}

/** The newest security events, newest first (the quarantine list filters them). */
export async function listRecentSecurityEvents(db: Db, limit: number, before?: { createdAt: string; id: string }) {
  let query = db
    .selectFrom('security_events')
    .select(['id', 'reason', 'path', 'claimed_account_sid', 'detail', 'created_at'])
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit);
  if (before) {
    query = query.where((eb) =>
      eb.or([eb('created_at', '<', before.createdAt), eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)])]),
    );
  }
  return query.execute();
}

/** Consultations per tenant and status. */
export async function countConsultationsByTenantAndStatus(db: Db) {
  const rows = await db
    .selectFrom('consultations')
    .select(['tenant_id', 'status', (eb) => eb.fn.countAll<number | string>().as('n')])
    .groupBy(['tenant_id', 'status'])
    .execute();
  return rows.map((row) => ({ tenantId: row.tenant_id, status: row.status, count: Number(row.n) }));
}

/** Consultations per tenant not final and unchanged since `before` (the reconciler should be on them). */
export async function countStaleConsultationsByTenant(db: Db, before: IsoTimestamp, finalStatuses: readonly string[]) {
  const rows = await db
    .selectFrom('consultations')
    .select(['tenant_id', (eb) => eb.fn.countAll<number | string>().as('n')])
    .where('status', 'not in', [...finalStatuses])
    .where('updated_at', '<', before)
    .groupBy('tenant_id')
    .execute();
  return new Map(rows.map((row) => [row.tenant_id, Number(row.n)]));
}

/** Quarantined callbacks per tenant (through the consultation of their room) received at or after `since`. */
export async function countQuarantinedCallbacksByTenant(db: Db, since: IsoTimestamp) {
  const rows = await db
    .selectFrom('callbacks')
    .innerJoin('consultations', 'consultations.room_sid', 'callbacks.room_sid')
    .select(['consultations.tenant_id as tenant_id', (eb) => eb.fn.countAll<number | string>().as('n')])
    .where('callbacks.status', '=', 'quarantined')
    .where('callbacks.held', 'is', null)
    .where('callbacks.received_at', '>=', since)
    .groupBy('consultations.tenant_id')
    .execute();
  return new Map(rows.map((row) => [row.tenant_id, Number(row.n)]));
}

/** The last callback received for each tenant's rooms. */
export async function lastCallbackByTenant(db: Db) {
  const rows = await db
    .selectFrom('callbacks')
    .innerJoin('consultations', 'consultations.room_sid', 'callbacks.room_sid')
    .select(['consultations.tenant_id as tenant_id', (eb) => eb.fn.max('callbacks.received_at').as('last')])
    .groupBy('consultations.tenant_id')
    .execute();
  return new Map(rows.map((row) => [row.tenant_id, row.last as string | null]));
}

/** The consultations the reconciler compared most recently, newest first. */
export async function listRecentlyReconciled(db: Db, limit: number) {
  return db
    .selectFrom('consultations')
    .innerJoin('tenants', 'tenants.id', 'consultations.tenant_id')
    .select(['consultations.id', 'tenants.slug', 'consultations.status', 'consultations.reconciled_at'])
    .where('consultations.reconciled_at', 'is not', null)
    .orderBy('consultations.reconciled_at', 'desc')
    .orderBy('consultations.id', 'desc')
    .limit(limit)
    .execute();
}

/** Held late callbacks waiting for the reconciler to confirm them. */
export async function countHeldLateCallbacks(db: Db): Promise<number> {
  const row = await db
    .selectFrom('callbacks')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('held', '=', 'late')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Audit rows of one action, newest first (reconciliation's changes). */
export async function listRecentAuditRowsByAction(db: Db, action: string, limit: number) {
  return db
    .selectFrom('audit_log')
    .select(['id', 'actor', 'target', 'outcome', 'detail', 'created_at'])
    .where('action', '=', action)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}

/** The reconciler's lease: who holds it, until when. */
export async function findLease(db: Db, name: string) {
  return db.selectFrom('reconcile_leases').select(['holder', 'expires_at']).where('name', '=', name).executeTakeFirst();
}
