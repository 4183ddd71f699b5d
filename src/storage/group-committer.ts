/**
 * Group commit: items submitted while a transaction is in flight wait and then go together in
 * the next one. One fsync'd COMMIT then makes a whole batch durable, so throughput grows with
 * concurrency instead of being capped by one commit per item.
 *
 * Each submit() resolves with its own result only after its batch's COMMIT has returned (on
 * SQLite in WAL with synchronous=FULL: on disk). If the batch fails, nothing of it remains. When
 * the store is unavailable every submitter is rejected with that StoreUnavailableError (retrying
 * would only wait longer). Any other failure belongs to one item, not to the batch: each item is
 * then tried again alone, in its own transaction, so one bad item never costs the others their
 * commit — only the item that fails alone is rejected, with a BatchFailedError carrying the cause.
 * A lock timeout (another session holds a row an item needs: a dead host's open transaction)
 * or a deadlock (two batches in flight inserting the same keys in another order) is treated
 * the same way: the others commit, an item that still conflicts alone gets the error (503,
 * Twilio retries).
 *
 * With `unit: 'session'` a batch runs on one connection outside a transaction instead (PostgreSQL,
 * MySQL: BEGIN and COMMIT are two round trips of the batch's few): `apply` then makes its writes
 * atomic itself — one statement, or a transaction it opens — and an item is answered once they
 * committed, as above. The isolating retry is the same.
 *
 * Each transaction has a deadline (`deadlineMs`): past it, its submitters get
 * StoreUnavailableError at once and its connection is destroyed (see Store.transaction), so a
 * silent database never holds a request longer than that.
 */
import type { Kysely } from 'kysely';
import type { Database, StoreTransaction } from './schema.js';
import type { Store } from './store.js';
import { BatchFailedError, isRowConflict, isStoreUnavailable, StoreClosedError, StoreUnavailableError } from './store-errors.js';

export type GroupCommitterOptions<I, R> = GroupCommitterSettings &
  (
    | {
        readonly store: Pick<Store, 'transaction'>;
        readonly unit?: 'transaction';
        /** Does the work of a batch inside its transaction; returns one result per item, in order. */
        readonly apply: (trx: StoreTransaction, items: I[]) => Promise<R[]>;
      }
    | {
        readonly store: Pick<Store, 'session'>;
        readonly unit: 'session';
        /** Does the work of a batch on one connection, its writes atomic; returns one result per item, in order. */
        readonly apply: (db: Kysely<Database>, items: I[]) => Promise<R[]>;
      }
  );

interface GroupCommitterSettings {
  /** A transaction not committed within this long fails (StoreUnavailableError). Default: none. */
  readonly deadlineMs?: number;
  /** Most items per transaction. Default 256. */
  readonly maxBatch?: number;
  /**
   * Transactions in flight at once, each on its own connection (default 1). Above 1 where a
   * commit is a network round trip (PostgreSQL, MySQL): the next batch goes while the last one's
   * COMMIT travels, instead of queueing behind it. Never above 1 on SQLite (one writer).
   */
  readonly concurrency?: number;
}

interface Pending<I, R> {
  readonly item: I;
  readonly resolve: (result: R) => void;
  readonly reject: (error: unknown) => void;
}

export interface GroupCommitterStats {
  /** Transactions committed or attempted (an isolating retry counts each of its transactions). */
  readonly batches: number;
  /** Items handed to those transactions (an item retried alone counts again). */
  readonly items: number;
  readonly largestBatch: number;
}

/** What readiness needs to know: when a transaction last committed, last failed, and is running since. */
export interface GroupCommitterHealth {
  readonly lastCommitAt: number | undefined;
  /** A failure of the store (unavailable, deadline, lock timeout), not a bad item. */
  readonly lastFailureAt: number | undefined;
  readonly inFlightSince: number | undefined;
}

