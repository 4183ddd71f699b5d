/**
 * Retention: what is kept, for how long, and what goes. One transaction per tenant (all of a
 * tenant's removals commit together or not at all), then one for the rows that belong to no
 * tenant. Decisions, also in docs/operations.md:
 *
 * - A consultation whose `ended_at` (or `created_at`, if it never ended) is older than its
 *   tenant's `retention_days` loses everything that can name or show a person: participants,
 *   participant sessions, issued identities, recordings, its composition, and the callbacks of
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
import type { Store, StoreTransaction } from '../../storage/store.js';

export interface RetentionOptions {
  readonly now: Date;
  /** Callbacks younger than this are never removed (webhook max age + clock-skew allowance). */
  readonly replayWindowMs: number;
  /** Count what would be removed, then roll every transaction back. */
  readonly dryRun?: boolean;
}

/** Rows removed per table. */
export interface RemovedCounts {
  consultations: number;
  participants: number;
  participant_sessions: number;
  issued_identities: number;
  recordings: number;
  compositions: number;
  callbacks: number;
  audit_log: number;
  security_events: number;
  outbox: number;
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
/** Ids per statement: far below every engine's bound-parameter limit. */
const CHUNK = 500;

/** Every table retention removes from, in report order. */
export const RETENTION_TABLES: readonly (keyof RemovedCounts)[] = [
  'consultations',
  'participants',
  'participant_sessions',
  'issued_identities',
  'recordings',
  'compositions',
  'callbacks',
  'audit_log',
  'security_events',
  'outbox',
];

export function emptyCounts(): RemovedCounts {
  return Object.fromEntries(RETENTION_TABLES.map((table) => [table, 0])) as unknown as RemovedCounts;
}

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

  const tenants = await store.db.selectFrom('tenants').select(['id', 'slug', 'retention_days']).orderBy('slug').execute();
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
    }),
  );

  const totals = emptyCounts();
  for (const counts of [...results.map((result) => result.removed), global]) {
    for (const table of RETENTION_TABLES) totals[table] += counts[table];
  }
  return { dryRun, now: options.now.toISOString(), tenants: results, global: { removed: global }, totals };
}

async function purgeTenant(trx: StoreTransaction, tenantId: string, cutoff: string, replayCutoff: string) {
  const removed = emptyCounts();
  let keptForBilling = 0;
  let deferred = 0;

  const expired = await trx
    .selectFrom('consultations')
    .select(['id', 'room_sid'])
    .where('tenant_id', '=', tenantId)
    .where((eb) => eb.or([eb('ended_at', '<', cutoff), eb.and([eb('ended_at', 'is', null), eb('created_at', '<', cutoff)])]))
    .orderBy('id')
    .execute();

  for (let start = 0; start < expired.length; start += CHUNK) {
    let chunk = expired.slice(start, start + CHUNK);
    const roomSidsOf = (rows: typeof chunk) => rows.map((row) => row.room_sid).filter((sid): sid is string => sid !== null);

    // Left whole for a later run: a callback of the room is still inside the replay window.
    const young = await youngCallbackRooms(trx, roomSidsOf(chunk), replayCutoff);
    if (young.size > 0) {
      deferred += chunk.filter((row) => row.room_sid !== null && young.has(row.room_sid)).length;
      chunk = chunk.filter((row) => row.room_sid === null || !young.has(row.room_sid));
    }
    if (chunk.length === 0) continue;
    const ids = chunk.map((row) => row.id);
    const roomSids = roomSidsOf(chunk);
    const compositionSids = (
      await trx
        .selectFrom('compositions')
        .select('composition_sid')
        .where('consultation_id', 'in', ids)
        .where('composition_sid', 'is not', null)
        .execute()
    ).map((row) => row.composition_sid!);

    if (roomSids.length > 0 || compositionSids.length > 0) {
      removed.callbacks += deleted(
        await trx
          .deleteFrom('callbacks')
          .where((eb) =>
            eb.or([
              ...(roomSids.length > 0 ? [eb('room_sid', 'in', roomSids)] : []),
              ...(compositionSids.length > 0 ? [eb('composition_sid', 'in', compositionSids)] : []),
            ]),
          )
          // Again here, not only in the check above: one that arrived since stays.
          .where('received_at', '<', replayCutoff)
          .executeTakeFirst(),
      );
    }
    for (const table of ['participants', 'participant_sessions', 'issued_identities', 'recordings', 'compositions'] as const) {
      removed[table] += deleted(await trx.deleteFrom(table).where('consultation_id', 'in', ids).executeTakeFirst());
    }
    const billed = new Set(
      (await trx.selectFrom('billing_records').select('consultation_id').where('consultation_id', 'in', ids).execute()).map(
        (row) => row.consultation_id,
      ),
    );
    keptForBilling += billed.size;
    const unbilled = ids.filter((id) => !billed.has(id));
    if (unbilled.length > 0) {
      removed.consultations += deleted(await trx.deleteFrom('consultations').where('id', 'in', unbilled).executeTakeFirst());
    }
  }

  removed.audit_log += deleted(
    await trx.deleteFrom('audit_log').where('tenant_id', '=', tenantId).where('created_at', '<', cutoff).executeTakeFirst(),
  );
  return { removed, keptForBilling, deferred };
}

