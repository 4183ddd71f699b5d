/**
 * The dialect factory: the engine is chosen from the database URL alone, and this file (with
 * dialect-capabilities.ts) is the only place that knows which engines exist.
 *
 *   sqlite:./data/roomgate.db   sqlite:/abs/path.db   sqlite::memory:
 *   postgres://user:pass@host:5432/db   postgresql://…
 *   mysql://user:pass@host:3306/db      mariadb://…
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Socket } from 'node:net';
import { CompiledQuery, Kysely, Migrator, MysqlDialect, PostgresDialect, sql, type Dialect, type MysqlPool } from 'kysely';
import { createPool as createMysqlPool } from 'mysql2';
import pg from 'pg';
import type { Logger } from 'pino';
import { capabilitiesFor, registerCapabilities, type DialectCapabilities, type Engine } from './dialect-capabilities.js';
import { ConnectionScope, discardableMysqlPool, discardablePostgresPool, runInScope } from './connection-scope.js';
import { ErrorMappingDriver, mapStoreError, type ErrorMappingDriverOptions } from './error-mapping-driver.js';
import { migrationProvider } from './migrations/migration-provider.js';
import { PoolSockets } from './pool-sockets.js';
import type { Database, StoreTransaction } from './schema.js';
import { SqliteImmediateDialect } from './sqlite-immediate-dialect.js';
import { localSqliteBackend } from './sqlite-backend.js';
import { threadSqliteBackend } from './sqlite-thread-backend.js';
import type { Store, TransactionOptions } from './store.js';
import { StoreUnavailableError, UnsupportedDatabaseUrlError } from './store-errors.js';

export interface OpenStoreOptions {
  readonly logger?: Logger;
  /** Connections per pool (PostgreSQL, MySQL). SQLite always has one per Store. Default 10. */
  readonly poolSize?: number;
  /** How long a connection attempt may take before StoreUnavailableError. Default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** SQLite: how long to wait for another connection's write lock. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
  /**
   * SQLite (a file): run the connection's statements on a thread of their own, so none of them
   * (nor COMMIT's fsync) holds the caller's event loop. Default false: on the caller's thread.
   */
  readonly sqliteThread?: boolean;
  /** Called (after a warning is logged) when the SQLite statement thread died and was started again. */
  readonly onSqliteThreadRestart?: () => void;
  /**
   * Server-side bound on one statement: PostgreSQL `statement_timeout`, MariaDB
   * `max_statement_time`, MySQL `max_execution_time`. Default 10 000 ms.
   */
  readonly statementTimeoutMs?: number;
  /**
   * How long a statement waits for a row lock another session holds: PostgreSQL `lock_timeout`,
   * MySQL/MariaDB `innodb_lock_wait_timeout` (whole seconds, at least 1). Default 2000 ms.
   */
  readonly lockTimeoutMs?: number;
  /**
   * The server ends a session left idle inside a transaction (a dead client's locks go with it):
   * PostgreSQL `idle_in_transaction_session_timeout`, MariaDB `idle_transaction_timeout`.
   * Default 30 000 ms.
   */
  readonly idleInTransactionTimeoutMs?: number;
  /**
   * Client-side bound on one round trip (PostgreSQL, MySQL): past it the connection is discarded
   * and the query fails with StoreUnavailableError — what a silent partition needs, as the server
   * cannot time out what never reaches it. Default statementTimeoutMs + 5000 ms.
   */
  readonly queryTimeoutMs?: number;
}

export const DEFAULT_STORE_TIMEOUTS = Object.freeze({
  connectTimeoutMs: 5000,
  statementTimeoutMs: 10_000,
  lockTimeoutMs: 2000,
  idleInTransactionTimeoutMs: 30_000,
});

/** Migrations may wait long for another migrator's lock and run long DDL: their own bound. */
const MIGRATION_QUERY_TIMEOUT_MS = 10 * 60_000;

export type DatabaseTarget =
  | { readonly engine: 'sqlite'; readonly file: string }
  | { readonly engine: 'postgres'; readonly url: string }
  | { readonly engine: 'mysql'; readonly url: string };

export const SQLITE_MEMORY = ':memory:';

