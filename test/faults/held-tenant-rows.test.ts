/**
 * A dead host's open transaction holds a row that is not a consultation's but a tenant's — its
 * event log counter (every fold of the tenant that logs an event updates it) or its billing
 * chain head (every billing version of the tenant appends to it) — until the server ends the
 * session. Held row locks concern the rows touched, not the store: the other tenants'
 * consultations must still be folded meanwhile, also when they are folded in the same moment as
 * the held tenant's; the held tenant's are folded once the row is free; every callback answered
 * 204 is stored once and folded once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/storage/open-store.js';
import type { Store } from '../../src/storage/store.js';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { randomHex, startTestService, type TestService } from '../support/test-service.js';
import { eventually } from './support/eventually.js';

const PATH = '/webhooks/twilio/video';
const servers = enginesUnderTest().filter((engine) => engine.server);

for (const engine of servers) {
  describe(`a tenant's row held by a dead host on ${engine.name}`, () => {
    let service: TestService;

    beforeAll(async () => {
      service = await startTestService(engine, {
        env: { ROOMGATE_COMMIT_DEADLINE: '3s', ROOMGATE_DB_LOCK_TIMEOUT: '1s' },
      });
    });
    afterAll(async () => {
      await service?.close();
    });

    const event = (roomSid: string, StatusCallbackEvent: string, secondsAgo: number, extra: Record<string, string> = {}) => ({
      AccountSid: service.accountSid,
      RoomSid: roomSid,
      RoomName: 'rg-room',
      RoomStatus: StatusCallbackEvent === 'room-ended' ? 'completed' : 'in-progress',
      RoomType: 'group',
      StatusCallbackEvent,
      Timestamp: new Date(Date.now() - secondsAgo * 1000).toISOString(),
      SequenceNumber: '0',
      ...extra,
    });
    const send = async (params: Record<string, string>) => {
      const signed = signForm(`http://localhost:80${PATH}`, service.authToken, params);
      return (await service.app.inject({ method: 'POST', url: PATH, headers: signed.headers, payload: signed.body })).statusCode;
    };
    const status = async (id: string) =>
      (await service.store.db.selectFrom('consultations').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;
    /** A consultation that ends: joined, left, room ended (a status move, events, a billing record). */
    const whole = (roomSid: string) => {
      const clin = { ParticipantSid: `PA${randomHex(16)}`, ParticipantIdentity: 'clin', ParticipantStatus: 'connected' };
      const pat = { ParticipantSid: `PA${randomHex(16)}`, ParticipantIdentity: 'pat', ParticipantStatus: 'connected' };
      return [
        event(roomSid, 'participant-connected', 90, clin),
        event(roomSid, 'participant-connected', 89, pat),
        event(roomSid, 'participant-disconnected', 30, { ...pat, ParticipantStatus: 'disconnected' }),
        event(roomSid, 'participant-disconnected', 29, { ...clin, ParticipantStatus: 'disconnected' }),
        event(roomSid, 'room-ended', 28, { RoomDuration: '62' }),
      ];
    };

    const holds = {
      'event log counter': async (trx: Parameters<Parameters<Store['transaction']>[0]>[0], tenantId: string) => {
        const rows = await trx
          .selectFrom('tenant_event_counters')
          .select('tenant_id')
          .where('tenant_id', '=', tenantId)
          .forUpdate()
          .execute();
        expect(rows).toHaveLength(1);
      },
      'billing chain head': async (trx: Parameters<Parameters<Store['transaction']>[0]>[0], tenantId: string) => {
        const rows = await trx
          .selectFrom('billing_chain_heads')
          .select('tenant_id')
          .where('tenant_id', '=', tenantId)
          .forUpdate()
          .execute();
        expect(rows).toHaveLength(1);
      },
    } as const;

    for (const [name, hold] of Object.entries(holds)) {
      it(`folds the other tenants' consultations while a dead host holds one tenant's ${name}`, async () => {
        const held = await service.seedTenant();
        const free = await service.seedTenant();
        const identities = { clin: 'clinician', pat: 'patient' };
        // The held tenant has logged and billed before: its rows exist.
        const warm = await service.seedConsultation(held.tenantId, { record: false, identities });
        for (const params of whole(warm.roomSid)) expect(await send(params)).toBe(204);
        await service.app.roomgate.drain();
        expect(await status(warm.id)).toBe('completed');

        const heldConsultation = await service.seedConsultation(held.tenantId, { record: false, identities });
        const freeConsultations = await Promise.all(
          Array.from({ length: 3 }, () => service.seedConsultation(free.tenantId, { record: false, identities })),
        );

        const other = await openStore(service.database.url);
        let release!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        let holding!: () => void;
        const holdingNow = new Promise<void>((resolve) => (holding = resolve));
        const transaction = other
          .transaction(async (trx) => {
            await hold(trx, held.tenantId);
            holding();
            await released;
            throw new Error('the host died: nothing of this transaction remains');
          })
          .catch(() => undefined);
        await holdingNow;
        const stranger = event(heldConsultation.roomSid, 'participant-connected', 80, {
          ParticipantSid: `PA${randomHex(16)}`,
          ParticipantIdentity: 'never-issued',
          ParticipantStatus: 'connected',
        });
        try {
          // The held tenant's callbacks and the free tenant's arrive together (one fold batch).
          const rounds = [heldConsultation, ...freeConsultations].map((consultation) => whole(consultation.roomSid));
          for (let step = 0; step < rounds[0]!.length; step += 1) {
            const answers = await Promise.all(rounds.map((round) => send(round[step]!)));
            expect(answers).toEqual(answers.map(() => 204));
          }
          // A quarantined callback of the held tenant is logged in its inbox transaction: with the
          // counter held it alone waits and gets 503 (Twilio retries it); the others' are stored.
          const together = await Promise.all([
            send(stranger),
            ...freeConsultations.map((consultation) =>
              send(
                event(consultation.roomSid, 'track-enabled', 50, {
                  ParticipantSid: `PA${randomHex(16)}`,
                  ParticipantIdentity: 'clin',
                  TrackSid: `MT${randomHex(16)}`,
                }),
              ),
            ),
          ]);
          expect(together).toEqual([name === 'event log counter' ? 503 : 204, 204, 204, 204]);
          const started = Date.now();
          await eventually(
            "the free tenant's consultations folded while the other's row is held",
            async () => {
              const statuses = await Promise.all(freeConsultations.map((consultation) => status(consultation.id)));
              return statuses.every((value) => value === 'completed') ? true : undefined;
            },
            6_000,
          );
          console.log(`[faults] ${engine.name}: ${name} held → the other tenant folded after ${Date.now() - started} ms`);
        } finally {
          release();
          await transaction;
          await other.close();
        }
        expect(await send(stranger)).toBe(204);
        await eventually('the held tenant folded once its row is free', async () =>
          (await status(heldConsultation.id)) === 'completed' ? true : undefined,
        );
        const billing = await service.store.db
          .selectFrom('billing_record_versions')
          .select('version')
          .where('consultation_id', '=', heldConsultation.id)
          .execute();
        expect(billing).toHaveLength(1);
        expect((await service.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      }, 60_000);
    }
  });
}
