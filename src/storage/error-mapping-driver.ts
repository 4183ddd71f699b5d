/**
 * Wraps a Kysely driver so that no raw driver error leaves the storage layer: every failure of
 * connecting, querying, BEGIN/COMMIT/ROLLBACK is classified by the engine's capabilities and
 * rethrown as StoreUnavailableError or StoreConstraintError (cause kept), or passed unchanged.
 * Queries through `store.db` get the same treatment as those in `store.transaction`.
 */
import type { CompiledQuery, DatabaseConnection, Driver, QueryCompiler, QueryResult, TransactionSettings } from 'kysely';
import { acquireDiscardable, currentScope, type Discard } from './connection-scope.js';
import type { DialectCapabilities } from './dialect-capabilities.js';
import { StoreConstraintError, StoreDeadlockError, StoreError, StoreLockTimeoutError, StoreUnavailableError } from './store-errors.js';

export interface ErrorMappingDriverOptions {
  /**
   * A query (BEGIN and COMMIT included) that has not returned after this long fails with
   * StoreUnavailableError and its connection is discarded. Only where connections can be
   * discarded (PostgreSQL, MySQL); 0 or absent: no client-side bound.
   */
  readonly queryTimeoutMs?: number;
  /** Waiting for a free pooled connection fails after this long (mysql2 would wait for ever). */
  readonly acquireTimeoutMs?: number;
  /**
   * The pool offers a discard with each connection (PostgreSQL, MySQL: connection-scope.ts).
   * Absent or false (SQLite): none is asked for, so acquiring enters no AsyncLocalStorage.
   */
  readonly discardable?: boolean;
}

export function mapStoreError(error: unknown, capabilities: DialectCapabilities): unknown {
  if (error instanceof StoreError) return error;
  const verdict = capabilities.classifyError(error);
  const detail = error instanceof Error ? error.message : String(error);
  if (verdict.kind === 'lock-timeout') {
    return new StoreLockTimeoutError(`the ${capabilities.engine} database could not lock a row in time: ${detail}`, { cause: error });
  }
  if (verdict.kind === 'deadlock') {
    return new StoreDeadlockError(`the ${capabilities.engine} database rolled this transaction back to break a deadlock: ${detail}`, {
      cause: error,
    });
  }
  if (verdict.kind === 'unavailable') {
    return new StoreUnavailableError(`the ${capabilities.engine} database is unavailable: ${detail}`, { cause: error });
  }
  if (verdict.kind === 'constraint') return new StoreConstraintError(verdict.constraint, detail, { cause: error });
  return error;
}

/**
 * Runs one round trip with the client-side bound: past it, the connection is discarded (what is
 * in flight on it fails) and StoreUnavailableError is thrown. A scope (migrations) may lift it.
 */
async function bounded<T>(
  work: () => Promise<T>,
  discard: Discard | undefined,
  defaultMs: number,
  capabilities: DialectCapabilities,
): Promise<T> {
  const timeoutMs = currentScope()?.queryTimeoutMs ?? defaultMs;
  if (!discard || !timeoutMs) return work();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      discard();
      reject(new StoreUnavailableError(`the ${capabilities.engine} database did not answer within ${timeoutMs} ms; connection discarded`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([work(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

class ErrorMappingConnection implements DatabaseConnection {
  /** Destroys this connection's socket (undefined on SQLite: one in-process connection). */
  discard: Discard | undefined;

  constructor(
    readonly inner: DatabaseConnection,
    private readonly capabilities: DialectCapabilities,
    private readonly queryTimeoutMs: number,
  ) {}

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    try {
      return await bounded(() => this.inner.executeQuery<R>(compiledQuery), this.discard, this.queryTimeoutMs, this.capabilities);
    } catch (error) {
      throw mapStoreError(error, this.capabilities);
    }
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(compiledQuery, chunkSize);
    } catch (error) {
      throw mapStoreError(error, this.capabilities);
    }
  }
}

export class ErrorMappingDriver implements Driver {
  readonly #wrapped = new WeakMap<DatabaseConnection, ErrorMappingConnection>();

  constructor(
    private readonly inner: Driver,
    private readonly capabilities: DialectCapabilities,
    private readonly options: ErrorMappingDriverOptions = {},
  ) {}

  async #guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw mapStoreError(error, this.capabilities);
    }
  }

  #unwrap(connection: DatabaseConnection): DatabaseConnection {
    return connection instanceof ErrorMappingConnection ? connection.inner : connection;
  }

  /** BEGIN, COMMIT, ROLLBACK: one round trip each, bounded like a query. */
  #boundedOn(connection: DatabaseConnection, work: (inner: DatabaseConnection) => Promise<void>): Promise<void> {
    const discard = connection instanceof ErrorMappingConnection ? connection.discard : undefined;
    return this.#guard(() => bounded(() => work(this.#unwrap(connection)), discard, this.options.queryTimeoutMs ?? 0, this.capabilities));
  }

  async #acquireBounded(): Promise<DatabaseConnection> {
    const acquiring = this.inner.acquireConnection();
    const limitMs = this.options.acquireTimeoutMs;
    if (!limitMs) return acquiring;
    let timer: NodeJS.Timeout | undefined;
    let late = false;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        late = true;
        reject(new StoreUnavailableError(`no ${this.capabilities.engine} connection became free within ${limitMs} ms`));
      }, limitMs);
    });
    // A connection that arrives after we gave up goes straight back to the pool.
    void acquiring.then(
      (connection) => (late ? this.inner.releaseConnection(connection).catch(() => undefined) : undefined),
      () => undefined,
    );
    try {
      return await Promise.race([acquiring, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  init(): Promise<void> {
    return this.#guard(() => this.inner.init());
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const scope = currentScope();
    const { connection, discard } = this.options.discardable
      ? await this.#guard(() => acquireDiscardable(() => this.#acquireBounded()))
      : { connection: await this.#guard(() => this.#acquireBounded()), discard: undefined };
    if (scope?.expired) {
      // The deadline passed while we waited for the pool: a healthy connection goes back.
      await this.inner.releaseConnection(connection).catch(() => undefined);
      throw new StoreUnavailableError(`the ${this.capabilities.engine} transaction's deadline passed before a connection was free`);
    }
    let wrapped = this.#wrapped.get(connection);
    if (!wrapped) {
      wrapped = new ErrorMappingConnection(connection, this.capabilities, this.options.queryTimeoutMs ?? 0);
      this.#wrapped.set(connection, wrapped);
    }
    wrapped.discard = discard;
    scope?.attach(discard);
    return wrapped;
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#boundedOn(connection, (inner) => this.inner.beginTransaction(inner, settings));
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#boundedOn(connection, (inner) => this.inner.commitTransaction(inner));
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#boundedOn(connection, (inner) => this.inner.rollbackTransaction(inner));
  }

  async savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    if (!this.inner.savepoint) throw new Error('savepoints are not supported by this driver');
    return this.#guard(() => this.inner.savepoint!(this.#unwrap(connection), name, compile));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    if (!this.inner.rollbackToSavepoint) throw new Error('savepoints are not supported by this driver');
    return this.#guard(() => this.inner.rollbackToSavepoint!(this.#unwrap(connection), name, compile));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    if (!this.inner.releaseSavepoint) throw new Error('savepoints are not supported by this driver');
    return this.#guard(() => this.inner.releaseSavepoint!(this.#unwrap(connection), name, compile));
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.#guard(() => this.inner.releaseConnection(this.#unwrap(connection)));
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}
