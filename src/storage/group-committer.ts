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
 * Other work on the same connection can ride along (`alongside`): it runs in the next
 * transaction after the batch's items and is answered at its COMMIT, so it costs no fsync of
 * its own while items keep coming (the outbox's claims and done marks beside the inbox's). It
 * waits up to `alongsideWaitMs` for items to ride with, then commits without them.
 *
 * Each transaction has a deadline (`deadlineMs`): past it, its submitters get
 * StoreUnavailableError at once and its connection is destroyed (see Store.transaction), so a
 * silent database never holds a request longer than that.
 */
import type { StoreTransaction } from './schema.js';
import type { Store } from './store.js';
import { BatchFailedError, isRowConflict, isStoreUnavailable, StoreClosedError, StoreUnavailableError } from './store-errors.js';

export interface GroupCommitterOptions<I, R> {
  readonly store: Pick<Store, 'transaction'>;
  /** A transaction not committed within this long fails (StoreUnavailableError). Default: none. */
  readonly deadlineMs?: number;
  /** Does the work of a batch inside its transaction; returns one result per item, in order. */
  readonly apply: (trx: StoreTransaction, items: I[]) => Promise<R[]>;
  /** Most items per transaction. Default 256. */
  readonly maxBatch?: number;
  /**
   * Transactions in flight at once, each on its own connection (default 1). Above 1 where a
   * commit is a network round trip (PostgreSQL, MySQL): the next batch goes while the last one's
   * COMMIT travels, instead of queueing behind it. Never above 1 on SQLite (one writer).
   */
  readonly concurrency?: number;
  /** How long work alongside waits for an item's transaction before it starts one. Default 0. */
  readonly alongsideWaitMs?: number;
}

interface Pending<I, R> {
  readonly item: I;
  readonly resolve: (result: R) => void;
  readonly reject: (error: unknown) => void;
}

/** Work riding along in a batch's transaction; `item` is its marker, never given to apply. */
interface Rider {
  readonly item: typeof RIDER;
  readonly work: (trx: StoreTransaction) => Promise<unknown>;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: unknown) => void;
}

const RIDER = Symbol('rider');

const isItem = <I, R>(pending: Pending<I, R> | Rider): pending is Pending<I, R> => pending.item !== RIDER;

