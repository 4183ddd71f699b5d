/**
 * A dead host's open transaction holds one outbox entry's row (it died while marking it, say)
 * until the server ends its session. The outbox worker's claims are compare-and-set UPDATEs: one
 * waiting on that row must not hold back the other entries — the other consultations'
 * compositions are requested meanwhile, each once; the held entry runs once its row is free.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueOutboxEntry } from '../../src/storage/outbox-repository.js';
import { openStore } from '../../src/storage/open-store.js';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { startFakeTwilio, type FakeTwilio } from '../support/spawn-service.js';
import { randomHex, startTestService, type TestService } from '../support/test-service.js';
import { eventually } from './support/eventually.js';

const PATH = '/webhooks/twilio/video';
const servers = enginesUnderTest().filter((engine) => engine.server);

for (const engine of servers) {
  describe(`an outbox row held by a dead host on ${engine.name}`, () => {
    let twilio: FakeTwilio;
    let service: TestService;

    beforeAll(async () => {
      twilio = await startFakeTwilio();
      service = await startTestService(engine, {
        env: { TWILIO_API_BASE_URL: twilio.url, ROOMGATE_COMMIT_DEADLINE: '3s', ROOMGATE_DB_LOCK_TIMEOUT: '1s' },
        app: { outboxWorker: true, outboxPollIntervalMs: 200 },
      });
    });
    afterAll(async () => {
      await service?.close();
      await twilio?.close();
    });

    const recorded = (roomSid: string) => {
      const start = Date.now() - 120_000;
      let sequence = 0;
      const participant = { ParticipantSid: `PA${randomHex(16)}`, ParticipantIdentity: 'clin', ParticipantStatus: 'connected' };
      const recording = { ...participant, RecordingSid: `RT${randomHex(16)}`, TrackName: 'audio' };
      const event = (StatusCallbackEvent: string, seconds: number, extra: Record<string, string> = {}) => ({
        AccountSid: service.accountSid,
        RoomSid: roomSid,
        RoomName: 'room',
        RoomStatus: StatusCallbackEvent === 'room-ended' ? 'completed' : 'in-progress',
        RoomType: 'group',
        StatusCallbackEvent,
        Timestamp: new Date(start + seconds * 1000).toISOString(),
        SequenceNumber: String(sequence++),
        ...extra,
      });
      return [
        event('room-created', 0),
        event('participant-connected', 1, participant),
        event('recording-started', 2, recording),
        event('participant-disconnected', 30, { ...participant, ParticipantStatus: 'disconnected' }),
        event('recording-completed', 31, { ...recording, Duration: '29', Size: '1000' }),
        event('room-ended', 32, { RoomDuration: '32' }),
      ];
    };
    const send = async (params: Record<string, string>) => {
      const signed = signForm(`http://localhost:80${PATH}`, service.authToken, params);
      return (await service.app.inject({ method: 'POST', url: PATH, headers: signed.headers, payload: signed.body })).statusCode;
    };

    it("requests the other consultations' compositions while one entry's row is held", async () => {
      const { tenantId } = await service.seedTenant();
      const held = await service.seedConsultation(tenantId, { identities: { clin: 'clinician' } });
      const free = await Promise.all(
        Array.from({ length: 3 }, () => service.seedConsultation(tenantId, { identities: { clin: 'clinician' } })),
      );

      // The held consultation's entry: due in a moment, its row held by the dead host from now on.
      const key = `composition:${held.roomSid}`;
      const dueAt = new Date(Date.now() + 1000).toISOString();
      await enqueueOutboxEntry(service.store.db, {
        kind: 'request-composition',
        key,
        payload: { consultationId: held.id, roomSid: held.roomSid },
        now: new Date().toISOString(),
        nextAttemptAt: dueAt,
      });
      const other = await openStore(service.database.url);
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let holding!: () => void;
      const holdingNow = new Promise<void>((resolve) => (holding = resolve));
      const transaction = other
        .transaction(async (trx) => {
          const rows = await trx.selectFrom('outbox').select('id').where('dedupe_key', '=', key).forUpdate().execute();
          expect(rows).toHaveLength(1);
          holding();
          await released;
          throw new Error('the host died: nothing of this transaction remains');
        })
        .catch(() => undefined);
      await holdingNow;
      try {
        // Due now: the worker's claim meets the held row at every poll from here on.
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(dueAt) - Date.now() + 300)));
        for (const consultation of free) for (const params of recorded(consultation.roomSid)) expect(await send(params)).toBe(204);
        const started = Date.now();
        await eventually(
          "the other consultations' compositions requested while the row is held",
          async () => (free.every((consultation) => twilio.created.get(consultation.roomSid) === 1) ? true : undefined),
          8000,
        );
        console.log(`[faults] ${engine.name}: an outbox row held → the others' compositions requested after ${Date.now() - started} ms`);
        expect(twilio.created.get(held.roomSid)).toBeUndefined();
      } finally {
        release();
        await transaction;
        await other.close();
      }
      await eventually('the held entry done once its row is free', async () => {
        const row = await service.store.db.selectFrom('outbox').select('status').where('dedupe_key', '=', key).executeTakeFirstOrThrow();
        return row.status === 'done' ? true : undefined;
      });
      for (const consultation of [held, ...free]) expect(twilio.created.get(consultation.roomSid), consultation.roomSid).toBe(1);
    }, 60_000);
  });
}
