/**
 * A real `roomgate serve` (the record thread with its own pool, the HTTP thread's pool, and on
 * PostgreSQL the LISTEN connection) behind a TCP proxy the test owns, on PostgreSQL and
 * MariaDB/MySQL, mid-load: a silent partition (every byte held) for 3 s, then every connection
 * cut and refused for 2 s (a restart, a failover). Throughout: each callback is answered 204 or
 * 503 (never 500, never a hang past the commit deadline), /readyz is 503 during the partition,
 * the process never exits; after: 204 again by itself, every callback stored once and folded.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { eventDedupeKey } from '../../src/core/consultation/consultation-event.js';
import { createTenant } from '../../src/service/tenants/tenant-admin.js';
import { insertConsultations } from '../../src/storage/consultation-repository.js';
import { newId } from '../../src/storage/ids.js';
import { openStore } from '../../src/storage/open-store.js';
import { insertIssuedParticipants } from '../../src/storage/participant-repository.js';
import type { Store } from '../../src/storage/store.js';
import { enginesUnderTest, type TestDatabase } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { freePort, spawnService, type SpawnedService } from '../support/spawn-service.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { eventually } from './support/eventually.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const WEBHOOK = '/webhooks/twilio/video';
const CONSULTATIONS = 12;
const servers = enginesUnderTest().filter((engine) => engine.server && engine.viaAddress);

for (const engine of servers) {
  describe(`serve on ${engine.name} through a partition and a cut`, () => {
    let database: TestDatabase | undefined;
    let store: Store | undefined;
    let proxy: TcpProxy | undefined;
    let service: SpawnedService | undefined;
    afterAll(async () => {
      proxy?.thaw();
      proxy?.restore();
      service?.kill('SIGKILL');
      await service?.exited;
      await store?.close();
      await proxy?.close();
      await database?.drop();
    });

    it('answers 204 or 503 throughout, never exits, and stores and folds every callback once after', async () => {
      database = await engine.createTestDatabase();
      store = await openStore(database.url);
      await store.migrate();
      const accountSid = `AC${hex(16)}`;
      const authToken = hex(16);
      const tenantId = await createTenant(store, { slug: `net-${hex(3)}`, name: 'Network clinic', kind: 'human' });
      const now = new Date().toISOString();
      const consultations = Array.from({ length: CONSULTATIONS }, () => {
        const id = newId('con');
        return { id, roomSid: `RM${hex(16)}`, roomName: `rg-${id}` };
      });
      await insertConsultations(
        store.db,
        consultations.map(({ id, roomSid, roomName }) => ({
          id,
          tenantId,
          roomSid,
          roomName,
          accountSid,
          record: false,
          scheduledAt: null,
          now,
        })),
      );
      await insertIssuedParticipants(
        store.db,
        consultations.flatMap(({ id }) =>
          (['clin', 'pat'] as const).map((identity) => ({
            consultationId: id,
            identity,
            role: identity === 'clin' ? 'clinician' : 'patient',
            issuedAt: now,
            expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
          })),
        ),
      );

      proxy = await startTcpProxy(engine.server!);
      service = await spawnService({
        PORT: String(await freePort()),
        ROOMGATE_DATABASE_URL: engine.viaAddress!(database.url, { host: '127.0.0.1', port: proxy.port }),
        TWILIO_ACCOUNT_SID: accountSid,
        TWILIO_AUTH_TOKEN: authToken,
        TWILIO_API_KEY_SID: `SK${hex(16)}`,
        TWILIO_API_KEY_SECRET: hex(16),
        ROOMGATE_COMMIT_DEADLINE: '2s',
        ROOMGATE_DB_LOCK_TIMEOUT: '1s',
        ROOMGATE_DB_CONNECT_TIMEOUT: '1s',
        ROOMGATE_DB_STATEMENT_TIMEOUT: '2s',
        ROOMGATE_DB_QUERY_TIMEOUT: '3s',
        LOG_LEVEL: 'warn',
      });
      let exited = false;
      void service.exited.then(() => (exited = true));
      const base = service.url;

      const start = Date.now() - 120_000;
      const callbacks = consultations.flatMap(({ roomSid }) => {
        const event = (StatusCallbackEvent: string, seconds: number, extra: Record<string, string> = {}) => ({
          AccountSid: accountSid,
          RoomSid: roomSid,
          RoomName: 'room',
          RoomStatus: StatusCallbackEvent === 'room-ended' ? 'completed' : 'in-progress',
          RoomType: 'group',
          StatusCallbackEvent,
          Timestamp: new Date(start + seconds * 1000).toISOString(),
          SequenceNumber: String(seconds),
          ...extra,
        });
        const clin = { ParticipantSid: `PA${hex(16)}`, ParticipantIdentity: 'clin', ParticipantStatus: 'connected' };
        const pat = { ParticipantSid: `PA${hex(16)}`, ParticipantIdentity: 'pat', ParticipantStatus: 'connected' };
        return [
          event('room-created', 0),
          event('participant-connected', 1, clin),
          event('participant-connected', 2, pat),
          event('participant-disconnected', 60, { ...pat, ParticipantStatus: 'disconnected' }),
          event('participant-disconnected', 61, { ...clin, ParticipantStatus: 'disconnected' }),
          event('room-ended', 62, { RoomDuration: '62' }),
        ];
      });
      const send = async (params: Record<string, string>): Promise<{ status: number; ms: number }> => {
        const signed = signForm(`${base}${WEBHOOK}`, authToken, params);
        const sent = Date.now();
        const response = await fetch(`${base}${WEBHOOK}`, { method: 'POST', headers: signed.headers, body: signed.body });
        await response.arrayBuffer();
        return { status: response.status, ms: Date.now() - sent };
      };
      const readyz = async () => (await fetch(`${base}/readyz`)).status;

      // Mid-load: a 3 s partition, then a 2 s cut.
      const answers: { status: number; ms: number }[] = [];
      let next = 0;
      let faults: Promise<{ readyDuringPartition: number }> | undefined;
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          while (next < callbacks.length) {
            const index = next++;
            answers[index] = await send(callbacks[index]!);
            if (!faults && next >= callbacks.length * 0.25) {
              faults = (async () => {
                proxy!.freeze();
                // Ready until the commits in flight pass the commit deadline (2 s), then not.
                const frozenAt = Date.now();
                let readyDuringPartition = 200;
                while (Date.now() - frozenAt < 3500 && readyDuringPartition === 200) {
                  readyDuringPartition = await readyz();
                  await new Promise((resolve) => setTimeout(resolve, 200));
                }
                console.log(
                  `[faults] serve on ${engine.name}: partition → /readyz ${readyDuringPartition} after ${Date.now() - frozenAt} ms`,
                );
                await new Promise((resolve) => setTimeout(resolve, Math.max(0, 3500 - (Date.now() - frozenAt))));
                proxy!.thaw();
                await new Promise((resolve) => setTimeout(resolve, 500));
                proxy!.cut();
                await new Promise((resolve) => setTimeout(resolve, 2000));
                proxy!.restore();
                return { readyDuringPartition };
              })();
            }
            // Paced like a busy room rather than a flood: the faults land mid-load.
            await new Promise((resolve) => setTimeout(resolve, 60));
          }
        }),
      );
      const { readyDuringPartition } = await faults!;
      const statuses = answers.map((answer) => answer.status);
      const slowest = Math.max(...answers.map((answer) => answer.ms));
      console.log(
        `[faults] serve on ${engine.name}: ${statuses.filter((s) => s === 503).length} of ${callbacks.length} callbacks 503 ` +
          `during a partition and a cut; slowest answer ${slowest} ms; /readyz during the partition ${readyDuringPartition}`,
      );
      expect(statuses.filter((status) => status !== 204 && status !== 503)).toEqual([]);
      expect(readyDuringPartition).toBe(503);
      expect(exited).toBe(false);

      // Twilio retries what was not acknowledged; every callback lands once and is folded.
      for (const [index, answer] of answers.entries()) {
        if (answer.status === 204) continue;
        await eventually('a retried callback acknowledged', async () =>
          (await send(callbacks[index]!)).status === 204 ? true : undefined,
        );
      }
      await eventually('/readyz 200 again', async () => ((await readyz()) === 200 ? true : undefined));
      const rooms = consultations.map((consultation) => consultation.roomSid);
      const stored = await store.db.selectFrom('callbacks').select(['dedupe_key', 'processed_at']).where('room_sid', 'in', rooms).execute();
      expect(stored.map((row) => row.dedupe_key).sort()).toEqual(callbacks.map(eventDedupeKey).sort());
      await eventually(
        'every callback folded and every consultation completed',
        async () => {
          const unfolded = await store!.db
            .selectFrom('callbacks')
            .select('id')
            .where('room_sid', 'in', rooms)
            .where('processed_at', 'is', null)
            .execute();
          const rows = await store!.db
            .selectFrom('consultations')
            .select('status')
            .where(
              'id',
              'in',
              consultations.map((consultation) => consultation.id),
            )
            .execute();
          return unfolded.length === 0 && rows.every((row) => row.status === 'completed') ? true : undefined;
        },
        20_000,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${service!.output().slice(-4000)}`);
      });
      // Billed once each: one billing record per consultation, its versions numbered without a
      // repeat (a callback retried after the room ended corrects the record: a new version), all
      // with the same billable time, as the timelines are the same.
      const records = await store.db
        .selectFrom('billing_records')
        .select(['consultation_id', 'billable_seconds', 'version'])
        .where(
          'consultation_id',
          'in',
          consultations.map((consultation) => consultation.id),
        )
        .execute();
      expect(records).toHaveLength(CONSULTATIONS);
      expect(new Set(records.map((record) => record.billable_seconds)).size).toBe(1);
      const versions = await store.db
        .selectFrom('billing_record_versions')
        .select(['consultation_id', 'version'])
        .where(
          'consultation_id',
          'in',
          consultations.map((consultation) => consultation.id),
        )
        .execute();
      for (const record of records) {
        const numbers = versions.filter((row) => row.consultation_id === record.consultation_id).map((row) => row.version);
        expect(numbers.sort((a, b) => a - b)).toEqual(Array.from({ length: record.version }, (_, index) => index + 1));
      }
      console.log(`[faults] serve on ${engine.name}: ${versions.length} billing versions for ${CONSULTATIONS} consultations`);
      expect(exited).toBe(false);
      expect(service.output()).not.toMatch(/unhandled|uncaught|projection thread ended unexpectedly/i);
    }, 120_000);
  });
}