/** Work that rides along in the committer's next transaction (see GroupCommitter.alongside). */
export type CommitAlongside = <T>(work: (trx: StoreTransaction) => Promise<T>) => Promise<T>;

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
  readonly #store: Pick<Store, 'transaction'>;
  readonly #apply: (trx: StoreTransaction, items: I[]) => Promise<R[]>;
  readonly #maxBatch: number;
  readonly #concurrency: number;
  #queue: (Pending<I, R> | Rider)[] = [];
  /** Runners taking batches from the queue (at most #concurrency). */
  #running = 0;
  #closed = false;
  #idleWaiters: (() => void)[] = [];
  #stats = { batches: 0, items: 0, largestBatch: 0 };
  readonly #deadlineMs: number | undefined;
  readonly #alongsideWaitMs: number;
  /** Starts a transaction for riders that found no item to go with. */
  #alongsideTimer: NodeJS.Timeout | undefined;
  /** The wait is over: riders commit with the next transaction, with or without items. */
  #alongsideDue = false;
  #health: { lastCommitAt: number | undefined; lastFailureAt: number | undefined } = {
    lastCommitAt: undefined,
    lastFailureAt: undefined,
  };
  /** When each transaction in flight started. */
  readonly #inFlight = new Set<{ readonly since: number }>();

  constructor(options: GroupCommitterOptions<I, R>) {
    this.#store = options.store;
    this.#deadlineMs = options.deadlineMs;
    this.#apply = options.apply;
    this.#maxBatch = Math.max(1, Math.floor(options.maxBatch ?? 256));
    this.#concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
    this.#alongsideWaitMs = Math.max(0, options.alongsideWaitMs ?? 0);
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
    return new Promise<R>((resolve, reject) => this.#enqueue({ item, resolve, reject }));
  }

  /**
   * Runs `work` in the next transaction, after that batch's items, and resolves with its result
   * once the COMMIT returned. If the batch fails, the work is tried again alone, like an item.
   */
  readonly alongside: CommitAlongside = <T>(work: (trx: StoreTransaction) => Promise<T>): Promise<T> => {
    if (this.#closed) return Promise.reject(new StoreClosedError('the group committer'));
    return new Promise<T>((resolve, reject) => {
      const rider: Rider = { item: RIDER, work, resolve: resolve as (result: unknown) => void, reject };
      if (this.#alongsideWaitMs === 0) return this.#enqueue(rider);
      this.#queue.push(rider);
      // A batch under way (or the next item's) takes it; else it goes alone after the wait.
      this.#alongsideTimer ??= setTimeout(() => this.#startAlongside(), this.#alongsideWaitMs);
    });
  };

  #startAlongside(): void {
    clearTimeout(this.#alongsideTimer);
    this.#alongsideTimer = undefined;
    this.#alongsideDue = true;
    if (this.#queue.length > 0 && this.#running === 0) {
      this.#running += 1;
      void this.#run();
    }
  }

  #enqueue(pending: Pending<I, R> | Rider): void {
    this.#queue.push(pending);
    if (this.#running < this.#concurrency) {
      this.#running += 1;
      // setImmediate, not a microtask: submits from the other I/O callbacks of this event-loop
      // turn (requests that arrived together) join the first batch.
      setImmediate(() => void this.#run());
    }
  }

  /** Resolves once everything submitted so far has been committed or rejected. */
  drain(): Promise<void> {
    if (this.#running === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Refuses new submits (StoreClosedError) and drains. */
  close(): Promise<void> {
    this.#closed = true;
    this.#startAlongside();
    return this.drain();
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0 && (this.#alongsideDue || this.#alongsideWaitMs === 0 || this.#queue.some(isItem))) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      if (!this.#queue.some((pending) => pending.item === RIDER)) {
        // Every rider is on board: the next one waits its own full time.
        clearTimeout(this.#alongsideTimer);
        this.#alongsideTimer = undefined;
        this.#alongsideDue = false;
      }
      this.#stats.largestBatch = Math.max(this.#stats.largestBatch, batch.length);
      try {
        const results = await this.#commit(batch);
        batch.forEach((pending, index) => (pending.resolve as (result: unknown) => void)(results[index]));
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
    // Riders left waiting for an item: the timer's run answers the drain.
    if (this.#running > 0 || this.#queue.length > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Isolates the item(s) that made a batch fail: each alone, in its own transaction. */
  async #commitOneByOne(batch: readonly (Pending<I, R> | Rider)[]): Promise<void> {
    let unavailable: unknown;
    for (const pending of batch) {
      // Once the store is gone, the rest would only wait for it too.
      if (unavailable) {
        pending.reject(unavailable);
        continue;
      }
      try {
        (pending.resolve as (result: unknown) => void)((await this.#commit([pending]))[0]);
      } catch (error) {
        const rejection = error instanceof StoreUnavailableError ? error : new BatchFailedError(1, { cause: error });
        if (isStoreUnavailable(error) && !isRowConflict(error)) unavailable = rejection;
        pending.reject(rejection);
      }
    }
  }

  async #commit(batch: readonly (Pending<I, R> | Rider)[]): Promise<unknown[]> {
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

  #transaction(batch: readonly (Pending<I, R> | Rider)[]): Promise<unknown[]> {
    const items = batch.filter(isItem).map((pending) => pending.item);
    return this.#store.transaction(
      async (trx) => {
        const out = items.length > 0 ? await this.#apply(trx, items) : [];
        // Checked inside the transaction, so a wrong count rolls the batch back.
        if (!Array.isArray(out) || out.length !== items.length) {
          throw new TypeError(`apply returned ${Array.isArray(out) ? out.length : typeof out} results for ${items.length} items`);
        }
        // The items' results in their places, then each rider's after the items' writes.
        const results: unknown[] = [];
        let next = 0;
        for (const pending of batch) results.push(pending.item === RIDER ? undefined : out[next++]);
        for (const [index, pending] of batch.entries()) {
          if (pending.item === RIDER) results[index] = await (pending as Rider).work(trx);
        }
        return results;
      },
      this.#deadlineMs ? { deadlineMs: this.#deadlineMs } : undefined,
    );
  }
}
