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
import type BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  SelectQueryNode,
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
  /** Opens the database (called once, at the first query). */
  readonly open: () => BetterSqlite3.Database;
  /** Statements run once after opening (pragmas). Retried like any statement while SQLITE_BUSY. */
  readonly setup: readonly string[];
  /** How long to keep retrying while another connection holds the lock. */
  readonly busyTimeoutMs: number;
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const isBusy = (error: unknown) => /^SQLITE_BUSY/.test(String((error as { code?: unknown } | null)?.code ?? ''));

/** Prepared statements kept per SQL text: preparing costs as much as running a small query. */
const STATEMENT_CACHE_SIZE = 512;

class SqliteImmediateConnection implements DatabaseConnection {
  readonly #statements = new Map<string, BetterSqlite3.Statement>();

  constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly busyTimeoutMs: number,
  ) {}

  #prepare(sql: string): BetterSqlite3.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      // Multi-row inserts make many distinct texts; a full cache starts over rather than grow.
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) this.#statements.clear();
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const deadline = Date.now() + this.busyTimeoutMs;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return this.run<R>(compiledQuery);
      } catch (error) {
        // Inside a transaction a retry could repeat half of it; only whole statements retry.
        if (!isBusy(error) || this.db.inTransaction || Date.now() >= deadline) throw error;
        // Short steps: the holder is usually another thread's connection, committing within ms.
        await sleep(Math.min(2 ** attempt, 4, Math.max(1, deadline - Date.now())));
      }
    }
  }

  private run<R>(compiledQuery: CompiledQuery): QueryResult<R> {
    const stmt = this.#prepare(compiledQuery.sql);
    const parameters = compiledQuery.parameters as unknown[];
    if (stmt.reader) return { rows: stmt.all(parameters) as R[] };
    const { changes, lastInsertRowid } = stmt.run(parameters);
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    if (!SelectQueryNode.is(compiledQuery.query)) throw new Error('SQLite streams only select queries');
    const stmt = this.db.prepare(compiledQuery.sql);
    for (const row of stmt.iterate(compiledQuery.parameters as unknown[])) yield { rows: [row as R] };
  }
}

/** One connection per Store (better-sqlite3 is synchronous); a mutex hands it out in turn. */
class SqliteImmediateDriver implements Driver {
  #db: BetterSqlite3.Database | undefined;
  #connection: SqliteImmediateConnection | undefined;
  #queue: Promise<void> = Promise.resolve();
  #release: (() => void) | undefined;

  constructor(private readonly config: SqliteImmediateDialectConfig) {}

  async init(): Promise<void> {
    this.#db = this.config.open();
    this.#connection = new SqliteImmediateConnection(this.#db, this.config.busyTimeoutMs);
    for (const statement of this.config.setup) await this.#connection.executeQuery(CompiledQuery.raw(statement));
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.#queue;
    let release!: () => void;
    this.#queue = new Promise<void>((resolve) => (release = resolve));
    await previous;
    this.#release = release;
    return this.#connection!;
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
    this.#db?.close();
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