/** Reads the engine and its address from a database URL; UnsupportedDatabaseUrlError otherwise. */
export function parseDatabaseUrl(value: string): DatabaseTarget {
  const trimmed = value.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'sqlite': {
      let file = trimmed.slice('sqlite:'.length);
      if (file.startsWith('//')) file = file.slice(2); // sqlite:///abs/path → /abs/path
      if (file === '') throw new UnsupportedDatabaseUrlError(value);
      return { engine: 'sqlite', file };
    }
    case 'postgres':
    case 'postgresql':
      return { engine: 'postgres', url: trimmed };
    case 'mysql':
    case 'mariadb':
      return { engine: 'mysql', url: trimmed.replace(/^mariadb:/i, 'mysql:') };
    default:
      throw new UnsupportedDatabaseUrlError(value);
  }
}

// node-postgres returns int8 (bigint columns, count(*)) as strings; the other drivers return
// numbers. Numbers everywhere (exact below 2^53, which sizes and counts stay under).
const PG_INT8_OID = 20;
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === PG_INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** Session statements: lifting the bounds for migrations, and putting them back after. */
interface SessionBounds {
  readonly lift: readonly string[];
  readonly restore: readonly string[];
}

const NO_SESSION_BOUNDS: SessionBounds = { lift: [], restore: [] };

function mysqlBoundStatements(options: Record<keyof typeof DEFAULT_STORE_TIMEOUTS, number>) {
  const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
  return [
    // MariaDB (seconds, fractions allowed) and MySQL 8 (ms, SELECT only); each ignores the other's.
    `set session max_statement_time = ${options.statementTimeoutMs / 1000}`,
    `set session max_execution_time = ${options.statementTimeoutMs}`,
    `set session innodb_lock_wait_timeout = ${seconds(options.lockTimeoutMs)}`,
    `set session idle_transaction_timeout = ${seconds(options.idleInTransactionTimeoutMs)}`,
  ];
}

const MYSQL_UNKNOWN_SYSTEM_VARIABLE = 1193;

/** Runs session statements, skipping a variable this server (MySQL or MariaDB) does not have. */
async function runSessionStatements(run: (statement: string) => Promise<unknown>, statements: readonly string[]): Promise<void> {
  for (const statement of statements) {
    try {
      await run(statement);
    } catch (error) {
      const errno =
        (error as { errno?: unknown; cause?: { errno?: unknown } }).errno ?? (error as { cause?: { errno?: unknown } }).cause?.errno;
      if (errno !== MYSQL_UNKNOWN_SYSTEM_VARIABLE) throw error;
    }
  }
}

