/**
 * Database restarts are routine. Two real `roomgate serve` processes (A takes callbacks, B
 * serves live events) on a PostgreSQL cluster of the test's own:
 *
 * - `pg_ctlcluster restart -m fast` while idle: neither process dies (every pool has an error
 *   listener), both are ready again by themselves;
 * - the server stopped mid-load and started again 3 s later: callbacks get 503 during the
 *   outage, 204 again by themselves after it; Twilio's retries land; every callback stored
 *   exactly once, none lost;
 * - live events resume: a subscriber on B that was connected before the restarts and one that
 *   connects after both get an event recorded on A afterwards (B's LISTEN was re-made, and
 *   counted in roomgate_live_listen_lost_total).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventDedupeKey } from '../../src/core/consultation/consultation-event.js';
import { createApiKey, createTenant } from '../../src/service/tenants/tenant-admin.js';
import { insertConsultations } from '../../src/storage/consultation-repository.js';
import { newId } from '../../src/storage/ids.js';
import { insertIssuedParticipants } from '../../src/storage/participant-repository.js';
import { openStore } from '../../src/storage/open-store.js';
import type { Store } from '../../src/storage/store.js';
import { enginesUnderTest } from '../support/engines.js';
import { openSse } from '../support/live-clients.js';
import { signForm } from '../support/signed-callback.js';
import { freePort, spawnService, type SpawnedService } from '../support/spawn-service.js';
import { createOwnPostgres, type OwnPostgres } from './support/own-postgres.js';
import { eventually } from './support/eventually.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const WEBHOOK = '/webhooks/twilio/video';
const CONSULTATIONS = 40;
const postgres = enginesUnderTest().some((engine) => engine.name === 'postgres');

/** An SSE subscription (the stream must open): the event names and data received so far. */
async function subscribe(url: string, key: string) {
  const client = await openSse(url, key);
  expect(client.status).toBe(200);
  return client;
}

