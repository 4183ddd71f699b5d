/**
 * Retention: what is kept, for how long, and what goes. One transaction per tenant (all of a
 * tenant's removals commit together or not at all), then one for the rows that belong to no
 * tenant. Decisions, also in docs/operations.md:
 *
 * - A consultation whose `ended_at` (or `created_at`, if it never ended) is older than its
 *   tenant's `retention_days` loses everything that can name or show a person: participants,
 *   participant sessions, issued identities, recordings, its composition, its consent ledger
 *   (the evidence goes with what it is evidence for), and the callbacks of
 *   its room (by room SID, and by composition SID). Then the consultation row itself goes.
 * - Billing records are financial records and are kept. `billing_records.consultation_id` is a
 *   NOT NULL foreign key with ON DELETE CASCADE, so deleting a billed consultation would delete
 *   its billing record: a billed consultation is therefore kept as a stub — its row holds no
 *   personal data (ids, a room name generated from its id, times), and its billing record holds
 *   only durations and time intervals.
 * - A callback is never removed while it is younger than the replay window: its dedupe key is
 *   what turns a replay into a no-op. A consultation past its period with such a callback is left
 *   whole until a later run (at most a replay window later), so no callback is orphaned.
 * - The tenant's audit rows go after the tenant's period; operator rows (no tenant) after the
 *   longest period of any tenant. Security events, callbacks that belong to no consultation
 *   (unmatched rooms) and finished outbox entries go after 90 days.
 * - Recording media held by Twilio is not touched: delete it through Twilio (or let Twilio's own
 *   retention do it); this removes Roomgate's rows only.
 */
import {
  emptyCounts,
  listTenantRetentionPeriods,
  purgeGlobal,
  purgeTenant,
  RETENTION_TABLES,
  type RemovedCounts,
} from '../../storage/retention-repository.js';
import type { Store, StoreTransaction } from '../../storage/store.js';

export { emptyCounts, RETENTION_TABLES, type RemovedCounts } from '../../storage/retention-repository.js';

export interface RetentionOptions {
  readonly now: Date;
  /** Callbacks younger than this are never removed (webhook max age + clock-skew allowance). */
  readonly replayWindowMs: number;
  /** Count what would be removed, then roll every transaction back. */
  readonly dryRun?: boolean;
}

export interface TenantRetention {
  readonly tenantId: string;
  readonly slug: string;
  readonly retentionDays: number;
  /** Consultations that ended (or were created, if never ended) before this are past the period. */
  readonly cutoff: string;
  readonly removed: RemovedCounts;
  /** Past the period but kept as stubs because a billing record refers to them. */
  readonly keptForBilling: number;
  /** Past the period but left whole for now: a callback of theirs is inside the replay window. */
  readonly deferred: number;
}

export interface RetentionReport {
  readonly dryRun: boolean;
  readonly now: string;
  readonly tenants: readonly TenantRetention[];
  /** Rows that belong to no tenant: security events, operator audit rows, unmatched callbacks, outbox. */
  readonly global: { readonly removed: RemovedCounts };
  /** Sum of every removal, per table. */
  readonly totals: RemovedCounts;
}

export const SECURITY_EVENT_RETENTION_DAYS = 90;
/** Used for operator audit rows when there is no tenant at all (the schema's default period). */
const DEFAULT_RETENTION_DAYS = 3650;
const DAY_MS = 86_400_000;
/** A dry run's transaction is rolled back by throwing this; it carries the result out. */
class DryRunRollback<T> extends Error {
  constructor(readonly result: T) {
    super('dry run: rolled back');
  }
}

/**
 * Removes what is past each tenant's retention period (see the file comment for what is kept).
 * @example const report = await runRetention(store, { now: new Date(), replayWindowMs: 20 * 60_000 });
 */
export async function runRetention(store: Store, options: RetentionOptions): Promise<RetentionReport> {
  const dryRun = options.dryRun ?? false;
  const nowMs = options.now.getTime();
  const replayCutoff = new Date(nowMs - options.replayWindowMs).toISOString();
  const inTransaction = async <T>(work: (trx: StoreTransaction) => Promise<T>): Promise<T> => {
    if (!dryRun) return store.transaction(work);
    try {
      await store.transaction(async (trx) => {
        throw new DryRunRollback(await work(trx));
      });
    } catch (error) {
      if (error instanceof DryRunRollback) return error.result as T;
      throw error;
    }
    throw new Error('unreachable: a dry run always rolls back');
  };

  const tenants = await listTenantRetentionPeriods(store.db);
  const results: TenantRetention[] = [];
  for (const tenant of tenants) {
    const cutoff = new Date(nowMs - tenant.retention_days * DAY_MS).toISOString();
    results.push(
      await inTransaction(async (trx) => ({
        tenantId: tenant.id,
        slug: tenant.slug,
        retentionDays: tenant.retention_days,
        cutoff,
        ...(await purgeTenant(trx, tenant.id, cutoff, replayCutoff)),
      })),
    );
  }

  const longestDays = tenants.reduce((longest, tenant) => Math.max(longest, tenant.retention_days), 0) || DEFAULT_RETENTION_DAYS;
  const global = await inTransaction((trx) =>
    purgeGlobal(trx, {
      operatorAuditCutoff: new Date(nowMs - longestDays * DAY_MS).toISOString(),
      securityCutoff: new Date(nowMs - SECURITY_EVENT_RETENTION_DAYS * DAY_MS).toISOString(),
      replayCutoff,
      now: options.now.toISOString(),
    }),
  );

  const totals = emptyCounts();
  for (const counts of [...results.map((result) => result.removed), global]) {
    for (const table of RETENTION_TABLES) totals[table] += counts[table];
  }
  return { dryRun, now: options.now.toISOString(), tenants: results, global: { removed: global }, totals };
}