export class GroupCommitter<I, R> {
  /** Runs apply on a batch in its unit (a transaction or a session), with the deadline. */
  readonly #unit: (items: I[]) => Promise<R[]>;
  readonly #maxBatch: number;
  readonly #concurrency: number;
  #queue: Pending<I, R>[] = [];
  /** Runners taking batches from the queue (at most #concurrency). */
  #running = 0;
  #closed = false;
  #idleWaiters: (() => void)[] = [];
  #stats = { batches: 0, items: 0, largestBatch: 0 };
  #health: { lastCommitAt: number | undefined; lastFailureAt: number | undefined } = {
    lastCommitAt: undefined,
    lastFailureAt: undefined,
  };
  /** When each transaction in flight started. */
  readonly #inFlight = new Set<{ readonly since: number }>();

  constructor(options: GroupCommitterOptions<I, R>) {
    const deadline = options.deadlineMs ? { deadlineMs: options.deadlineMs } : undefined;
    if (options.unit === 'session') {
      const { store, apply } = options;
      this.#unit = (items) => store.session((db) => checked(apply(db, items), items.length), deadline);
    } else {
      const { store, apply } = options;
      this.#unit = (items) => store.transaction((trx) => checked(apply(trx, items), items.length), deadline);
    }
    this.#maxBatch = Math.max(1, Math.floor(options.maxBatch ?? 256));
    this.#concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
  }

  get stats(): GroupCommitterStats {
    return { ...this.#stats };
  }

  get health(): GroupCommitterHealth {
    let inFlightSince: number | undefined;
    for (const { since } of this.#inFlight) inFlightSince = Math.min(since, inFlightSince ?? since);
    return { ...this.#health, inFlightSince };
  }

  submit(item: I): Promise<R> {
    if (this.#closed) return Promise.reject(new StoreClosedError('the group committer'));
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (this.#running < this.#concurrency) {
        this.#running += 1;
        // setImmediate, not a microtask: submits from the other I/O callbacks of this event-loop
        // turn (requests that arrived together) join the first batch.
        setImmediate(() => void this.#run());
      }
    });
  }

  /** Resolves once everything submitted so far has been committed or rejected. */
  drain(): Promise<void> {
    if (this.#running === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Refuses new submits (StoreClosedError) and drains. */
  close(): Promise<void> {
    this.#closed = true;
    return this.drain();
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      this.#stats.largestBatch = Math.max(this.#stats.largestBatch, batch.length);
      try {
        const results = await this.#commit(batch);
        batch.forEach((pending, index) => pending.resolve(results[index]!));
      } catch (error) {
        if ((isStoreUnavailable(error) && !isRowConflict(error)) || batch.length === 1) {
          const rejection = error instanceof StoreUnavailableError ? error : new BatchFailedError(batch.length, { cause: error });
          for (const pending of batch) pending.reject(rejection);
        } else {
          await this.#commitOneByOne(batch);
        }
      }
    }
    this.#running -= 1;
    if (this.#running > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Isolates the item(s) that made a batch fail: each alone, in its own transaction. */
  async #commitOneByOne(batch: readonly Pending<I, R>[]): Promise<void> {
    let unavailable: unknown;
    for (const pending of batch) {
      // Once the store is gone, the rest would only wait for it too.
      if (unavailable) {
        pending.reject(unavailable);
        continue;
      }
      try {
        pending.resolve((await this.#commit([pending]))[0]!);
      } catch (error) {
        const rejection = error instanceof StoreUnavailableError ? error : new BatchFailedError(1, { cause: error });
        if (isStoreUnavailable(error) && !isRowConflict(error)) unavailable = rejection;
        pending.reject(rejection);
      }
    }
  }

  async #commit(batch: readonly Pending<I, R>[]): Promise<R[]> {
    this.#stats.batches += 1;
    this.#stats.items += batch.length;
    const started = { since: Date.now() };
    this.#inFlight.add(started);
    try {
      const results = await this.#transaction(batch);
      this.#health.lastCommitAt = Date.now();
      return results;
    } catch (error) {
      if (isStoreUnavailable(error)) this.#health.lastFailureAt = Date.now();
      throw error;
    } finally {
      this.#inFlight.delete(started);
    }
  }

  #transaction(batch: readonly Pending<I, R>[]): Promise<R[]> {
    return this.#unit(batch.map((pending) => pending.item));
  }
}

/** Checked inside the unit, so a wrong count rolls a transaction's batch back. */
async function checked<R>(results: Promise<R[]>, expected: number): Promise<R[]> {
  const out = await results;
  if (!Array.isArray(out) || out.length !== expected) {
    throw new TypeError(`apply returned ${Array.isArray(out) ? out.length : typeof out} results for ${expected} items`);
  }
  return out;
}
