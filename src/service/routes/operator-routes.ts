/**
 * /v1/operator/… — what the platform operator's console reads across tenants (Bearer
 * ROOMGATE_OPERATOR_TOKEN): refusals by reason over time, quarantined callbacks with their
 * reason, the signature doctor (core/signature/diagnose.ts, as `roomgate diagnose`), tenants
 * with counts and health, reconciliation activity. No answer carries a signature or a secret.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { refusalBuckets } from '../../core/operator/refusal-buckets.js';
import { diagnoseSignature } from '../../core/signature/diagnose.js';
import type { SigningSecret } from '../../core/signature/verifier.js';
import {
  countConsultationsByTenantAndStatus,
  countHeldLateCallbacks,
  countQuarantinedCallbacksByTenant,
  countStaleConsultationsByTenant,
  findLease,
  lastCallbackByTenant,
  listRecentAuditRowsByAction,
  listRecentlyReconciled,
  listRecentSecurityEvents,
  listSecurityEventsSince,
} from '../../storage/operator-repository.js';
import type { Store } from '../../storage/store.js';
import { listTenants } from '../../storage/tenant-repository.js';
import { DiagnoseBody, QuarantineQuery, RefusalsQuery } from '../api/schemas/operator.js';
import { page, withErrors } from '../api/schemas/common.js';
import { registerOperatorAuth } from '../operator/operator-auth.js';
import { decodeCursor, encodeCursor } from './page-cursor.js';

/** Events one chart reads at most: 100 stored per alert window keeps a week of minutes under it. */
const CHART_READ_LIMIT = 50_000;
const FINAL = ['completed', 'cancelled', 'no-show'];
const LIVE = new Set(['waiting', 'in-progress']);
const HOUR = 3_600_000;

export interface OperatorRouteOptions {
  readonly store: Store;
  readonly clock: () => Date;
  readonly operatorToken: string | undefined;
  /** The secrets callbacks are verified with now (rotation included): the doctor's default. */
  readonly secrets: () => readonly SigningSecret[];
  readonly publicUrl: string | undefined;
}

const quarantined = (detail: string) => parseDetail(detail).outcome === 'quarantined';

