/**
 * /v1/webhook-endpoints — a tenant's outbound webhooks (scope webhooks:manage): endpoints (the
 * `whsec_` secret in the create and rotate answers only), secret rotation with an overlap, the
 * attempts of each endpoint, redelivery of one, recovery of everything since a time. The URL is
 * checked against the SSRF policy when saved (its literal address, and the addresses its name
 * resolves to now); every delivery checks the address again at connect time. Another tenant's
 * endpoint is not found (404). Changes are audited, never with the secret or the URL.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { checkWebhookUrl, isRefusedAddress, type OutboundPolicy } from '../../core/outbound/outbound-address-policy.js';
import { newWebhookSecret } from '../../core/outbound/standard-webhook-signature.js';
import type { Store } from '../../storage/store.js';
import {
  deleteWebhookEndpoint,
  enqueueRedelivery,
  findWebhookEndpoint,
  insertWebhookEndpoint,
  listWebhookAttemptsPage,
  listWebhookEndpointsPage,
  rotateWebhookSecret,
  updateWebhookEndpoint,
  type WebhookEndpointRow,
} from '../../storage/webhook-repository.js';
import { IdParams, page, withErrors } from '../api/schemas/common.js';
import {
  CreateWebhookEndpointBody,
  DeliveryParams,
  ListWebhookEndpointsQuery,
  RecoverBody,
  UpdateWebhookEndpointBody,
} from '../api/schemas/webhook-endpoint.js';
import type { AuditLog } from '../audit-log.js';
import { HttpError } from '../errors.js';
import { recoverWebhookEvents } from '../webhooks/webhook-recovery.js';
import { decodeCursor, pageOf } from './page-cursor.js';

export interface WebhookEndpointRouteOptions {
  readonly store: Store;
  readonly audit: AuditLog;
  readonly clock: () => Date;
  readonly policy: OutboundPolicy;
  readonly secretOverlapMs: number;
  /** New work for the delivery worker (an endpoint enabled, a redelivery, a recovery). */
  readonly onQueued: () => void;
}

const view = (row: WebhookEndpointRow) => ({
  id: row.id,
  url: row.url,
  eventTypes: row.event_types ? (JSON.parse(row.event_types) as string[]) : null,
  description: row.description,
  enabled: row.enabled === 1,
  ...(row.enabled === 1 || !row.disabled_reason ? {} : { disabledReason: row.disabled_reason }),
  failingSince: row.failing_since,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** The URL against the SSRF policy: its own rules, then what its host name resolves to now (422 naming `url`). */
async function checkUrl(url: string, policy: OutboundPolicy): Promise<void> {
  const verdict = checkWebhookUrl(url, policy);
  if (!verdict.ok) throw new HttpError('VALIDATION_FAILED', `url refused: ${verdict.reason}`, { details: { field: 'url' } });
  const host = verdict.url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return;
  let addresses: { address: string }[];
  let timer: NodeJS.Timeout | undefined;
  try {
    // A slow resolver must not hold the request: after 2 s the name counts as unresolvable now.
    addresses = await Promise.race([
      lookup(host, { all: true }),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('DNS timeout')), 2000))),
    ]);
  } catch {
    return; // not resolvable now: every delivery resolves and checks again at connect time
  } finally {
    clearTimeout(timer);
  }
  const refused = addresses.find((entry) => isRefusedAddress(entry.address, policy));
  if (refused) {
    throw new HttpError('VALIDATION_FAILED', `url refused: ${host} resolves to a refused address`, { details: { field: 'url' } });
  }
}

