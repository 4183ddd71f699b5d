/**
 * Runs retention inside the service: shortly after start (so a service restarted more often
 * than the interval still runs it), then every interval (default 6 h). The timer is unref'd —
 * it never keeps the process alive — runs never overlap, and stop() waits for a run in flight.
 * Each run is written to the audit log as `retention.run`.
 */
import type { Logger } from 'pino';
import type { Store } from '../../storage/store.js';
import type { AuditLog } from '../audit-log.js';
import { runRetention, type RetentionReport } from './retention.js';

export const DEFAULT_RETENTION_INTERVAL_MS = 6 * 3_600_000;
const DEFAULT_FIRST_RUN_DELAY_MS = 60_000;

export interface RetentionScheduleOptions {
  readonly store: Store;
  readonly logger: Logger;
  readonly audit: AuditLog;
  readonly clock: () => Date;
  /** Callbacks younger than this are never removed: webhook max age + clock-skew allowance. */
  readonly replayWindowMs: number;
  readonly intervalMs?: number;
  readonly firstRunDelayMs?: number;
}

export class RetentionSchedule {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RetentionReport | undefined> | undefined;

  constructor(private readonly options: RetentionScheduleOptions) {}

  start(): void {
    if (this.timer) return;
    this.schedule(this.options.firstRunDelayMs ?? DEFAULT_FIRST_RUN_DELAY_MS);
  }

  /** Stops the timer and waits for a run in flight to commit or fail. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One run now (unless one is in flight: then that one's result). Never throws: failures are logged and audited. */
  runOnce(): Promise<RetentionReport | undefined> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      void this.runOnce().then(() => {
        if (this.timer) this.schedule(this.options.intervalMs ?? DEFAULT_RETENTION_INTERVAL_MS);
      });
    }, delayMs);
    this.timer.unref();
  }

  private async run(): Promise<RetentionReport | undefined> {
    const { store, logger, audit, clock, replayWindowMs } = this.options;
    const startedAt = clock();
    try {
      const report = await runRetention(store, { now: startedAt, replayWindowMs });
      audit.record({
        tenantId: null,
        actor: 'retention-schedule',
        action: 'retention.run',
        target: 'all-tenants',
        outcome: 'completed',
        detail: { totals: report.totals },
      });
      logger.info(
        { retention: report.totals, tenants: report.tenants.length, ms: clock().getTime() - startedAt.getTime() },
        'retention run completed',
      );
      return report;
    } catch (error) {
      // A failed tenant transaction rolled back whole; the next run tries again.
      audit.record({
        tenantId: null,
        actor: 'retention-schedule',
        action: 'retention.run',
        target: 'all-tenants',
        outcome: 'failed',
        detail: { error: (error as Error).message },
      });
      logger.error({ err: error }, 'retention run failed; the next run will try again');
      return undefined;
    }
  }
}
