/**
 * `roomgate key create --tenant SLUG --scopes a,b [--expires 90d]` (prints the key once),
 * `roomgate key list [--tenant SLUG]`, `roomgate key revoke ID`.
 */
import { isScope, SCOPES } from '../../service/auth/scopes.js';
import { parseDuration } from '../../service/duration.js';
import { createApiKey } from '../../service/tenants/tenant-admin.js';
import { UsageError } from '../command.js';
import { auditCli, openCliStore } from '../cli-store.js';
import { findApiKey, findTenantIdBySlug, listApiKeys, revokeApiKey } from '../../storage/tenant-repository.js';
import type { KeyCreateOptions } from '../program.js';

export async function createKeyCommand(options: KeyCreateOptions): Promise<number> {
  const { tenant: slug, expires } = options;
  const scopes = options.scopes
    .split(',')
    .map((scope) => scope.trim())
    .filter(Boolean);
  if (scopes.length === 0) throw new UsageError(`--scopes is required: a comma list of ${SCOPES.join(', ')}`);
  const unknown = scopes.filter((scope) => !isScope(scope));
  if (unknown.length > 0) throw new UsageError(`unknown scope(s): ${unknown.join(', ')}; known: ${SCOPES.join(', ')}`);
  let expiresAt: string | null = null;
  if (expires !== undefined) {
    const ms = parseDuration(expires);
    if (!ms) throw new UsageError('--expires must be a duration such as 90d or 12h');
    expiresAt = new Date(Date.now() + ms).toISOString();
  }
  const store = await openCliStore();
  try {
    const tenantId = await findTenantIdBySlug(store.db, slug);
    if (!tenantId) {
      console.error(`roomgate: no tenant '${slug}'`);
      return 1;
    }
    const { id, key } = await createApiKey(store, { tenantId, scopes, expiresAt });
    await auditCli(store, { tenantId, action: 'key.create', target: id, outcome: 'created', detail: { scopes, expiresAt } });
    // The key itself goes to stdout once, for the operator to hand over; it is not stored.
    console.log(JSON.stringify({ id, tenant: slug, scopes, expiresAt, key }));
    console.error('roomgate: store this key now; only its hash is kept and it cannot be shown again');
    return 0;
  } finally {
    await store.close();
  }
}

export async function listKeysCommand(options: { tenant?: string }): Promise<number> {
  const slug = options.tenant;
  const store = await openCliStore();
  try {
    for (const row of await listApiKeys(store.db, slug ? { tenantSlug: slug } : {})) {
      console.log(
        JSON.stringify({
          id: row.id,
          tenant: row.slug,
          prefix: `rgk_${row.lookup_id.slice(0, 6)}…`,
          scopes: row.scopes.split(','),
          expiresAt: row.expires_at,
          revokedAt: row.revoked_at,
          lastUsedAt: row.last_used_at,
          createdAt: row.created_at,
        }),
      );
    }
    return 0;
  } finally {
    await store.close();
  }
}

export async function revokeKeyCommand(id: string): Promise<number> {
  const store = await openCliStore();
  try {
    const key = await findApiKey(store.db, id);
    if (!(await revokeApiKey(store.db, id, new Date().toISOString()))) {
      console.error(`roomgate: no active key '${id}'`);
      return 1;
    }
    await auditCli(store, { tenantId: key?.tenant_id ?? null, action: 'key.revoke', target: id, outcome: 'revoked' });
    console.log(JSON.stringify({ id, revoked: true }));
    return 0;
  } finally {
    await store.close();
  }
}
