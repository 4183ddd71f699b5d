/**
 * Rows written off the request path: added synchronously, flushed in one insert per batch by a
 * single background loop. A failed flush is logged and counted, never thrown at the caller —
 * used for audit and security records, whose loss must not fail the request that caused them.
 */
import type { Logger } from 'pino';

export class BufferedWriter<T> {
  private pending: T[] = [];
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly write: (rows: T[]) => Promise<void>,
    private readonly onError: (error: unknown, dropped: number) => void,
  ) {}

  add(row: T): void {
    this.pending.push(row);
    this.flushing ??= this.flush();
  }

  /** Resolves when every row added so far has been written (or dropped on error). */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.pending.length);
        try {
          await this.write(batch);
        } catch (error) {
          this.onError(error, batch.length);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }
}

export function logDropped(logger: Logger, what: string) {
  return (error: unknown, dropped: number) => logger.error({ err: error, dropped }, `could not store ${what}`);
}
