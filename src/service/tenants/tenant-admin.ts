/**
 * Creating tenants and their API keys — the one way the CLI, the demo and the tests do it.
 * The full key is returned once and never stored; only its lookup id and secret hash are.
 */
import { randomBytes } from 'node:crypto';
import { generateApiKey } from '../../core/api-key/api-key-format.js';
import type { ConsentMode } from '../../core/consultation/consent.js';
import { newId } from '../../storage/ids.js';
import type { Store } from '../../storage/store.js';
import { insertApiKey, insertTenant } from '../../storage/tenant-repository.js';
import type { Scope } from '../auth/scopes.js';
import type { CodeSetId, FlatMode } from '../../core/billing/code-sets.js';

export interface NewTenant {
  readonly slug: string;
  readonly name: string;
  readonly kind: 'human' | 'veterinary';
  readonly billingRoundingSeconds?: number;
  readonly retentionDays?: number;
  /** Requests a minute each API key may make; undefined → the service's ROOMGATE_RATE_LIMIT. */
  readonly rateLimitPerMinute?: number;
  /** Minutes before a scheduled consultation that joining opens; undefined → the default (15). */
  readonly joinEarlyMinutes?: number;
  /** Minutes after the slot's end that joining stays open; undefined → the default (15). */
  readonly joinGraceMinutes?: number;
  /** Care recipients wait in the lobby until admitted (default off). */
  readonly waitingRoom?: boolean;
  /** The code set billing evidence suggests codes from; undefined → by kind (README "Billing evidence"). */
  readonly billingCodeSet?: CodeSetId;
  /** Flat code set: one fee per visit or per started billing unit; undefined → 'visit'. */
  readonly billingFlatMode?: FlatMode;
  /**
   * Recording follows the consent ledger (core/consultation/consent.ts). Absent → off, as for a
   * tenant from before the ledger; `roomgate tenant create` sets all-parties unless told otherwise.
   */
  readonly consentMode?: ConsentMode;
}

export async function createTenant(store: Store, tenant: NewTenant, now = new Date()): Promise<string> {
  const id = newId('ten');
  await insertTenant(store.db, {
    id,
    slug: tenant.slug,
    name: tenant.name,
    kind: tenant.kind,
    ...(tenant.billingRoundingSeconds !== undefined ? { billing_rounding_seconds: tenant.billingRoundingSeconds } : {}),
    ...(tenant.retentionDays !== undefined ? { retention_days: tenant.retentionDays } : {}),
    ...(tenant.rateLimitPerMinute !== undefined ? { rate_limit_per_minute: tenant.rateLimitPerMinute } : {}),
    ...(tenant.joinEarlyMinutes !== undefined ? { join_early_minutes: tenant.joinEarlyMinutes } : {}),
    ...(tenant.joinGraceMinutes !== undefined ? { join_grace_minutes: tenant.joinGraceMinutes } : {}),
    ...(tenant.waitingRoom !== undefined ? { waiting_room: tenant.waitingRoom ? 1 : 0 } : {}),
    ...(tenant.billingCodeSet !== undefined ? { billing_code_set: tenant.billingCodeSet } : {}),
    ...(tenant.billingFlatMode !== undefined ? { billing_flat_mode: tenant.billingFlatMode } : {}),
    ...(tenant.consentMode !== undefined && tenant.consentMode !== 'off' ? { consent_mode: tenant.consentMode } : {}),
    created_at: now.toISOString(),
  });
  return id;
}

export async function createApiKey(
  store: Store,
  input: { tenantId: string; scopes: readonly (Scope | string)[]; expiresAt?: string | null; revokedAt?: string | null },
  now = new Date(),
): Promise<{ id: string; key: string }> {
  const generated = generateApiKey(randomBytes);
  const id = newId('key');
  await insertApiKey(store.db, {
    id,
    tenant_id: input.tenantId,
    lookup_id: generated.lookupId,
    secret_hash: generated.secretHash,
    scopes: input.scopes.join(','),
    expires_at: input.expiresAt ?? null,
    revoked_at: input.revokedAt ?? null,
    last_used_at: null,
    created_at: now.toISOString(),
  });
  return { id, key: generated.key };
}
