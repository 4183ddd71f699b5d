/**
 * Live events: a change recorded on one instance reaches the tenant's SSE and WebSocket
 * subscribers on another instance (PostgreSQL LISTEN/NOTIFY), and never another tenant's.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createPostgresLiveEvents } from '../../src/service/live/live-events.js';
import { createLogger } from '../../src/service/logger.js';
import { enginesUnderTest } from '../support/engines.js';
import { openSse } from '../support/live-clients.js';
import { signForm } from '../support/signed-callback.js';
import { startTestService, type TestService } from '../support/test-service.js';

const postgres = enginesUnderTest().find((engine) => engine.name === 'postgres');

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for live events');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.runIf(postgres)('live events across two instances on postgres', () => {
  let a: TestService;
  let b: TestService;
  let baseB: string;
  let closeLive = async () => undefined as unknown;

  beforeAll(async () => {
    const logger = createLogger({ level: 'silent' });
    const database = await postgres!.createTestDatabase();
    const liveA = await createPostgresLiveEvents({ connectionString: database.url, logger });
    const liveB = await createPostgresLiveEvents({ connectionString: database.url, logger });
    a = await startTestService(postgres!, { database, app: { live: liveA } });
    b = await startTestService(postgres!, {
      database,
      app: { live: liveB },
      env: { TWILIO_ACCOUNT_SID: a.accountSid, TWILIO_AUTH_TOKEN: a.authToken },
    });
    closeLive = async () => (await liveA.close(), await liveB.close());
    await b.app.listen({ port: 0, host: '127.0.0.1' });
    baseB = `http://127.0.0.1:${(b.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await a?.app.close();
    await a?.store.close();
    await b?.close();
    await closeLive();
    await a?.database.drop();
  });

  it('delivers a participant joining, recorded on instance A, to SSE and WebSocket subscribers on instance B — and not to another tenant', async () => {
    const owner = await a.seedTenant('human', ['events:read']);
    const stranger = await a.seedTenant('human', ['events:read']);
    const { roomSid, id } = await a.seedConsultation(owner.tenantId, { identities: { 'clin-1': 'clinician' } });

    const sse = await openSse(`${baseB}/v1/events`, owner.key);
    const strangerSse = await openSse(`${baseB}/v1/events`, stranger.key);
    expect(sse.status).toBe(200);
    expect(sse.contentType).toMatch(/^text\/event-stream/);
    const ws = new WebSocket(`${baseB.replace('http', 'ws')}/v1/events/ws`, { headers: { authorization: `Bearer ${owner.key}` } });
    const wsMessages: { type: string }[] = [];
    ws.on('message', (data) => wsMessages.push(JSON.parse(String(data)) as { type: string }));
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));

    const signed = signForm('http://localhost:80/webhooks/twilio/video', a.authToken, {
      AccountSid: a.accountSid,
      RoomSid: roomSid,
      RoomName: 'r',
      RoomStatus: 'in-progress',
      RoomType: 'group',
      StatusCallbackEvent: 'participant-connected',
      ParticipantSid: `PA${'1'.repeat(32)}`,
      ParticipantIdentity: 'clin-1',
      ParticipantStatus: 'connected',
      Timestamp: new Date().toISOString(),
      SequenceNumber: '1',
    });
    expect(
      (await a.app.inject({ method: 'POST', url: '/webhooks/twilio/video', headers: signed.headers, payload: signed.body })).statusCode,
    ).toBe(204);

    await until(() => sse.events.some((e) => e.event === 'participant.joined') && wsMessages.some((m) => m.type === 'participant.joined'));
    expect(sse.events.find((e) => e.event === 'participant.joined')!.data).toMatchObject({
      consultationId: id,
      data: { identity: 'clin-1', role: 'clinician' },
    });
    expect(sse.events.map((e) => e.event)).toContain('consultation.status');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(strangerSse.events).toEqual([]);

    ws.close();
    await sse.close();
    await strangerSse.close();
  });

  it('refuses a WebSocket without a valid key', async () => {
    const ws = new WebSocket(`${baseB.replace('http', 'ws')}/v1/events/ws`);
    const status = await new Promise<number>((resolve) =>
      ws.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0)),
    );
    expect(status).toBe(401);
  });
});
