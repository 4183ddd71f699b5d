/**
 * Runs the reconciler now and then on whichever instance holds the lease (a row in the
 * database, with an expiry): one instance at a time reads Twilio's REST API, and if it dies its
 * lease runs out and another takes over.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { acquireLease } from '../../storage/reconcile-repository.js';
import type { Store } from '../../storage/store.js';
import type { Metrics } from '../metrics.js';
import type { Reconciler } from './reconciler.js';

export const RECONCILER_LEASE = 'reconciler';

export class ReconcileSchedule {
  readonly holder = `instance-${randomUUID()}`;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly options: {
      store: Store;
      reconciler: Reconciler;
      logger: Logger;
      metrics: Metrics;
      clock: () => Date;
      intervalMs: number;
      leaseMs: number;
    },
  ) {}

  start(): void {
    if (this.options.intervalMs <= 0) return;
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One pass if this instance holds (or can take) the lease. @returns whether it ran */
  async runOnce(): Promise<boolean> {
    const { store, clock, leaseMs, metrics } = this.options;
    const now = clock();
    const leader = await acquireLease(
      store.db,
      RECONCILER_LEASE,
      this.holder,
      now.toISOString(),
      new Date(now.getTime() + leaseMs).toISOString(),
    );
    if (!leader) {
      metrics.reconcileRuns.inc({ outcome: 'not-leader' });
      return false;
    }
    await this.options.reconciler.run();
    metrics.reconcileRuns.inc({ outcome: 'ran' });
    return true;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .then(() => undefined)
        .catch((error: unknown) => {
          this.options.metrics.reconcileRuns.inc({ outcome: 'failed' });
          this.options.logger.warn({ err: error }, 'reconciliation pass failed; next interval');
        })
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, this.options.intervalMs);
    this.timer.unref();
  }
}
