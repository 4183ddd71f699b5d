/**
 * `Idempotency-Key` on the creating POSTs (routes with `config.idempotent`), as Stripe does:
 * - the first request with a key claims it (one row per tenant and key; the database lets one
 *   insert win, so of twenty concurrent requests exactly one runs the handler);
 * - its answer (any status below 500) is stored with the request's fingerprint (method, path,
 *   canonical body) and replayed for 24 h to the same request — same status, body and
 *   Location, header `Idempotent-Replayed: true` — with no second effect;
 * - the same key with another request → 422 IDEMPOTENCY_KEY_REUSED;
 * - a request arriving while the first is still running waits for its answer (bounded, then
 *   409 IDEMPOTENCY_KEY_IN_USE);
 * - a 5xx answer frees the key: retrying with it runs the request again;
 * - an answer holding a secret (an access token) is stored without it and rebuilt on replay
 *   (`config.idempotentSecret`): the database never holds a usable credential.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest, onSendAsyncHookHandler, preHandlerAsyncHookHandler } from 'fastify';
import { Type } from 'typebox';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  readIdempotencyKey,
  releaseIdempotencyKey,
} from '../../storage/idempotency-repository.js';
import type { Store } from '../../storage/store.js';
import { HttpError } from '../errors.js';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** How long a claim may run before another request may take it over (its owner crashed). */
const CLAIM_LEASE_MS = 60_000;
const WAIT_FOR_FIRST_MS = 10_000;
const POLL_MS = 25;

export const IdempotencyHeaders = Type.Object(
  {
    'idempotency-key': Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        pattern: '^[\\x21-\\x7e]+$',
        description: 'Makes a retry safe: the same key and request within 24 h get the first answer again, with no second effect.',
      }),
    ),
  },
  { additionalProperties: true },
);

/** For an answer holding a secret: what is stored lacks it, and the replay puts it back. */
export interface IdempotentSecret {
  strip(body: Record<string, unknown>): Record<string, unknown>;
  restore(stored: Record<string, unknown>): Record<string, unknown>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route honours Idempotency-Key. */
    idempotent?: boolean;
    /** The answer holds a secret (an access token) that must not be stored. */
    idempotentSecret?: IdempotentSecret;
  }
}

interface Claim {
  readonly key: string;
  readonly fingerprint: string;
}

export function registerIdempotency(app: FastifyInstance, options: { store: Store; clock: () => Date }): void {
  const { store, clock } = options;
  const claims = new WeakMap<FastifyRequest, Claim>();

  const claimKey: preHandlerAsyncHookHandler = async (request, reply) => {
    if (!request.tenant) return;
    const key = request.headers['idempotency-key'];
    if (typeof key !== 'string') return;
    const fingerprint = fingerprintOf(request);
    const deadline = Date.now() + WAIT_FOR_FIRST_MS;
    for (;;) {
      const now = clock();
      const claimed = await claimIdempotencyKey(store.db, {
        tenantId: request.tenant.id,
        key,
        fingerprint,
        now: now.toISOString(),
        lockedUntil: new Date(now.getTime() + CLAIM_LEASE_MS).toISOString(),
        expiresAt: new Date(now.getTime() + IDEMPOTENCY_TTL_MS).toISOString(),
      });
      if (claimed) return void claims.set(request, { key, fingerprint });
      const stored = await readIdempotencyKey(store.db, request.tenant.id, key);
      if (!stored) continue; // released (the first one failed) between our insert and read: claim again
      if (stored.fingerprint !== fingerprint) {
        throw new HttpError('IDEMPOTENCY_KEY_REUSED', undefined, { details: { field: 'idempotency-key' } });
      }
      if (stored.status === 'done' && stored.responseStatus !== null) {
        if (stored.responseLocation) reply.header('location', stored.responseLocation);
        const secret = request.routeOptions.config.idempotentSecret;
        const body = secret && stored.responseStatus < 300 ? restoreSecret(secret, stored.responseBody) : (stored.responseBody ?? '');
        return reply.code(stored.responseStatus).header('idempotent-replayed', 'true').type('application/json; charset=utf-8').send(body);
      }
      if (Date.now() >= deadline) throw new HttpError('IDEMPOTENCY_KEY_IN_USE');
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };

  const keepAnswer: onSendAsyncHookHandler<unknown> = async (request, reply, payload) => {
    const claim = claims.get(request);
    if (!claim) return payload;
    claims.delete(request);
    const tenantId = request.tenant.id;
    if (reply.statusCode >= 500) {
      await releaseIdempotencyKey(store.db, tenantId, claim.key, claim.fingerprint);
      return payload;
    }
    const location = reply.getHeader('location');
    const text = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '';
    const secret = request.routeOptions.config.idempotentSecret;
    await completeIdempotencyKey(store.db, {
      tenantId,
      key: claim.key,
      fingerprint: claim.fingerprint,
      status: reply.statusCode,
      body: secret && reply.statusCode < 300 ? JSON.stringify(secret.strip(JSON.parse(text) as Record<string, unknown>)) : text,
      location: typeof location === 'string' ? location : null,
    });
    return payload;
  };

  // Only on the routes that honour the header, first among their own hooks (where a global hook
  // would run): the other routes — the webhook's above all — get no hook to pass through.
  app.addHook('onRoute', (route) => {
    if (!route.config?.idempotent) return;
    route.preHandler = [claimKey, ...hooksOf(route.preHandler)];
    route.onSend = [keepAnswer, ...hooksOf(route.onSend)];
  });
}

function hooksOf<T>(hooks: T | T[] | undefined): T[] {
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks];
}

function restoreSecret(secret: IdempotentSecret, stored: string | null): string {
  return JSON.stringify(secret.restore(JSON.parse(stored ?? '{}') as Record<string, unknown>));
}

/** Method, path and the body with its keys sorted: two requests are "the same" when these are. */
function fingerprintOf(request: FastifyRequest): string {
  const path = request.url.split('?')[0];
  return createHash('sha256')
    .update(`${request.method} ${path}\n${canonicalJson(request.body ?? null)}`)
    .digest('hex');
}

/**
 * JSON with every object's keys sorted. Iterative: a route that ignores its body (`…/end`,
 * `…/cancel`) still fingerprints it, and a body nested a hundred thousand levels deep (256 KiB of
 * `[`) overflowed the stack of the recursive version (500). The same text as that version.
 */
function canonicalJson(root: unknown): string {
  const out: string[] = [];
  // Pending work, last first: a value still to write, or text to write as it is.
  const stack: ({ readonly text: string } | { readonly value: unknown })[] = [{ value: root }];
  while (stack.length > 0) {
    const task = stack.pop()!;
    if ('text' in task) {
      out.push(task.text);
      continue;
    }
    const value = task.value;
    if (value === null || typeof value !== 'object') {
      out.push(JSON.stringify(value));
      continue;
    }
    const pending: ({ readonly text: string } | { readonly value: unknown })[] = [];
    if (Array.isArray(value)) {
      pending.push({ text: '[' });
      value.forEach((item, index) => pending.push(...(index > 0 ? [{ text: ',' }] : []), { value: item }));
      pending.push({ text: ']' });
    } else {
      const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      pending.push({ text: '{' });
      entries.forEach(([key, item], index) => pending.push({ text: `${index > 0 ? ',' : ''}${JSON.stringify(key)}:` }, { value: item }));
      pending.push({ text: '}' });
    }
    for (let at = pending.length - 1; at >= 0; at--) stack.push(pending[at]!);
  }
  return out.join('');
}
