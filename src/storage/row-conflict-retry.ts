/**
 * Runs a unit of work again when it lost a conflict over rows with another session: a lock wait
 * past the lock timeout (StoreLockTimeoutError) or a deadlock (StoreDeadlockError). Background
 * work (the projector's fold, the no-show sweep, a webhook group commit claiming a room's SID)
 * holds a consultation's row for the length of its transaction; under load that can pass the lock
 * timeout, and an API write to the same row then fails although nothing is wrong. The holder
 * commits soon after, so the same write run again succeeds.
 *
 * `work` must be a whole unit that left nothing behind when it failed: one transaction, or
 * autocommit statements that are idempotent (running them twice changes nothing more). Never
 * call this inside a transaction: after a lock timeout MySQL keeps the transaction open but a
 * deadlock rolls it back, and PostgreSQL aborts it either way — only a new one can retry.
 * Anything else (a store that is down, a constraint) is thrown at once.
 */
import { isRowConflict } from './store-errors.js';

export interface RowConflictRetryOptions {
  /** Runs in all, the first included (default 3). */
  readonly attempts?: number;
  /** Called before each new run, with the conflict that ended the previous one. */
  readonly onRetry?: (error: unknown, attempt: number) => void;
}

/** 10–40 ms, more for each run: a deadlock's two sides must not collide again at once. */
const pause = (attempt: number) => new Promise((resolve) => setTimeout(resolve, (10 + Math.random() * 30) * attempt));

export async function retryRowConflicts<T>(work: () => Promise<T>, options: RowConflictRetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts || !isRowConflict(error)) throw error;
      options.onRetry?.(error, attempt);
      await pause(attempt);
    }
  }
}