function parseDetail(detail: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(detail);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const text = (value: unknown) => (typeof value === 'string' ? value : null);

export async function operatorRoutes(root: FastifyInstance, options: OperatorRouteOptions): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { store, clock } = options;
  registerOperatorAuth(root, options.operatorToken);
  const config = { operator: true };

  app.get(
    '/v1/operator/refusals',
    {
      config,
      schema: {
        summary: 'Refused callbacks by reason over the last hours (for a chart).',
        querystring: RefusalsQuery,
        response: withErrors({ 200: Type.Ref('RefusalChart') }),
      },
    },
    async (request) => {
      const { hours = 6, bucketMinutes = 15 } = request.query;
      const to = clock();
      const from = new Date(to.getTime() - hours * HOUR);
      const rows = await listSecurityEventsSince(store.db, from.toISOString(), CHART_READ_LIMIT);
      const refusals = rows.filter((row) => !quarantined(row.detail)).map((row) => ({ reason: row.reason, at: row.created_at }));
      const chart = refusalBuckets(refusals, { from, to, bucketMs: bucketMinutes * 60_000 });
      return { from: from.toISOString(), to: to.toISOString(), bucketMinutes, ...chart, truncated: rows.length >= CHART_READ_LIMIT };
    },
  );

  app.get(
    '/v1/operator/quarantine',
    {
      config,
      schema: {
        summary: 'Quarantined callbacks with their reason, newest first.',
        description: 'Signed callbacks kept aside and never applied. Never shows a signature, a secret or the payload.',
        querystring: QuarantineQuery,
        response: withErrors({ 200: page(Type.Ref('QuarantinedCallback')) }),
      },
    },
    async (request) => {
      const { limit = 100, cursor } = request.query;
      const data: {
        id: string;
        at: string;
        reason: string;
        event: string | null;
        roomSid: string | null;
        accountSid: string | null;
      }[] = [];
      let before = cursor ? decodeCursor(cursor) : undefined;
      let more = false;
      // Refusals and quarantines share the table: read on until a page of quarantines is full.
      for (let scans = 0; scans < 20 && data.length <= limit; scans++) {
        const rows = await listRecentSecurityEvents(store.db, 500, before);
        for (const row of rows) {
          if (!quarantined(row.detail)) continue;
          const detail = parseDetail(row.detail);
          data.push({
            id: row.id,
            at: row.created_at,
            reason: row.reason,
            event: text(detail.event),
            roomSid: text(detail.roomSid),
            accountSid: row.claimed_account_sid,
          });
        }
        const last = rows.at(-1);
        if (rows.length < 500 || !last) break;
        before = { createdAt: last.created_at, id: last.id };
        more = true;
      }
      const pageRows = data.slice(0, limit);
      const last = pageRows.at(-1);
      return {
        data: pageRows,
        nextCursor: (data.length > limit || more) && last ? encodeCursor({ createdAt: last.at, id: last.id }) : null,
      };
    },
  );

  app.post(
    '/v1/operator/signature-doctor',
    {
      config,
      schema: {
        summary: 'Why a Twilio signature does not match: every cause `roomgate diagnose` finds.',
        description:
          'Give the URL verified against, the form parameters and the X-Twilio-Signature; optionally an auth token (else the configured ones are tried). Answers the causes (scheme, host, port, path prefix, query encoding, parameters, re-split, token; several when they combine) and the URL that would have matched. Neither the token nor the signature is stored, logged or echoed.',
        body: DiagnoseBody,
        response: withErrors({ 200: Type.Ref('DiagnoseResult') }),
      },
    },
    async (request) => {
      const { url, params, signature, token } = request.body;
      // A 44-character signature is HMAC-SHA256 (a shared key), else HMAC-SHA1 (an auth token).
      const algorithm = signature.trim().length === 44 ? ('sha256' as const) : ('sha1' as const);
      const secrets = token ? [{ id: 'the given token', algorithm, secret: token }] : options.secrets();
      const result = diagnoseSignature({
        url,
        params: params.map(({ name, value }) => [name, value] as const),
        signature,
        secrets,
        publicUrl: options.publicUrl,
      });
      if (result.match) {
        return {
          match: !result.warning,
          causes: result.warning ? [result.warning.cause] : [],
          explanation: result.warning ? result.warning.explanation : `the signature is valid for ${result.url}`,
          matchingUrl: result.url,
          secretId: result.secretId,
        };
      }
      return {
        match: false,
        causes: [...result.causes],
        explanation: result.explanation,
        matchingUrl: result.matchingUrl ?? null,
        secretId: null,
      };
    },
  );

  app.get(
    '/v1/operator/tenants',
    {
      config,
      schema: {
        summary: 'Every tenant with its consultation counts and health.',
        description:
          'health.status is `attention` when a callback of its rooms was quarantined in the last day or a consultation has been neither final nor changed for an hour.',
        response: withErrors({ 200: Type.Object({ data: Type.Array(Type.Ref('OperatorTenant')) }, { additionalProperties: false }) }),
      },
    },
    async () => {
      const now = clock().getTime();
      const [tenants, counts, stale, quarantine, lastCallback] = await Promise.all([
        listTenants(store.db),
        countConsultationsByTenantAndStatus(store.db),
        countStaleConsultationsByTenant(store.db, new Date(now - HOUR).toISOString(), FINAL),
        countQuarantinedCallbacksByTenant(store.db, new Date(now - 24 * HOUR).toISOString()),
        lastCallbackByTenant(store.db),
      ]);
      return {
        data: tenants.map((tenant) => {
          const mine = counts.filter((row) => row.tenantId === tenant.id);
          const quarantinedLastDay = quarantine.get(tenant.id) ?? 0;
          const staleConsultations = stale.get(tenant.id) ?? 0;
          return {
            id: tenant.id,
            slug: tenant.slug,
            name: tenant.name,
            kind: tenant.kind,
            createdAt: tenant.created_at,
            consultations: {
              total: mine.reduce((sum, row) => sum + row.count, 0),
              live: mine.filter((row) => LIVE.has(row.status)).reduce((sum, row) => sum + row.count, 0),
              byStatus: Object.fromEntries(mine.map((row) => [row.status, row.count])),
            },
            health: {
              status: quarantinedLastDay > 0 || staleConsultations > 0 ? ('attention' as const) : ('ok' as const),
              quarantinedLastDay,
              staleConsultations,
              lastCallbackAt: lastCallback.get(tenant.id) ?? null,
            },
          };
        }),
      };
    },
  );

  app.get(
    '/v1/operator/reconciliation',
    {
      config,
      schema: {
        summary: "The reconciler's activity: its lease, held late callbacks, the records it changed and those it compared.",
        response: withErrors({ 200: Type.Ref('ReconciliationActivity') }),
      },
    },
    async () => {
      const [lease, held, changes, compared] = await Promise.all([
        findLease(store.db, 'reconciler'),
        countHeldLateCallbacks(store.db),
        listRecentAuditRowsByAction(store.db, 'consultation.reconciled', 50),
        listRecentlyReconciled(store.db, 50),
      ]);
      return {
        lease: lease ? { holder: lease.holder, expiresAt: lease.expires_at } : null,
        heldLateCallbacks: held,
        changes: changes.map((row) => {
          const detail = parseDetail(row.detail);
          return {
            at: row.created_at,
            consultationId: row.target,
            outcome: row.outcome,
            reason: text(detail.reason),
            facts: Array.isArray(detail.facts) ? detail.facts.filter((fact): fact is string => typeof fact === 'string') : [],
            confirmedLate: typeof detail.confirmedLate === 'number' ? detail.confirmedLate : 0,
          };
        }),
        compared: compared.map((row) => ({
          consultationId: row.id,
          tenant: row.slug,
          status: row.status,
          reconciledAt: row.reconciled_at!,
        })),
      };
    },
  );
}
