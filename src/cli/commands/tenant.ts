/**
 * `roomgate tenant create SLUG --name N --kind human|veterinary [--rounding 60] [--retention-days 3650] [--rate-limit N]
 * [--join-early MIN] [--join-grace MIN] [--waiting-room] [--code-set us-cpt-2025|us-medicare|flat] [--flat-mode visit|block]
 * [--consent-mode all-parties|one-party|off]`, `roomgate tenant list` (one JSON object a line) and
 * `roomgate tenant consent-mode SLUG MODE`.
 */
import { defaultCodeSet } from '../../core/billing/code-sets.js';
import { consentModeOf } from '../../core/consultation/consent.js';
import { createTenant } from '../../service/tenants/tenant-admin.js';
import { UsageError } from '../command.js';
import { auditCli, openCliStore } from '../cli-store.js';
import { findTenantIdBySlug, listTenants, setTenantConsentMode } from '../../storage/tenant-repository.js';
import type { TenantCreateOptions } from '../program.js';

export async function createTenantCommand(slug: string, options: TenantCreateOptions): Promise<number> {
  if (!/^[a-z0-9][a-z0-9-]{1,62}$/.test(slug)) throw new UsageError('SLUG: lower-case letters, digits and -, 2 to 63 characters');
  const name = options.name.trim();
  if (!name) throw new UsageError('--name must not be empty');
  const rounding = positiveInteger(options.rounding, '--rounding');
  const retentionDays = positiveInteger(options.retentionDays, '--retention-days');
  const rateLimitPerMinute = options.rateLimit === undefined ? undefined : positiveInteger(options.rateLimit, '--rate-limit');
  const joinEarlyMinutes = options.joinEarly === undefined ? undefined : wholeMinutes(options.joinEarly, '--join-early');
  const joinGraceMinutes = options.joinGrace === undefined ? undefined : wholeMinutes(options.joinGrace, '--join-grace');
  const { kind } = options;

  const store = await openCliStore();
  try {
    const existing = await findTenantIdBySlug(store.db, slug);
    if (existing) {
      console.error(`roomgate: tenant '${slug}' already exists`);
      return 1;
    }
    const id = await createTenant(store, {
      slug,
      name,
      kind,
      billingRoundingSeconds: rounding,
      retentionDays,
      rateLimitPerMinute,
      ...(joinEarlyMinutes !== undefined ? { joinEarlyMinutes } : {}),
      ...(joinGraceMinutes !== undefined ? { joinGraceMinutes } : {}),
      ...(options.waitingRoom ? { waitingRoom: true } : {}),
      ...(options.codeSet ? { billingCodeSet: options.codeSet } : {}),
      ...(options.flatMode ? { billingFlatMode: options.flatMode } : {}),
      consentMode: options.consentMode,
    });
    await auditCli(store, { tenantId: id, action: 'tenant.create', target: slug, outcome: 'created', detail: { kind } });
    console.log(
      JSON.stringify({
        id,
        slug,
        name,
        kind,
        billingRoundingSeconds: rounding,
        retentionDays,
        rateLimitPerMinute: rateLimitPerMinute ?? null,
        joinEarlyMinutes: joinEarlyMinutes ?? null,
        joinGraceMinutes: joinGraceMinutes ?? null,
        waitingRoom: options.waitingRoom === true,
        billingCodeSet: options.codeSet ?? defaultCodeSet(kind),
        billingFlatMode: options.flatMode ?? 'visit',
        consentMode: options.consentMode,
      }),
    );
    return 0;
  } finally {
    await store.close();
  }
}

export async function listTenantsCommand(): Promise<number> {
  const store = await openCliStore();
  try {
    const rows = await listTenants(store.db);
    for (const row of rows) {
      console.log(
        JSON.stringify({
          id: row.id,
          slug: row.slug,
          name: row.name,
          kind: row.kind,
          billingRoundingSeconds: row.billing_rounding_seconds,
          billingCodeSet: row.billing_code_set ?? defaultCodeSet(row.kind),
          billingFlatMode: row.billing_flat_mode ?? 'visit',
          retentionDays: row.retention_days,
          consentMode: consentModeOf(row.consent_mode),
          createdAt: row.created_at,
        }),
      );
    }
    return 0;
  } finally {
    await store.close();
  }
}

/** Changes how the tenant's recording follows consent (docs/consent.md); rooms created from now on. */
export async function setConsentModeCommand(slug: string, mode: string): Promise<number> {
  if (mode !== 'all-parties' && mode !== 'one-party' && mode !== 'off') throw new UsageError('MODE: all-parties, one-party or off');
  const store = await openCliStore();
  try {
    const id = await findTenantIdBySlug(store.db, slug);
    if (!id || !(await setTenantConsentMode(store.db, slug, mode === 'off' ? null : mode))) {
      console.error(`roomgate: no tenant '${slug}'`);
      return 1;
    }
    await auditCli(store, { tenantId: id, action: 'tenant.consent-mode', target: slug, outcome: 'changed', detail: { consentMode: mode } });
    console.log(JSON.stringify({ id, slug, consentMode: mode }));
    return 0;
  } finally {
    await store.close();
  }
}

function positiveInteger(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`${flag} must be a positive integer`);
  return Number(text);
}

/** 0 to 1440 minutes (a day): a window setting. */
function wholeMinutes(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 1440) throw new UsageError(`${flag} must be whole minutes from 0 to 1440`);
  return Number(text);
}
