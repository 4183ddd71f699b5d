import type { Kysely } from 'kysely';
import type { DialectCapabilities, Engine } from './dialect-capabilities.js';
import type { Database, StoreTransaction } from './schema.js';

export type { StoreTransaction } from './schema.js';

/**
 * An open database, whichever engine. Every error that leaves it — through `db`, `transaction`
 * or `ping` — is a StoreUnavailableError, a StoreConstraintError, or a bug (see store-errors.ts).
 */
export interface Store {
  readonly engine: Engine;
  readonly db: Kysely<Database>;
  readonly capabilities: DialectCapabilities;
  /** Runs the pending migrations (safe twice, and from several processes at once); returns their names. */
  migrate(): Promise<string[]>;
  /** Resolves when the database answers; StoreUnavailableError otherwise. */
  ping(): Promise<void>;
  /** Waits for the statements in flight, then closes every connection. */
  close(): Promise<void>;
  /** fn's work commits together or not at all. Driver failures arrive as StoreUnavailableError. */
  transaction<T>(fn: (trx: StoreTransaction) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * fn's statements on one connection, outside a transaction: each commits on its own (fn may
   * open one with `db.transaction()`). The deadline works as for `transaction`.
   */
  session<T>(fn: (db: Kysely<Database>) => Promise<T>, options?: TransactionOptions): Promise<T>;
}

export interface TransactionOptions {
  /**
   * Not committed within this long → StoreUnavailableError at once, and the transaction's
   * connection is destroyed (PostgreSQL, MySQL), never handed out again, so whatever it waits
   * for ends too. (SQLite's one in-process connection cannot be destroyed: its transaction runs
   * on, and may still commit — the caller answered 503, and a retry finds the row.)
   */
  readonly deadlineMs?: number;
}
