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
 *
 * On Node 20 (and 22 without AsyncContextFrame) an AsyncLocalStorage that has run once keeps
 * async_hooks on for the whole process: every promise, timer and socket callback of every HTTP
 * request then pays an init hook, 5–10 % of a webhook request's CPU. So the two storages are
 * turned off again whenever no acquisition or deadline transaction is under way (`inScope`):
 * nothing reads them outside one.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Socket } from 'node:net';
import type { MysqlPool, MysqlPoolConnection, PostgresPool, PostgresPoolClient } from 'kysely';

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

/** Runs under way in either storage; both are turned off when it falls back to 0. */
let running = 0;

function inScope<S, T>(storage: AsyncLocalStorage<S>, store: S, work: () => Promise<T>): Promise<T> {
  running++;
  let result: Promise<T>;
  try {
    result = storage.run(store, work);
  } catch (error) {
    release();
    throw error;
  }
  return result.finally(release);
}

function release(): void {
  if (--running > 0) return;
  acquisitions.disable();
  scopes.disable();
}

/** Runs `acquire` and returns the connection with the discard its pool offered (none on SQLite). */
export async function acquireDiscardable<T>(acquire: () => Promise<T>): Promise<{ connection: T; discard: Discard | undefined }> {
  const acquisition: Acquisition = {};
  const connection = await inScope(acquisitions, acquisition, acquire);
  return { connection, discard: acquisition.discard };
}

export function runInScope<T>(scope: ConnectionScope, work: () => Promise<T>): Promise<T> {
  return inScope(scopes, scope, work);
}

export function currentScope(): ConnectionScope | undefined {
  return scopes.getStore();
}

/**
 * node-postgres. The client handed to Kysely is a thin wrapper (one per client, as Kysely keys its
 * connections by it) whose release() gives a discarded client back *as broken*: pg-pool then
 * removes it, instead of idling it until its socket's close event arrives — a query in between
 * would get the dead socket.
 */
export function discardablePostgresPool(pool: PostgresPool): PostgresPool {
  const wrappers = new WeakMap<PostgresPoolClient, PostgresPoolClient>();
  const discarded = new WeakSet<PostgresPoolClient>();
  return {
    async connect() {
      // Captured now: a queued request resolves later, from another request's release.
      const acquisition = acquisitions.getStore();
      const client = await pool.connect();
      let wrapper = wrappers.get(client);
      if (!wrapper) {
        // pg-pool puts a fresh release() on the client at every checkout: looked up each time.
        const releasable = client as unknown as { release(error?: Error): void };
        wrapper = {
          query: client.query.bind(client) as PostgresPoolClient['query'],
          release: () => releasable.release(discarded.has(client) ? new Error('connection discarded') : undefined),
        };
        wrappers.set(client, wrapper);
      }
      const socket = (client as unknown as { connection?: { stream?: Socket } }).connection?.stream;
      if (acquisition) {
        acquisition.discard = () => {
          discarded.add(client);
          socket?.destroy();
        };
      }
      return wrapper;
    },
    end: () => pool.end(),
  };
}

/**
 * mysql2. Its destroy() would leave what is in flight unanswered, so the socket is destroyed
 * instead (mysql2 then fails the pending command and drops the connection from the pool); a
 * release() after that destroys the connection rather than idling it.
 */
export function discardableMysqlPool(pool: MysqlPool): MysqlPool {
  const discarded = new WeakSet<object>();
  const wrappers = new WeakMap<object, MysqlPoolConnection>();
  return {
    getConnection(callback) {
      const acquisition = acquisitions.getStore();
      pool.getConnection((error, connection) => {
        if (!connection) return callback(error, connection);
        let wrapper = wrappers.get(connection);
        if (!wrapper) {
          wrapper = new Proxy(connection, {
            get(target, property) {
              if (property === 'release') {
                return () => (discarded.has(target) ? (target as unknown as { destroy(): void }).destroy() : target.release());
              }
              const value = Reflect.get(target, property, target) as unknown;
              return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
            },
          });
          wrappers.set(connection, wrapper);
        }
        if (acquisition) {
          acquisition.discard = () => {
            discarded.add(connection);
            (connection as unknown as { stream?: Socket }).stream?.destroy();
          };
        }
        callback(error, wrapper);
      });
    },
    end: (callback) => pool.end(callback),
  };
}
