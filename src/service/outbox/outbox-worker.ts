/**
 * Executes the outbox: side effects recorded in the same transaction as the state that needs
 * them, run here after commit, with retries and exponential backoff (at least what Twilio's
 * Retry-After asks). Several workers (several instances) may poll the same table: an entry is
 * claimed by a compare-and-set UPDATE on its lease, so only one worker runs it at a time. The
 * lease is short (`leaseMs`, 15 s by default) and renewed by a heartbeat while the entry runs,
 * so a killed worker's claim expires within seconds, however long a live one takes. Up to
 * `concurrency` entries run at once per worker.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  claimOutboxEntry,
  findDueOutboxEntries,
  markOutboxEntryDone,
  markOutboxEntryFailed,
  pendingOutboxDepth,
  renewOutboxLease,
} from '../../storage/outbox-repository.js';
import { GroupCommitter } from '../../storage/group-committer.js';
import { retryRowConflicts } from '../../storage/row-conflict-retry.js';
import type { Store, StoreTransaction } from '../../storage/store.js';

export interface OutboxEntry {
  readonly id: string;
  readonly kind: string;
  readonly dedupeKey: string;
  readonly payload: Record<string, unknown>;
  readonly attempts: number;
}

/**
 * Runs one entry; throws to retry later. `permanent` errors are not retried. May answer what to
 * write of its outcome: that runs in the transaction that marks the entry done, so the outcome
 * and the done mark commit together (on SQLite one fsync, shared with the other entries that
 * finished meanwhile, not one for the outcome and another for the mark). If that write fails,
 * the entry is retried like any failure, so the handler must be idempotent (they all are).
 */
export type OutboxHandler = (entry: OutboxEntry) => Promise<void | OutboxOutcomeWrite>;

/** The handler's writes, run inside the done-marking transaction. */
export type OutboxOutcomeWrite = (trx: StoreTransaction) => Promise<void>;

interface DoneMark {
  readonly id: string;
  readonly workerId: string;
  readonly attempts: number;
  readonly now: string;
  readonly write: OutboxOutcomeWrite | undefined;
}

export class PermanentOutboxError extends Error {
  override readonly name = 'PermanentOutboxError';
}

/** The figures the worker keeps (prom-client's Counter and Gauges fit; the record thread relays them). */
export interface OutboxMetrics {
  readonly alerts: { inc(labels: { kind: 'outbox-failed' }): void };
  readonly outboxDepth: { set(value: number): void };
  readonly outboxOldestAgeSeconds: { set(value: number): void };
}

export interface OutboxWorkerOptions {
  readonly store: Store;
  readonly handlers: Readonly<Record<string, OutboxHandler>>;
  readonly logger: Logger;
  readonly metrics?: OutboxMetrics;
  readonly clock?: () => Date;
  readonly pollIntervalMs?: number;
  /** Entries running at once (claimed per poll at most). Default 4. */
  readonly concurrency?: number;
  readonly maxAttempts?: number;
  /** How long a claim holds without a heartbeat; renewed every third of it. Default 15 s. */
  readonly leaseMs?: number;
  readonly workerId?: string;
}

export const DEFAULT_OUTBOX_LEASE_MS = 15_000;
export const DEFAULT_OUTBOX_CONCURRENCY = 4;

export class OutboxWorker {
  readonly workerId: string;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private wakeRequested = false;
  private readonly inFlight = new Set<Promise<void>>();
  private gaugesAt = 0;
  /** Entries that finish together are marked done in one transaction (on SQLite one fsync). */
  private readonly done: GroupCommitter<DoneMark, void>;

  constructor(private readonly options: OutboxWorkerOptions) {
    this.workerId = options.workerId ?? `worker-${randomUUID()}`;
    this.done = new GroupCommitter<DoneMark, void>({
      store: options.store,
      apply: async (trx, entries) => {
        for (const entry of entries) {
          await entry.write?.(trx);
          await markOutboxEntryDone(trx, entry);
        }
        return entries.map(() => undefined);
      },
    });
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
    await Promise.all(this.inFlight);
  }

  /**
   * One pass, for tests and tools: waits for the entries already running (the scheduled poll's),
   * claims due entries into the free slots, and waits until all of them are done. Returns how
   * many this pass started.
   */
  async runOnce(): Promise<number> {
    await Promise.all(this.inFlight);
    const started = await this.startDue();
    await Promise.all([...started, ...this.inFlight]);
    return started.length;
  }

  private get concurrency(): number {
    return Math.max(1, this.options.concurrency ?? DEFAULT_OUTBOX_CONCURRENCY);
  }

