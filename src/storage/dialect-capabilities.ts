/**
 * Every difference between the three engines, as data — the one place (with the dialect
 * factory, open-store.ts) where an engine is named. Repositories and migrations read these
 * flags instead of asking which engine they run on (kysely's `supportsReturning` is the model).
 */
import { sql, type DialectAdapter, type Kysely, type RawBuilder } from 'kysely';
import type { ConstraintKind } from './store-errors.js';

export type Engine = 'sqlite' | 'postgres' | 'mysql';

export type ErrorClass =
  | { kind: 'unavailable' }
  | { kind: 'lock-timeout' }
  | { kind: 'deadlock' }
  | { kind: 'constraint'; constraint: ConstraintKind }
  | { kind: 'other' };

export interface DialectCapabilities {
  readonly engine: Engine;
  /**
   * How "insert unless a row with this unique key exists" is spelled without failing the
   * transaction: `on-conflict-do-nothing` (PostgreSQL, SQLite) or `on-duplicate-key-noop`
   * (MySQL/MariaDB: `ON DUPLICATE KEY UPDATE id = id`; unlike INSERT IGNORE it still raises
   * every other error).
   */
  readonly insertIfAbsent: 'on-conflict-do-nothing' | 'on-duplicate-key-noop';
  /**
   * How to learn which rows an insert-if-absent really inserted: `returning` (the statement
   * returns only inserted rows) or `read-back-by-id` (select the fresh random ids we just
   * offered: only inserted rows carry them). MySQL's affected-row count is not used: mysql2
   * sets CLIENT_FOUND_ROWS, which makes a no-op duplicate count as 1.
   */
  readonly insertedRowDetection: 'returning' | 'read-back-by-id';
  /**
   * Single-row insert-if-absent: `on-conflict-do-nothing` with RETURNING, or
   * `catch-duplicate-error` — on MySQL a duplicate-key error fails only the statement, never
   * the transaction (on PostgreSQL it would abort the transaction, hence ON CONFLICT there).
   */
  readonly singleInsertIfAbsent: 'on-conflict-do-nothing' | 'catch-duplicate-error';
  /** INSERT … RETURNING is available. */
  readonly supportsReturning: boolean;
  /** CREATE INDEX … WHERE: an index of the rows in one state only (MySQL/MariaDB have none). */
  readonly partialIndexes: boolean;
  /** DROP INDEX … ON table (MySQL/MariaDB); the others name the index alone. */
  readonly dropIndexNamesTable: boolean;
  /** DDL type of JSON documents. Stored as text on every engine, so reads return the same string. */
  readonly jsonColumnType: 'text' | 'mediumtext';
  /** Appended to CREATE TABLE: MySQL tables are InnoDB, utf8mb4, binary collation so that
   * uniqueness and comparisons are exact and case-sensitive as on the other engines. */
  readonly createTableSuffix: RawBuilder<unknown> | null;
  /**
   * How concurrent migrators exclude each other: a session advisory lock (PostgreSQL), GET_LOCK
   * (MySQL) — both kysely's own — or, on SQLite, running all migrations in one BEGIN IMMEDIATE
   * transaction (the write lock, waited for with the busy timeout).
   */
  readonly migrationLock: 'advisory-lock' | 'get-lock' | 'begin-immediate';
  /** DDL is transactional: a failed migration leaves nothing behind. */
  readonly transactionalDdl: boolean;
  /**
   * BEGIN and COMMIT are each a network round trip (PostgreSQL, MySQL), so work whose writes are
   * one statement runs that statement on its own (it commits alone, atomically) instead of in a
   * transaction. On SQLite they cost nothing but the commit's fsync, which a lone statement pays too.
   */
  readonly loneStatementsCommitAlone: boolean;
  /**
   * How a transaction serialises work on some rows against other connections: `for-update` row
   * locks (PostgreSQL; MySQL, whose sessions run READ COMMITTED so that a read after the lock
   * sees what the lock waited for), or nothing to do because a SQLite write transaction already
   * holds the whole database (`BEGIN IMMEDIATE`).
   */
  readonly rowLocks: 'for-update' | 'whole-database';
  /**
   * What makes an erasure's old bytes leave the database files, after its commit. SQLite
   * (`secure_delete` on, so freed space is zeroed) keeps the pages as they were in its WAL until
   * a checkpoint: `wal-checkpoint-truncate`. PostgreSQL and MySQL keep old row versions until
   * vacuum / purge and their logs as the server is configured: `server-managed`, the database
   * operator's part (docs/operations.md).
   */
  readonly afterErasure: 'wal-checkpoint-truncate' | 'server-managed';
  /** Sorts a driver error into: the database is unavailable, a constraint broke, or anything else. */
  readonly classifyError: (error: unknown) => ErrorClass;
}

