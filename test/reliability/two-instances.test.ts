/**
 * Two service instances on the same PostgreSQL database, both running the outbox worker, behind
 * a round-robin TCP proxy. Every callback of a whole consultation reaches BOTH instances at
 * once, and once more through the proxy: one row per event, one billing record, one
 * composition created at Twilio, the outbox entry run once.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { startFakeTwilio, type FakeTwilio } from '../support/spawn-service.js';
import { startTestService, type TestService } from '../support/test-service.js';

const WEBHOOK = '/webhooks/twilio/video';
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

async function startRoundRobin(ports: readonly number[]): Promise<{ port: number; connections: number[]; close(): Promise<void> }> {
  const connections = ports.map(() => 0);
  const sockets = new Set<net.Socket>();
  let next = 0;
  const server = net.createServer((client) => {
    const index = next++ % ports.length;
    connections[index]! += 1;
    const upstream = net.connect(ports[index]!, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One signed POST on a fresh connection (so a round-robin proxy spreads them). */
function post(port: number, token: string, params: Record<string, string>): Promise<number> {
  const signed = signForm(`http://127.0.0.1:${port}${WEBHOOK}`, token, params);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: WEBHOOK,
        agent: false,
        headers: { ...signed.headers, 'content-length': Buffer.byteLength(signed.body) },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', reject);
    request.end(signed.body);
  });
}

for (const engine of enginesUnderTest().filter((candidate) => candidate.name === 'postgres')) {
  describe(`two instances on one ${engine.name} database`, () => {
    let twilio: FakeTwilio;
    let a: TestService;
    let b: TestService;
    let proxy: Awaited<ReturnType<typeof startRoundRobin>>;
    const ports: number[] = [];

    beforeAll(async () => {
      twilio = await startFakeTwilio();
      const app = { outboxWorker: true, outboxPollIntervalMs: 20 };
      a = await startTestService(engine, { env: { TWILIO_API_BASE_URL: twilio.url }, app });
      b = await startTestService(engine, {
        database: a.database,
        env: { TWILIO_ACCOUNT_SID: a.accountSid, TWILIO_AUTH_TOKEN: a.authToken, TWILIO_API_BASE_URL: twilio.url },
        app,
      });
      for (const service of [a, b]) {
        await service.app.listen({ port: 0, host: '127.0.0.1' });
        ports.push((service.app.server.address() as AddressInfo).port);
      }
      proxy = await startRoundRobin(ports);
    });
    afterAll(async () => {
      await proxy?.close();
      await b?.close();
      await a?.close();
      await twilio?.close();
    });

    it('stores each event once and runs the composition once, whichever instance gets what', async () => {
      const { tenantId } = await a.seedTenant('human');
      const { id, roomSid } = await a.seedConsultation(tenantId, { identities: { 'clin-1': 'clinician', 'pat-1': 'patient' } });
      const start = Date.now() - 4 * 60_000;
      let sequence = 0;
      const event = (StatusCallbackEvent: string, seconds: number, extra: Record<string, string> = {}) => ({
        AccountSid: a.accountSid,
        RoomSid: roomSid,
        RoomName: 'rg-room',
        RoomStatus: StatusCallbackEvent === 'room-ended' ? 'completed' : 'in-progress',
        RoomType: 'group',
        StatusCallbackEvent,
        Timestamp: new Date(start + seconds * 1000).toISOString(),
        SequenceNumber: String(sequence++),
        ...extra,
      });
      const clin = { ParticipantSid: `PA${hex(16)}`, ParticipantIdentity: 'clin-1' };
      const pat = { ParticipantSid: `PA${hex(16)}`, ParticipantIdentity: 'pat-1' };
      const recording = { RecordingSid: `RT${hex(16)}`, TrackName: 'audio' };
      const callbacks = [
        event('room-created', 0),
        event('participant-connected', 1, { ...clin, ParticipantStatus: 'connected' }),
        event('participant-connected', 20, { ...pat, ParticipantStatus: 'connected' }),
        event('recording-started', 21, { ...clin, ...recording }),
        event('participant-disconnected', 140, { ...pat, ParticipantStatus: 'disconnected' }),
        event('participant-disconnected', 150, { ...clin, ParticipantStatus: 'disconnected' }),
        event('recording-completed', 151, { ...clin, ...recording, Duration: '130', Size: '1000' }),
        event('room-ended', 152, { RoomDuration: '152' }),
      ];

      for (const params of callbacks) {
        const statuses = await Promise.all([
          post(ports[0]!, a.authToken, params),
          post(ports[1]!, a.authToken, params),
          post(proxy.port, a.authToken, params),
        ]);
        expect(statuses).toEqual([204, 204, 204]);
      }
      expect(proxy.connections.every((count) => count > 0)).toBe(true);

      // Wait for the outbox entry to be done, then a while longer: a second run would show.
      const deadline = Date.now() + 15_000;
      for (;;) {
        const entries = await a.store.db.selectFrom('outbox').select('status').where('kind', '=', 'request-composition').execute();
        if (entries.length > 0 && entries.every((entry) => entry.status === 'done')) break;
        if (Date.now() > deadline) throw new Error(`outbox not done: ${JSON.stringify(entries)}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      await a.app.roomgate.drain();
      await b.app.roomgate.drain();

      const rows = await a.store.db.selectFrom('callbacks').select(['event_type', 'status']).where('room_sid', '=', roomSid).execute();
      expect(rows.length).toBe(callbacks.length);
      expect(rows.every((row) => row.status === 'accepted')).toBe(true);
      const billing = await a.store.db
        .selectFrom('billing_records')
        .select(['billable_seconds'])
        .where('consultation_id', '=', id)
        .execute();
      expect(billing).toEqual([{ billable_seconds: 120 }]);
      const outbox = await a.store.db.selectFrom('outbox').select(['kind', 'status', 'attempts']).execute();
      expect(outbox).toEqual([{ kind: 'request-composition', status: 'done', attempts: 1 }]);
      expect(twilio.created.get(roomSid)).toBe(1);
      expect(twilio.requests.filter((request) => request.method === 'POST' && request.path === '/v1/Compositions')).toHaveLength(1);
      const consultation = await a.store.db.selectFrom('consultations').select('status').where('id', '=', id).executeTakeFirstOrThrow();
      expect(consultation.status).toBe('completed');
      const compositions = await a.store.db
        .selectFrom('compositions')
        .select(['status', 'attempts'])
        .where('consultation_id', '=', id)
        .execute();
      expect(compositions).toEqual([{ status: 'enqueued', attempts: 1 }]);
    });
  });
}
