/**
 * GET /v1/audit-log — the authenticated tenant's audit rows, newest first. `since` (ISO 8601)
 * keeps rows at or after that instant; `cursor` (from the previous page's `nextCursor`) pages
 * towards older rows; `limit` 1–500 (default 100). Operator rows (no tenant) and other tenants'
 * rows are never returned.
 */
import type { FastifyInstance } from 'fastify';
import { listTenantAuditPage } from '../../storage/audit-repository.js';
import type { Store } from '../../storage/store.js';
import { HttpError } from '../errors.js';
import { decodeCursor, encodeCursor } from './page-cursor.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 500;

export async function auditRoutes(app: FastifyInstance, options: { store: Store }): Promise<void> {
  const { store } = options;

  app.get<{ Querystring: { since?: string; cursor?: string; limit?: string } }>(
    '/v1/audit-log',
    { config: { scope: 'audit:read' } },
    async (request) => {
      const limit = parseLimit(request.query.limit);
      const rows = await listTenantAuditPage(store.db, {
        tenantId: request.tenant.id,
        limit,
        ...(request.query.since !== undefined ? { since: parseSince(request.query.since) } : {}),
        ...(request.query.cursor !== undefined ? { before: decodeCursor(request.query.cursor) } : {}),
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        data: page.map((row) => ({
          id: row.id,
          actor: row.actor,
          action: row.action,
          target: row.target,
          outcome: row.outcome,
          detail: JSON.parse(row.detail) as unknown,
          createdAt: row.created_at,
        })),
        nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.created_at, id: last.id }) : null,
      };
    },
  );
}

function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_LIMIT;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > MAX_LIMIT)
    throw new HttpError('VALIDATION_FAILED', `limit must be an integer from 1 to ${MAX_LIMIT}`);
  return value;
}

/** Any ISO 8601 instant, compared as the stored UTC form (lexical order is time order). */
function parseSince(raw: string): string {
  const time = /^\d{4}-\d{2}-\d{2}T/.test(raw) ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(time)) throw new HttpError('VALIDATION_FAILED', 'since must be an ISO 8601 date-time');
  return new Date(time).toISOString();
}
