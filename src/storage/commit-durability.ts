/**
 * How durable a transaction's COMMIT must be, carried to the driver that begins it.
 *
 * - `full` (the default): the COMMIT has reached the disk when it returns (SQLite: the WAL is
 *   fsync'd). Everything acknowledged to Twilio is written this way.
 * - `relaxed`: SQLite only — the COMMIT is ordered in the WAL but not fsync'd itself
 *   (`synchronous = NORMAL`). Safe for what can be rebuilt from fsync'd rows: WAL frames are
 *   written in order, so the next `full` commit makes it durable too, and a power loss before
 *   that loses only the latest rebuildable commits (the projection's: its callbacks keep no
 *   `processed_at` and are folded again). A process crash loses nothing. PostgreSQL and MySQL
 *   ignore it.
 *
 * SQLite refuses to change the level inside a transaction, so the driver sets it before BEGIN,
 * under the same connection hold (sqlite-immediate-dialect.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export type CommitDurability = 'full' | 'relaxed';

const durability = new AsyncLocalStorage<CommitDurability>();

export function runWithDurability<T>(level: CommitDurability, work: () => Promise<T>): Promise<T> {
  return durability.run(level, work);
}

export function currentDurability(): CommitDurability {
  return durability.getStore() ?? 'full';
}