const UNAVAILABLE = { kind: 'unavailable' } as const;
const LOCK_TIMEOUT = { kind: 'lock-timeout' } as const;
const DEADLOCK = { kind: 'deadlock' } as const;
const OTHER = { kind: 'other' } as const;
const constraint = (kind: ConstraintKind): ErrorClass => ({ kind: 'constraint', constraint: kind });

/** Socket-level failures, whatever the driver. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isNetworkError(error: unknown): boolean {
  const code = codeOf(error);
  if (code && NETWORK_CODES.has(code)) return true;
  // AggregateError from a dual-stack connect attempt (localhost → ::1 and 127.0.0.1).
  if (error instanceof AggregateError) return error.errors.some(isNetworkError);
  return false;
}

function classifySqlite(error: unknown): ErrorClass {
  const code = codeOf(error) ?? '';
  if (/^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|NOMEM|PROTOCOL|READONLY_DBMOVED)/.test(code)) return UNAVAILABLE;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return constraint('unique');
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return constraint('foreign-key');
  if (code === 'SQLITE_CONSTRAINT_NOTNULL') return constraint('not-null');
  if (code === 'SQLITE_CONSTRAINT_CHECK') return constraint('check');
  if (code.startsWith('SQLITE_CONSTRAINT')) return constraint('other');
  if (/database connection is not open/i.test(messageOf(error))) return UNAVAILABLE;
  return OTHER;
}

// node-postgres raises some connection failures without a code; their messages are stable.
const PG_CONNECTION_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|not queryable|Client was closed|terminating connection|the database system is (starting up|shutting down)/i;

function classifyPostgres(error: unknown): ErrorClass {
  if (isNetworkError(error)) return UNAVAILABLE;
  const code = codeOf(error) ?? '';
  // SQLSTATE classes: 08 connection exception, 53 insufficient resources, 57P admin shutdown /
  // cannot connect now, 40001/40P01 serialization failure / deadlock, 55P03 lock not available,
  // 57014 statement timeout.
  if (code === '55P03') return LOCK_TIMEOUT;
  if (code === '40P01') return DEADLOCK;
  if (/^(08|53|57P)/.test(code) || ['40001', '57014'].includes(code)) return UNAVAILABLE;
  if (code === '23505') return constraint('unique');
  if (code === '23503') return constraint('foreign-key');
  if (code === '23502') return constraint('not-null');
  if (code === '23514') return constraint('check');
  if (code.startsWith('23')) return constraint('other');
  if (!code && PG_CONNECTION_MESSAGES.test(messageOf(error))) return UNAVAILABLE;
  return OTHER;
}

const MYSQL_UNAVAILABLE_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_QUERY_TIMEOUT', // MySQL max_execution_time
  'ER_SERVER_SHUTDOWN',
  'ER_QUERY_INTERRUPTED',
  'ER_CONNECTION_KILLED',
  'ER_NET_READ_ERROR',
  'ER_NET_READ_INTERRUPTED',
  'ER_NET_WRITE_INTERRUPTED',
  'ER_NET_ERROR_ON_WRITE',
]);

function classifyMysql(error: unknown): ErrorClass {
  if (isNetworkError(error)) return UNAVAILABLE;
  const code = codeOf(error) ?? '';
  if (code === 'ER_LOCK_WAIT_TIMEOUT') return LOCK_TIMEOUT;
  if (code === 'ER_LOCK_DEADLOCK') return DEADLOCK;
  // MariaDB's max_statement_time (1969 ER_STATEMENT_TIMEOUT), a number mysql2 has no name for.
  if ((error as { errno?: unknown } | null)?.errno === 1969) return UNAVAILABLE;
  if (MYSQL_UNAVAILABLE_CODES.has(code)) return UNAVAILABLE;
  if ((error as { fatal?: unknown } | null)?.fatal === true) return UNAVAILABLE;
  if (code === 'ER_DUP_ENTRY' || code === 'ER_DUP_KEY') return constraint('unique');
  if (
    code === 'ER_NO_REFERENCED_ROW_2' ||
    code === 'ER_ROW_IS_REFERENCED_2' ||
    code === 'ER_NO_REFERENCED_ROW' ||
    code === 'ER_ROW_IS_REFERENCED'
  ) {
    return constraint('foreign-key');
  }
  if (code === 'ER_BAD_NULL_ERROR') return constraint('not-null');
  // 3819 MySQL / 4025 MariaDB: CHECK constraint violated.
  if (code === 'ER_CHECK_CONSTRAINT_VIOLATED' || code === 'ER_CONSTRAINT_FAILED') return constraint('check');
  if (/closed state|connection lost|Pool is closed/i.test(messageOf(error)) && !code.startsWith('ER_')) return UNAVAILABLE;
  return OTHER;
}

const CAPABILITIES: Readonly<Record<Engine, DialectCapabilities>> = Object.freeze({
  sqlite: Object.freeze({
    engine: 'sqlite',
    dropIndexNamesTable: false,
    partialIndexes: true,
    insertIfAbsent: 'on-conflict-do-nothing',
    insertedRowDetection: 'returning',
    singleInsertIfAbsent: 'on-conflict-do-nothing',
    supportsReturning: true,
    jsonColumnType: 'text',
    createTableSuffix: null,
    migrationLock: 'begin-immediate',
    transactionalDdl: true,
    loneStatementsCommitAlone: false,
    rowLocks: 'whole-database',
    afterErasure: 'wal-checkpoint-truncate',
    classifyError: classifySqlite,
  }),
  postgres: Object.freeze({
    engine: 'postgres',
    dropIndexNamesTable: false,
    partialIndexes: true,
    insertIfAbsent: 'on-conflict-do-nothing',
    insertedRowDetection: 'returning',
    singleInsertIfAbsent: 'on-conflict-do-nothing',
    supportsReturning: true,
    jsonColumnType: 'text',
    createTableSuffix: null,
    migrationLock: 'advisory-lock',
    transactionalDdl: true,
    loneStatementsCommitAlone: true,
    rowLocks: 'for-update',
    afterErasure: 'server-managed',
    classifyError: classifyPostgres,
  }),
  mysql: Object.freeze({
    engine: 'mysql',
    dropIndexNamesTable: true,
    partialIndexes: false,
    insertIfAbsent: 'on-duplicate-key-noop',
    insertedRowDetection: 'read-back-by-id',
    singleInsertIfAbsent: 'catch-duplicate-error',
    supportsReturning: false,
    jsonColumnType: 'mediumtext',
    createTableSuffix: sql.raw('engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin'),
    migrationLock: 'get-lock',
    transactionalDdl: false,
    loneStatementsCommitAlone: true,
    rowLocks: 'for-update',
    afterErasure: 'server-managed',
    classifyError: classifyMysql,
  }),
});

export function capabilitiesFor(engine: Engine): DialectCapabilities {
  return CAPABILITIES[engine];
}

// Repositories receive a Kysely or a Transaction, not the Store; the dialect factory registers
// each Kysely instance's adapter here so they can find the capabilities of what they were given.
const byAdapter = new WeakMap<DialectAdapter, DialectCapabilities>();

export function registerCapabilities(adapter: DialectAdapter, capabilities: DialectCapabilities): void {
  byAdapter.set(adapter, capabilities);
}

/** The capabilities of the engine behind a Kysely instance or transaction opened by openStore. */
export function capabilitiesOf(db: Kysely<any>): DialectCapabilities {
  const capabilities = byAdapter.get(db.getExecutor().adapter);
  if (!capabilities) throw new Error('this Kysely instance was not opened by openStore()');
  return capabilities;
}
