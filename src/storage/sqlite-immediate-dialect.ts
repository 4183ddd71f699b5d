/**
 * Kysely's SQLite dialect, changed in the three ways a durable multi-process service needs:
 *
 * - Transactions start with BEGIN IMMEDIATE: the write lock is taken up front, so two writers
 *   never both read a snapshot and then fail to upgrade it (SQLITE_BUSY_SNAPSHOT, which no busy
 *   timeout can cure).
 * - Waiting for the lock is asynchronous. better-sqlite3 is synchronous, so SQLite's own
 *   busy_timeout would block the event loop — and, when the holder of the lock is another Store
 *   in the same process, block the very code that would release it. The pragma is kept short;
 *   SQLITE_BUSY outside a transaction (so nothing is half done) is retried with backoff until
 *   `busyTimeoutMs`, then surfaces (as StoreUnavailableError, via the error-mapping driver).
 * - Migrations run inside one such transaction (transactional DDL), which is also what
 *   excludes a concurrent migrator in another process: kysely's SQLite adapter takes no lock.
 */
import type { SqliteBackend } from './sqlite-backend.js';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
} from 'kysely';

export interface SqliteImmediateDialectConfig {
  /** Opens the database (called once, at the first query): on this thread or a thread of its own. */
  readonly open: () => SqliteBackend;
  /** Statements run once after opening (pragmas). Retried like any statement while SQLITE_BUSY. */
  readonly setup: readonly string[];
  /** How long to keep retrying while another connection holds the lock. */
  readonly busyTimeoutMs: number;
  /** Called when an ended connection (a statement thread that died) has been opened again. */
  readonly onReopen?: () => void;
}

/** An ended connection is opened again at most this often (a thread that dies at once). */
const REOPEN_INTERVAL_MS = 1000;

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const isBusy = (error: unknown) => /^SQLITE_BUSY/.test(String((error as { code?: unknown } | null)?.code ?? ''));

class SqliteImmediateConnection implements DatabaseConnection {
  constructor(
    private readonly db: SqliteBackend,
    private readonly busyTimeoutMs: number,
  ) {}

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const deadline = Date.now() + this.busyTimeoutMs;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.run<R>(compiledQuery);
      } catch (error) {
        // Inside a transaction a retry could repeat half of it; only whole statements retry.
        if (!isBusy(error) || this.db.inTransaction || Date.now() >= deadline) throw error;
        // Short steps: the holder is usually another thread's connection, committing within ms.
        await sleep(Math.min(2 ** attempt, 4, Math.max(1, deadline - Date.now())));
      }
    }
  }

  private async run<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.db.run(compiledQuery.sql, compiledQuery.parameters);
    if (result.rows) return { rows: result.rows as R[] };
    return { numAffectedRows: BigInt(result.changes ?? 0), insertId: BigInt(result.lastInsertRowid ?? 0), rows: [] };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('SQLite streams are not supported: read pages instead');
  }
}

/** One connection per Store (better-sqlite3 is synchronous); a mutex hands it out in turn. */
class SqliteImmediateDriver implements Driver {
  #db: SqliteBackend | undefined;
  #connection: SqliteImmediateConnection | undefined;
  #queue: Promise<void> = Promise.resolve();
  #release: (() => void) | undefined;
  #reopenedAt = 0;

  constructor(private readonly config: SqliteImmediateDialectConfig) {}

  async init(): Promise<void> {
    const db = this.config.open();
    const connection = new SqliteImmediateConnection(db, this.config.busyTimeoutMs);
    try {
      for (const statement of this.config.setup) await connection.executeQuery(CompiledQuery.raw(statement));
    } catch (error) {
      // Kysely never calls destroy() after a failed init: close here, or a statement thread
      // (sqlite-thread-backend.ts) keeps the process alive after a start-up failure.
      await db.close();
      throw error;
    }
    this.#db = db;
    this.#connection = connection;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.#queue;
    let release!: () => void;
    this.#queue = new Promise<void>((resolve) => (release = resolve));
    await previous;
    this.#release = release;
    await this.#reopenIfEnded();
    return this.#connection!;
  }

  /**
   * A connection that ended (its statement thread died) is replaced here, between two users of
   * the mutex: a transaction the dead one had begun fails to its end on the dead one, so none of
   * its statements runs on the new connection outside a transaction. A reopen that fails leaves
   * the ended one (its statements fail: StoreUnavailable) and is tried again a second later.
   */
  async #reopenIfEnded(): Promise<void> {
    const ended = this.#db;
    if (!ended?.ended || Date.now() - this.#reopenedAt < REOPEN_INTERVAL_MS) return;
    this.#reopenedAt = Date.now();
    try {
      await ended.close();
      await this.init();
      this.config.onReopen?.();
    } catch {
      // Left ended: the caller's statements fail as the store being unavailable.
    }
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    // A failed COMMIT or an I/O error may already have ended the transaction.
    if (this.#db?.inTransaction) await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint "${name}"`));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to "${name}"`));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release "${name}"`));
  }

  async releaseConnection(): Promise<void> {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }

  async destroy(): Promise<void> {
    await this.#db?.close();
  }
}

export class SqliteImmediateDialect implements Dialect {
  constructor(private readonly config: SqliteImmediateDialectConfig) {}

  createDriver(): Driver {
    return new SqliteImmediateDriver(this.config);
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }

  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}