export async function webhookEndpointRoutes(root: FastifyInstance, options: WebhookEndpointRouteOptions): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { store, audit, clock, policy } = options;
  const found = async (tenantId: string, id: string) => {
    const row = await findWebhookEndpoint(store.db, tenantId, id);
    if (!row) throw new HttpError('NOT_FOUND');
    return row;
  };
  const record = (tenantId: string, actor: string, action: string, target: string, outcome: string) =>
    audit.record({ tenantId, actor, action, target, outcome });

  app.post(
    '/v1/webhook-endpoints',
    {
      config: { scope: 'webhooks:manage' },
      schema: {
        summary: 'Register a webhook endpoint.',
        description:
          'Events committed from now on are delivered to it, signed the Standard Webhooks way with the `whsec_` secret of this answer (shown once; store it now). Not idempotent by design: an answer holding a secret is never stored for replay.',
        body: CreateWebhookEndpointBody,
        response: withErrors({ 201: Type.Ref('CreatedWebhookEndpoint') }),
      },
    },
    async (request, reply) => {
      const { url, eventTypes = null, description = null, enabled = true } = request.body;
      await checkUrl(url, policy);
      const secret = newWebhookSecret();
      const now = clock().toISOString();
      const id = await store.transaction((trx) =>
        insertWebhookEndpoint(trx, { tenantId: request.tenant.id, url, eventTypes, description, enabled, secret, now }),
      );
      record(request.tenant.id, request.tenant.apiKeyId, 'webhook-endpoint.create', id, 'created');
      const row = await found(request.tenant.id, id);
      return reply
        .code(201)
        .header('location', `/v1/webhook-endpoints/${id}`)
        .header('cache-control', 'no-store')
        .send({ ...view(row), secret });
    },
  );

  app.get(
    '/v1/webhook-endpoints',
    {
      config: { scope: 'webhooks:manage' },
      schema: {
        summary: "The tenant's webhook endpoints, newest first (never their secrets).",
        querystring: ListWebhookEndpointsQuery,
        response: withErrors({ 200: page(Type.Ref('WebhookEndpoint')) }),
      },
    },
    async (request) => {
      const { limit = 100, cursor } = request.query;
      const rows = await listWebhookEndpointsPage(store.db, {
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
    '/v1/webhook-endpoints/:id',
    {
      config: { scope: 'webhooks:manage' },
      schema: {
        summary: 'One webhook endpoint (never its secret).',
        params: IdParams,
        response: withErrors({ 200: Type.Ref('WebhookEndpoint') }, 404),
      },
    },
    async (request) => view(await found(request.tenant.id, request.params.id)),
  );

  app.patch(
    '/v1/webhook-endpoints/:id',
    {
      config: { scope: 'webhooks:manage' },
      schema: {
        summary: 'Change a webhook endpoint (URL, event types, description, enabled).',
        description:
          'Enabling a disabled endpoint sends its waiting messages again; events committed while it was disabled follow (nothing is skipped).',
        params: IdParams,
        body: UpdateWebhookEndpointBody,
        response: withErrors({ 200: Type.Ref('WebhookEndpoint') }, 404),
      },
    },
    async (request) => {
      const { url, eventTypes, description, enabled } = request.body;
      if (url !== undefined) await checkUrl(url, policy);
      const changed = await store.transaction((trx) =>
        updateWebhookEndpoint(
          trx,
          request.tenant.id,
          request.params.id,
          {
            ...(url !== undefined ? { url } : {}),
            ...(eventTypes !== undefined ? { eventTypes } : {}),
            ...(description !== undefined ? { description } : {}),
            ...(enabled !== undefined ? { enabled } : {}),
          },
          clock().toISOString(),
        ),
      );
      if (!changed) throw new HttpError('NOT_FOUND');
      record(request.tenant.id, request.tenant.apiKeyId, 'webhook-endpoint.update', request.params.id, 'updated');
      if (enabled) options.onQueued();
      return view(await found(request.tenant.id, request.params.id));
    },
  );

  app.delete(
    '/v1/webhook-endpoints/:id',
    {
      config: { scope: 'webhooks:manage' },
      schema: {
        summary: 'Delete a webhook endpoint, with its waiting messages and its attempts.',
        params: IdParams,
        response: withErrors({ 204: Type.Null() }, 404),
      },
    },
    async (request, reply) => {
      const deleted = await store.transaction((trx) => deleteWebhookEndpoint(trx, request.tenant.id, request.params.id));
      if (!deleted) throw new HttpError('NOT_FOUND');
      record(request.tenant.id, request.tenant.apiKeyId, 'webhook-endpoint.delete', request.params.id, 'deleted');
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/webhook-endpoints/:id/rotate-secret',
    {
      config: { scope: 'webhooks:manage' },
      schema: {
        summary: "Replace the endpoint's signing secret.",
        description:
          'The new secret is in this answer only. Until previousSecretExpiresAt (ROOMGATE_WEBHOOK_SECRET_OVERLAP, default 24 h) each delivery carries two signatures, one per secret, so the receiver can switch at its own pace.',
        params: IdParams,
        response: withErrors({ 200: Type.Ref('RotatedWebhookSecret') }, 404),
      },
    },
    async (request, reply) => {
      const secret = newWebhookSecret();
      const now = clock();
      const previousUntil = new Date(now.getTime() + options.secretOverlapMs).toISOString();
      const rotated = await store.transaction((trx) =>
        rotateWebhookSecret(trx, { tenantId: request.tenant.id, id: request.params.id, secret, previousUntil, now: now.toISOString() }),
      );
      if (!rotated) throw new HttpError('NOT_FOUND');
      record(request.tenant.id, request.tenant.apiKeyId, 'webhook-endpoint.rotate-secret', request.params.id, 'rotated');
      return reply.header('cache-control', 'no-store').send({ secret, previousSecretExpiresAt: previousUntil });
    },
  );

  app.get(
    '/v1/webhook-endpoints/:id/deliveries',
    {
      config: { scope: 'webhooks:manage' },
      schema: {
        summary: "The endpoint's delivery attempts, newest first: status, answer code, latency.",
        params: IdParams,
        querystring: ListWebhookEndpointsQuery,
        response: withErrors({ 200: page(Type.Ref('WebhookDelivery')) }, 404),
      },
    },
    async (request) => {
      await found(request.tenant.id, request.params.id);
      const { limit = 100, cursor } = request.query;
      const rows = await listWebhookAttemptsPage(store.db, {
        endpointId: request.params.id,
        limit,
        ...(cursor ? { before: decodeCursor(cursor) } : {}),
      });
      const { pageRows, nextCursor } = pageOf(rows, limit, (last) => ({ createdAt: last.attempted_at, id: last.id }));
      return {
        data: pageRows.map((row) => ({
          id: row.id,
          eventId: row.event_id,
          eventType: row.event_type,
          attempt: row.attempt,
          status: row.status,
          ...(row.response_status !== null ? { responseStatus: row.response_status } : {}),
          ...(row.latency_ms !== null ? { latencyMs: row.latency_ms } : {}),
          ...(row.error !== null ? { error: row.error } : {}),
          attemptedAt: row.attempted_at,
          ...(row.next_attempt_at !== null ? { nextAttemptAt: row.next_attempt_at } : {}),
        })),
        nextCursor,
      };
    },
  );

  app.post(
    '/v1/webhook-endpoints/:id/deliveries/:deliveryId/redeliver',
    {
      config: { scope: 'webhooks:manage' },
      schema: {
        summary: "Send an attempt's event to the endpoint again.",
        description: 'Queued as a new message with the same `webhook-id` (the event id), so a receiver that deduplicates sees it once.',
        params: DeliveryParams,
        response: withErrors({ 202: Type.Ref('WebhookQueued') }, 404),
      },
    },
    async (request, reply) => {
      await found(request.tenant.id, request.params.id);
      const queued = await enqueueRedelivery(store.db, {
        endpointId: request.params.id,
        attemptId: request.params.deliveryId,
        now: clock().toISOString(),
      });
      if (!queued) throw new HttpError('NOT_FOUND');
      record(request.tenant.id, request.tenant.apiKeyId, 'webhook-endpoint.redeliver', request.params.deliveryId, 'queued');
      options.onQueued();
      return reply.code(202).send({ queued: 1 });
    },
  );

  app.post(
    '/v1/webhook-endpoints/:id/recover',
    {
      config: { scope: 'webhooks:manage' },
      schema: {
        summary: 'Send every event since a time to the endpoint again.',
        description:
          "Every event of the tenant's log from `since` up to the last one already fanned out to the endpoint, of the types it takes, is queued again (same `webhook-id`s; later ones follow as usual). At most 10,000 per call: call again with the `at` of the last one received for more. Events removed by retention cannot be recovered.",
        params: IdParams,
        body: RecoverBody,
        response: withErrors({ 202: Type.Ref('WebhookQueued') }, 404),
      },
    },
    async (request, reply) => {
      const endpoint = await found(request.tenant.id, request.params.id);
      const since = new Date(request.body.since);
      if (Number.isNaN(since.getTime())) throw new HttpError('VALIDATION_FAILED', 'since is not a time', { details: { field: 'since' } });
      const queued = await recoverWebhookEvents(store, endpoint, since.toISOString(), clock().toISOString());
      record(request.tenant.id, request.tenant.apiKeyId, 'webhook-endpoint.recover', endpoint.id, `queued ${queued}`);
      if (queued > 0) options.onQueued();
      return reply.code(202).send({ queued });
    },
  );
}
