/**
 * CORS for browser dashboards and a per-key request budget.
 * - CORS: only the origins in ROOMGATE_CORS_ORIGINS (none by default: no CORS header at all);
 *   the headers a client needs to read (Location, X-Request-Id, Retry-After…) are exposed.
 * - Rate limit (@fastify/rate-limit): each API key may make ROOMGATE_RATE_LIMIT requests a
 *   minute, or its tenant's own `rate_limit_per_minute`; beyond → 429 RATE_LIMITED with
 *   Retry-After. Counted after authentication (preHandler), so the key is known and a request
 *   without a valid key costs no one's budget; counters are per instance (in memory).
 */
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from '../errors.js';

export async function registerBrowserAndFairUse(
  app: FastifyInstance,
  options: { corsOrigins: readonly string[]; rateLimitPerMinute: number },
): Promise<void> {
  if (options.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: [...options.corsOrigins],
      methods: ['GET', 'POST', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'idempotency-key', 'last-event-id'],
      exposedHeaders: [
        'location',
        'x-request-id',
        'retry-after',
        'idempotent-replayed',
        'x-ratelimit-limit',
        'x-ratelimit-remaining',
        'x-ratelimit-reset',
      ],
      maxAge: 600,
    });
  }
  const keyed = (request: FastifyRequest) => Boolean(request.routeOptions.config.scope && request.tenant);
  // Only the tenant API's routes (they declare a scope) have a budget; the others (webhook,
  // health, docs, console) get no rate-limit hook at all rather than one that lets them through.
  app.addHook('onRoute', (route) => {
    if (!route.config?.scope) route.config = { ...route.config, rateLimit: false };
  });
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    timeWindow: 60_000,
    max: (request) => request.tenant?.rateLimitPerMinute ?? options.rateLimitPerMinute,
    keyGenerator: (request) => (keyed(request) ? request.tenant.apiKeyId : 'unkeyed'),
    allowList: (request) => !keyed(request),
    errorResponseBuilder: (_request, context) =>
      new HttpError(
        'RATE_LIMITED',
        `Too many requests for this API key (${context.max} a minute); retry in ${Math.ceil(context.ttl / 1000)} s.`,
      ),
  });
}
