/**
 * Two instances on one PostgreSQL or MariaDB database receive DIFFERENT events of the same
 * rooms at the same moment (Twilio spreads a room's callbacks over a load balancer). Each
 * instance's transaction cannot see the other's uncommitted callbacks; the record must still be
 * computed from all of them — every consultation ends with the right sessions and billing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { startTestService, type TestService } from '../support/test-service.js';

const PATH = '/webhooks/twilio/video';
const PA1 = `PA${'1'.repeat(32)}`;
const PA2 = `PA${'2'.repeat(32)}`;

for (const engine of enginesUnderTest().filter((candidate) => candidate.name !== 'sqlite')) {
  describe(`two instances, interleaved events, on ${engine.name}`, () => {
    let a: TestService;
    let b: TestService;

    beforeAll(async () => {
      a = await startTestService(engine);
      b = await startTestService(engine, {
        database: a.database,
        env: { TWILIO_ACCOUNT_SID: a.accountSid, TWILIO_AUTH_TOKEN: a.authToken },
      });
    });
    afterAll(async () => {
      await b?.app.close();
      await b?.store.close();
      await a?.close();
    });

    it('computes every record from all events, whichever instance stored them', async () => {
      const { tenantId } = await a.seedTenant();
      const t0 = Date.now() - 10 * 60_000;
      const at = (seconds: number) => new Date(t0 + seconds * 1000).toISOString();
      const rooms = await Promise.all(
        Array.from({ length: 12 }, () =>
          a.seedConsultation(tenantId, { record: false, identities: { 'clin-1': 'clinician', 'pt-1': 'patient' } }),
        ),
      );
      const deliveries = rooms.flatMap(({ roomSid }) => {
        const base = { AccountSid: a.accountSid, RoomSid: roomSid, RoomName: 'r', RoomStatus: 'in-progress', RoomType: 'group' };
        const participant = (event: string, sid: string, identity: string, seconds: number, sequence: number) => ({
          ...base,
          StatusCallbackEvent: event,
          ParticipantSid: sid,
          ParticipantIdentity: identity,
          ParticipantStatus: event === 'participant-connected' ? 'connected' : 'disconnected',
          Timestamp: at(seconds),
          SequenceNumber: String(sequence),
        });
        return [
          { ...base, StatusCallbackEvent: 'room-created', Timestamp: at(0), SequenceNumber: '0' },
          participant('participant-connected', PA1, 'clin-1', 10, 1),
          participant('participant-connected', PA2, 'pt-1', 70, 2),
          participant('participant-disconnected', PA2, 'pt-1', 610, 3),
          participant('participant-disconnected', PA1, 'clin-1', 700, 4),
          {
            ...base,
            RoomStatus: 'completed',
            StatusCallbackEvent: 'room-ended',
            Timestamp: at(720),
            SequenceNumber: '5',
            RoomDuration: '720',
          },
        ];
      });
      // Every room's events alternate between the two instances, all sent at once.
      const answers = await Promise.all(
        deliveries.map((params, index) => {
          const target = index % 2 === 0 ? a : b;
          const signed = signForm(`http://localhost:80${PATH}`, a.authToken, params);
          return target.app
            .inject({ method: 'POST', url: PATH, headers: signed.headers, payload: signed.body })
            .then((response) => response.statusCode);
        }),
      );
      // A lock wait may end in a deadlock abort on one side: that answer is a 503 and Twilio
      // retries; resend those until stored, as Twilio would.
      for (let round = 0; answers.some((status) => status !== 204) && round < 5; round++) {
        await Promise.all(
          answers.map(async (status, index) => {
            if (status === 204) return;
            const signed = signForm(`http://localhost:80${PATH}`, a.authToken, deliveries[index]!);
            answers[index] = (await a.app.inject({ method: 'POST', url: PATH, headers: signed.headers, payload: signed.body })).statusCode;
          }),
        );
      }
      expect(answers.every((status) => status === 204)).toBe(true);
      await Promise.all([a.app.roomgate.drain(), b.app.roomgate.drain()]);

      for (const { id } of rooms) {
        const consultation = await a.store.db
          .selectFrom('consultations')
          .select(['status', 'started_at', 'ended_at'])
          .where('id', '=', id)
          .executeTakeFirstOrThrow();
        expect(consultation).toEqual({ status: 'completed', started_at: at(70), ended_at: at(720) });
        const sessions = await a.store.db
          .selectFrom('participant_sessions')
          .select(['identity', 'connected_at', 'disconnected_at'])
          .where('consultation_id', '=', id)
          .orderBy('identity')
          .execute();
        expect(sessions).toEqual([
          { identity: 'clin-1', connected_at: at(10), disconnected_at: at(700) },
          { identity: 'pt-1', connected_at: at(70), disconnected_at: at(610) },
        ]);
        const billing = await a.store.db
          .selectFrom('billing_records')
          .select(['billable_seconds'])
          .where('consultation_id', '=', id)
          .execute();
        expect(billing).toEqual([{ billable_seconds: 540 }]);
      }
    });
  });
}
