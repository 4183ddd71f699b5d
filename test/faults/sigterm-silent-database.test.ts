/**
 * SIGTERM while the database is silent (a partition: sockets open, no byte passes), on
 * PostgreSQL and MariaDB/MySQL behind a TCP proxy the test owns. The stop must not wait on the
 * database: the pools' goodbyes (Terminate, COM_QUIT) are never answered, a worker's poll waits
 * up to the query timeout, the record thread's half-closed sockets keep it alive, and the callbacks'
 * keep-alive connections stay open once answered. Expected: the callbacks in flight answered 503
 * (their commit deadline, ~6 s), then exit 0 within ROOMGATE_SHUTDOWN_TIMEOUT (the folds and
 * workers get 1 s more, the writes 0.5 s, the pools' goodbye 1 s) — not exit 1 at it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/storage/open-store.js';
import { enginesUnderTest, type TestDatabase } from '../support/engines.js';
import { freePort, spawnService, type SpawnedService } from '../support/spawn-service.js';
import { signForm } from '../support/signed-callback.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const WEBHOOK = '/webhooks/twilio/video';

for (const engine of enginesUnderTest().filter((candidate) => candidate.server && candidate.viaAddress)) {
  describe(`SIGTERM while ${engine.name} is silent`, () => {
    let database: TestDatabase | undefined;
    let proxy: TcpProxy | undefined;
    let service: SpawnedService | undefined;
    afterEach(async () => {
      service?.kill('SIGKILL');
      await service?.exited;
      proxy?.thaw();
      await proxy?.close();
      await database?.drop();
    });

    it('answers the callbacks in flight and exits 0 within the shutdown timeout', async () => {
      database = await engine.createTestDatabase();
      const store = await openStore(database.url);
      await store.migrate();
      await store.close();
      proxy = await startTcpProxy(engine.server!);
      const accountSid = `AC${hex(16)}`;
      const authToken = hex(16);
      service = await spawnService({
        PORT: String(await freePort()),
        ROOMGATE_DATABASE_URL: engine.viaAddress!(database.url, { host: '127.0.0.1', port: proxy.port }),
        TWILIO_ACCOUNT_SID: accountSid,
        TWILIO_AUTH_TOKEN: authToken,
        TWILIO_API_KEY_SID: `SK${hex(16)}`,
        TWILIO_API_KEY_SECRET: hex(16),
        ROOMGATE_SHUTDOWN_TIMEOUT: '10s',
        LOG_LEVEL: 'warn',
      });
      expect((await fetch(`${service.url}/readyz`)).status).toBe(200); // connections made and idle
      proxy.freeze();
      await new Promise((resolve) => setTimeout(resolve, 1500)); // the workers' next polls hang
      // Callbacks whose commit now waits on the silent database (unknown rooms: stored as unmatched).
      const url = `${service.url}${WEBHOOK}`;
      const inFlight = Array.from({ length: 4 }, (_, index) => {
        const signed = signForm(url, authToken, {
          AccountSid: accountSid,
          RoomSid: `RM${hex(16)}`,
          RoomName: `r${index}`,
          RoomStatus: 'in-progress',
          RoomType: 'group',
          StatusCallbackEvent: 'room-created',
          Timestamp: new Date().toISOString(),
          SequenceNumber: '0',
        });
        return fetch(url, { method: 'POST', headers: signed.headers, body: signed.body }).then(
          (response) => response.status,
          (error: unknown) => String(error),
        );
      });
      await new Promise((resolve) => setTimeout(resolve, 300));

      // The service's own node process (tsx relays signals too: a group kill would be two).
      const node = Number(
        execFileSync('pgrep', ['-P', String(service.child.pid)])
          .toString()
          .trim()
          .split('\n')[0],
      );
      const signalled = Date.now();
      process.kill(node, 'SIGTERM');
      const code = await Promise.race([service.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 15_000))]);
      const tookMs = Date.now() - signalled;
      console.log(`${engine.name}: SIGTERM with the database silent → exit ${String(code)} after ${tookMs} ms`);
      expect(await Promise.all(inFlight)).toEqual([503, 503, 503, 503]); // answered (Twilio retries), not cut
      expect(code).toBe(0); // past ROOMGATE_SHUTDOWN_TIMEOUT it would be 1
      expect(tookMs).toBeLessThan(10_000);
    }, 40_000);
  });
}
