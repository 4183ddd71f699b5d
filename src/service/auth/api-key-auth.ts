/**
 * One hook for every /v1 route: the route declares its scope in `config.scope`, this decides.
 * No or bad key → 401; valid key without the scope → 403; the tenant found is the only one the
 * route may see. A key is checked by shape and checksum first (no lookup for garbage), then by
 * one primary-key lookup and a constant-time hash comparison.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseApiKey } from '../../core/api-key/api-key-format.js';
import { consentModeOf, type ConsentMode } from '../../core/consultation/consent.js';
import type { Store } from '../../storage/store.js';
import { findApiKeyWithTenant, recordApiKeyUse } from '../../storage/tenant-repository.js';
import { HttpError } from '../errors.js';
import type { Scope } from './scopes.js';

export interface AuthenticatedTenant {
  readonly id: string;
  readonly slug: string;
  readonly kind: 'human' | 'veterinary';
  readonly billingRoundingSeconds: number;
  readonly apiKeyId: string;
  /** The scopes of the key that authenticated: a key can grant no scope it does not hold. */
  readonly scopes: readonly string[];
  /** Requests per minute this key may make; null → the service default. */
  readonly rateLimitPerMinute: number | null;
  /** The appointment window's settings; null → the defaults (core/consultation/appointment-window.ts). */
  readonly joinEarlyMinutes: number | null;
  readonly joinGraceMinutes: number | null;
  /** Care recipients wait in the lobby by default (a consultation may say otherwise). */
  readonly waitingRoom: boolean;
  /** Recording follows the consent ledger (core/consultation/consent.ts); NULL in the row → off. */
  readonly consentMode: ConsentMode;
}

declare module 'fastify' {
  interface FastifyRequest {
    tenant: AuthenticatedTenant;
  }
  interface FastifyContextConfig {
    scope?: Scope;
  }
}

/** How often a key's last_used_at is written at most: usage tracking must not cost a write per request. */
const LAST_USED_WRITE_INTERVAL_MS = 60_000;

export type Authenticate = (authorization: string | undefined, scope: Scope, log: FastifyRequest['log']) => Promise<AuthenticatedTenant>;

/** Installs the hook; returns the same check for callers outside a route (WebSocket upgrade). */
export function registerApiKeyAuth(app: FastifyInstance, options: { store: Store; clock: () => Date }): Authenticate {
  const lastWritten = new Map<string, number>();
  app.decorateRequest('tenant', null as unknown as AuthenticatedTenant);
  // Not async: a route without a scope (the webhook above all) passes with no promise made.
  app.addHook('onRequest', (request, _reply, done) => {
    const scope = request.routeOptions.config.scope;
    if (!scope) return done();
    authenticateApiKey(request.headers.authorization, scope, { ...options, lastWritten, log: request.log }).then((tenant) => {
      request.tenant = tenant;
      done();
    }, done);
  });
  return (authorization, scope, log) => authenticateApiKey(authorization, scope, { ...options, lastWritten, log });
}

/**
 * Resolves an `Authorization: Bearer …` header to its tenant, or throws HttpError
 * (UNAUTHENTICATED / FORBIDDEN_SCOPE). Shared by the hook and the WebSocket upgrade.
 */
export async function authenticateApiKey(
  authorization: string | undefined,
  scope: Scope,
  options: { store: Store; clock: () => Date; lastWritten: Map<string, number>; log: FastifyRequest['log'] },
): Promise<AuthenticatedTenant> {
  const { lastWritten } = options;
  // The scheme name is case-insensitive (RFC 9110 §11.1).
  const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
  if (!match) throw new HttpError('UNAUTHENTICATED');
  const parsed = parseApiKey(match[1]!);
  if (!parsed.ok) throw new HttpError('UNAUTHENTICATED');

  const row = await findApiKeyWithTenant(options.store.db, parsed.lookupId);
  const now = options.clock();
  if (!row || !sameHash(row.secret_hash, parsed.secretHash)) throw new HttpError('UNAUTHENTICATED');
  if (row.revoked_at || (row.expires_at && row.expires_at <= now.toISOString())) throw new HttpError('UNAUTHENTICATED');
  const scopes = row.scopes.split(',');
  if (!scopes.includes(scope)) {
    throw new HttpError('FORBIDDEN_SCOPE', `The API key lacks the scope ${scope}, which this route needs.`, { details: { scope } });
  }

  const previous = lastWritten.get(row.keyId) ?? 0;
  if (now.getTime() - previous >= LAST_USED_WRITE_INTERVAL_MS) {
    lastWritten.set(row.keyId, now.getTime());
    recordApiKeyUse(options.store.db, row.keyId, now.toISOString()).catch((error: unknown) =>
      options.log.warn({ err: error }, 'could not record API key use'),
    );
  }
  return {
    id: row.tenantId,
    slug: row.slug,
    kind: row.kind as AuthenticatedTenant['kind'],
    billingRoundingSeconds: row.billing_rounding_seconds,
    apiKeyId: row.keyId,
    scopes,
    rateLimitPerMinute: row.rate_limit_per_minute ?? null,
    joinEarlyMinutes: row.join_early_minutes ?? null,
    joinGraceMinutes: row.join_grace_minutes ?? null,
    waitingRoom: Boolean(row.waiting_room),
    consentMode: consentModeOf(row.consent_mode),
  };
}

function sameHash(storedHex: string, candidateHex: string): boolean {
  const stored = Buffer.from(storedHex, 'hex');
  const candidate = Buffer.from(candidateHex, 'hex');
  return stored.length === candidate.length && timingSafeEqual(stored, candidate);
}
