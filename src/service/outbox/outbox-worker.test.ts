import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest, type TestDatabase } from '../../../test/support/engines.js';
import { newId } from '../../storage/ids.js';
import { openStore } from '../../storage/open-store.js';
import { insertAuditRows, listAuditRowsByAction } from '../../storage/audit-repository.js';
import { claimOutboxEntry, enqueueOutboxEntry, findDueOutboxEntries, listOutboxEntries } from '../../storage/outbox-repository.js';
import type { Store } from '../../storage/store.js';
import { createLogger } from '../logger.js';
import { TwilioApiError } from '../twilio/twilio-rest-client.js';
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
            concurrency: 7,
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

    it("commits a handler's outcome with the entry's done mark: a failed write leaves neither, and the retry writes it once", async () => {
      await enqueue(stores[0]!, 'outcome', 1);
      let now = Date.now();
      let attempts = 0;
      const worker = new OutboxWorker({
        store: stores[0]!,
        logger,
        clock: () => new Date(now),
        handlers: {
          outcome: async (entry) => async (trx) => {
            attempts += 1;
            const at = new Date(now).toISOString();
            await insertAuditRows(trx, [{ tenantId: null, actor: 'outbox', action: 'outcome-test', target: entry.id, outcome: 'ok', at }]);
            // The first attempt's write fails after its first statement: the whole transaction goes.
            if (attempts === 1) throw new Error('the database refused the outcome');
          },
        },
      });
      await worker.runOnce();
      expect(await listAuditRowsByAction(stores[0]!.db, 'outcome-test')).toEqual([]);
      expect(await listOutboxEntries(stores[0]!.db, { kind: 'outcome' })).toMatchObject([{ status: 'pending', attempts: 1 }]);
      now += 1_000;
      await worker.runOnce();
      expect(await listAuditRowsByAction(stores[0]!.db, 'outcome-test')).toHaveLength(1);
      expect(await listOutboxEntries(stores[0]!.db, { kind: 'outcome' })).toMatchObject([{ status: 'done', attempts: 2 }]);
    });

    it('a done mark that waits past the lock timeout for a row another session holds is retried, not counted as a failed attempt', async () => {
      await enqueue(stores[0]!, 'held', 1);
      const [entry] = await listOutboxEntries(stores[0]!.db, { kind: 'held' });
      const shortWait = await openStore(database.url, { lockTimeoutMs: 1000 });
      let runs = 0;
      let held: Promise<void> | undefined;
      try {
        const worker = new OutboxWorker({
          store: shortWait,
          logger,
          handlers: {
            held: async () => {
              runs += 1;
              // Another session takes the entry's row as the handler returns and keeps it past
              // one lock timeout (a fold or a second instance in a long transaction).
              let locked!: () => void;
              const taken = new Promise<void>((resolve) => (locked = resolve));
              held = stores[1]!.db.transaction().execute(async (trx) => {
                await trx.selectFrom('outbox').select('id').where('id', '=', entry!.id).forUpdate().execute();
                locked();
                await new Promise((resolve) => setTimeout(resolve, 1_500));
              });
              await taken;
            },
          },
        });
        await worker.runOnce();
        await held;
        expect(runs).toBe(1);
        expect(await listOutboxEntries(stores[0]!.db, { kind: 'held' })).toMatchObject([{ status: 'done', attempts: 1, last_error: null }]);
      } finally {
        await held?.catch(() => undefined);
        await shortWait.close();
      }
    });

    it("a live worker keeps its claim by heartbeat; a dead worker's claim expires after the lease", async () => {
      await enqueue(stores[0]!, 'slow', 1);
      const runs: string[] = [];
      let started!: () => void;
      const aStarted = new Promise<void>((resolve) => (started = resolve));
      const slowWorker = (index: number) =>
        new OutboxWorker({
          store: stores[index]!,
          logger,
          workerId: `slow-${index}`,
          leaseMs: 300,
          handlers: {
            slow: async () => {
              runs.push(`slow-${index}`);
              started();
              await new Promise((resolve) => setTimeout(resolve, 1500));
            },
          },
        });
      const [a, b] = [slowWorker(0), slowWorker(1)];
      const running = a.runOnce();
      await aStarted;
      // Five leases long, B keeps polling: A's heartbeat keeps the entry A's.
      const until = Date.now() + 1200;
      while (Date.now() < until) {
        expect(await b.runOnce()).toBe(0);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(await running).toBe(1);
      expect(runs).toEqual(['slow-0']);

      // A worker that claimed an entry and died: no heartbeat, the lease runs out.
      await enqueue(stores[0]!, 'orphan', 1);
      const [orphan] = (await findDueOutboxEntries(stores[0]!.db, new Date().toISOString(), 100)).filter((row) => row.kind === 'orphan');
      const claimedAt = new Date();
      expect(
        await claimOutboxEntry(stores[0]!.db, {
          id: orphan!.id,
          workerId: 'killed',
          now: claimedAt.toISOString(),
          lockedUntil: new Date(claimedAt.getTime() + 500).toISOString(),
        }),
      ).toBe(true);
      let adopted = 0;
      const survivor = new OutboxWorker({ store: stores[1]!, logger, handlers: { orphan: async () => void (adopted += 1) } });
      expect(await survivor.runOnce()).toBe(0); // still the dead worker's
      for (let attempt = 0; attempt < 100 && adopted === 0; attempt++) {
        await survivor.runOnce();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(adopted).toBe(1);
      console.log(
        `[faults] outbox: a dead worker's claim taken over ${Date.now() - claimedAt.getTime()} ms after it was made (lease 500 ms)`,
      );
    });

    it('runs up to `concurrency` entries at once', async () => {
      await enqueue(stores[0]!, 'parallel', 7);
      let active = 0;
      let most = 0;
      let ran = 0;
      const worker = new OutboxWorker({
        store: stores[0]!,
        logger,
        concurrency: 3,
        handlers: {
          parallel: async () => {
            active += 1;
            most = Math.max(most, active);
            await new Promise((resolve) => setTimeout(resolve, 150));
            active -= 1;
            ran += 1;
          },
        },
      });
      while ((await worker.runOnce()) > 0);
      expect(ran).toBe(7);
      expect(most).toBe(3);
    });

    it("waits at least as long as Twilio's Retry-After asks before trying again", async () => {
      await enqueue(stores[0]!, 'limited', 1);
      const now = Date.now();
      const worker = new OutboxWorker({
        store: stores[0]!,
        logger,
        clock: () => new Date(now),
        handlers: {
          limited: async () => {
            throw new TwilioApiError('Twilio answered 429', 429, 20429, true, { retryAfterMs: 120_000 });
          },
        },
      });
      expect(await worker.runOnce()).toBe(1);
      const row = await stores[0]!.db
        .selectFrom('outbox')
        .select(['status', 'next_attempt_at'])
        .where('kind', '=', 'limited')
        .executeTakeFirstOrThrow();
      expect(row.status).toBe('pending');
      expect(Date.parse(row.next_attempt_at)).toBeGreaterThanOrEqual(now + 120_000);
    });
  });
}
