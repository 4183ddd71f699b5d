/**
 * Idempotency-Key records (migration 0008). The primary key (tenant, key) decides which of
 * several concurrent requests runs: only one insert of the claim succeeds; the others read it.
 */
import type { Kysely } from 'kysely';
import { insertIfAbsent } from './insert-if-absent.js';
import type { Database } from './schema.js';

export interface IdempotencyClaim {
  readonly tenantId: string;
  readonly key: string;
  readonly fingerprint: string;
  readonly now: string;
  readonly lockedUntil: string;
  readonly expiresAt: string;
}

export interface StoredIdempotency {
  readonly fingerprint: string;
  readonly status: 'in-progress' | 'done';
  readonly responseStatus: number | null;
  readonly responseBody: string | null;
  readonly responseLocation: string | null;
  readonly lockedUntil: string;
  readonly expiresAt: string;
}

/** True when this call now owns the key (no live record existed). */
export async function claimIdempotencyKey(db: Kysely<Database>, claim: IdempotencyClaim): Promise<boolean> {
  const row = {
    tenant_id: claim.tenantId,
    idempotency_key: claim.key,
    fingerprint: claim.fingerprint,
    status: 'in-progress' as const,
    response_status: null,
    response_body: null,
    response_location: null,
    locked_until: claim.lockedUntil,
    created_at: claim.now,
    expires_at: claim.expiresAt,
  };
  if (await insertIfAbsent(db, 'idempotency_keys', { tenant_id: claim.tenantId, idempotency_key: claim.key }, row)) return true;
  // An expired record, or an in-progress claim whose owner vanished (crash), may be taken over —
  // by one request only: the update names the state it saw.
  const taken = await db
    .updateTable('idempotency_keys')
    .set({ ...row })
    .where('tenant_id', '=', claim.tenantId)
    .where('idempotency_key', '=', claim.key)
    .where((eb) =>
      eb.or([eb('expires_at', '<=', claim.now), eb.and([eb('status', '=', 'in-progress'), eb('locked_until', '<=', claim.now)])]),
    )
    .executeTakeFirst();
  return Number(taken.numUpdatedRows) > 0;
}

export async function readIdempotencyKey(db: Kysely<Database>, tenantId: string, key: string): Promise<StoredIdempotency | undefined> {
  const row = await db
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('idempotency_key', '=', key)
    .executeTakeFirst();
  return row
    ? {
        fingerprint: row.fingerprint,
        status: row.status,
        responseStatus: row.response_status,
        responseBody: row.response_body,
        responseLocation: row.response_location,
        lockedUntil: row.locked_until,
        expiresAt: row.expires_at,
      }
    : undefined;
}

export async function completeIdempotencyKey(
  db: Kysely<Database>,
  input: { tenantId: string; key: string; fingerprint: string; status: number; body: string; location: string | null },
): Promise<void> {
  await db
    .updateTable('idempotency_keys')
    .set({ status: 'done', response_status: input.status, response_body: input.body, response_location: input.location })
    .where('tenant_id', '=', input.tenantId)
    .where('idempotency_key', '=', input.key)
    .where('fingerprint', '=', input.fingerprint)
    .execute();
}

/** The request failed in a way worth retrying (5xx): the key is free again. */
export async function releaseIdempotencyKey(db: Kysely<Database>, tenantId: string, key: string, fingerprint: string): Promise<void> {
  await db
    .deleteFrom('idempotency_keys')
    .where('tenant_id', '=', tenantId)
    .where('idempotency_key', '=', key)
    .where('fingerprint', '=', fingerprint)
    .where('status', '=', 'in-progress')
    .execute();
}
