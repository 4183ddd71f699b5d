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
import { CompiledQuery, Kysely, Migrator, MysqlDialect, PostgresDialect, sql, type Dialect } from 'kysely';
import { createPool as createMysqlPool } from 'mysql2';
import pg from 'pg';
import type { Logger } from 'pino';
import { capabilitiesFor, registerCapabilities, type DialectCapabilities, type Engine } from './dialect-capabilities.js';
import { ErrorMappingDriver, mapStoreError } from './error-mapping-driver.js';
import { migrationProvider } from './migrations/migration-provider.js';
import type { Database, StoreTransaction } from './schema.js';
import { SqliteImmediateDialect } from './sqlite-immediate-dialect.js';
import type { Store } from './store.js';
import { UnsupportedDatabaseUrlError } from './store-errors.js';

export interface OpenStoreOptions {
  readonly logger?: Logger;
  /** Connections per pool (PostgreSQL, MySQL). SQLite always has one per Store. Default 10. */
  readonly poolSize?: number;
  /** How long a connection attempt may take before StoreUnavailableError. Default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** SQLite: how long to wait for another connection's write lock. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
}

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

function createDialect(target: DatabaseTarget, options: OpenStoreOptions): Dialect {
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const poolSize = options.poolSize ?? 10;
  switch (target.engine) {
    case 'sqlite': {
      const memory = target.file === SQLITE_MEMORY;
      if (!memory) mkdirSync(path.dirname(path.resolve(target.file)), { recursive: true });
      return new SqliteImmediateDialect({
        open: () => new BetterSqlite3(target.file, { timeout: 5 }),
        setup: [
          // WAL + synchronous=FULL: a COMMIT that has returned is on disk (fsync of the WAL).
          ...(memory ? [] : ['pragma journal_mode = wal']),
          'pragma synchronous = full',
          'pragma foreign_keys = on',
          // Freed space (deleted rows, old versions of updated ones) is zeroed, so an erased
          // identity leaves the file's bytes too (with the checkpoint after an erasure).
          'pragma secure_delete = on',
          // Short on purpose: the real wait is asynchronous (see sqlite-immediate-dialect.ts).
          'pragma busy_timeout = 5',
        ],
        busyTimeoutMs: options.busyTimeoutMs ?? 5000,
      });
    }
    case 'postgres': {
      const pool = new pg.Pool({
        connectionString: target.url,
        max: poolSize,
        connectionTimeoutMillis: connectTimeoutMs,
        idleTimeoutMillis: 30_000,
        keepAlive: true,
        options: '-c TimeZone=UTC',
        types: pgTypes,
      });
      // A client whose server went away emits 'error' — idle ones through the pool, checked-out
      // ones on themselves. Without listeners the process would crash. The failed query rejects
      // anyway, and pg-pool drops a client that is no longer queryable when it is released.
      pool.on('error', (error) => options.logger?.warn({ err: error }, 'postgres: idle connection lost'));
      pool.on('connect', (client) => {
        client.on('error', (error) => options.logger?.warn({ err: error }, 'postgres: connection lost'));
      });
      return new PostgresDialect({ pool });
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
      pool.on('connection', (connection) => {
        connection.on('error', (error) => options.logger?.warn({ err: error }, 'mysql: connection lost'));
      });
      return new MysqlDialect({
        pool,
        onCreateConnection: async (connection) => {
          await connection.executeQuery(CompiledQuery.raw("set time_zone = '+00:00'"));
          // As PostgreSQL: each statement sees what committed before it (see rowLocks).
          await connection.executeQuery(CompiledQuery.raw('set session transaction isolation level read committed'));
          await connection.executeQuery(
            CompiledQuery.raw(
              "set session sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ZERO_DATE,NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION'",
            ),
          );
        },
      });
    }
  }
}

/** The dialect with its driver wrapped so every driver error is classified (error-mapping-driver.ts). */
function storeDialect(inner: Dialect, capabilities: DialectCapabilities): Dialect {
  return {
    createDriver: () => new ErrorMappingDriver(inner.createDriver(), capabilities),
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
  let dialect: Dialect;
  try {
    dialect = createDialect(target, options);
  } catch (error) {
    throw mapStoreError(error, capabilities);
  }
  const db = new Kysely<Database>({ dialect: storeDialect(dialect, capabilities) });
  let closed: Promise<void> | undefined;

  const store: Store = {
    engine,
    db,
    capabilities,

    async migrate(): Promise<string[]> {
      const migrator = new Migrator({ db, provider: migrationProvider(capabilities) });
      const { error, results = [] } = await migrator.migrateToLatest();
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

    transaction<T>(fn: (trx: StoreTransaction) => Promise<T>): Promise<T> {
      return db.transaction().execute(fn);
    },
  };
  return Object.freeze(store);
}
