/**
 * Executes the outbox: side effects recorded in the same transaction as the state that needs
 * them, run here after commit, with retries and exponential backoff. Several workers (several
 * instances) may poll the same table: an entry is claimed by a compare-and-set UPDATE on its
 * lock, so only one worker runs it at a time, and a crashed worker's claim expires.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  claimOutboxEntry,
  findDueOutboxEntries,
  markOutboxEntryDone,
  markOutboxEntryFailed,
  pendingOutboxDepth,
} from '../../storage/outbox-repository.js';
import type { Store } from '../../storage/store.js';
import type { Metrics } from '../metrics.js';

export interface OutboxEntry {
  readonly id: string;
  readonly kind: string;
  readonly dedupeKey: string;
  readonly payload: Record<string, unknown>;
  readonly attempts: number;
}

/** Runs one entry; throws to retry later. `permanent` errors are not retried. */
export type OutboxHandler = (entry: OutboxEntry) => Promise<void>;

export class PermanentOutboxError extends Error {
  override readonly name = 'PermanentOutboxError';
}

export interface OutboxWorkerOptions {
  readonly store: Store;
  readonly handlers: Readonly<Record<string, OutboxHandler>>;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  readonly clock?: () => Date;
  readonly pollIntervalMs?: number;
  readonly batchSize?: number;
  readonly maxAttempts?: number;
  readonly lockMs?: number;
  readonly workerId?: string;
}

export class OutboxWorker {
  readonly workerId: string;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private wakeRequested = false;

  constructor(private readonly options: OutboxWorkerOptions) {
    this.workerId = options.workerId ?? `worker-${randomUUID()}`;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Runs a poll soon (after a commit that enqueued work), instead of waiting for the timer. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) this.wakeRequested = true;
    else this.schedule(0);
  }

  /** Stops polling and waits for the entries in hand to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One pass: claims due entries and runs them. Returns how many ran. Exposed for tests. */
  async runOnce(): Promise<number> {
    const entries = await this.claim();
    for (const entry of entries) await this.execute(entry);
    await this.updateGauges().catch(() => undefined);
    return entries.length;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .then((count) => {
          const again = count > 0 || this.wakeRequested;
          this.wakeRequested = false;
          this.running = undefined;
          this.schedule(again ? 0 : (this.options.pollIntervalMs ?? 1000));
        })
        .catch((error: unknown) => {
          this.running = undefined;
          this.options.logger.warn({ err: error }, 'outbox poll failed; retrying');
          this.schedule(this.options.pollIntervalMs ?? 1000);
        });
    }, delayMs);
    this.timer.unref();
  }

  private now(): Date {
    return this.options.clock?.() ?? new Date();
  }

  private async claim(): Promise<OutboxEntry[]> {
    const { store } = this.options;
    const now = this.now().toISOString();
    const candidates = await findDueOutboxEntries(store.db, now, this.options.batchSize ?? 10);
    const lockedUntil = new Date(this.now().getTime() + (this.options.lockMs ?? 60_000)).toISOString();
    const claimed: OutboxEntry[] = [];
    for (const row of candidates) {
      // Compare-and-set: only one worker's UPDATE finds the entry still unlocked.
      if (await claimOutboxEntry(store.db, { id: row.id, workerId: this.workerId, now, lockedUntil })) {
        claimed.push({
          id: row.id,
          kind: row.kind,
          dedupeKey: row.dedupe_key,
          payload: JSON.parse(row.payload) as Record<string, unknown>,
          attempts: row.attempts,
        });
      }
    }
    return claimed;
  }

  private async execute(entry: OutboxEntry): Promise<void> {
    const { store, logger } = this.options;
    const handler = this.options.handlers[entry.kind];
    const attempts = entry.attempts + 1;
    try {
      if (!handler) throw new PermanentOutboxError(`no handler for outbox kind '${entry.kind}'`);
      await handler(entry);
      await markOutboxEntryDone(store.db, { id: entry.id, workerId: this.workerId, attempts, now: this.now().toISOString() });
      logger.info({ outbox: entry.kind, key: entry.dedupeKey, attempts }, 'outbox entry done');
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      const give_up = error instanceof PermanentOutboxError || attempts >= (this.options.maxAttempts ?? 8);
      const backoffMs = Math.min(300_000, 1000 * 2 ** (attempts - 1));
      await markOutboxEntryFailed(store.db, {
        id: entry.id,
        workerId: this.workerId,
        attempts,
        status: give_up ? 'failed' : 'pending',
        nextAttemptAt: new Date(this.now().getTime() + backoffMs).toISOString(),
        error: message.slice(0, 500),
      });
      if (give_up) {
        this.options.metrics?.alerts.inc({ kind: 'outbox-failed' });
        logger.error(
          { alert: 'outbox-failed', outbox: entry.kind, key: entry.dedupeKey, attempts, error: message },
          'outbox entry failed for good',
        );
      } else {
        logger.warn({ outbox: entry.kind, key: entry.dedupeKey, attempts, backoffMs, error: message }, 'outbox entry failed; will retry');
      }
    }
  }

  private async updateGauges(): Promise<void> {
    const metrics = this.options.metrics;
    if (!metrics) return;
    const { depth, oldest } = await pendingOutboxDepth(this.options.store.db);
    metrics.outboxDepth.set(depth);
    metrics.outboxOldestAgeSeconds.set(oldest ? Math.max(0, (this.now().getTime() - Date.parse(oldest)) / 1000) : 0);
  }
}
