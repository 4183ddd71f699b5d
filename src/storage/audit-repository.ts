/** The audit log (append-only) and security events: every query on them, written once. */
import type { Kysely } from 'kysely';
import { newId } from './ids.js';
import type { Database, IsoTimestamp } from './schema.js';

type Db = Kysely<Database>;

export interface AuditRow {
  /** A fresh id when absent. */
  readonly id?: string;
  readonly tenantId: string | null;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly outcome: string;
  readonly detail?: Record<string, unknown>;
  readonly at: IsoTimestamp;
}

/** Appends audit rows in one statement. */
export async function insertAuditRows(db: Db, rows: readonly AuditRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('audit_log')
    .values(
      rows.map((row) => ({
        id: row.id ?? newId('aud'),
        tenant_id: row.tenantId,
        actor: row.actor,
        action: row.action,
        target: row.target,
        outcome: row.outcome,
        detail: JSON.stringify(row.detail ?? {}),
        created_at: row.at,
      })),
    )
    .execute();
}

/** One page of a tenant's audit rows, newest first; `limit + 1` rows, so the caller knows if more follow. */
export async function listTenantAuditPage(
  db: Db,
  page: { tenantId: string; limit: number; since?: IsoTimestamp; before?: { createdAt: string; id: string } },
) {
  let query = db
    .selectFrom('audit_log')
    .select(['id', 'actor', 'action', 'target', 'outcome', 'detail', 'created_at'])
    .where('tenant_id', '=', page.tenantId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(page.limit + 1);
  if (page.since !== undefined) query = query.where('created_at', '>=', page.since);
  const before = page.before;
  if (before) {
    query = query.where((eb) =>
      eb.or([eb('created_at', '<', before.createdAt), eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)])]),
    );
  }
  return query.execute();
}

/** Audit rows with this action (tests, operators). */
export async function listAuditRowsByAction(db: Db, action: string) {
  return db.selectFrom('audit_log').selectAll().where('action', '=', action).orderBy('created_at').orderBy('id').execute();
}

export interface SecurityEventRow {
  readonly reason: string;
  readonly remoteAddress: string;
  readonly path: string;
  readonly claimedAccountSid: string | null;
  readonly detail?: Record<string, unknown>;
  readonly at: IsoTimestamp;
}

/** Stores security events in one statement; the caller has bounded each value to its column. */
export async function insertSecurityEvents(db: Db, events: readonly SecurityEventRow[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto('security_events')
    .values(
      events.map((event) => ({
        id: newId('sev'),
        reason: event.reason,
        remote_address: event.remoteAddress,
        path: event.path,
        claimed_account_sid: event.claimedAccountSid,
        detail: JSON.stringify(event.detail ?? {}),
        created_at: event.at,
      })),
    )
    .execute();
}

/** Every security event (operator summaries, tests). */
export async function listSecurityEvents(db: Db) {
  return db.selectFrom('security_events').selectAll().orderBy('created_at').orderBy('id').execute();
}
