/**
 * Wraps a Kysely driver so that no raw driver error leaves the storage layer: every failure of
 * connecting, querying, BEGIN/COMMIT/ROLLBACK is classified by the engine's capabilities and
 * rethrown as StoreUnavailableError or StoreConstraintError (cause kept), or passed unchanged.
 * Queries through `store.db` get the same treatment as those in `store.transaction`.
 */
import type { CompiledQuery, DatabaseConnection, Driver, QueryCompiler, QueryResult, TransactionSettings } from 'kysely';
import type { DialectCapabilities } from './dialect-capabilities.js';
import { StoreConstraintError, StoreError, StoreUnavailableError } from './store-errors.js';

export function mapStoreError(error: unknown, capabilities: DialectCapabilities): unknown {
  if (error instanceof StoreError) return error;
  const verdict = capabilities.classifyError(error);
  const detail = error instanceof Error ? error.message : String(error);
  if (verdict.kind === 'unavailable') {
    return new StoreUnavailableError(`the ${capabilities.engine} database is unavailable: ${detail}`, { cause: error });
  }
  if (verdict.kind === 'constraint') return new StoreConstraintError(verdict.constraint, detail, { cause: error });
  return error;
}

class ErrorMappingConnection implements DatabaseConnection {
  constructor(
    readonly inner: DatabaseConnection,
    private readonly capabilities: DialectCapabilities,
  ) {}

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    try {
      return await this.inner.executeQuery<R>(compiledQuery);
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

  init(): Promise<void> {
    return this.#guard(() => this.inner.init());
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await this.#guard(() => this.inner.acquireConnection());
    let wrapped = this.#wrapped.get(connection);
    if (!wrapped) {
      wrapped = new ErrorMappingConnection(connection, this.capabilities);
      this.#wrapped.set(connection, wrapped);
    }
    return wrapped;
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#guard(() => this.inner.beginTransaction(this.#unwrap(connection), settings));
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#guard(() => this.inner.commitTransaction(this.#unwrap(connection)));
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#guard(() => this.inner.rollbackTransaction(this.#unwrap(connection)));
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
