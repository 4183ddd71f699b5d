/**
 * The projection in its worker thread (ROOMGATE_PROJECTION_THREAD=on, serve's default): it folds
 * through its own connection; a thread that dies is logged, counted and started again, and what
 * arrived meanwhile is folded by the new one; closing the app drains it — every callback
 * acknowledged before the close is folded when close() returns.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/storage/open-store.js';
import { listOutboxEntries } from '../../src/storage/outbox-repository.js';
import { ProjectionThread } from '../../src/service/consultations/projection-thread.js';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { startTestService, type TestService } from '../support/test-service.js';

const PATH = '/webhooks/twilio/video';

for (const engine of enginesUnderTest()) {
  describe(`the projection thread, on ${engine.name}`, () => {
    let service: TestService | undefined;
    afterEach(async () => {
      await service?.close();
      service = undefined;
    });

    const start = async (env: Record<string, string> = {}, withOutbox = false) => {
      const database = await engine.createTestDatabase();
      service = await startTestService(engine, {
        database,
        env,
        // As serve runs it: on SQLite the HTTP thread's statements on a thread of their own too.
        sqliteThread: true,
        app: { projectionThread: { databaseUrl: database.url, store: {}, restartDelayMs: 50 }, outboxWorker: withOutbox },
      });
      return { s: service, database };
    };

    const callback = (s: TestService, roomSid: string, event: string, secondsAgo: number, extra: Record<string, string> = {}) => {
      const signed = signForm(`http://localhost:80${PATH}`, s.authToken, {
        AccountSid: s.accountSid,
        RoomSid: roomSid,
        RoomName: 'r',
        RoomStatus: event === 'room-ended' ? 'completed' : 'in-progress',
        RoomType: 'group',
        StatusCallbackEvent: event,
        Timestamp: new Date(Date.now() - secondsAgo * 1000).toISOString(),
        SequenceNumber: '0',
        ...extra,
      });
      return s.app.inject({ method: 'POST', url: PATH, headers: signed.headers, payload: signed.body }).then((r) => r.statusCode);
    };
    const joined = (identity: string, sid: string) => ({
      ParticipantSid: sid,
      ParticipantIdentity: identity,
      ParticipantStatus: 'connected',
    });
    const status = async (s: TestService, id: string) =>
      (await s.store.db.selectFrom('consultations').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;

    it('folds in its own thread; a dead thread is logged, counted and started again, and loses nothing', async () => {
      const { s } = await start();
      const projection = s.app.roomgate.projection;
      expect(projection).toBeInstanceOf(ProjectionThread);
      const thread = projection as ProjectionThread;
      const firstThread = thread.threadId;
      expect(firstThread).toBeGreaterThan(0);

      const { tenantId } = await s.seedTenant();
      const room = await s.seedConsultation(tenantId, { record: false, identities: { 'clinician-1': 'clinician' } });
      expect(await callback(s, room.roomSid, 'room-created', 60)).toBe(204);
      await s.app.roomgate.drain();
      expect(await status(s, room.id)).toBe('waiting');

      await thread.kill();
      // Acknowledged while no thread runs: handed to the next one (or found by its sweep).
      expect(await callback(s, room.roomSid, 'participant-connected', 50, joined('clinician-1', `PA${'1'.repeat(32)}`))).toBe(204);
      await s.app.roomgate.drain(); // waits for the new thread to have folded it
      const sessions = await s.store.db
        .selectFrom('participant_sessions')
        .select('identity')
        .where('consultation_id', '=', room.id)
        .execute();
      expect(sessions).toEqual([{ identity: 'clinician-1' }]);
      expect(thread.threadId).toBeGreaterThan(0);
      expect(thread.threadId).not.toBe(firstThread);
      expect(s.logs()).toContain('projection thread ended unexpectedly; starting it again');
      expect(await s.metricsText()).toMatch(/^roomgate_projection_thread_restarts_total 1$/m);

      expect(await callback(s, room.roomSid, 'room-ended', 10)).toBe(204);
      await s.app.roomgate.drain();
      expect(await status(s, room.id)).toBe('no-show'); // the patient never came: folded by the new thread
    }, 60_000);

    it('killed while callbacks are in flight: each answer is 204 or 503, and the retries store every callback once', async () => {
      const { s } = await start();
      const thread = s.app.roomgate.projection as ProjectionThread;
      const { tenantId } = await s.seedTenant();
      const rooms = await Promise.all(Array.from({ length: 10 }, () => s.seedConsultation(tenantId, { record: false })));
      const send = () =>
        Promise.all(rooms.flatMap((room) => [callback(s, room.roomSid, 'room-created', 60), callback(s, room.roomSid, 'room-ended', 30)]));

      const inFlight = send();
      await new Promise((resolve) => setImmediate(resolve));
      await thread.kill();
      const first = await inFlight;
      // Either committed (204) or not known to be (503, Twilio retries): nothing else.
      expect(first.filter((code) => code !== 204 && code !== 503)).toEqual([]);

      // Twilio's retries (and the copies of what was acknowledged): every one 204, whoever commits it.
      expect((await send()).every((code) => code === 204)).toBe(true);
      await s.app.roomgate.drain();
      const stored = await s.store.db
        .selectFrom('callbacks')
        .select(['room_sid', 'event_type'])
        .where(
          'room_sid',
          'in',
          rooms.map((room) => room.roomSid),
        )
        .execute();
      expect(stored).toHaveLength(rooms.length * 2); // each callback once
      for (const room of rooms) expect(await status(s, room.id)).toBe('no-show'); // and folded
      expect(s.logs()).not.toMatch(/unhandled error/);
    }, 60_000);

    it('runs the outbox beside the folds: the composition names the service’s callback URL, and a refusal is an alert here', async () => {
      // Twilio, as far as compositions go: no composition yet for the room, and a refusal (400).
      const requests: { method: string; url: string; body: string }[] = [];
      const twilio = createServer((request, response) => {
        let body = '';
        request.on('data', (chunk: Buffer) => (body += chunk.toString()));
        request.on('end', () => {
          requests.push({ method: request.method!, url: request.url!, body });
          response.setHeader('content-type', 'application/json');
          if (request.method === 'GET') response.end(JSON.stringify({ compositions: [] }));
          else response.writeHead(400).end(JSON.stringify({ code: 53100, message: 'refused by the test' }));
        });
      });
      await new Promise<void>((resolve) => twilio.listen(0, '127.0.0.1', resolve));
      try {
        const { s } = await start(
          {
            TWILIO_API_BASE_URL: `http://127.0.0.1:${(twilio.address() as AddressInfo).port}`,
            TWILIO_API_KEY_SID: `SK${'0'.repeat(32)}`,
            TWILIO_API_KEY_SECRET: 'test-secret',
          },
          true,
        );
        const { tenantId } = await s.seedTenant();
        const room = await s.seedConsultation(tenantId, { identities: { 'clinician-1': 'clinician' } });
        const participant = joined('clinician-1', `PA${'2'.repeat(32)}`);
        const recording = { ...participant, RecordingSid: `RT${'3'.repeat(32)}`, TrackName: 'audio' };
        for (const [event, secondsAgo, extra] of [
          ['room-created', 60, {}],
          ['participant-connected', 59, participant],
          ['recording-started', 58, recording],
          ['recording-completed', 31, { ...recording, Duration: '27', Size: '1000' }],
          ['room-ended', 30, { RoomDuration: '30' }],
        ] as const) {
          expect(await callback(s, room.roomSid, event, secondsAgo, extra)).toBe(204);
        }

        // Until the entry failed and the thread's log line of it arrived here: the alert, posted
        // before that line, has then been counted on this thread too (messages keep their order).
        const failedForGood = /"thread":"projection".*"outbox entry failed for good"/;
        for (const deadline = Date.now() + 20_000; ; await new Promise((resolve) => setTimeout(resolve, 50))) {
          const [entry] = await listOutboxEntries(s.store.db, { kind: 'request-composition' });
          if (entry?.status === 'failed' && failedForGood.test(s.logs())) break;
          if (Date.now() > deadline) throw new Error(`the composition entry did not fail: ${JSON.stringify(entry)}\n${s.logs()}`);
        }
        const asked = requests.find((request) => request.method === 'POST');
        expect(asked?.url).toBe('/v1/Compositions');
        expect(new URLSearchParams(asked!.body).get('StatusCallback')).toMatch(/^http:\/\/.+\/webhooks\/twilio\/video$/);
        // Raised in the record thread, counted and logged by this one.
        expect(await s.metricsText()).toMatch(/^roomgate_alerts_total\{kind="outbox-failed"\} 1$/m);
        expect(s.logs()).toMatch(failedForGood);
      } finally {
        await new Promise((resolve) => twilio.close(resolve));
      }
    }, 60_000);

    it('drains on close: every callback acknowledged before close() is folded when it returns', async () => {
      const { s, database } = await start();
      const { tenantId } = await s.seedTenant();
      const rooms = await Promise.all(Array.from({ length: 8 }, () => s.seedConsultation(tenantId, { record: false })));
      const answers = await Promise.all(
        rooms.flatMap((room) => [callback(s, room.roomSid, 'room-created', 60), callback(s, room.roomSid, 'room-ended', 30)]),
      );
      expect(answers.every((code) => code === 204)).toBe(true);
      // No drain(): close() itself must finish the folds the thread was handed.
      await s.close();
      service = undefined;

      const store = await openStore(database.url);
      try {
        const rows = await store.db.selectFrom('consultations').select(['id', 'status']).execute();
        expect(rows.filter((row) => rooms.some((room) => room.id === row.id)).map((row) => row.status)).toEqual(rooms.map(() => 'no-show')); // ended with nobody in it: folded
        const unfolded = await store.db
          .selectFrom('callbacks')
          .select('id')
          .where('status', '=', 'accepted')
          .where('processed_at', 'is', null)
          .execute();
        expect(unfolded).toEqual([]);
      } finally {
        await store.close();
        await database.drop();
      }
    }, 60_000);
  });
}