function createDialect(target: DatabaseTarget, options: OpenStoreOptions): { dialect: Dialect; bounds: SessionBounds } {
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_STORE_TIMEOUTS.connectTimeoutMs;
  const bounds = {
    connectTimeoutMs,
    statementTimeoutMs: options.statementTimeoutMs ?? DEFAULT_STORE_TIMEOUTS.statementTimeoutMs,
    lockTimeoutMs: options.lockTimeoutMs ?? DEFAULT_STORE_TIMEOUTS.lockTimeoutMs,
    idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs ?? DEFAULT_STORE_TIMEOUTS.idleInTransactionTimeoutMs,
  };
  const poolSize = options.poolSize ?? 10;
  switch (target.engine) {
    case 'sqlite': {
      const memory = target.file === SQLITE_MEMORY;
      if (!memory) mkdirSync(path.dirname(path.resolve(target.file)), { recursive: true });
      const dialect = new SqliteImmediateDialect({
        open: () =>
          options.sqliteThread && !memory
            ? threadSqliteBackend(target.file)
            : localSqliteBackend(new BetterSqlite3(target.file, { timeout: 0 })),
        setup: [
          // WAL + synchronous=FULL: a COMMIT that has returned is on disk (fsync of the WAL).
          ...(memory ? [] : ['pragma journal_mode = wal']),
          'pragma synchronous = full',
          'pragma foreign_keys = on',
          // Freed space (deleted rows, old versions of updated ones) is zeroed, so an erased
          // identity leaves the file's bytes too (with the checkpoint after an erasure).
          'pragma secure_delete = on',
          // None: the wait is asynchronous (see sqlite-immediate-dialect.ts). A synchronous one
          // would stop this thread's event loop while the projection thread's connection commits.
          'pragma busy_timeout = 0',
        ],
        busyTimeoutMs: options.busyTimeoutMs ?? 5000,
        onReopen: () => {
          options.logger?.warn('SQLite statement thread ended unexpectedly; started it again');
          options.onSqliteThreadRestart?.();
        },
      });
      return { dialect, bounds: NO_SESSION_BOUNDS };
    }
    case 'postgres': {
      const pool = new pg.Pool({
        connectionString: target.url,
        max: poolSize,
        connectionTimeoutMillis: connectTimeoutMs,
        idleTimeoutMillis: 30_000,
        keepAlive: true,
        // Set at connection start-up (no round trip); RESET returns to these values.
        options: [
          '-c TimeZone=UTC',
          `-c statement_timeout=${bounds.statementTimeoutMs}`,
          `-c lock_timeout=${bounds.lockTimeoutMs}`,
          `-c idle_in_transaction_session_timeout=${bounds.idleInTransactionTimeoutMs}`,
        ].join(' '),
        types: pgTypes,
      });
      // A client whose server went away emits 'error' — idle ones through the pool, checked-out
      // ones on themselves. Without listeners the process would crash. The failed query rejects
      // anyway, and pg-pool drops a client that is no longer queryable when it is released.
      pool.on('error', (error) => options.logger?.warn({ err: error }, 'postgres: idle connection lost'));
      const sockets = new PoolSockets();
      pool.on('connect', (client) => {
        client.on('error', (error) => options.logger?.warn({ err: error }, 'postgres: connection lost'));
        sockets.add((client as unknown as { connection?: { stream?: Socket } }).connection?.stream);
      });
      const bounded = { connect: () => pool.connect(), end: () => sockets.end(() => pool.end()) };
      return {
        dialect: new PostgresDialect({ pool: discardablePostgresPool(bounded) }),
        bounds: {
          lift: ['set statement_timeout = 0', 'set lock_timeout = 0'],
          restore: ['reset statement_timeout', 'reset lock_timeout'],
        },
      };
    }
    case 'mysql': {
      const pool = createMysqlPool({
        uri: target.url,
        connectionLimit: poolSize,
        connectTimeout: connectTimeoutMs,
        enableKeepAlive: true,
        timezone: 'Z',
        charset: 'UTF8MB4_BIN',
        supportBigNumbers: true,
        dateStrings: true,
      });
      // mysql2 listens for a pooled connection's first 'error' only (once): a second one, or
      // one on a connection it no longer tracks, would end the process.
      const sockets = new PoolSockets();
      pool.on('connection', (connection) => {
        connection.on('error', (error) => options.logger?.warn({ err: error }, 'mysql: connection lost'));
        sockets.add((connection as unknown as { stream?: Socket }).stream);
      });
      const bounded: MysqlPool = {
        getConnection: (callback) => pool.getConnection(callback),
        // A connection cut past the grace fails its goodbye (COM_QUIT): closing anyway.
        end: (callback) => void sockets.end(() => new Promise<void>((resolve) => pool.end(() => resolve()))).then(() => callback(null)),
      };
      const sessionBounds = mysqlBoundStatements(bounds);
      const dialect = new MysqlDialect({
        pool: discardableMysqlPool(bounded),
        onCreateConnection: async (connection) => {
          await connection.executeQuery(CompiledQuery.raw("set time_zone = '+00:00'"));
          // As PostgreSQL: each statement sees what committed before it (see rowLocks).
          await connection.executeQuery(CompiledQuery.raw('set session transaction isolation level read committed'));
          await connection.executeQuery(
            CompiledQuery.raw(
              "set session sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ZERO_DATE,NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION'",
            ),
          );
          await runSessionStatements((statement) => connection.executeQuery(CompiledQuery.raw(statement)), sessionBounds);
        },
      });
      return {
        dialect,
        bounds: {
          lift: ['set session max_statement_time = 0', 'set session max_execution_time = 0', 'set session innodb_lock_wait_timeout = 3600'],
          restore: sessionBounds,
        },
      };
    }
  }
}

