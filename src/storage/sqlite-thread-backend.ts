/**
 * A SQLite connection whose statements run on a thread of their own: the caller's event loop is
 * never held by a statement or a COMMIT's fsync (on a busy disk, milliseconds each), so the
 * thread that answers HTTP keeps verifying and reading requests while the inbox commits. One
 * statement is in flight at a time, as on any connection (the dialect's mutex). A statement
 * thread that dies fails what was in flight and every later statement (StoreUnavailable) and
 * reports itself `ended`: the dialect then opens another before its next use
 * (sqlite-immediate-dialect.ts), never inside a transaction the dead one had begun.
 */
import type { Worker } from 'node:worker_threads';
import { siblingModule, startModuleWorker } from './module-worker.js';
import type { SqliteBackend, SqliteRunResult } from './sqlite-backend.js';
import type { SqliteStatementReply, SqliteStatementRequest, SqliteThreadData } from './sqlite-thread-messages.js';

class SqliteThreadError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    name: string,
  ) {
    super(message);
    this.name = name;
  }
}

export function threadSqliteBackend(file: string): SqliteBackend {
  const worker: Worker = startModuleWorker(siblingModule(import.meta.url, 'sqlite-thread-entry'), {
    workerData: { file } satisfies SqliteThreadData,
  });
  const pending = new Map<number, { resolve: (result: SqliteRunResult) => void; reject: (error: unknown) => void }>();
  let nextId = 1;
  let inTransaction = false;
  let ended: Error | undefined;
  let exited!: () => void;
  const exit = new Promise<void>((resolve) => (exited = resolve));

  const failAll = (error: Error) => {
    ended ??= error;
    for (const { reject } of pending.values()) reject(ended);
    pending.clear();
  };
  worker.on('message', (reply: SqliteStatementReply) => {
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    inTransaction = reply.inTransaction;
    if (!waiter) return;
    if (reply.error) waiter.reject(new SqliteThreadError(reply.error.message, reply.error.code, reply.error.name));
    else waiter.resolve(reply);
  });
  // Reported as an I/O error: the error mapping makes it StoreUnavailable (503, not ready).
  worker.on('error', (error) =>
    failAll(new SqliteThreadError(`the SQLite thread failed: ${error.message}`, 'SQLITE_IOERR', 'SqliteError')),
  );
  worker.on('exit', () => {
    failAll(new SqliteThreadError('the SQLite thread has ended', 'SQLITE_IOERR', 'SqliteError'));
    exited();
  });

  return {
    run(sql, parameters) {
      if (ended) return Promise.reject(ended);
      const id = nextId++;
      return new Promise<SqliteRunResult>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, sql, parameters } satisfies SqliteStatementRequest);
      });
    },
    get inTransaction() {
      return inTransaction;
    },
    get ended() {
      return ended !== undefined;
    },
    async close() {
      if (!ended) worker.postMessage('close');
      await exit;
    },
  };
}
