/**
 * /v1/api-keys — a tenant manages its own keys (scope keys:manage) without database access:
 * create (the full key is in that answer only), list, fetch, revoke. A key can never grant a
 * scope it does not hold itself, so keys:manage cannot escalate. Creation and revocation are
 * audited with the acting key. Another tenant's key id is not found (404).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { findTenantApiKey, listTenantApiKeysPage, revokeTenantApiKey } from '../../storage/tenant-repository.js';
import type { Store } from '../../storage/store.js';
import { CreateApiKeyBody, ListApiKeysQuery } from '../api/schemas/api-key.js';
import { IdParams, page, withErrors } from '../api/schemas/common.js';
import type { AuditLog } from '../audit-log.js';
import { HttpError } from '../errors.js';
import { createApiKey } from '../tenants/tenant-admin.js';
import { decodeCursor, pageOf } from './page-cursor.js';

type KeyRow = NonNullable<Awaited<ReturnType<typeof findTenantApiKey>>>;

const view = (row: KeyRow) => ({
  id: row.id,
  prefix: row.lookup_id,
  scopes: row.scopes.split(','),
  expiresAt: row.expires_at,
  revokedAt: row.revoked_at,
  lastUsedAt: row.last_used_at,
  createdAt: row.created_at,
});

export async function apiKeyRoutes(root: FastifyInstance, options: { store: Store; audit: AuditLog; clock: () => Date }): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { store, audit, clock } = options;

  app.post(
    '/v1/api-keys',
    {
      config: { scope: 'keys:manage' },
      schema: {
        summary: 'Create an API key for this tenant.',
        description:
          'The full key is in this answer only; store it now. Its scopes must be ones the calling key holds (a key can never grant more than it has). Not idempotent by design: an answer holding a secret is never stored for replay.',
        body: CreateApiKeyBody,
        response: withErrors({ 201: Type.Ref('CreatedApiKey') }),
      },
    },
    async (request, reply) => {
      const { scopes, expiresAt } = request.body;
      const lacking = scopes.find((scope) => !request.tenant.scopes.includes(scope));
      if (lacking) {
        audit.record({
          tenantId: request.tenant.id,
          actor: request.tenant.apiKeyId,
          action: 'api-key.create',
          target: request.tenant.id,
          outcome: 'refused',
          detail: { scopes, lacking },
        });
        throw new HttpError('FORBIDDEN_SCOPE', `A key can only grant scopes it holds; this one lacks ${lacking}.`, {
          details: { scope: lacking, field: 'scopes' },
        });
      }
      const now = clock();
      const expiry = expiresAt === undefined ? null : new Date(expiresAt);
      if (expiry && expiry.getTime() <= now.getTime()) {
        throw new HttpError('VALIDATION_FAILED', 'expiresAt must be in the future', { details: { field: 'expiresAt' } });
      }
      const created = await createApiKey(store, { tenantId: request.tenant.id, scopes, expiresAt: expiry?.toISOString() ?? null }, now);
      audit.record({
        tenantId: request.tenant.id,
        actor: request.tenant.apiKeyId,
        action: 'api-key.create',
        target: created.id,
        outcome: 'created',
        detail: { scopes },
      });
      const row = await findTenantApiKey(store.db, request.tenant.id, created.id);
      if (!row) throw new HttpError('INTERNAL');
      return reply
        .code(201)
        .header('location', `/v1/api-keys/${created.id}`)
        .header('cache-control', 'no-store')
        .send({ ...view(row), key: created.key });
    },
  );

  app.get(
    '/v1/api-keys',
    {
      config: { scope: 'keys:manage' },
      schema: {
        summary: "The tenant's API keys, newest first (never their secrets).",
        querystring: ListApiKeysQuery,
        response: withErrors({ 200: page(Type.Ref('ApiKey')) }),
      },
    },
    async (request) => {
      const { limit = 100, cursor } = request.query;
      const rows = await listTenantApiKeysPage(store.db, {
        tenantId: request.tenant.id,
        limit,
        ...(cursor ? { before: decodeCursor(cursor) } : {}),
      });
      const { pageRows, nextCursor } = pageOf(rows, limit, (last) => ({ createdAt: last.created_at, id: last.id }));
      return {
        data: pageRows.map(view),
        nextCursor,
      };
    },
  );

  app.get(
    '/v1/api-keys/:id',
    {
      config: { scope: 'keys:manage' },
      schema: { summary: 'One API key (never its secret).', params: IdParams, response: withErrors({ 200: Type.Ref('ApiKey') }, 404) },
    },
    async (request) => {
      const row = await findTenantApiKey(store.db, request.tenant.id, request.params.id);
      if (!row) throw new HttpError('NOT_FOUND');
      return view(row);
    },
  );

  app.delete(
    '/v1/api-keys/:id',
    {
      config: { scope: 'keys:manage' },
      schema: {
        summary: 'Revoke an API key; idempotent.',
        description: 'From now on the key gets 401; its live streams end within 5 s. Revoking a revoked key answers the same.',
        params: IdParams,
        response: withErrors({ 200: Type.Ref('ApiKey') }, 404),
      },
    },
    async (request) => {
      const revoked = await revokeTenantApiKey(store.db, request.tenant.id, request.params.id, clock().toISOString());
      const row = await findTenantApiKey(store.db, request.tenant.id, request.params.id);
      if (!row) throw new HttpError('NOT_FOUND');
      if (revoked) {
        audit.record({
          tenantId: request.tenant.id,
          actor: request.tenant.apiKeyId,
          action: 'api-key.revoke',
          target: row.id,
          outcome: 'revoked',
        });
      }
      return view(row);
    },
  );
}
