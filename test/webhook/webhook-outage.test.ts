/**
 * The database goes away mid-traffic: callbacks get 503 (Twilio retries), nothing is half
 * written, and once it is back the retried callbacks are stored exactly once, with everything
 * acknowledged before the outage still there. PostgreSQL and MariaDB are cut at a TCP proxy;
 * SQLite is made unavailable by another process holding its write lock.
 */
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { startTestService, type TestService } from '../support/test-service.js';

const PATH = '/webhooks/twilio/video';

for (const engine of enginesUnderTest()) {
  describe(`webhook while the ${engine.name} store is unavailable`, () => {
    let service: TestService;
    let proxy: TcpProxy | undefined;
    // readinessDrops: /readyz is 503 whenever a callback could not be stored — a lost server, and
    // a held SQLite write lock too (readiness is a write, not a read).
    let outage: { begin(): void; end(): void; readinessDrops: boolean };

    beforeAll(async () => {
      if (engine.server && engine.viaAddress) {
        proxy = await startTcpProxy(engine.server);
        const address = { host: '127.0.0.1', port: proxy.port };
        service = await startTestService(engine, { storeUrl: (url) => engine.viaAddress!(url, address) });
        outage = { begin: () => proxy!.cut(), end: () => proxy!.restore(), readinessDrops: true };
      } else {
        service = await startTestService(engine, { busyTimeoutMs: 200 });
        let holder: BetterSqlite3.Database | undefined;
        outage = {
          readinessDrops: true,
          begin() {
            holder = new BetterSqlite3(service.database.url.slice('sqlite:'.length));
            holder.exec('begin immediate');
          },
          end() {
            holder?.exec('rollback');
            holder?.close();
          },
        };
      }
    });
    afterAll(async () => {
      await service?.close();
      await proxy?.close();
    });

    it('answers 503 during the outage and stores every callback exactly once after it', async () => {
      const { tenantId } = await service.seedTenant();
      const { roomSid } = await service.seedConsultation(tenantId);
      const callback = (n: number) =>
        signForm(`http://localhost:80${PATH}`, service.authToken, {
          AccountSid: service.accountSid,
          RoomSid: roomSid,
          RoomName: 'r',
          RoomStatus: 'in-progress',
          RoomType: 'group',
          StatusCallbackEvent: 'track-added',
          TrackSid: `MT${n}`,
          Timestamp: new Date().toISOString(),
          SequenceNumber: String(n),
        });
      const send = (signed: ReturnType<typeof callback>) =>
        service.app.inject({ method: 'POST', url: PATH, headers: signed.headers, payload: signed.body });
      const before = callback(1);
      expect((await send(before)).statusCode).toBe(204);

      outage.begin();
      const during = [callback(2), callback(3), callback(4)];
      const answers = await Promise.all(during.map(send));
      expect(answers.map((answer) => answer.statusCode)).toEqual([503, 503, 503]);
      expect(answers[0]!.json()).toMatchObject({ error: { code: 'STORE_UNAVAILABLE' } });
      if (outage.readinessDrops) expect((await service.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
      outage.end();

      // Twilio's retries after the outage: every one lands once, the first is not duplicated.
      for (const signed of [...during, before]) expect((await send(signed)).statusCode).toBe(204);
      expect((await service.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      const rows = await service.store.db
        .selectFrom('callbacks')
        .select('sequence_number')
        .where('room_sid', '=', roomSid)
        .orderBy('sequence_number')
        .execute();
      expect(rows.map((row) => row.sequence_number)).toEqual([1, 2, 3, 4]);
    });
  });
}
