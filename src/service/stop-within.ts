/**
 * Waiting for background work to stop, within a bound. At shutdown a worker's poll or a pending
 * write may be stuck on a silent database for up to the client query timeout (15 s by default),
 * longer than ROOMGATE_SHUTDOWN_TIMEOUT (10 s): the stop would end in exit 1 with nothing of the
 * caller's in flight. Past the grace the work is left as a crash would leave it — claims to their
 * lease, open transactions rolled back when the store's close cuts their connections.
 */
import type { Logger } from 'pino';

export const STOP_GRACE_MS = 1000;

export async function stopWithin(
  what: string,
  stopping: readonly (Promise<unknown> | undefined)[],
  logger: Logger,
  graceMs = STOP_GRACE_MS,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const all = Promise.allSettled(stopping);
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
  const outcome = await Promise.race([all, late]);
  clearTimeout(timer);
  if (outcome === 'late') {
    logger.warn({ graceMs }, `stopping: ${what} did not stop in time; left as a crash would leave them`);
    return;
  }
  const failed = outcome.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
}
