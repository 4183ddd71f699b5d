/**
 * Discarding a connection that does not answer. A silent partition or a dead server leaves a
 * socket open that never replies: waiting on it would hang the request, and handing it back to
 * the pool would hang the next one. So every pooled connection comes with a `discard` that
 * destroys its socket — whatever is in flight on it fails at once, and the pool drops it
 * (pg-pool and mysql2 both remove a client whose socket died) — and a transaction run with a
 * deadline knows the connection it got, to discard it when the deadline passes.
 *
 * Kysely hides the driver's connection, so both are passed along the async call chain
 * (AsyncLocalStorage): the pool wrappers below offer `discard` to whoever is acquiring, and the
 * error-mapping driver hands it to the transaction's scope.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Socket } from 'node:net';
import type { MysqlPool, PostgresPool } from 'kysely';

export type Discard = () => void;

interface Acquisition {
  discard?: Discard;
}

/** The transaction (with a deadline) that is acquiring and using a connection. */
export class ConnectionScope {
  #discard: Discard | undefined;
  #expired = false;

  /** Overrides the client-side query timeout inside this scope (migrations: long lock waits). */
  constructor(readonly queryTimeoutMs?: number) {}

  get expired(): boolean {
    return this.#expired;
  }

  /** Called by the driver once the scope's connection is acquired. */
  attach(discard: Discard | undefined): void {
    this.#discard = discard;
  }

  /** The deadline passed: the connection (if any yet) is destroyed, never reused. */
  expire(): void {
    this.#expired = true;
    this.#discard?.();
  }
}

const acquisitions = new AsyncLocalStorage<Acquisition>();
const scopes = new AsyncLocalStorage<ConnectionScope>();

/** Runs `acquire` and returns the connection with the discard its pool offered (none on SQLite). */
export async function acquireDiscardable<T>(acquire: () => Promise<T>): Promise<{ connection: T; discard: Discard | undefined }> {
  const acquisition: Acquisition = {};
  const connection = await acquisitions.run(acquisition, acquire);
  return { connection, discard: acquisition.discard };
}

export function runInScope<T>(scope: ConnectionScope, work: () => Promise<T>): Promise<T> {
  return scopes.run(scope, work);
}

export function currentScope(): ConnectionScope | undefined {
  return scopes.getStore();
}

const destroySocket = (socket: Socket | undefined) => () => socket?.destroy();

/** node-postgres: the client's socket is `client.connection.stream`. */
export function discardablePostgresPool(pool: PostgresPool): PostgresPool {
  return {
    async connect() {
      // Captured now: a queued request resolves later from another request's release.
      const acquisition = acquisitions.getStore();
      const client = await pool.connect();
      if (acquisition) acquisition.discard = destroySocket((client as unknown as { connection?: { stream?: Socket } }).connection?.stream);
      return client;
    },
    end: () => pool.end(),
  };
}

/** mysql2: the connection's socket is `connection.stream` (destroy() would not fail what is in flight). */
export function discardableMysqlPool(pool: MysqlPool): MysqlPool {
  return {
    getConnection(callback) {
      const acquisition = acquisitions.getStore();
      pool.getConnection((error, connection) => {
        if (acquisition && connection) acquisition.discard = destroySocket((connection as unknown as { stream?: Socket }).stream);
        callback(error, connection);
      });
    },
    end: (callback) => pool.end(callback),
  };
}
