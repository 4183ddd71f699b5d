/**
 * Typed errors of the storage layer. Driver errors never leave src/storage raw: each is
 * classified (by the dialect's capabilities) and wrapped here, with the original kept as `cause`.
 * Only the service maps these to HTTP (STORE_UNAVAILABLE → 503).
 */

export type StoreErrorCode =
  'STORE_UNAVAILABLE' | 'STORE_CONSTRAINT_VIOLATION' | 'STORE_URL_UNSUPPORTED' | 'STORE_BATCH_FAILED' | 'STORE_CLOSED';

export abstract class StoreError extends Error {
  abstract readonly code: StoreErrorCode;
}

/**
 * The database did not answer or cannot take the write now: connection refused or lost, a
 * timeout, too many connections, SQLITE_BUSY, a deadlock. Nothing of the failed transaction
 * remains; retrying later is right (the service answers 503 and Twilio retries).
 */
export class StoreUnavailableError extends StoreError {
  override readonly name: string = 'StoreUnavailableError';
  readonly code = 'STORE_UNAVAILABLE' as const;
  constructor(message = 'the database is unavailable', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A row this transaction needed stayed locked by another session past the lock timeout (say a
 * dead host's open transaction). It concerns the rows touched, not the store: the group
 * committer retries the other items of the batch without the one that waited.
 */
export class StoreLockTimeoutError extends StoreUnavailableError {
  override readonly name = 'StoreLockTimeoutError';
}

/**
 * The database chose this transaction as a deadlock's victim and rolled it back (MySQL/MariaDB
 * 1213 ER_LOCK_DEADLOCK, PostgreSQL 40P01). Like a lock timeout it concerns the rows touched, not
 * the store: the same work run again normally succeeds (`retryRowConflicts`).
 */
export class StoreDeadlockError extends StoreUnavailableError {
  override readonly name = 'StoreDeadlockError';
}

/**
 * A conflict over rows with another session (a lock wait past the lock timeout, or a deadlock):
 * what `retryRowConflicts` runs again. A store that is down is not one.
 */
export function isRowConflict(error: unknown): error is StoreLockTimeoutError | StoreDeadlockError {
  return error instanceof StoreLockTimeoutError || error instanceof StoreDeadlockError;
}

/**
 * The driver's own identification of the error behind a store error (mysql2 `code`, `errno`,
 * `sqlState`; node-postgres `code`, the SQLSTATE; better-sqlite3 `code`), for logs: it tells a
 * lock wait from a deadlock, a refused connection or a full pool. Never a message or a value.
 */
export function driverErrorOrigin(error: unknown): { code?: string; errno?: number; sqlState?: string } | undefined {
  for (let current = error, depth = 0; current && depth < 8; depth += 1) {
    if (!(current instanceof StoreError) && typeof current === 'object') {
      const { code, errno, sqlState } = current as { code?: unknown; errno?: unknown; sqlState?: unknown };
      const origin = {
        ...(typeof code === 'string' ? { code } : {}),
        ...(typeof errno === 'number' ? { errno } : {}),
        ...(typeof sqlState === 'string' ? { sqlState } : {}),
      };
      return Object.keys(origin).length > 0 ? origin : undefined;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export type ConstraintKind = 'unique' | 'foreign-key' | 'not-null' | 'check' | 'other';

/** A write broke a constraint (outside the inbox's dedupe path, which reports duplicates as `false`). */
export class StoreConstraintError extends StoreError {
  override readonly name = 'StoreConstraintError';
  readonly code = 'STORE_CONSTRAINT_VIOLATION' as const;
  constructor(
    readonly constraint: ConstraintKind,
    message = `a ${constraint} constraint was violated`,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** ROOMGATE_DATABASE_URL names no engine Roomgate knows. The value is named; credentials are not. */
export class UnsupportedDatabaseUrlError extends StoreError {
  override readonly name = 'UnsupportedDatabaseUrlError';
  readonly code = 'STORE_URL_UNSUPPORTED' as const;
  readonly value: string;
  constructor(value: string) {
    super(
      `unsupported database URL '${redactDatabaseUrl(value)}': expected sqlite:PATH, sqlite::memory:, postgres://…, postgresql://…, mysql://… or mariadb://…`,
    );
    this.value = redactDatabaseUrl(value);
  }
}

/** A group-commit batch failed for a reason other than unavailability; nothing of it was kept. */
export class BatchFailedError extends StoreError {
  override readonly name = 'BatchFailedError';
  readonly code = 'STORE_BATCH_FAILED' as const;
  constructor(
    readonly batchSize: number,
    options?: { cause?: unknown },
  ) {
    super(`the batch of ${batchSize} item(s) was rolled back`, options);
  }
}

/** submit() after close(). */
export class StoreClosedError extends StoreError {
  override readonly name = 'StoreClosedError';
  readonly code = 'STORE_CLOSED' as const;
  constructor(what = 'the store') {
    super(`${what} is closed`);
  }
}

/** True for StoreUnavailableError, also when it is the cause of another error (a failed batch). */
export function isStoreUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 8; depth += 1) {
    if (current instanceof StoreUnavailableError) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Drops the password from a database URL, for messages and logs. */
export function redactDatabaseUrl(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}
