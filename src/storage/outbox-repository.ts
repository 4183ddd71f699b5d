/**
 * The outbox: side effects stored with the state that needs them, each under its own key
 * (UNIQUE dedupe_key), claimed by workers with a compare-and-set on its lock.
 */
import type { Kysely } from 'kysely';
import { newId } from './ids.js';
import { insertIfAbsent } from './insert-if-absent.js';
import { lockFreeRows } from './row-locks.js';
import { shapedStatement } from './shaped-statement.js';
import type { Database, IsoTimestamp, OutboxStatus } from './schema.js';

type Db = Kysely<Database>;

/** Which of these keys the outbox already holds. */
export async function existingOutboxKeys(db: Db, keys: readonly string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const { rows } = await outboxKeys(db, keys);
  return new Set(rows.map((row) => row.dedupe_key));
}

// The fold asks for every effect it would queue: compiled once per list length (shaped-statement.ts).
const outboxKeys = shapedStatement('existingOutboxKeys', (db, keys: readonly string[]) =>
  db.selectFrom('outbox').select('dedupe_key').where('dedupe_key', 'in', keys),
);

/** Queues an effect unless its key is already there; true if this call queued it. */
export async function enqueueOutboxEntry(
  db: Db,
  entry: { kind: string; key: string; payload: unknown; now: IsoTimestamp; nextAttemptAt?: IsoTimestamp },
): Promise<boolean> {
  return insertIfAbsent(
    db,
    'outbox',
    { dedupe_key: entry.key },
    {
      id: newId('obx'),
      kind: entry.kind,
      dedupe_key: entry.key,
      payload: JSON.stringify(entry.payload),
      status: 'pending',
      attempts: 0,
      next_attempt_at: entry.nextAttemptAt ?? entry.now,
      locked_by: null,
      locked_until: null,
      last_error: null,
      created_at: entry.now,
      done_at: null,
    },
  );
}

/** Pending entries due at `now` and not locked by a live claim, oldest due first. */
export async function findDueOutboxEntries(db: Db, now: IsoTimestamp, limit: number) {
  return db
    .selectFrom('outbox')
    .select(['id', 'kind', 'dedupe_key', 'payload', 'attempts'])
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
    .orderBy('next_attempt_at')
    .limit(limit)
    .execute();
}

/**
 * Compare-and-set: true only for the one worker whose UPDATE found the entry still unlocked.
 * Where rows are locked one by one (PostgreSQL, MySQL), an entry whose row another transaction
 * holds is not claimed now — never waited for: a dead host's open transaction holding one entry
 * (until the server ends its session) would otherwise fail every poll's claims at the lock
 * timeout, and the whole outbox would wait with it. The entry stays due for a later poll.
 */
export async function claimOutboxEntry(
  db: Db,
  claim: { id: string; workerId: string; now: IsoTimestamp; lockedUntil: IsoTimestamp },
): Promise<boolean> {
  if ((await lockFreeRows(db, 'outbox', [claim.id])).length === 0) return false;
  const result = await db
    .updateTable('outbox')
    .set({ locked_by: claim.workerId, locked_until: claim.lockedUntil })
    .where('id', '=', claim.id)
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', claim.now)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Extends a running claim (the worker's heartbeat); false if the claim is no longer this worker's. */
export async function renewOutboxLease(db: Db, lease: { id: string; workerId: string; lockedUntil: IsoTimestamp }): Promise<boolean> {
  const result = await db
    .updateTable('outbox')
    .set({ locked_until: lease.lockedUntil })
    .where('id', '=', lease.id)
    .where('status', '=', 'pending')
    .where('locked_by', '=', lease.workerId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function markOutboxEntryDone(
  db: Db,
  entry: { id: string; workerId: string; attempts: number; now: IsoTimestamp },
): Promise<void> {
  await db
    .updateTable('outbox')
    .set({ status: 'done', attempts: entry.attempts, done_at: entry.now, locked_by: null, locked_until: null, last_error: null })
    .where('id', '=', entry.id)
    .where('locked_by', '=', entry.workerId)
    .execute();
}

/** Releases a failed attempt: pending again at `nextAttemptAt`, or failed for good. */
export async function markOutboxEntryFailed(
  db: Db,
  entry: {
    id: string;
    workerId: string;
    attempts: number;
    status: Extract<OutboxStatus, 'pending' | 'failed'>;
    nextAttemptAt: IsoTimestamp;
    error: string;
  },
): Promise<void> {
  await db
    .updateTable('outbox')
    .set({
      status: entry.status,
      attempts: entry.attempts,
      next_attempt_at: entry.nextAttemptAt,
      locked_by: null,
      locked_until: null,
      last_error: entry.error,
    })
    .where('id', '=', entry.id)
    .where('locked_by', '=', entry.workerId)
    .execute();
}

/** How many entries are pending, and since when the oldest. */
export async function pendingOutboxDepth(db: Db): Promise<{ depth: number; oldest: IsoTimestamp | null }> {
  const row = await db
    .selectFrom('outbox')
    .select((eb) => [eb.fn.countAll<number>().as('depth'), eb.fn.min('created_at').as('oldest')])
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return { depth: Number(row?.depth ?? 0), oldest: row?.oldest ?? null };
}

/** Entries by kind and status (operator summaries, tests, benches). */
export async function listOutboxEntries(db: Db, filter: { kind?: string; status?: OutboxStatus } = {}) {
  let query = db.selectFrom('outbox').select(['id', 'kind', 'dedupe_key', 'status', 'attempts', 'last_error']);
  if (filter.kind) query = query.where('kind', '=', filter.kind);
  if (filter.status) query = query.where('status', '=', filter.status);
  return query.execute();
}
