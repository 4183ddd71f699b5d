/**
 * The SQLite statement thread: one better-sqlite3 connection whose statements (and COMMIT's
 * fsync) run here, one at a time, as the HTTP thread sends them. Started by
 * sqlite-thread-backend.ts, never imported.
 */
import BetterSqlite3 from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { StatementRunner } from './sqlite-backend.js';
import type { SqliteStatementReply, SqliteStatementRequest, SqliteThreadData } from './sqlite-thread-messages.js';

const port = parentPort!;
const { file } = workerData as SqliteThreadData;
// No busy timeout: waiting for another connection's lock is the caller's, asynchronous.
const db = new BetterSqlite3(file, { timeout: 0 });
const runner = new StatementRunner(db);

port.on('message', (request: SqliteStatementRequest | 'close') => {
  if (request === 'close') {
    db.close();
    port.close();
    return;
  }
  let reply: SqliteStatementReply;
  try {
    reply = { id: request.id, ...runner.run(request.sql, request.parameters), inTransaction: db.inTransaction };
  } catch (error) {
    const { name, message, code } = error as { name?: string; message?: string; code?: unknown };
    reply = {
      id: request.id,
      inTransaction: db.inTransaction,
      error: { name: String(name ?? 'Error'), message: String(message ?? error), code: typeof code === 'string' ? code : undefined },
    };
  }
  port.postMessage(reply);
});
