/**
 * Folds stored callbacks into their consultations after the callbacks' own commit, so that
 * acknowledging a callback costs one durable inbox insert and not the record's recomputation.
 * Consultations touched while a projection runs are coalesced into the next one: under load a
 * room's many events are folded once. A callback is marked `processed_at` in the transaction
 * that folded it; after a crash (or another instance's crash) the sweep finds the rest.
 */
import type { Logger } from 'pino';
import { consultationsWithUnfoldedCallbacks } from '../../storage/consultation-repository.js';
import { isRowConflict, isStoreUnavailable } from '../../storage/store-errors.js';
import type { Store } from '../../storage/store.js';
import type { LiveEvents } from '../live/live-events.js';
import { projectConsultations } from './consultation-projector.js';

export interface ProjectionWorkerOptions {
  readonly store: Store;
  readonly logger: Logger;
  readonly live: LiveEvents;
  readonly clock: () => Date;
  /** Called after a projection that queued outbox entries. */
  readonly onOutbox: () => void;
  /** Called when one consultation could not be folded (left to the sweep). */
  readonly onProjectionFailure?: () => void;
  /** Consultations folded per transaction at most: bounds how long one fold holds their rows. Default 10. */
  readonly batchSize?: number;
  /** How often to look for callbacks left unprojected (a crash). Default 10 s. */
  readonly sweepIntervalMs?: number;
  /** Pause after a failed projection (store down), and before a skipped (locked) consultation is tried again. Default 500 ms. */
  readonly retryDelayMs?: number;
  /**
   * How long the first dirty consultation waits for more callbacks to arrive before a fold
   * starts; the record lags the acknowledgement by about this much. Default 20 ms.
   */
  readonly gatherMs?: number;
  /**
   * Pause after each fold transaction while more are waiting (default 0). On SQLite the
   * projection thread's connection and the webhook's share one write lock: the pause lets the
   * inbox's group commit in, and lets more callbacks gather into the next fold.
   */
  readonly pauseMs?: number;
}

export class ProjectionWorker {
  private readonly dirty = new Set<string>();
  private running: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private draining = false;
  /** From a batch that failed (not for the store): folded one at a time to find the offender. */
  private isolate = new Set<string>();
  /** Skipped while another transaction held them; folded again after retryDelayMs. */
  private readonly skipped = new Set<string>();

  constructor(private readonly options: ProjectionWorkerOptions) {}

  /** Recovers what a previous process left unprojected, then sweeps now and then. */
  async start(): Promise<void> {
    this.stopped = false;
    this.draining = false;
    await this.sweep().catch((error: unknown) => this.options.logger.warn({ err: error }, 'projection sweep failed'));
    this.sweepTimer = setInterval(() => void this.sweep().catch(() => undefined), this.options.sweepIntervalMs ?? 10_000);
    this.sweepTimer.unref();
  }

  /** These consultations have new callbacks: fold them soon. */
  markDirty(consultationIds: Iterable<string>): void {
    for (const id of consultationIds) this.dirty.add(id);
    if (this.dirty.size > 0 && !this.running && !this.stopped) this.running = this.loop();
  }

  /**
   * Resolves when nothing is waiting to be folded — including consultations skipped because
   * another transaction held them, until they are folded (not when stopping: those are left to
   * the holder, or the next start's sweep).
   */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Finishes what was handed in (unless the store is down), then stops. */
  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.draining = true;
    await this.idle();
    this.stopped = true;
    this.wakeIdleWaiters();
  }

  private isIdle(): boolean {
    return this.stopped || (!this.running && this.dirty.size === 0 && (this.draining || this.skipped.size === 0));
  }

  private wakeIdleWaiters(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private async loop(): Promise<void> {
    // Let the other callbacks of this moment arrive first: they are folded together.
    await new Promise((resolve) => setTimeout(resolve, this.options.gatherMs ?? 20));
    while (this.dirty.size > 0 && !this.stopped) {
      const next = [...this.dirty][0]!;
      // A consultation from a failed batch is folded alone until it has succeeded or failed alone.
      const ids = this.isolate.has(next)
        ? [next]
        : [...this.dirty].filter((id) => !this.isolate.has(id)).slice(0, this.options.batchSize ?? 10);
      for (const id of ids) {
        this.dirty.delete(id);
        this.isolate.delete(id);
      }
      try {
        await this.project(ids);
        if (this.options.pauseMs && this.dirty.size > 0) await new Promise((resolve) => setTimeout(resolve, this.options.pauseMs));
      } catch (error) {
        if (isRowConflict(error)) {
          // A row the fold needs besides the consultation's own — the tenant's event log counter
          // or billing chain head — is held by another session (a dead host's open transaction,
          // until the server ends it), or this fold lost a deadlock. That concerns these rows, not
          // the store: the batch's other consultations (other tenants') must not wait for it.
          if (ids.length > 1) {
            for (const id of ids) this.dirty.add(id);
            this.isolate = new Set([...this.isolate, ...ids]);
            continue;
          }
          this.options.logger.warn(
            { err: error, consultationId: ids[0] },
            'projection: a row the fold needs is held by another transaction; the consultation is folded again later',
          );
          this.retryLater(ids, { alone: true });
          continue;
        }
        if (isStoreUnavailable(error) || ids.length === 1) {
          if (!isStoreUnavailable(error)) {
            // One consultation that cannot be folded (a constraint its data breaks): it must not
            // hold back the others. Left to the sweep, which tries it again every sweepIntervalMs.
            this.options.logger.error({ err: error, consultationId: ids[0] }, 'projection of a consultation failed; the sweep retries it');
            this.options.onProjectionFailure?.();
            continue;
          }
          for (const id of ids) this.dirty.add(id);
          this.options.logger.warn({ err: error, consultations: ids.length }, 'projection failed; retrying');
          // Stopping with the store down: leave it to the next start's sweep.
          if (this.draining) break;
          await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs ?? 500));
          continue;
        }
        // Not the store: find the consultation that breaks the batch by folding each alone.
        for (const id of ids) this.dirty.add(id);
        this.isolate = new Set([...this.isolate, ...ids]);
      }
    }
    this.running = undefined;
    this.wakeIdleWaiters();
  }

  private async project(ids: readonly string[]): Promise<void> {
    const result = await this.options.store.transaction((trx) => projectConsultations(trx, ids, this.options.clock().toISOString()));
    if (result.queuedEffects) this.options.onOutbox();
    // Held by another transaction (row-locks.ts): come back to them, without waiting here.
    if (result.skipped && result.skipped.length > 0) this.retryLater(result.skipped);
    if (result.live.length > 0) {
      this.options.live
        .publish(result.live)
        .catch((error: unknown) => this.options.logger.warn({ err: error }, 'could not publish live events'));
    }
  }

  /** `alone`: folded in a transaction of its own when it comes back (it held back a batch once). */
  private retryLater(ids: readonly string[], options: { alone?: boolean } = {}): void {
    for (const id of ids) this.skipped.add(id);
    const timer = setTimeout(() => {
      for (const id of ids) this.skipped.delete(id);
      if (options.alone) for (const id of ids) this.isolate.add(id);
      if (!this.stopped) this.markDirty(ids);
      this.wakeIdleWaiters();
    }, this.options.retryDelayMs ?? 500);
    timer.unref();
  }

  /** Consultations with accepted callbacks not yet folded — left by a crash. */
  private async sweep(): Promise<void> {
    this.markDirty(await consultationsWithUnfoldedCallbacks(this.options.store.db));
  }
}
