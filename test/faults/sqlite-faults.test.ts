/**
 * SQLite's faults, for real: the disk the database lives on fills up (a tmpfs of a few MiB that
 * the test mounts and fills), and the database becomes unwritable mid-load (another process
 * takes its write lock and holds it, as a stuck backup or a second writer would).
 *
 * - disk full → /readyz 503 within seconds, even with no traffic (its probe is a real write),
 *   callbacks 503; space freed → 204 and ready again, every callback stored once;
 * - write lock held mid-load → 503s during (within the commit deadline), 204s after, every
 *   acknowledged callback stored exactly once, none lost.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { eventDedupeKey } from '../../src/core/consultation/consultation-event.js';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { randomHex, startTestService, type TestService } from '../support/test-service.js';
import { eventually } from './support/eventually.js';

const PATH = '/webhooks/twilio/video';
const sqlite = enginesUnderTest().find((engine) => engine.name === 'sqlite');

function trackEvents(service: TestService, roomSid: string, identity: string, count: number): Record<string, string>[] {
  return Array.from({ length: count }, (_, index) => ({
    AccountSid: service.accountSid,
    RoomSid: roomSid,
    RoomName: 'rg-room',
    RoomStatus: 'in-progress',
    RoomType: 'group',
    StatusCallbackEvent: 'track-added',
    Timestamp: new Date().toISOString(),
    SequenceNumber: String(index),
    ParticipantSid: `PA${randomHex(16)}`,
    ParticipantIdentity: identity,
    TrackSid: `MT${randomHex(16)}`,
  }));
}

describe.runIf(sqlite)('sqlite faults', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  });

  it('disk full: /readyz 503 within seconds even when idle, callbacks 503; space freed: ready and stored once', async () => {
    const mountPoint = mkdtempSync(path.join(tmpdir(), 'roomgate-full-'));
    cleanups.push(() => rmSync(mountPoint, { recursive: true, force: true }));
    // Root on the test machines: a small filesystem of its own that can really fill up.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', mountPoint]);
    cleanups.push(() => void execFileSync('umount', ['-l', mountPoint]));
    const service = await startTestService(sqlite!, {
      database: { url: `sqlite:${path.join(mountPoint, 'rg.db')}`, drop: async () => undefined },
      env: { ROOMGATE_COMMIT_DEADLINE: '3s' },
    });
    cleanups.push(() => service.close());
    const { tenantId } = await service.seedTenant();
    const { roomSid } = await service.seedConsultation(tenantId, { identities: { 'clin-1': 'clinician' } });
    const callbacks = trackEvents(service, roomSid, 'clin-1', 40);
    const send = (params: Record<string, string>) => {
      const signed = signForm(`http://localhost:80${PATH}`, service.authToken, params);
      return service.app.inject({ method: 'POST', url: PATH, headers: signed.headers, payload: signed.body });
    };
    const readyz = async () => (await service.app.inject({ method: 'GET', url: '/readyz' })).statusCode;
    expect((await send(callbacks[0]!)).statusCode).toBe(204);
    expect(await readyz()).toBe(200);

    // Fill the filesystem to the last byte.
    const filler = path.join(mountPoint, 'filler');
    const fd = openSync(filler, 'w');
    const chunk = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    for (let size = 4096; size >= 1; size = Math.floor(size / 2)) {
      try {
        for (;;) writeSync(fd, chunk.subarray(0, size));
      } catch {
        // this size no longer fits; try smaller
      }
    }
    closeSync(fd);

    // No traffic: readiness notices by itself (its probe writes).
    const fullAt = Date.now();
    await eventually('readyz 503 on a full disk', async () => ((await readyz()) === 503 ? true : undefined), 20_000);
    console.log(`[faults] sqlite: disk full → /readyz 503 after ${Date.now() - fullAt} ms with no traffic`);
    const during = await Promise.all(callbacks.slice(1, 20).map(send));
    const refused = during.filter((answer) => answer.statusCode === 503).length;
    console.log(`[faults] sqlite: disk full → ${refused} of ${during.length} callbacks 503, the rest 204`);
    expect(refused).toBeGreaterThan(0);
    expect(during.every((answer) => answer.statusCode === 503 || answer.statusCode === 204)).toBe(true);
    expect(await readyz()).toBe(503);

    unlinkSync(filler);
    const freedAt = Date.now();
    await eventually('readyz 200 once space is free', async () => ((await readyz()) === 200 ? true : undefined), 20_000);
    console.log(`[faults] sqlite: space freed → /readyz 200 after ${Date.now() - freedAt} ms`);
    for (const params of callbacks) expect((await send(params)).statusCode).toBe(204);
    const stored = await service.store.db.selectFrom('callbacks').select('dedupe_key').where('room_sid', '=', roomSid).execute();
    expect(stored.map((row) => row.dedupe_key).sort()).toEqual(callbacks.map(eventDedupeKey).sort());
  }, 120_000);

  it('write lock held mid-load: 503s during, every callback stored exactly once after', async () => {
    const service = await startTestService(sqlite!, { env: { ROOMGATE_COMMIT_DEADLINE: '3s' } });
    cleanups.push(() => service.close());
    await service.app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}`;
    const { tenantId } = await service.seedTenant();
    const { roomSid } = await service.seedConsultation(tenantId, { identities: { 'clin-1': 'clinician' } });
    const callbacks = trackEvents(service, roomSid, 'clin-1', 240);
    const send = async (params: Record<string, string>) => {
      const signed = signForm(`${base}${PATH}`, service.authToken, params);
      const response = await fetch(`${base}${PATH}`, { method: 'POST', headers: signed.headers, body: signed.body });
      await response.arrayBuffer();
      return response.status;
    };

    const statuses = new Map<number, number>();
    let next = 0;
    let holder: BetterSqlite3.Database | undefined;
    let released: Promise<void> | undefined;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < callbacks.length) {
          const index = next++;
          statuses.set(index, await send(callbacks[index]!));
          if (!holder && statuses.size >= callbacks.length * 0.3) {
            // Another process's writer takes the database and keeps it for 4 s.
            holder = new BetterSqlite3(service.database.url.slice('sqlite:'.length));
            holder.exec('begin immediate');
            released = new Promise((resolve) =>
              setTimeout(() => {
                holder!.exec('rollback');
                holder!.close();
                resolve();
              }, 4000),
            );
          }
        }
      }),
    );
    await released;
    const unavailable = [...statuses].filter(([, status]) => status === 503).map(([index]) => index);
    console.log(`[faults] sqlite: write lock held 4 s mid-load → ${unavailable.length} of ${callbacks.length} callbacks 503`);
    expect([...statuses.values()].every((status) => status === 204 || status === 503)).toBe(true);
    expect(unavailable.length).toBeGreaterThan(0);

    // Twilio retries what got 503 (and some that got 204): each lands exactly once.
    for (const index of [...unavailable, 0, 1, 2]) {
      await eventually('a retried callback acknowledged', async () => ((await send(callbacks[index]!)) === 204 ? true : undefined));
    }
    await service.app.roomgate.drain();
    const stored = await service.store.db.selectFrom('callbacks').select('dedupe_key').where('room_sid', '=', roomSid).execute();
    expect(stored.length).toBe(callbacks.length);
    expect(new Set(stored.map((row) => row.dedupe_key))).toEqual(new Set(callbacks.map(eventDedupeKey)));
  }, 120_000);
});
