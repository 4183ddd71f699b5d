/**
 * Resumable streams from the tenant event log, on every engine, across two instances that share
 * nothing but the database (each has only in-process live events, so instance B learns of A's
 * changes from the log alone): an SSE client that disconnects while 100 events happen and comes
 * back with its last id gets exactly those, in order; `?after=` on SSE and WebSocket and the JSON
 * page show the same events; another tenant sees none of them.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLocalLiveEvents } from '../../src/service/live/live-events.js';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { openSse } from '../support/live-clients.js';
import { startTestService, type TestService } from '../support/test-service.js';

interface StreamedEvent {
  id: string;
  sequence: number;
  type: string;
  consultationId: string;
  data: Record<string, unknown>;
}

/** An SSE client: every event that came with an `id:` line, as the tenant event it carries. */
async function openEventStream(url: string, key: string, lastEventId?: string) {
  const client = await openSse(url, key, lastEventId);
  return {
    status: client.status,
    close: client.close,
    get events() {
      return client.events.flatMap((e) => (e.id === undefined ? [] : [{ ...(e.data as StreamedEvent), sseId: e.id, sseEvent: e.event }]));
    },
  };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

for (const engine of enginesUnderTest()) {
  describe(`event log streams on ${engine.name}`, () => {
    let a: TestService;
    let b: TestService;
    let baseB: string;
    let participant = 0;
    const startedAt = Date.now() - 5000;

    beforeAll(async () => {
      const database = await engine.createTestDatabase();
      a = await startTestService(engine, { database, app: { live: createLocalLiveEvents() } });
      b = await startTestService(engine, {
        database,
        app: { live: createLocalLiveEvents() },
        env: { TWILIO_ACCOUNT_SID: a.accountSid, TWILIO_AUTH_TOKEN: a.authToken },
      });
      await b.app.listen({ port: 0, host: '127.0.0.1' });
      baseB = `http://127.0.0.1:${(b.app.server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await a?.app.close();
      await a?.store.close();
      await b?.close();
      await a?.database.drop();
    });

    /** A participant connecting, recorded on instance A: one participant.joined (and the first a status change). */
    const connect = async (roomSid: string) => {
      participant += 1;
      const signed = signForm('http://localhost:80/webhooks/twilio/video', a.authToken, {
        AccountSid: a.accountSid,
        RoomSid: roomSid,
        RoomName: 'r',
        RoomStatus: 'in-progress',
        RoomType: 'group',
        StatusCallbackEvent: 'participant-connected',
        ParticipantSid: `PA${String(participant).padStart(32, '0')}`,
        ParticipantIdentity: 'clin-1',
        ParticipantStatus: 'connected',
        Timestamp: new Date(startedAt + participant * 10).toISOString(),
        SequenceNumber: String(participant),
      });
      const answer = await a.app.inject({ method: 'POST', url: '/webhooks/twilio/video', headers: signed.headers, payload: signed.body });
      expect(answer.statusCode).toBe(204);
    };
    const page = async (key: string, after: number, limit = 500) => {
      const answer = await b.app.inject({
        method: 'GET',
        url: `/v1/events?after=${after}&limit=${limit}`,
        headers: { authorization: `Bearer ${key}`, accept: 'application/json' },
      });
      expect(answer.statusCode).toBe(200);
      return answer.json<{ data: StreamedEvent[]; lastSequence: number }>();
    };

    it('resumes an SSE client after 100 missed events with exactly those, on another instance; WebSocket and JSON show the same', async () => {
      const owner = await a.seedTenant('human', ['events:read']);
      const stranger = await a.seedTenant('human', ['events:read']);
      const { roomSid, id } = await a.seedConsultation(owner.tenantId, { identities: { 'clin-1': 'clinician' } });

      const first = await openEventStream(`${baseB}/v1/events`, owner.key);
      expect(first.status).toBe(200);
      await connect(roomSid);
      await until('the first events on instance B', () => first.events.some((event) => event.type === 'participant.joined'));
      await first.close();
      const last = first.events.at(-1)!;
      expect(last.sseId).toBe(String(last.sequence));
      expect(first.events.map((event) => event.sequence)).toEqual(first.events.map((_, index) => index + 1));
      expect(last).toMatchObject({ consultationId: id, data: { identity: 'clin-1', role: 'clinician' } });

      // While the client is away: 100 events.
      for (let i = 0; i < 100; i++) await connect(roomSid);
      await until('the 100 events in the log', async () => (await page(owner.key, last.sequence)).data.length >= 100);
      const missed = (await page(owner.key, last.sequence)).data;
      expect(missed).toHaveLength(100);

      const resumed = await openEventStream(`${baseB}/v1/events`, owner.key, last.sseId);
      await until('the resumed stream', () => resumed.events.length >= 100);
      const byAfter = await openEventStream(`${baseB}/v1/events?after=${last.sequence}`, owner.key);
      const ws = new WebSocket(`${baseB.replace('http', 'ws')}/v1/events/ws?after=${last.sequence}`, {
        headers: { authorization: `Bearer ${owner.key}` },
      });
      const wsEvents: StreamedEvent[] = [];
      ws.on('message', (data) => wsEvents.push(JSON.parse(String(data)) as StreamedEvent));
      await until('the WebSocket and ?after= streams', () => wsEvents.length >= 100 && byAfter.events.length >= 100);
      // One more, live, reaches all three once.
      await connect(roomSid);
      await until('the live event', () => resumed.events.length >= 101 && byAfter.events.length >= 101 && wsEvents.length >= 101);

      const all = (await page(owner.key, last.sequence)).data;
      expect(all).toHaveLength(101);
      const strip = ({ id: eventId, sequence, type, consultationId, data }: StreamedEvent) => ({
        id: eventId,
        sequence,
        type,
        consultationId,
        data,
      });
      expect(resumed.events.map(strip)).toEqual(all.map(strip));
      expect(resumed.events.map((event) => event.sseId)).toEqual(all.map((event) => String(event.sequence)));
      expect(byAfter.events.map(strip)).toEqual(all.map(strip));
      expect(wsEvents.map(strip)).toEqual(all.map(strip));
      expect(all.map((event) => event.sequence)).toEqual(all.map((_, index) => last.sequence + 1 + index));

      // The stranger's log is empty; paging by limit walks the owner's log in order.
      expect((await page(stranger.key, 0)).data).toEqual([]);
      const firstPage = await page(owner.key, 0, 40);
      const secondPage = await page(owner.key, firstPage.lastSequence, 40);
      expect([...firstPage.data, ...secondPage.data].map((event) => event.sequence)).toEqual(
        Array.from({ length: 80 }, (_, index) => index + 1),
      );

      ws.close();
      await resumed.close();
      await byAfter.close();
    });
  });
}
