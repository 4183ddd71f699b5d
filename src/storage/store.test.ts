import { readdirSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { Migrator, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { enginesUnderTest, type TestDatabase } from '../../test/support/engines.js';
import { startTcpProxy } from '../../test/support/tcp-proxy.js';
import { GroupCommitter } from './group-committer.js';
import { newId } from './ids.js';
import { insertCallbacks } from './inbox-repository.js';
import { insertIfAbsent } from './insert-if-absent.js';
import { migrationProvider } from './migrations/migration-provider.js';
import { openStore, parseDatabaseUrl, type OpenStoreOptions } from './open-store.js';
import type { NewCallback } from './schema.js';
import type { Store } from './store.js';
import {
  BatchFailedError,
  StoreConstraintError,
  StoreUnavailableError,
  UnsupportedDatabaseUrlError,
  isStoreUnavailable,
} from './store-errors.js';

// Every migration file in the folder, as the provider must name it: a file never registered fails here.
const MIGRATION_FILES = readdirSync(new URL('./migrations/', import.meta.url))
  .filter((file) => /^\d{4}-.+\.ts$/.test(file) && !file.endsWith('.test.ts'))
  .map((file) => file.replace(/\.ts$/, '').replaceAll('-', '_'))
  .sort();

const NOW = '2025-03-01T10:00:00.000Z';

function callback(dedupeKey: string, overrides: Partial<NewCallback> = {}): NewCallback {
  return {
    id: newId('cb'),
    dedupe_key: dedupeKey,
    idempotency_token: null,
    account_sid: 'AC00000000000000000000000000000000',
    room_sid: 'RM00000000000000000000000000000000',
    composition_sid: null,
    event_type: 'participant-connected',
    event_timestamp: NOW,
    sequence_number: 1,
    participant_sid: 'PA00000000000000000000000000000000',
    participant_identity: 'pat-123',
    params: JSON.stringify({ StatusCallbackEvent: 'participant-connected', ParticipantIdentity: 'pat-123' }),
    status: 'accepted',
    received_at: NOW,
    processed_at: null,
    ...overrides,
  };
}

const countCallbacks = async (store: Store) =>
  Number(
    (
      await store.db
        .selectFrom('callbacks')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

describe('database URL', () => {
  it('chooses the engine from the URL alone', () => {
    expect(parseDatabaseUrl('sqlite:./data/roomgate.db')).toEqual({ engine: 'sqlite', file: './data/roomgate.db' });
    expect(parseDatabaseUrl('sqlite::memory:')).toEqual({ engine: 'sqlite', file: ':memory:' });
    expect(parseDatabaseUrl('sqlite:///var/lib/rg.db')).toEqual({ engine: 'sqlite', file: '/var/lib/rg.db' });
    expect(parseDatabaseUrl('postgresql://u@h/db').engine).toBe('postgres');
    expect(parseDatabaseUrl('postgres://u@h/db').engine).toBe('postgres');
    expect(parseDatabaseUrl('mariadb://u@h/db')).toEqual({ engine: 'mysql', url: 'mysql://u@h/db' });
  });

  it('refuses an unknown scheme with a typed error naming the value, password hidden', async () => {
    await expect(openStore('oracle://scott:tiger@db/x')).rejects.toThrow(UnsupportedDatabaseUrlError);
    await expect(openStore('oracle://scott:tiger@db/x')).rejects.toThrow(/oracle:\/\/scott:\*\*\*@db\/x/);
    expect(() => parseDatabaseUrl('./roomgate.db')).toThrow(UnsupportedDatabaseUrlError);
    expect(() => parseDatabaseUrl('sqlite:')).toThrow(UnsupportedDatabaseUrlError);
  });
});

for (const engine of enginesUnderTest()) {
  describe(`storage on ${engine.name}`, () => {
    let database: TestDatabase | undefined;
    const opened: Store[] = [];
    const open = async (url = database!.url, options?: OpenStoreOptions) => {
      const store = await openStore(url, options);
      opened.push(store);
      return store;
    };
    const migrated = async (options?: OpenStoreOptions) => {
      const store = await open(database!.url, options);
      await store.migrate();
      return store;
    };

    beforeEach(async () => {
      database = await engine.createTestDatabase();
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close().catch(() => undefined)));
      await database?.drop();
      database = undefined;
    });

    it('runs the migrations once, and a second run applies nothing', async () => {
      const store = await open();
      expect(store.engine).toBe(engine.name);
      expect(await store.migrate()).toEqual(MIGRATION_FILES);
      expect(await store.migrate()).toEqual([]);
    });

    it('applies a migration that landed after a higher-numbered one (branches merged out of order)', async () => {
      const store = await open();
      const all = await migrationProvider(store.capabilities).getMigrations();
      const skipped = MIGRATION_FILES[MIGRATION_FILES.length - 2]!;
      const without = Object.fromEntries(Object.entries(all).filter(([name]) => name !== skipped));
      const partial = await new Migrator({ db: store.db, provider: { getMigrations: async () => without } }).migrateToLatest();
      expect(partial.error).toBeUndefined();
      expect(await store.migrate()).toEqual([skipped]);
      expect(await store.migrate()).toEqual([]);
    });

    it('migrates safely from two stores at the same time', async () => {
      const [a, b] = [await open(), await open()];
      const applied = await Promise.all([a.migrate(), b.migrate()]);
      expect(applied.flat()).toEqual(MIGRATION_FILES);
      expect(await (await open()).migrate()).toEqual([]);
      await a.db.selectFrom('callbacks').select('id').execute();
    });

    it('keeps timestamps, JSON text and big integers the same on every engine', async () => {
      const store = await migrated();
      const row = callback('k-roundtrip');
      await store.transaction((trx) => insertCallbacks(trx, [row]));
      const stored = await store.db.selectFrom('callbacks').selectAll().where('id', '=', row.id).executeTakeFirstOrThrow();
      expect(stored.params).toBe(row.params);
      expect(stored.event_timestamp).toBe(NOW);
      expect(stored.sequence_number).toBe(1);
      expect(stored.processed_at).toBeNull();
    });

    it('refuses a duplicate callback, also within one batch', async () => {
      const store = await migrated();
      expect(await store.transaction((trx) => insertCallbacks(trx, [callback('k1')]))).toEqual([true]);
      expect(await store.transaction((trx) => insertCallbacks(trx, [callback('k1')]))).toEqual([false]);
      expect(
        await store.transaction((trx) => insertCallbacks(trx, [callback('k2'), callback('k1'), callback('k2'), callback('k3')])),
      ).toEqual([true, false, false, true]);
      expect(await countCallbacks(store)).toBe(3);
    });

    it('refuses a duplicate inserted by two connections at the same instant', async () => {
      const [a, b] = [await migrated(), await open()];
      for (let round = 0; round < 5; round += 1) {
        const key = `race-${round}`;
        const results = await Promise.all([
          a.transaction((trx) => insertCallbacks(trx, [callback(key), callback(`a-${round}`)])),
          b.transaction((trx) => insertCallbacks(trx, [callback(`b-${round}`), callback(key)])),
        ]);
        const winners = [results[0][0], results[1][1]].filter(Boolean);
        expect(winners).toHaveLength(1);
        expect(results[0][1] && results[1][0]).toBe(true);
      }
      expect(await countCallbacks(a)).toBe(15);
    });

    it('raises other errors of a callback insert instead of swallowing them', async () => {
      const store = await migrated();
      const bad = { ...callback('k-bad'), account_sid: null } as unknown as NewCallback;
      await expect(store.transaction((trx) => insertCallbacks(trx, [bad]))).rejects.toBeInstanceOf(StoreConstraintError);
      expect(await countCallbacks(store)).toBe(0);
    });

    it('inserts a row only if absent, without breaking the transaction', async () => {
      const store = await migrated();
      const tenantId = newId('ten');
      const consultationId = newId('con');
      const inserted = await store.transaction(async (trx) => {
        await trx.insertInto('tenants').values({ id: tenantId, slug: 'clinic', name: 'Clinic', kind: 'human', created_at: NOW }).execute();
        await trx
          .insertInto('consultations')
          .values({
            id: consultationId,
            tenant_id: tenantId,
            room_sid: null,
            room_name: `rg-${consultationId}`,
            status: 'scheduled',
            record: 1,
            scheduled_at: null,
            started_at: null,
            ended_at: null,
            created_at: NOW,
            updated_at: NOW,
            version: 0,
          })
          .execute();
        const row = { consultation_id: consultationId, identity: 'pat-1', role: 'patient', issued_at: NOW, expires_at: NOW };
        const key = { consultation_id: consultationId, identity: 'pat-1' };
        return [await insertIfAbsent(trx, 'issued_identities', key, row), await insertIfAbsent(trx, 'issued_identities', key, row)];
      });
      expect(inserted).toEqual([true, false]);
      const tenant = await store.db.selectFrom('tenants').selectAll().executeTakeFirstOrThrow();
      expect(tenant.billing_rounding_seconds).toBe(60);
      expect(tenant.retention_days).toBe(3650);
    });

    it('reports another constraint violation as a typed constraint error', async () => {
      const store = await migrated();
      const tenant = () => ({ id: newId('ten'), slug: 'vets', name: 'Vets', kind: 'veterinary' as const, created_at: NOW });
      await store.db.insertInto('tenants').values(tenant()).execute();
      const error = await store.db
        .insertInto('tenants')
        .values(tenant())
        .execute()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreConstraintError);
      expect((error as StoreConstraintError).constraint).toBe('unique');
      expect((error as StoreConstraintError).code).toBe('STORE_CONSTRAINT_VIOLATION');
    });

    it('leaves nothing behind when a transaction fails', async () => {
      const store = await migrated();
      await expect(
        store.transaction(async (trx) => {
          await insertCallbacks(trx, [callback('k-rollback')]);
          await trx
            .insertInto('tenants')
            .values({ id: newId('ten'), slug: 'gone', name: 'Gone', kind: 'human', created_at: NOW })
            .execute();
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await countCallbacks(store)).toBe(0);
      expect(await store.db.selectFrom('tenants').selectAll().execute()).toEqual([]);
    });

    it('group-commits concurrent submits, each answered after its COMMIT', async () => {
      const store = await migrated();
      const observer = await open(); // another connection: sees only committed rows
      const committer = new GroupCommitter({ store, apply: (trx, rows: NewCallback[]) => insertCallbacks(trx, rows) });
      const rows = Array.from({ length: 64 }, (_, index) => callback(`gc-${index}`));
      const seenAfterResolve = await Promise.all(
        rows.map(async (row) => {
          const inserted = await committer.submit(row);
          const visible = await observer.db.selectFrom('callbacks').select('id').where('id', '=', row.id).executeTakeFirst();
          return { inserted, visible: Boolean(visible) };
        }),
      );
      expect(seenAfterResolve.every((seen) => seen.inserted && seen.visible)).toBe(true);
      expect(committer.stats.items).toBe(64);
      expect(committer.stats.batches).toBeLessThan(64 / 4);
      // A duplicate through the committer is answered false, not an error.
      expect(await committer.submit(callback('gc-0'))).toBe(false);
      await committer.close();
      await expect(committer.submit(callback('late'))).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    });

    it('with two transactions in flight, keeps every row once, duplicates across batches included', async () => {
      if (engine.name === 'sqlite') return; // one writer: the service never runs SQLite above 1
      const store = await migrated();
      let inFlight = 0;
      let mostInFlight = 0;
      const committer = new GroupCommitter({
        store: {
          transaction: async (work, options) => {
            inFlight += 1;
            mostInFlight = Math.max(mostInFlight, inFlight);
            try {
              return await store.transaction(work, options);
            } finally {
              inFlight -= 1;
            }
          },
        },
        concurrency: 2,
        apply: (trx, rows: NewCallback[]) => insertCallbacks(trx, rows),
      });
      // Each key three times, in waves, so copies land in batches that run at the same time.
      const keys = Array.from({ length: 40 }, (_, index) => `cc-${index}`);
      const waves = await Promise.all(
        [0, 1, 2].map(async (wave) => {
          for (let turn = 0; turn < wave; turn += 1) await new Promise((resolve) => setImmediate(resolve));
          return Promise.all(keys.map((key) => committer.submit(callback(key))));
        }),
      );
      await committer.close();
      expect(mostInFlight).toBe(2);
      // Each key inserted by exactly one of its three submits; the others are duplicates.
      keys.forEach((_, index) => expect(waves.map((wave) => wave[index]).filter(Boolean)).toHaveLength(1));
      expect(await countCallbacks(store)).toBe(keys.length);
    });

    it('two batches in flight that deadlock: each item is tried alone, and every row is stored once', async () => {
      if (engine.name === 'sqlite') return; // one writer: no row locks to cross
      const store = await migrated();
      let batches = 0;
      const committer = new GroupCommitter({
        store,
        concurrency: 2,
        // Row by row with a pause, so batch [x, y] and batch [y, x] each hold one row the other needs.
        apply: async (trx, rows: NewCallback[]) => {
          batches += 1;
          const out: boolean[] = [];
          for (const row of rows) {
            out.push(...(await insertCallbacks(trx, [row])));
            if (rows.length > 1) await new Promise((resolve) => setTimeout(resolve, 150));
          }
          return out;
        },
      });
      const first = Promise.all(['dl-x', 'dl-y'].map((key) => committer.submit(callback(key))));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const second = Promise.all(['dl-y', 'dl-x'].map((key) => committer.submit(callback(key))));
      const [a, b] = await Promise.all([first, second]);
      await committer.close();
      // Both batches went together first; the deadlock's loser went item by item (2 more).
      expect(batches).toBeGreaterThanOrEqual(4);
      expect([a[0]! !== b[1]!, a[1]! !== b[0]!]).toEqual([true, true]); // each key inserted by exactly one submit
      expect(await countCallbacks(store)).toBe(2);
    });

    it('fails only the item that fails alone: the rest of its batch is committed', async () => {
      const store = await migrated();
      const committer = new GroupCommitter({
        store,
        apply: async (trx, rows: NewCallback[]) => {
          const result = await insertCallbacks(trx, rows);
          if (rows.some((row) => row.dedupe_key === 'poison')) throw new Error('poisoned batch');
          return result;
        },
      });
      const keys = ['ok-1', 'poison', 'ok-2', 'ok-3'];
      const outcomes = await Promise.allSettled(keys.map((key) => committer.submit(callback(key))));
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      const reason = (outcomes[1] as PromiseRejectedResult).reason as BatchFailedError;
      expect(reason).toBeInstanceOf(BatchFailedError);
      expect(reason.batchSize).toBe(1);
      expect((reason.cause as Error).message).toBe('poisoned batch');
      // The batch went together first, then each item alone: nothing of the poison remains.
      expect(committer.stats.largestBatch).toBe(4);
      const stored = await store.db.selectFrom('callbacks').select('dedupe_key').orderBy('dedupe_key').execute();
      expect(stored.map((row) => row.dedupe_key)).toEqual(['ok-1', 'ok-2', 'ok-3']);
      // The committer goes on with the next batch.
      expect(await committer.submit(callback('ok-4'))).toBe(true);
      await committer.close();
    });

    it('rejects every submitter when the store is unavailable, without retrying them one by one', async () => {
      let transactions = 0;
      const committer = new GroupCommitter({
        store: {
          transaction: async () => {
            transactions += 1;
            throw new StoreUnavailableError('gone');
          },
        },
        apply: (trx, rows: NewCallback[]) => insertCallbacks(trx, rows),
      });
      const outcomes = await Promise.allSettled(['a', 'b', 'c'].map((key) => committer.submit(callback(key))));
      expect(outcomes.map((outcome) => (outcome as PromiseRejectedResult).reason)).toEqual([
        expect.any(StoreUnavailableError),
        expect.any(StoreUnavailableError),
        expect.any(StoreUnavailableError),
      ]);
      expect(transactions).toBe(1);
      await committer.close();
    });

    if (engine.server && engine.viaAddress) {
      const { server, viaAddress } = engine;

      it('answers StoreUnavailableError for a server that does not answer', async () => {
        const store = await open(viaAddress(database!.url, { host: '127.0.0.1', port: 1 }), { connectTimeoutMs: 1000 });
        const error = await store.ping().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StoreUnavailableError);
        expect((error as StoreUnavailableError).code).toBe('STORE_UNAVAILABLE');
        expect((error as StoreUnavailableError).cause).toBeDefined();
        await expect(store.transaction(async (trx) => trx.selectFrom('callbacks').selectAll().execute())).rejects.toBeInstanceOf(
          StoreUnavailableError,
        );
      });

      it('recovers by itself when the server comes back, without a poisoned pool', async () => {
        const proxy = await startTcpProxy(server);
        try {
          const store = await open(viaAddress(database!.url, { host: '127.0.0.1', port: proxy.port }), {
            poolSize: 3,
            connectTimeoutMs: 1000,
          });
          await store.migrate();
          const committer = new GroupCommitter({ store, apply: (trx, rows: NewCallback[]) => insertCallbacks(trx, rows) });
          // Fill the pool with several live connections, then cut every one of them.
          await Promise.all([store.ping(), store.ping(), store.ping()]);
          proxy.cut();
          const failure = await committer.submit(callback('while-down')).catch((e: unknown) => e);
          expect(isStoreUnavailable(failure)).toBe(true);
          await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
          proxy.restore();
          // Every pooled connection died; none may be handed out again.
          for (let i = 0; i < 6; i += 1) await store.ping();
          expect(await committer.submit(callback('after-restore'))).toBe(true);
          expect(await countCallbacks(store)).toBe(1);
          await committer.close();
        } finally {
          await proxy.close();
        }
      });
    } else {
      it('answers StoreUnavailableError while another connection holds the write lock, then recovers', async () => {
        const store = await migrated({ busyTimeoutMs: 150 });
        const file = database!.url.slice('sqlite:'.length);
        const holder = new BetterSqlite3(file);
        try {
          holder.exec('begin immediate');
          const started = Date.now();
          const error = await store.transaction((trx) => insertCallbacks(trx, [callback('locked')])).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(StoreUnavailableError);
          expect(Date.now() - started).toBeGreaterThanOrEqual(140);
          holder.exec('rollback');
          expect(await store.transaction((trx) => insertCallbacks(trx, [callback('locked')]))).toEqual([true]);
        } finally {
          holder.close();
        }
      });

      it('waits for the lock without blocking the event loop', async () => {
        const store = await migrated();
        const other = await open();
        let ticks = 0;
        const timer = setInterval(() => (ticks += 1), 5);
        try {
          // Store A holds the write lock across a timer; B must wait asynchronously, or A can never finish.
          const a = store.transaction(async (trx) => {
            await insertCallbacks(trx, [callback('first')]);
            await new Promise((resolve) => setTimeout(resolve, 100));
          });
          await new Promise((resolve) => setTimeout(resolve, 10));
          const b = other.transaction((trx) => insertCallbacks(trx, [callback('first')]));
          await a;
          expect(await b).toEqual([false]);
          expect(ticks).toBeGreaterThan(5);
        } finally {
          clearInterval(timer);
        }
        await sql`select 1`.execute(store.db);
      });
    }
  });
}
