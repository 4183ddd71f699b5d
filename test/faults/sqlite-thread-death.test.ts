/**
 * The SQLite statement thread (ROOMGATE_SQLITE_THREAD=on) dies — an uncaught error, an
 * out-of-memory end — while the service runs. It must come back by itself, say so (a warning, a
 * metric) and lose nothing:
 *
 * - a transaction the dead thread had begun fails whole: none of its statements runs on the new
 *   connection outside a transaction (nothing half-written), and the next one succeeds;
 * - callbacks in flight get 204 or 503 (Twilio retries), the next ones 204, /readyz and the
 *   tenant API answer again, and every callback is stored once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { newId } from '../../src/storage/ids.js';
import { openStore } from '../../src/storage/open-store.js';
import { StoreUnavailableError } from '../../src/storage/store-errors.js';
import type { Store } from '../../src/storage/store.js';
import { insertTenant } from '../../src/storage/tenant-repository.js';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { startTestService, type TestService } from '../support/test-service.js';
import { eventually } from './support/eventually.js';

// The statement threads started, to end one as a crash would (terminate: exit code 1).
const statementThreads = vi.hoisted(() => [] as Worker[]);
vi.mock('../../src/storage/module-worker.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/storage/module-worker.js')>();
  return {
    ...original,
    startModuleWorker: (entry: URL, options: object) => {
      const worker = original.startModuleWorker(entry, options);
      if (entry.pathname.includes('sqlite-thread-entry')) statementThreads.push(worker);
      return worker;
    },
  };
});

const sqlite = enginesUnderTest().find((engine) => engine.name === 'sqlite');
const PATH = '/webhooks/twilio/video';
const killStatementThread = async () => void (await statementThreads.at(-1)!.terminate());

describe.runIf(sqlite)('the SQLite statement thread dies', () => {
  let store: Store | undefined;
  let service: TestService | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await service?.close();
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    service = store = dir = undefined;
  });

  it('fails the transaction it was in whole, then serves from a new thread', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rg-sqlite-thread-death-'));
    store = await openStore(`sqlite:${path.join(dir, 'roomgate.db')}`, { sqliteThread: true });
    await store.migrate();
    const tenant = (slug: string) => ({ id: newId('ten'), slug, name: slug, kind: 'human' as const, created_at: new Date().toISOString() });

    const started = statementThreads.length;
    const outcome = store.transaction(async (trx) => {
      await insertTenant(trx, tenant('before-death'));
      await killStatementThread();
      await insertTenant(trx, tenant('after-death'));
    });
    await expect(outcome).rejects.toBeInstanceOf(StoreUnavailableError);

    await insertTenant(store.db, tenant('next'));
    expect(statementThreads.length).toBe(started + 1);
    const slugs = await store.db.selectFrom('tenants').select('slug').orderBy('slug').execute();
    expect(slugs.map((row) => row.slug)).toEqual(['next']);
  });

  for (const projectionThread of [false, true]) {
    it(`comes back by itself and stores every callback once (record thread ${projectionThread ? 'on' : 'off'})`, async () => {
      const database = await sqlite!.createTestDatabase();
      service = await startTestService(sqlite!, {
        database,
        sqliteThread: true,
        ...(projectionThread ? { app: { projectionThread: { databaseUrl: database.url, store: {}, restartDelayMs: 50 } } } : {}),
      });
      const s = service;
      const { tenantId, key } = await s.seedTenant('human', ['consultations:read']);
      const rooms = await Promise.all(Array.from({ length: 8 }, () => s.seedConsultation(tenantId, { record: false })));
      const now = Date.now(); // a retry is the same callback: the same Timestamp
      const send = (roomSid: string, event: string, secondsAgo: number) => {
        const signed = signForm(`http://localhost:80${PATH}`, s.authToken, {
          AccountSid: s.accountSid,
          RoomSid: roomSid,
          RoomName: 'r',
          RoomStatus: event === 'room-ended' ? 'completed' : 'in-progress',
          RoomType: 'group',
          StatusCallbackEvent: event,
          Timestamp: new Date(now - secondsAgo * 1000).toISOString(),
          SequenceNumber: '0',
        });
        return s.app.inject({ method: 'POST', url: PATH, headers: signed.headers, payload: signed.body }).then((r) => r.statusCode);
      };
      const sendAll = () =>
        Promise.all(rooms.flatMap((room) => [send(room.roomSid, 'room-created', 60), send(room.roomSid, 'room-ended', 30)]));
      const readyz = async () => (await s.app.inject({ method: 'GET', url: '/readyz' })).statusCode;
      const list = async () =>
        (await s.app.inject({ method: 'GET', url: '/v1/consultations', headers: { authorization: `Bearer ${key}` } })).statusCode;

      expect(await readyz()).toBe(200);
      const inFlight = sendAll();
      await new Promise((resolve) => setImmediate(resolve));
      await killStatementThread();
      const first = await inFlight;
      expect(first.filter((code) => code !== 204 && code !== 503)).toEqual([]);

      // Within seconds, with no restart of the process: answers as before the death.
      await eventually('the tenant API answers again', async () => ((await list()) === 200 ? true : undefined), 10_000);
      await eventually('ready again', async () => ((await readyz()) === 200 ? true : undefined), 10_000);
      expect((await sendAll()).every((code) => code === 204)).toBe(true);
      await s.app.roomgate.drain();

      const stored = await s.store.db
        .selectFrom('callbacks')
        .select('id')
        .where(
          'room_sid',
          'in',
          rooms.map((room) => room.roomSid),
        )
        .execute();
      expect(stored).toHaveLength(rooms.length * 2);
      expect(s.logs()).toContain('SQLite statement thread ended unexpectedly; started it again');
      expect(await s.metricsText()).toMatch(/^roomgate_sqlite_thread_restarts_total 1$/m);
    }, 30_000);
  }
});
