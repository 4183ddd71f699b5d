/**
 * Runs the no-show sweep, and the close of interrupted consultations whose window closed, every `intervalMs` (default 30 s) on each instance that has it on: the
 * sweep marks each consultation by a compare-and-set, so instances running it together agree.
 * One pass at a time; stop() waits for the pass in flight (bounded by the sweep's batch).
 */
import { closeWindows } from '../consultations/consultation-close.js';
import { sweepNoShows, type NoShowSweepOptions } from './no-show-sweep.js';

export class NoShowSchedule {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: NoShowSweepOptions & { readonly intervalMs?: number }) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      // The window's close: no-shows named, and interrupted consultations (rejoining) completed.
      this.running = sweepNoShows(this.options)
        .then(() => closeWindows(this.options))
        .then(() => undefined)
        .catch((error: unknown) => this.options.logger?.warn({ err: error }, 'no-show sweep failed; retried next interval'))
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, this.options.intervalMs ?? 30_000);
    this.timer.unref();
  }
}
