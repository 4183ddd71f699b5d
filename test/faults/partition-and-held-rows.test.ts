/**
 * Faults between Roomgate and its PostgreSQL / MariaDB server, injected at a TCP proxy the test
 * owns (the shared servers are never touched):
 *
 * - a silent partition (sockets open, no byte passes): callbacks get 503 with Retry-After within
 *   the commit deadline, /readyz says 503, and once the network heals the instance answers 204
 *   again by itself — every acknowledged callback stored exactly once;
 * - another instance's session left open inside a transaction (as a dead host leaves it),
 *   holding a consultation's row and an uncommitted inbox row: this instance keeps acknowledging
 *   the other callbacks (only the one that waits on the held row gets 503) and keeps folding the
 *   other consultations; the held one is folded once its row is free.
 *
 * SQLite has neither a network nor row locks (one writer holds the whole database): its faults
 * are in sqlite-faults.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventDedupeKey } from '../../src/core/consultation/consultation-event.js';
import { newId } from '../../src/storage/ids.js';
import { openStore } from '../../src/storage/open-store.js';
import type { Store } from '../../src/storage/store.js';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { randomHex, startTestService, type TestService } from '../support/test-service.js';
import { eventually } from './support/eventually.js';

const PATH = '/webhooks/twilio/video';
const COMMIT_DEADLINE_MS = 2000;

const servers = enginesUnderTest().filter((engine) => engine.server && engine.viaAddress);

for (const engine of servers) {
  describe(`faults between the service and ${engine.name}`, () => {
    let proxy: TcpProxy;
    let service: TestService;
    let tenantId: string;

    beforeAll(async () => {
      proxy = await startTcpProxy(engine.server!);
      service = await startTestService(engine, {
        storeUrl: (url) => engine.viaAddress!(url, { host: '127.0.0.1', port: proxy.port }),
        env: {
          ROOMGATE_COMMIT_DEADLINE: `${COMMIT_DEADLINE_MS}ms`,
          ROOMGATE_DB_LOCK_TIMEOUT: '1s',
          ROOMGATE_DB_CONNECT_TIMEOUT: '1s',
          ROOMGATE_DB_STATEMENT_TIMEOUT: '5s',
        },
      });
      ({ tenantId } = await service.seedTenant());
    });
    afterAll(async () => {
      proxy?.thaw();
      await service?.close();
      await proxy?.close();
    });

    const event = (
      roomSid: string,
      StatusCallbackEvent: string,
      sequence: number,
      extra: Record<string, string> = {},
    ): Record<string, string> => ({
      AccountSid: service.accountSid,
      RoomSid: roomSid,
      RoomName: 'rg-room',
      RoomStatus: 'in-progress',
      RoomType: 'group',
      StatusCallbackEvent,
      Timestamp: new Date().toISOString(),
      SequenceNumber: String(sequence),
      ...extra,
    });
    const send = async (params: Record<string, string>) => {
      const signed = signForm(`http://localhost:80${PATH}`, service.authToken, params);
      return service.app.inject({ method: 'POST', url: PATH, headers: signed.headers, payload: signed.body });
    };
    const readyz = async () => (await service.app.inject({ method: 'GET', url: '/readyz' })).statusCode;
    const storedKeys = async (roomSid: string) =>
      (await service.store.db.selectFrom('callbacks').select('dedupe_key').where('room_sid', '=', roomSid).execute()).map(
        (row) => row.dedupe_key,
      );

    it('answers 503 within the commit deadline during a silent partition, and recovers by itself after it', async () => {
      const { roomSid } = await service.seedConsultation(tenantId, { identities: { 'clin-1': 'clinician' } });
      const callbacks = Array.from({ length: 6 }, (_, index) =>
        event(roomSid, 'track-added', index, {
          ParticipantSid: `PA${randomHex(16)}`,
          ParticipantIdentity: 'clin-1',
          TrackSid: `MT${randomHex(16)}`,
        }),
      );
      expect((await send(callbacks[0]!)).statusCode).toBe(204);

      proxy.freeze();
      const started = Date.now();
      const during = await Promise.all(callbacks.slice(1, 4).map(send));
      const answeredInMs = Date.now() - started;
      console.log(`[faults] ${engine.name}: partition → 503 after ${answeredInMs} ms (commit deadline ${COMMIT_DEADLINE_MS} ms)`);
      expect(during.map((answer) => answer.statusCode)).toEqual([503, 503, 503]);
      expect(during[0]!.headers['retry-after']).toBe('1');
      expect(during[0]!.json()).toMatchObject({ error: { code: 'STORE_UNAVAILABLE' } });
      // Still partitioned: another callback on the pool's other (silent) connections gets 503 too.
      expect((await send(callbacks[4]!)).statusCode).toBe(503);
      // And readiness says so: its write cannot commit either.
      expect(await readyz()).toBe(503);

      proxy.thaw();
      const healedAt = Date.now();
      // Twilio's retries after the partition: each lands once.
      await eventually('a callback acknowledged after the partition', async () =>
        (await send(callbacks[1]!)).statusCode === 204 ? true : undefined,
      );
      console.log(`[faults] ${engine.name}: first 204 ${Date.now() - healedAt} ms after the partition healed`);
      for (const params of callbacks) expect((await send(params)).statusCode).toBe(204);
      expect(await readyz()).toBe(200);
      const keys = await storedKeys(roomSid);
      expect(keys.sort()).toEqual(callbacks.map(eventDedupeKey).sort()); // each once, none lost
    }, 90_000);

    it('keeps acknowledging and folding while another session holds a consultation row and an inbox row', async () => {
      const clinician = `clin-${randomHex(4)}`;
      const held = await service.seedConsultation(tenantId, { identities: { [clinician]: 'clinician' } });
      const free = await Promise.all(
        Array.from({ length: 3 }, () => service.seedConsultation(tenantId, { identities: { [clinician]: 'clinician' } })),
      );
      const joined = (roomSid: string) =>
        event(roomSid, 'participant-connected', 1, {
          ParticipantSid: `PA${randomHex(16)}`,
          ParticipantIdentity: clinician,
          ParticipantStatus: 'connected',
        });
      const blocked = joined(held.roomSid);

      // The other instance: a session that opened a transaction, locked the consultation row,
      // inserted an inbox row — and went silent (its host died). Straight to the server.
      const other: Store = await openStore(service.database.url);
      let releaseOther!: () => void;
      const otherReleased = new Promise<void>((resolve) => (releaseOther = resolve));
      let holding!: () => void;
      const holdingNow = new Promise<void>((resolve) => (holding = resolve));
      const otherTransaction = other
        .transaction(async (trx) => {
          await trx.selectFrom('consultations').select('id').where('id', '=', held.id).forUpdate().execute();
          await trx
            .insertInto('callbacks')
            .values({
              id: newId('cb'),
              dedupe_key: eventDedupeKey(blocked),
              idempotency_token: null,
              account_sid: service.accountSid,
              room_sid: held.roomSid,
              composition_sid: null,
              event_type: 'participant-connected',
              event_timestamp: new Date().toISOString(),
              sequence_number: 1,
              participant_sid: blocked.ParticipantSid!,
              participant_identity: clinician,
              params: JSON.stringify(Object.entries(blocked)),
              status: 'accepted',
              received_at: new Date().toISOString(),
              processed_at: null,
            })
            .execute();
          holding();
          await otherReleased;
          throw new Error('the host died: nothing of this transaction remains');
        })
        .catch(() => undefined);
      await holdingNow;

      try {
        // One batch: the held consultation's callbacks with the free ones'.
        const heldJoin = joined(held.roomSid);
        const answers = await Promise.all([
          send(blocked),
          send(heldJoin),
          ...free.map((consultation) => send(joined(consultation.roomSid))),
        ]);
        const [blockedAnswer, ...others] = answers.map((answer) => answer.statusCode);
        // Only the callback whose inbox row is held waits (lock timeout) and gets 503.
        expect(blockedAnswer).toBe(503);
        expect(others).toEqual([204, 204, 204, 204]);

        // The free consultations are folded although the held one's row stays locked.
        await eventually('the free consultations folded', async () => {
          const rows = await service.store.db
            .selectFrom('consultations')
            .select('status')
            .where(
              'id',
              'in',
              free.map((consultation) => consultation.id),
            )
            .execute();
          return rows.every((row) => row.status !== 'scheduled') ? true : undefined;
        });
        const heldRow = await service.store.db
          .selectFrom('consultations')
          .select('status')
          .where('id', '=', held.id)
          .executeTakeFirstOrThrow();
        if (heldRow.status !== 'scheduled')
          console.log(
            service
              .logs()
              .split('\n')
              .filter((l) => /projection|lock/.test(l))
              .join('\n'),
          );
        expect(heldRow.status).toBe('scheduled');
      } finally {
        releaseOther();
        await otherTransaction;
        await other.close();
      }

      // Its row free again, the held consultation is folded too, and Twilio's retry is stored.
      expect((await send(blocked)).statusCode).toBe(204);
      await eventually('the held consultation folded once its row is free', async () => {
        const row = await service.store.db.selectFrom('consultations').select('status').where('id', '=', held.id).executeTakeFirstOrThrow();
        return row.status !== 'scheduled' ? true : undefined;
      });
      expect(await readyz()).toBe(200);
    }, 90_000);
  });
}