  /** Claims as many due entries as there are free slots and starts them; the poll goes on meanwhile. */
  private async startDue(): Promise<Promise<void>[]> {
    const free = this.concurrency - this.inFlight.size;
    const entries = free > 0 ? await this.claim(free) : [];
    const started = entries.map((entry) => {
      const running: Promise<void> = this.execute(entry).finally(() => {
        this.inFlight.delete(running);
        this.wake(); // a slot is free
      });
      this.inFlight.add(running);
      return running;
    });
    // The depth gauges scan the pending entries: at most once a second, not on every poll (a busy
    // outbox polls again as soon as a slot frees).
    if (Date.now() - this.gaugesAt >= 1000) {
      this.gaugesAt = Date.now();
      await this.updateGauges().catch(() => undefined);
    }
    return started;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.startDue()
        .then((started) => started.length)
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

  private get leaseMs(): number {
    return this.options.leaseMs ?? DEFAULT_OUTBOX_LEASE_MS;
  }

  private leaseEnd(): string {
    return new Date(this.now().getTime() + this.leaseMs).toISOString();
  }

  private async claim(limit: number): Promise<OutboxEntry[]> {
    const { store } = this.options;
    const now = this.now().toISOString();
    const candidates = await findDueOutboxEntries(store.db, now, limit);
    const lockedUntil = this.leaseEnd();
    if (candidates.length === 0) return [];
    // One transaction for the poll's claims (each still a compare-and-set: only one worker's
    // UPDATE finds the entry unlocked): one commit — on SQLite one fsync — not one per entry.
    const won = await store.transaction(async (trx) => {
      const ids = new Set<string>();
      for (const row of candidates) {
        if (await claimOutboxEntry(trx, { id: row.id, workerId: this.workerId, now, lockedUntil })) ids.add(row.id);
      }
      return ids;
    });
    return candidates
      .filter((row) => won.has(row.id))
      .map((row) => ({
        id: row.id,
        kind: row.kind,
        dedupeKey: row.dedupe_key,
        payload: JSON.parse(row.payload) as Record<string, unknown>,
        attempts: row.attempts,
      }));
  }

  private async execute(entry: OutboxEntry): Promise<void> {
    const { store, logger } = this.options;
    const handler = this.options.handlers[entry.kind];
    const attempts = entry.attempts + 1;
    // The heartbeat: the claim stays this worker's while the handler runs, however long.
    const heartbeat = setInterval(
      () => {
        renewOutboxLease(store.db, { id: entry.id, workerId: this.workerId, lockedUntil: this.leaseEnd() }).then(
          (held) => {
            if (!held)
              logger.warn({ outbox: entry.kind, key: entry.dedupeKey }, 'outbox lease lost while running (the handler is idempotent)');
          },
          (error: unknown) => logger.warn({ err: error, outbox: entry.kind }, 'outbox lease not renewed; retrying at the next beat'),
        );
      },
      Math.max(50, Math.floor(this.leaseMs / 3)),
    );
    heartbeat.unref();
    try {
      if (!handler) throw new PermanentOutboxError(`no handler for outbox kind '${entry.kind}'`);
      const write = await handler(entry);
      clearInterval(heartbeat);
      // The handler's work is done (Twilio has answered): a row conflict over the done mark is
      // not the entry's failure. Marked again at once, so the handler is not run a second time.
      const mark = { id: entry.id, workerId: this.workerId, attempts, now: this.now().toISOString(), write: write ?? undefined };
      await retryRowConflicts(() => this.done.submit(mark), {
        onRetry: (error, attempt) =>
          logger.warn(
            { err: error, outbox: entry.kind, key: entry.dedupeKey, attempt },
            'outbox done mark lost a row conflict; marking again',
          ),
      });
      logger.info({ outbox: entry.kind, key: entry.dedupeKey, attempts }, 'outbox entry done');
    } catch (error) {
      clearInterval(heartbeat);
      const message = (error as Error).message ?? String(error);
      const give_up = error instanceof PermanentOutboxError || attempts >= (this.options.maxAttempts ?? 8);
      // Exponential with jitter, and never sooner than the far end asked (Twilio's Retry-After on 429/503).
      const retryAfterMs = (error as { retryAfterMs?: unknown }).retryAfterMs;
      const exponentialMs = 1000 * 2 ** (attempts - 1) * (0.5 + Math.random() * 0.5);
      const backoffMs = Math.round(Math.min(300_000, Math.max(exponentialMs, typeof retryAfterMs === 'number' ? retryAfterMs : 0)));
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