describe.runIf(postgres)('postgres stopped, started and restarted under two real instances', () => {
  let cluster: OwnPostgres;
  let store: Store;
  let a: SpawnedService;
  let b: SpawnedService;
  let metricsB: string;
  const accountSid = `AC${hex(16)}`;
  const authToken = hex(16);
  let tenantId: string;
  let key: string;

  const seedConsultation = async () => {
    const id = newId('con');
    const roomSid = `RM${hex(16)}`;
    const now = new Date().toISOString();
    await insertConsultations(store.db, [
      { id, tenantId, roomSid, roomName: `rg-${id}`, accountSid, record: false, scheduledAt: null, now },
    ]);
    await insertIssuedParticipants(
      store.db,
      (['clin', 'pat'] as const).map((identity) => ({
        consultationId: id,
        identity,
        role: identity === 'clin' ? 'clinician' : 'patient',
        issuedAt: now,
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      })),
    );
    return { id, roomSid };
  };

  const consultationCallbacks = (roomSid: string): Record<string, string>[] => {
    let sequence = 0;
    const event = (StatusCallbackEvent: string, extra: Record<string, string> = {}) => ({
      AccountSid: accountSid,
      RoomSid: roomSid,
      RoomName: 'room',
      RoomStatus: StatusCallbackEvent === 'room-ended' ? 'completed' : 'in-progress',
      RoomType: 'group',
      StatusCallbackEvent,
      Timestamp: new Date().toISOString(),
      SequenceNumber: String(sequence++),
      ...extra,
    });
    const clin = { ParticipantSid: `PA${hex(16)}`, ParticipantIdentity: 'clin', ParticipantStatus: 'connected' };
    const pat = { ParticipantSid: `PA${hex(16)}`, ParticipantIdentity: 'pat', ParticipantStatus: 'connected' };
    return [
      event('room-created'),
      event('participant-connected', clin),
      event('participant-connected', pat),
      event('participant-disconnected', { ...pat, ParticipantStatus: 'disconnected' }),
      event('participant-disconnected', { ...clin, ParticipantStatus: 'disconnected' }),
      event('room-ended', { RoomDuration: '60' }),
    ];
  };

  const send = async (service: SpawnedService, params: Record<string, string>): Promise<number> => {
    const signed = signForm(`${service.url}${WEBHOOK}`, authToken, params);
    try {
      const response = await fetch(`${service.url}${WEBHOOK}`, { method: 'POST', headers: signed.headers, body: signed.body });
      await response.arrayBuffer();
      return response.status;
    } catch {
      return 0;
    }
  };
  const ready = async (service: SpawnedService) => (await fetch(`${service.url}/readyz`)).status;

  beforeAll(async () => {
    cluster = await createOwnPostgres(55400);
    store = await openStore(cluster.url);
    await store.migrate();
    tenantId = await createTenant(store, { slug: `faults-${hex(3)}`, name: 'Faults clinic', kind: 'human' });
    ({ key } = await createApiKey(store, { tenantId, scopes: ['events:read'] }));
    const env = async () => ({
      PORT: String(await freePort()),
      ROOMGATE_DATABASE_URL: cluster.url,
      TWILIO_ACCOUNT_SID: accountSid,
      TWILIO_AUTH_TOKEN: authToken,
      TWILIO_API_KEY_SID: `SK${hex(16)}`,
      TWILIO_API_KEY_SECRET: hex(16),
      ROOMGATE_COMMIT_DEADLINE: '2s',
      ROOMGATE_DB_LOCK_TIMEOUT: '1s',
      ROOMGATE_DB_CONNECT_TIMEOUT: '1s',
      LOG_LEVEL: 'warn',
    });
    const metricsPort = await freePort();
    [a, b] = await Promise.all([spawnService(await env()), spawnService({ ...(await env()), ROOMGATE_METRICS_PORT: String(metricsPort) })]);
    metricsB = `http://127.0.0.1:${metricsPort}/metrics`;
  }, 120_000);
  afterAll(async () => {
    a?.kill('SIGKILL');
    b?.kill('SIGKILL');
    await store?.close().catch(() => undefined);
    await cluster?.drop();
  }, 60_000);

  it('survives a restart and an outage mid-load: 503s during, 204s after, every callback once, live events resume', async () => {
    let exited = false;
    void Promise.race([a.exited, b.exited]).then(() => (exited = true));
    const oldSubscriber = await subscribe(`${b.url}/v1/events`, key);

    // A routine restart while idle: nothing dies, both are ready again by themselves.
    await cluster.restart();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(exited).toBe(false);
    await eventually('A ready after the restart', async () => ((await ready(a)) === 200 ? true : undefined));
    await eventually('B ready after the restart', async () => ((await ready(b)) === 200 ? true : undefined));

    // Mid-load, the server stops for 3 s.
    const consultations = await Promise.all(Array.from({ length: CONSULTATIONS }, seedConsultation));
    const callbacks = consultations.flatMap(({ roomSid }) => consultationCallbacks(roomSid));
    const statuses = new Map<number, number>();
    let next = 0;
    let outage: Promise<number> | undefined;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < callbacks.length) {
          const index = next++;
          statuses.set(index, await send(a, callbacks[index]!));
          if (!outage && statuses.size >= callbacks.length * 0.3) {
            outage = (async () => {
              await cluster.stop();
              const stoppedAt = Date.now();
              await eventually('A not ready while the server is down', async () => ((await ready(a)) === 503 ? true : undefined), 15_000);
              console.log(`[faults] postgres stopped → A's /readyz 503 after ${Date.now() - stoppedAt} ms`);
              await new Promise((resolve) => setTimeout(resolve, Math.max(0, 3000 - (Date.now() - stoppedAt))));
              await cluster.start();
              return Date.now();
            })();
          }
        }
      }),
    );
    const startedAt = await outage!;
    expect(exited).toBe(false);
    const answers = [...statuses.values()];
    const refused = answers.filter((status) => status === 503).length;
    console.log(`[faults] postgres stop mid-load: ${refused} of ${callbacks.length} callbacks 503, the rest 204`);
    expect(answers.every((status) => status === 204 || status === 503)).toBe(true);
    expect(refused).toBeGreaterThan(0);

    // Twilio retries everything that was not acknowledged.
    const pending = [...statuses].filter(([, status]) => status !== 204).map(([index]) => index);
    await eventually('the first retry acknowledged after the restart', async () =>
      (await send(a, callbacks[pending[0]!]!)) === 204 ? true : undefined,
    );
    console.log(`[faults] postgres: first 204 ${Date.now() - startedAt} ms after the server was started again`);
    for (const index of pending) {
      await eventually('a retried callback acknowledged', async () => ((await send(a, callbacks[index]!)) === 204 ? true : undefined));
    }
    const stored = await eventually('the store reachable from the test', async () =>
      store.db
        .selectFrom('callbacks')
        .select('dedupe_key')
        .where(
          'room_sid',
          'in',
          consultations.map((consultation) => consultation.roomSid),
        )
        .execute(),
    );
    expect(stored.length).toBe(callbacks.length);
    expect(new Set(stored.map((row) => row.dedupe_key))).toEqual(new Set(callbacks.map(eventDedupeKey)));

    // Live events: B has re-made its LISTEN by itself (and counted the loss)…
    const listening = await eventually('B listening again', async () => {
      const metrics = await (await fetch(metricsB)).text();
      const lost = Number(/^roomgate_live_listen_lost_total (\d+)/m.exec(metrics)?.[1] ?? 0);
      return lost >= 1 && /^roomgate_live_listening 1$/m.test(metrics) ? Date.now() : undefined;
    });
    console.log(`[faults] postgres: B listening again ${listening - startedAt} ms after the server was started again`);
    // …so what A records from now on reaches B's old and new subscribers.
    const newSubscriber = await subscribe(`${b.url}/v1/events`, key);
    const fresh = await seedConsultation();
    const [created, joined] = consultationCallbacks(fresh.roomSid);
    expect(await send(a, created!)).toBe(204);
    expect(await send(a, joined!)).toBe(204);
    const seen = (subscriber: typeof oldSubscriber) =>
      subscriber.events.some(
        (event) => event.event === 'participant.joined' && (event.data as { consultationId?: string }).consultationId === fresh.id,
      );
    await eventually('an event recorded on A reaching both of B’s subscribers', async () =>
      seen(oldSubscriber) && seen(newSubscriber) ? true : undefined,
    );
    await oldSubscriber.close();
    await newSubscriber.close();
    expect(exited).toBe(false);
  }, 150_000);
});
