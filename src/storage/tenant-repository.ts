/** Tenants and their API keys: every query on them, written once. */
import type { Insertable, Kysely } from 'kysely';
import type { ApiKeysTable, Database, IsoTimestamp, NewTenant } from './schema.js';

type Db = Kysely<Database>;

export async function insertTenant(db: Db, tenant: NewTenant): Promise<void> {
  await db.insertInto('tenants').values(tenant).execute();
}

export async function findTenantIdBySlug(db: Db, slug: string): Promise<string | undefined> {
  return (await db.selectFrom('tenants').select('id').where('slug', '=', slug).executeTakeFirst())?.id;
}

/** Every tenant, oldest first. */
export async function listTenants(db: Db) {
  return db
    .selectFrom('tenants')
    .select([
      'id',
      'slug',
      'name',
      'kind',
      'billing_rounding_seconds',
      'billing_code_set',
      'billing_flat_mode',
      'retention_days',
      'consent_mode',
      'created_at',
    ])
    .orderBy('created_at')
    .orderBy('slug')
    .execute();
}

/** Sets the tenant's consent mode (NULL: off); false when no tenant has this slug. */
export async function setTenantConsentMode(db: Db, slug: string, mode: 'all-parties' | 'one-party' | null): Promise<boolean> {
  const result = await db.updateTable('tenants').set({ consent_mode: mode }).where('slug', '=', slug).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Removes a tenant and its keys (a test fixture: tenants are otherwise never deleted). */
export async function deleteTenantAndKeys(db: Db, tenantId: string): Promise<void> {
  await db.deleteFrom('api_keys').where('tenant_id', '=', tenantId).execute();
  await db.deleteFrom('tenants').where('id', '=', tenantId).execute();
}

export async function insertApiKey(db: Db, key: Insertable<ApiKeysTable>): Promise<void> {
  await db.insertInto('api_keys').values(key).execute();
}

/** The key behind a lookup id with its tenant: what authentication checks. */
export async function findApiKeyWithTenant(db: Db, lookupId: string) {
  return db
    .selectFrom('api_keys')
    .innerJoin('tenants', 'tenants.id', 'api_keys.tenant_id')
    .select([
      'api_keys.id as keyId',
      'api_keys.secret_hash',
      'api_keys.scopes',
      'api_keys.expires_at',
      'api_keys.revoked_at',
      'tenants.id as tenantId',
      'tenants.slug',
      'tenants.kind',
      'tenants.billing_rounding_seconds',
      'tenants.rate_limit_per_minute',
      'tenants.join_early_minutes',
      'tenants.join_grace_minutes',
      'tenants.waiting_room',
      'tenants.consent_mode',
    ])
    .where('api_keys.lookup_id', '=', lookupId)
    .executeTakeFirst();
}

export async function recordApiKeyUse(db: Db, keyId: string, at: IsoTimestamp): Promise<void> {
  await db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', keyId).execute();
}

/** Every key with its tenant's slug, oldest first; only one tenant's when a slug is given. */
export async function listApiKeys(db: Db, options: { tenantSlug?: string } = {}) {
  let query = db
    .selectFrom('api_keys')
    .innerJoin('tenants', 'tenants.id', 'api_keys.tenant_id')
    .select([
      'api_keys.id',
      'tenants.slug',
      'api_keys.lookup_id',
      'api_keys.scopes',
      'api_keys.expires_at',
      'api_keys.revoked_at',
      'api_keys.last_used_at',
      'api_keys.created_at',
    ])
    .orderBy('api_keys.created_at');
  if (options.tenantSlug) query = query.where('tenants.slug', '=', options.tenantSlug);
  return query.execute();
}

/** One key's row, or undefined. */
export async function findApiKey(db: Db, id: string) {
  return db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Revokes a key that is not revoked yet; true if this call revoked it. */
export async function revokeApiKey(db: Db, id: string, at: IsoTimestamp): Promise<boolean> {
  const result = await db
    .updateTable('api_keys')
    .set({ revoked_at: at })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Removes keys outright (a test fixture: keys are otherwise revoked, never deleted). */
export async function deleteApiKeys(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.deleteFrom('api_keys').where('id', 'in', ids).execute();
}

/** For each of these key ids that still exists: its revocation and expiry (live streams re-check them). */
export async function findApiKeyValidity(db: Db, keyIds: readonly string[]) {
  if (keyIds.length === 0) return [];
  return db
    .selectFrom('api_keys')
    .innerJoin('tenants', 'tenants.id', 'api_keys.tenant_id')
    .select(['api_keys.id', 'api_keys.revoked_at', 'api_keys.expires_at'])
    .where('api_keys.id', 'in', keyIds)
    .execute();
}

const TENANT_KEY_COLUMNS = ['id', 'lookup_id', 'scopes', 'expires_at', 'revoked_at', 'last_used_at', 'created_at'] as const;

/** One page of a tenant's keys, newest first; `limit + 1` rows, so the caller knows if more follow. */
export async function listTenantApiKeysPage(db: Db, page: { tenantId: string; limit: number; before?: { createdAt: string; id: string } }) {
  let query = db
    .selectFrom('api_keys')
    .select([...TENANT_KEY_COLUMNS])
    .where('tenant_id', '=', page.tenantId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(page.limit + 1);
  const before = page.before;
  if (before) {
    query = query.where((eb) =>
      eb.or([eb('created_at', '<', before.createdAt), eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)])]),
    );
  }
  return query.execute();
}

/** One of the tenant's keys (never another tenant's), without its hash. */
export async function findTenantApiKey(db: Db, tenantId: string, id: string) {
  return db
    .selectFrom('api_keys')
    .select([...TENANT_KEY_COLUMNS])
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Revokes one of the tenant's keys if it is not revoked yet; true if this call revoked it. */
export async function revokeTenantApiKey(db: Db, tenantId: string, id: string, at: IsoTimestamp): Promise<boolean> {
  const result = await db
    .updateTable('api_keys')
    .set({ revoked_at: at })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** A tenant's appointment-window and waiting-room settings (NULL: the defaults / off). */
export async function findTenantSettings(db: Db, tenantId: string) {
  return db
    .selectFrom('tenants')
    .select(['join_early_minutes', 'join_grace_minutes', 'waiting_room', 'consent_mode'])
    .where('id', '=', tenantId)
    .executeTakeFirst();
}

/** Changes the given settings of a tenant. */
export async function updateTenantSettings(
  db: Db,
  tenantId: string,
  fields: {
    join_early_minutes?: number | null;
    join_grace_minutes?: number | null;
    waiting_room?: number;
    consent_mode?: 'all-parties' | 'one-party' | null;
  },
): Promise<void> {
  if (Object.keys(fields).length === 0) return;
  await db.updateTable('tenants').set(fields).where('id', '=', tenantId).execute();
}
