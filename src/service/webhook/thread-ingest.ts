/**
 * The webhook's ingest when the record thread runs (`serve`): verified callbacks are handed to
 * that thread, which commits them in its group commit (store-ingest.ts, on its own connection)
 * and folds them there. Each submit resolves once its commit returned in the thread — the
 * acknowledgement rule is the same as in-process: 204 only after the inbox commit. The HTTP
 * thread keeps only HTTP and verification; its event loop never waits on a statement.
 *
 * Callbacks submitted in one turn of the event loop go in one message. While no thread runs (it
 * died and is being started again) callbacks are committed here instead, through `fallback`, on
 * this thread's own connection; the next thread's start-up sweep folds them. Every wait is
 * bounded: a batch the thread has not answered within `answerWithinMs` fails with
 * StoreUnavailableError (503, Twilio retries; a retry of one that did commit is then a
 * duplicate), and so does every batch in flight when the thread ends.
 */
import type { GroupCommitterHealth } from '../../storage/group-committer.js';
import {
  BatchFailedError,
  isStoreUnavailable,
  StoreClosedError,
  StoreLockTimeoutError,
  StoreUnavailableError,
} from '../../storage/store-errors.js';
import type { IngestFailureKind, IngestResult } from '../consultations/projection-thread-messages.js';
import type { IngestOutcome, SignedCallback } from './callback-ingest.js';
import type { StoreIngest } from './store-ingest.js';

/** Where batches go: the record thread. Rejects when no thread runs or it ended mid-batch. */
export interface IngestChannel {
  /** Whether a thread runs and takes batches now. */
  readonly ready: boolean;
  send(callbacks: readonly SignedCallback[], legacyAccountSid: string | undefined): Promise<readonly IngestResult[]>;
}

export interface ThreadIngestOptions {
  readonly channel: IngestChannel;
  /** Commits on this thread while the channel is not ready. */
  readonly fallback: StoreIngest;
  /** How long a batch may wait for the thread's answer. */
  readonly answerWithinMs: number;
  readonly legacyAccountSid: () => string | undefined;
}

interface Pending {
  readonly callback: SignedCallback;
  readonly resolve: (outcome: IngestOutcome) => void;
  readonly reject: (error: unknown) => void;
}

export function createThreadIngest(options: ThreadIngestOptions): StoreIngest {
  let queue: Pending[] = [];
  let scheduled = false;
  let closed = false;
  let nextBatch = 1;
  /** Batch number → when it was sent (readiness: how long the oldest has been in flight). */
  const inFlight = new Map<number, number>();
  const idleWaiters: (() => void)[] = [];
  const health: { lastCommitAt: number | undefined; lastFailureAt: number | undefined } = {
    lastCommitAt: undefined,
    lastFailureAt: undefined,
  };

  const wakeIdle = () => {
    if (queue.length > 0 || inFlight.size > 0 || scheduled) return;
    for (const resolve of idleWaiters.splice(0)) resolve();
  };

  const settle = (batch: readonly Pending[], results: readonly IngestResult[]) => {
    batch.forEach((pending, index) => {
      const result = results[index];
      if (result?.ok) {
        health.lastCommitAt = Date.now();
        pending.resolve(result.outcome);
        return;
      }
      const error = result ? errorOf(result.kind, result.message) : new StoreUnavailableError('the record thread gave no answer');
      if (isStoreUnavailable(error)) health.lastFailureAt = Date.now();
      pending.reject(error);
    });
  };

  const flush = () => {
    scheduled = false;
    const batch = queue;
    queue = [];
    if (batch.length === 0) return wakeIdle();
    const id = nextBatch++;
    inFlight.set(id, Date.now());
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreUnavailableError(`the record thread did not answer within ${options.answerWithinMs} ms`)),
        options.answerWithinMs,
      );
    });
    Promise.race([
      options.channel.send(
        batch.map((pending) => pending.callback),
        options.legacyAccountSid(),
      ),
      deadline,
    ])
      .then(
        (results) => settle(batch, results),
        (error: unknown) => {
          health.lastFailureAt = Date.now();
          const rejection =
            error instanceof StoreUnavailableError ? error : new StoreUnavailableError('the record thread failed', { cause: error });
          for (const pending of batch) pending.reject(rejection);
        },
      )
      .finally(() => {
        clearTimeout(timer);
        inFlight.delete(id);
        wakeIdle();
      });
  };

  const drain = () =>
    new Promise<void>((resolve) => {
      idleWaiters.push(resolve);
      wakeIdle();
    });

  return {
    submit(callback) {
      if (closed) return Promise.reject(new StoreClosedError('the webhook ingest'));
      if (!options.channel.ready) return options.fallback.submit(callback);
      return new Promise<IngestOutcome>((resolve, reject) => {
        queue.push({ callback, resolve, reject });
        if (scheduled) return;
        scheduled = true;
        // setImmediate: the requests read in this turn of the event loop go together.
        setImmediate(flush);
      });
    },
    health(): GroupCommitterHealth {
      const here = options.fallback.health();
      const oldest = Math.min(...inFlight.values(), here.inFlightSince ?? Infinity);
      return {
        lastCommitAt: latest(health.lastCommitAt, here.lastCommitAt),
        lastFailureAt: latest(health.lastFailureAt, here.lastFailureAt),
        inFlightSince: Number.isFinite(oldest) ? oldest : undefined,
      };
    },
    async drain() {
      await Promise.all([drain(), options.fallback.drain()]);
    },
    async close() {
      closed = true;
      await Promise.all([drain(), options.fallback.close()]);
    },
  };
}

function latest(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}

/** The thread's side: what kind of store error a callback failed with (errors are not cloned across threads). */
export function ingestFailureOf(error: unknown): { kind: IngestFailureKind; message: string } {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof StoreLockTimeoutError) return { kind: 'lock-timeout', message };
  if (isStoreUnavailable(error)) return { kind: 'unavailable', message };
  if (error instanceof StoreClosedError) return { kind: 'closed', message };
  return { kind: 'batch-failed', message };
}

/** The HTTP thread's side: the same error class again, so the route answers as in-process. */
function errorOf(kind: IngestFailureKind, message: string): Error {
  switch (kind) {
    case 'lock-timeout':
      return new StoreLockTimeoutError(message);
    case 'unavailable':
      return new StoreUnavailableError(message);
    case 'closed':
      return new StoreClosedError('the record thread');
    case 'batch-failed':
      return new BatchFailedError(1, { cause: new Error(message) });
  }
}
