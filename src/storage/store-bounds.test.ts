/**
 * Every wait for the database is bounded, on the real servers: the session timeouts are in force
 * on every pooled connection (also the one a migration lifted them on), the server cancels a
 * statement past its timeout, a query that gets no answer (a silent partition at a TCP proxy)
 * fails after the client-side bound with its connection discarded — the next query, once the
 * network is back, works — and a transaction past its deadline is refused at once.
 */
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest, type TestDatabase } from '../../test/support/engines.js';
import { startTcpProxy, type TcpProxy } from '../../test/support/tcp-proxy.js';
import { openStore } from './open-store.js';
import type { Database } from './schema.js';
import type { Store } from './store.js';
import { StoreUnavailableError } from './store-errors.js';

const servers = enginesUnderTest().filter((engine) => engine.server && engine.viaAddress);

for (const engine of servers) {
  describe(`bounded waits on ${engine.name}`, () => {
    let database: TestDatabase;
    let proxy: TcpProxy;
    let store: Store;

    beforeAll(async () => {
      database = await engine.createTestDatabase();
      proxy = await startTcpProxy(engine.server!);
      store = await openStore(engine.viaAddress!(database.url, { host: '127.0.0.1', port: proxy.port }), {
        statementTimeoutMs: 700,
        lockTimeoutMs: 3000,
        idleInTransactionTimeoutMs: 9000,
        queryTimeoutMs: 1500,
        poolSize: 3,
      });
      await store.migrate();
    });
    afterAll(async () => {
      proxy?.thaw();
      await store?.close();
      await proxy?.close();
      await database?.drop();
    });

    const settings = async (db: Kysely<Database>) => {
      if (engine.name === 'postgres') {
        const { rows } = await sql<{
          statement: string;
          lock: string;
          idle: string;
        }>`select current_setting('statement_timeout') as statement, current_setting('lock_timeout') as lock, current_setting('idle_in_transaction_session_timeout') as idle`.execute(
          db,
        );
        return rows[0];
      }
      const { rows } = await sql<{
        statement: string;
        lock: string;
        idle: string;
      }>`select cast(@@session.max_statement_time as char) as statement, cast(@@session.innodb_lock_wait_timeout as char) as \`lock\`, cast(@@session.idle_transaction_timeout as char) as idle`.execute(
        db,
      );
      return rows[0];
    };

    it('has the session timeouts on every connection, also after a migration lifted them', async () => {
      const expected =
        engine.name === 'postgres' ? { statement: '700ms', lock: '3s', idle: '9s' } : { statement: '0.700000', lock: '3', idle: '9' };
      // Several at once: several pooled connections, the migration's among them.
      const all = await Promise.all(Array.from({ length: 3 }, () => store.transaction(async (trx) => settings(trx))));
      for (const found of all) expect(found).toEqual(expected);
    });

    it('has the server cancel a statement past the statement timeout', async () => {
      const sleep = engine.name === 'postgres' ? sql`select pg_sleep(3)` : sql`select sleep(3)`;
      await expect(sleep.execute(store.db)).rejects.toBeInstanceOf(StoreUnavailableError);
    });

    it('fails a query that gets no answer after the client-side bound, discarding its connection', async () => {
      proxy.freeze();
      const started = Date.now();
      try {
        await expect(sql`select 1`.execute(store.db)).rejects.toBeInstanceOf(StoreUnavailableError);
        console.log(`[faults] ${engine.name}: a silent query failed after ${Date.now() - started} ms (client bound 1500 ms)`);
      } finally {
        proxy.thaw();
      }
      // The silent connection was destroyed, not handed out again: every query now works.
      for (let i = 0; i < 6; i++) await sql`select 1`.execute(store.db);
    });

    it('refuses a transaction past its deadline at once, and recovers after', async () => {
      proxy.freeze();
      try {
        await expect(store.transaction(async (trx) => sql`select 1`.execute(trx), { deadlineMs: 400 })).rejects.toBeInstanceOf(
          StoreUnavailableError,
        );
      } finally {
        proxy.thaw();
      }
      await store.transaction(async (trx) => sql`select 1`.execute(trx), { deadlineMs: 5000 });
    });
  });
}
