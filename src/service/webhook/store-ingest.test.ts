/**
 * The inbox's unit of work per engine: where BEGIN and COMMIT are round trips (PostgreSQL,
 * MySQL), a batch whose only write is its INSERT runs outside a transaction, the INSERT
 * committing alone; on SQLite every batch is one transaction. Either way each callback is
 * answered after its row committed, and a second copy is a duplicate.
 */
import type { Kysely } from 'kysely';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { enginesUnderTest, type TestDatabase } from '../../../test/support/engines.js';
import { openStore } from '../../storage/open-store.js';
import type { Database } from '../../storage/schema.js';
import type { Store } from '../../storage/store.js';
import type { SignedCallback } from './callback-ingest.js';
import { createStoreIngest } from './store-ingest.js';

// Refused by the schema: quarantined under its body, with no room, so no event is logged.
const refused = (n: number): SignedCallback => ({
  params: [['n', String(n)]],
  parsed: { ok: false, reason: 'test', fields: {}, event: undefined, timestamp: undefined },
  bodySha256: String(n).padEnd(64, '0'),
  secretId: 's',
  idempotencyToken: undefined,
  receivedAt: new Date(0),
  remoteAddress: '127.0.0.1',
});

/** The store, counting its transactions and those opened on its sessions' connections. */
function counted(store: Store) {
  const counts = { transactions: 0, sessions: 0, transactionsInSessions: 0 };
  const watched: Store = {
    ...store,
    transaction: (fn, options) => {
      counts.transactions++;
      return store.transaction(fn, options);
    },
    session: (fn, options) => {
      counts.sessions++;
      return store.session(
        (db) =>
          fn(
            new Proxy(db, {
              get(target, property) {
                if (property === 'transaction') counts.transactionsInSessions++;
                const value = Reflect.get(target, property, target) as unknown;
                return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
              },
            }) as Kysely<Database>,
          ),
        options,
      );
    },
  };
  return { store: watched, counts };
}

for (const engine of enginesUnderTest()) {
  describe(`store ingest on ${engine.name}`, () => {
    let database: TestDatabase;
    let store: Store;

    beforeEach(async () => {
      database = await engine.createTestDatabase();
      store = await openStore(database.url);
      await store.migrate();
    });

    afterEach(async () => {
      await store.close();
      await database.drop();
    });

    it('commits a batch whose only write is its INSERT without a transaction where BEGIN and COMMIT are round trips', async () => {
      const { store: watched, counts } = counted(store);
      const ingest = createStoreIngest({
        store: watched,
        clock: () => new Date('2025-03-01T10:00:00.000Z'),
        logger: pino({ level: 'silent' }),
        onCommitted: () => undefined,
        legacyAccountSid: () => undefined,
      });
      const first = await Promise.all([1, 2, 3].map((n) => ingest.submit(refused(n))));
      expect(first.map((outcome) => outcome.outcome)).toEqual(['quarantined', 'quarantined', 'quarantined']);
      // Answered: so committed, as another connection sees.
      const stored = await store.db.selectFrom('callbacks').select('dedupe_key').execute();
      expect(stored).toHaveLength(3);
      expect((await ingest.submit(refused(2))).outcome).toBe('duplicate');
      await ingest.close();

      if (store.capabilities.loneStatementsCommitAlone) {
        expect(counts).toMatchObject({ transactions: 0, transactionsInSessions: 0 });
        expect(counts.sessions).toBeGreaterThanOrEqual(2);
      } else {
        expect(counts.sessions).toBe(0);
        expect(counts.transactions).toBeGreaterThanOrEqual(2);
      }
    });
  });
}