async function youngCallbackRooms(trx: StoreTransaction, roomSids: string[], replayCutoff: string): Promise<Set<string>> {
  if (roomSids.length === 0) return new Set();
  const rows = await trx
    .selectFrom('callbacks')
    .select('room_sid')
    .distinct()
    .where('room_sid', 'in', roomSids)
    .where('received_at', '>=', replayCutoff)
    .execute();
  return new Set(rows.map((row) => row.room_sid!));
}

async function purgeGlobal(
  trx: StoreTransaction,
  cutoffs: { operatorAuditCutoff: string; securityCutoff: string; replayCutoff: string },
): Promise<RemovedCounts> {
  const removed = emptyCounts();
  removed.security_events = deleted(
    await trx.deleteFrom('security_events').where('created_at', '<', cutoffs.securityCutoff).executeTakeFirst(),
  );
  removed.audit_log = deleted(
    await trx
      .deleteFrom('audit_log')
      .where('tenant_id', 'is', null)
      .where('created_at', '<', cutoffs.operatorAuditCutoff)
      .executeTakeFirst(),
  );
  // Callbacks of no consultation (unknown rooms): evidence for an investigation, kept as long as
  // security events, and never inside the replay window.
  const orphanCutoff = cutoffs.securityCutoff < cutoffs.replayCutoff ? cutoffs.securityCutoff : cutoffs.replayCutoff;
  removed.callbacks = deleted(
    await trx
      .deleteFrom('callbacks')
      .where('received_at', '<', orphanCutoff)
      .where((eb) =>
        eb.or([
          eb('room_sid', 'is', null),
          eb(
            'room_sid',
            'not in',
            eb.selectFrom('consultations').select('room_sid').where('room_sid', 'is not', null).$narrowType<{ room_sid: string }>(),
          ),
        ]),
      )
      .where((eb) =>
        eb.or([
          eb('composition_sid', 'is', null),
          eb(
            'composition_sid',
            'not in',
            eb
              .selectFrom('compositions')
              .select('composition_sid')
              .where('composition_sid', 'is not', null)
              .$narrowType<{ composition_sid: string }>(),
          ),
        ]),
      )
      .executeTakeFirst(),
  );
  removed.outbox = deleted(
    await trx.deleteFrom('outbox').where('status', '=', 'done').where('done_at', '<', cutoffs.securityCutoff).executeTakeFirst(),
  );
  return removed;
}

function deleted(result: { numDeletedRows: bigint }): number {
  return Number(result.numDeletedRows);
}
