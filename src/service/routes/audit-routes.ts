/**
 * GET /v1/audit-log — the authenticated tenant's audit rows, newest first. `since` (RFC 3339)
 * keeps rows at or after that instant; `cursor` (from the previous page's `nextCursor`) pages
 * towards older rows; `limit` as on every list. Operator rows (no tenant) and other tenants'
 * rows are never returned.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { listTenantAuditPage } from '../../storage/audit-repository.js';
import type { Store } from '../../storage/store.js';
import { page, withErrors } from '../api/schemas/common.js';
import { ListAuditQuery } from '../api/schemas/records.js';
import { decodeCursor, pageOf } from './page-cursor.js';
import { toUtcTimestamp } from './utc-timestamp.js';

export async function auditRoutes(root: FastifyInstance, options: { store: Store }): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { store } = options;

  app.get(
    '/v1/audit-log',
    {
      config: { scope: 'audit:read' },
      schema: {
        summary: "The tenant's audit log, newest first.",
        querystring: ListAuditQuery,
        response: withErrors({ 200: page(Type.Ref('AuditEntry')) }),
      },
    },
    async (request) => {
      const { limit = 100, cursor, since } = request.query;
      const rows = await listTenantAuditPage(store.db, {
        tenantId: request.tenant.id,
        limit,
        ...(since !== undefined ? { since: toUtcTimestamp(since, 'since') } : {}),
        ...(cursor ? { before: decodeCursor(cursor) } : {}),
      });
      const { pageRows, nextCursor } = pageOf(rows, limit, (last) => ({ createdAt: last.created_at, id: last.id }));
      return {
        data: pageRows.map((row) => ({
          id: row.id,
          actor: row.actor,
          action: row.action,
          target: row.target,
          outcome: row.outcome,
          detail: JSON.parse(row.detail) as unknown,
          createdAt: row.created_at,
        })),
        nextCursor,
      };
    },
  );
}
