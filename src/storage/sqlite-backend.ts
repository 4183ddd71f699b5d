/**
 * Where a SQLite connection's statements run: on this thread (better-sqlite3 is synchronous:
 * each statement, COMMIT's fsync included, holds the event loop), or on a thread of their own
 * (sqlite-thread-backend.ts), so the thread that answers HTTP only waits for them.
 */
import type BetterSqlite3 from 'better-sqlite3';

export interface SqliteRunResult {
  readonly rows?: unknown[];
  readonly changes?: number;
  readonly lastInsertRowid?: number | bigint;
}

export interface SqliteBackend {
  /** Runs one statement (prepared once per SQL text); rejects or throws with SQLite's error `code`. */
  run(sql: string, parameters: readonly unknown[]): SqliteRunResult | Promise<SqliteRunResult>;
  /** Whether the connection is inside a transaction, as of the last statement. */
  readonly inTransaction: boolean;
  /** The connection is gone for good (its thread died): every statement fails; open another. */
  readonly ended?: boolean;
  close(): void | Promise<void>;
}

/** Prepared statements kept per SQL text: preparing costs as much as running a small query. */
const STATEMENT_CACHE_SIZE = 512;

/** A statement cache over one better-sqlite3 connection, run on the calling thread. */
export class StatementRunner {
  readonly #statements = new Map<string, BetterSqlite3.Statement>();

  constructor(readonly db: BetterSqlite3.Database) {}

  run(sql: string, parameters: readonly unknown[]): SqliteRunResult {
    const stmt = this.#prepare(sql);
    if (stmt.reader) return { rows: stmt.all(parameters) };
    const { changes, lastInsertRowid } = stmt.run(parameters);
    return { changes, lastInsertRowid };
  }

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
}

/** Statements on this thread. */
export function localSqliteBackend(db: BetterSqlite3.Database): SqliteBackend {
  const runner = new StatementRunner(db);
  return {
    run: (sql, parameters) => runner.run(sql, parameters),
    get inTransaction() {
      return db.inTransaction;
    },
    close: () => void db.close(),
  };
}
