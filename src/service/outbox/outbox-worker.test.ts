import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest, type TestDatabase } from '../../../test/support/engines.js';
import { newId } from '../../storage/ids.js';
import { openStore } from '../../storage/open-store.js';
import { enqueueOutboxEntry } from '../../storage/outbox-repository.js';
import type { Store } from '../../storage/store.js';
import { createLogger } from '../logger.js';
import { OutboxWorker, PermanentOutboxError } from './outbox-worker.js';

const logger = createLogger({ level: 'silent' });

async function enqueue(store: Store, kind: string, count: number): Promise<void> {
  const now = new Date().toISOString();
  for (let i = 0; i < count; i++) await enqueueOutboxEntry(store.db, { kind, key: `${kind}:${i}:${newId('k')}`, payload: { n: i }, now });
}

for (const engine of enginesUnderTest().filter((candidate) => candidate.name !== 'sqlite')) {
  describe(`outbox workers on ${engine.name}`, () => {
    let database: TestDatabase;
    let stores: Store[];

    beforeAll(async () => {
      database = await engine.createTestDatabase();
      stores = [await openStore(database.url), await openStore(database.url)];
      await stores[0]!.migrate();
    });
    afterAll(async () => {
      for (const store of stores ?? []) await store.close();
      await database?.drop();
    });

    it('two workers on two connections never run the same entry twice, and run every one', async () => {
      await enqueue(stores[0]!, 'count', 200);
      const runs = new Map<number, string[]>();
      const workers = stores.map(
        (store, index) =>
          new OutboxWorker({
            store,
            logger,
            workerId: `w${index}`,
            batchSize: 7,
            handlers: {
              count: async (entry) => {
                const n = entry.payload.n as number;
                runs.set(n, [...(runs.get(n) ?? []), `w${index}`]);
                await new Promise((resolve) => setImmediate(resolve));
              },
            },
          }),
      );
      // Both poll as fast as they can, at the same time, until nothing is left.
      await Promise.all(
        workers.map(async (worker) => {
          while ((await worker.runOnce()) > 0);
        }),
      );
      expect(runs.size).toBe(200);
      expect([...runs.values()].filter((by) => by.length !== 1)).toEqual([]);
      const pending = await stores[0]!.db
        .selectFrom('outbox')
        .select('id')
        .where('kind', '=', 'count')
        .where('status', '!=', 'done')
        .execute();
      expect(pending).toEqual([]);
    });

    it('retries a failing entry with backoff and gives up on a permanent error', async () => {
      await enqueue(stores[0]!, 'flaky', 1);
      await enqueue(stores[0]!, 'broken', 1);
      let now = Date.now();
      let flakyCalls = 0;
      const worker = new OutboxWorker({
        store: stores[0]!,
        logger,
        clock: () => new Date(now),
        handlers: {
          flaky: async () => {
            flakyCalls += 1;
            if (flakyCalls < 3) throw new Error('Twilio answered 503');
          },
          broken: async () => {
            throw new PermanentOutboxError('Twilio answered 400');
          },
        },
      });
      await worker.runOnce();
      expect(await worker.runOnce()).toBe(0); // backing off: not due yet
      now += 1_000;
      await worker.runOnce();
      now += 2_000;
      await worker.runOnce();
      const rows = await stores[0]!.db
        .selectFrom('outbox')
        .select(['kind', 'status', 'attempts', 'last_error'])
        .where('kind', 'in', ['flaky', 'broken'])
        .orderBy('kind')
        .execute();
      expect(rows).toEqual([
        { kind: 'broken', status: 'failed', attempts: 1, last_error: 'Twilio answered 400' },
        { kind: 'flaky', status: 'done', attempts: 3, last_error: null },
      ]);
    });
  });
}