/** The dialect with its driver wrapped so every driver error is classified (error-mapping-driver.ts). */
function storeDialect(inner: Dialect, capabilities: DialectCapabilities, driverOptions: ErrorMappingDriverOptions): Dialect {
  return {
    createDriver: () => new ErrorMappingDriver(inner.createDriver(), capabilities, driverOptions),
    createQueryCompiler: () => inner.createQueryCompiler(),
    createAdapter: () => {
      const adapter = inner.createAdapter();
      registerCapabilities(adapter, capabilities);
      return adapter;
    },
    createIntrospector: (db) => inner.createIntrospector(db),
  };
}

/**
 * Opens a Store on the engine the URL names. Connections are made lazily: an unreachable server
 * shows as StoreUnavailableError from the first query or ping(), and the pools reconnect by
 * themselves once it is back.
 */
export async function openStore(databaseUrl: string, options: OpenStoreOptions = {}): Promise<Store> {
  const target = parseDatabaseUrl(databaseUrl);
  const engine: Engine = target.engine;
  const capabilities = capabilitiesFor(engine);
  let created: { dialect: Dialect; bounds: SessionBounds };
  try {
    created = createDialect(target, options);
  } catch (error) {
    throw mapStoreError(error, capabilities);
  }
  const { bounds } = created;
  const pooled = engine !== 'sqlite';
  const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STORE_TIMEOUTS.statementTimeoutMs;
  const db = new Kysely<Database>({
    dialect: storeDialect(created.dialect, capabilities, {
      queryTimeoutMs: pooled ? (options.queryTimeoutMs ?? statementTimeoutMs + 5000) : 0,
      acquireTimeoutMs: pooled ? (options.connectTimeoutMs ?? DEFAULT_STORE_TIMEOUTS.connectTimeoutMs) : 0,
      discardable: pooled,
    }),
  });
  let closed: Promise<void> | undefined;

  const store: Store = {
    engine,
    db,
    capabilities,

    async migrate(): Promise<string[]> {
      // On one connection whose lock and statement bounds are lifted: a second migrator waits
      // for the first's lock however long its DDL takes.
      const { error, results = [] } = await runInScope(new ConnectionScope(MIGRATION_QUERY_TIMEOUT_MS), () =>
        db.connection().execute(async (connection) => {
          const run = (statement: string) => sql.raw(statement).execute(connection);
          await runSessionStatements(run, bounds.lift);
          try {
            // Unordered: migrations written side by side may land in any order (0008 before 0007);
            // each runs once, in name order among those not yet run.
            return await new Migrator({
              db: connection,
              provider: migrationProvider(capabilities),
              allowUnorderedMigrations: true,
            }).migrateToLatest();
          } finally {
            await runSessionStatements(run, bounds.restore).catch(() => undefined);
          }
        }),
      );
      if (error) throw mapStoreError(error, capabilities);
      return results.filter((result) => result.status === 'Success').map((result) => result.migrationName);
    },

    async ping(): Promise<void> {
      await sql`select 1`.execute(db);
    },

    close(): Promise<void> {
      closed ??= db.destroy();
      return closed;
    },

    transaction<T>(fn: (trx: StoreTransaction) => Promise<T>, transactionOptions?: TransactionOptions): Promise<T> {
      return withDeadline(() => db.transaction().execute(fn), transactionOptions?.deadlineMs);
    },

    session<T>(fn: (connection: Kysely<Database>) => Promise<T>, sessionOptions?: TransactionOptions): Promise<T> {
      return withDeadline(() => db.connection().execute(fn), sessionOptions?.deadlineMs);
    },
  };
  return Object.freeze(store);

  function withDeadline<T>(run: () => Promise<T>, deadlineMs: number | undefined): Promise<T> {
    if (!deadlineMs) return run();
    const scope = new ConnectionScope();
    const work = runInScope(scope, run);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Its connection is destroyed, not returned: it may be the one that never answers.
        scope.expire();
        reject(new StoreUnavailableError(`the ${engine} transaction did not commit within ${deadlineMs} ms`));
      }, deadlineMs);
    });
    work.catch(() => undefined); // settles after the deadline's answer, if at all
    return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
  }
}
