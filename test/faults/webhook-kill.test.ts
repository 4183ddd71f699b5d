/**
 * kill -9 mid-delivery, on every engine: a real `roomgate serve` is sending webhooks to a
 * receiver that holds every request open when it is SIGKILLed. A second instance on the same
 * database takes the claims over once their lease (ROOMGATE_WEBHOOK_LEASE) has run out and
 * delivers everything: the receiver, deduplicating by `webhook-id`, gets every event of the log,
 * each verified with the `standardwebhooks` package; the cut-off attempts show as failed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApiKey, createTenant } from '../../src/service/tenants/tenant-admin.js';
import { insertConsultations } from '../../src/storage/consultation-repository.js';
import { newId } from '../../src/storage/ids.js';
import { openStore } from '../../src/storage/open-store.js';
import { insertIssuedParticipants } from '../../src/storage/participant-repository.js';
import { enginesUnderTest, type TestDatabase } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { freePort, spawnService, type SpawnedService } from '../support/spawn-service.js';
import { FAST_WEBHOOKS_ENV, startWebhookReceiver, until, type WebhookReceiver } from '../support/webhook-receiver.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const ROOMS = 4;
const LEASE = '2s';

for (const engine of enginesUnderTest()) {
  describe(`kill -9 while webhooks are in flight on ${engine.name}`, () => {
    let dir: string | undefined;
    let database: TestDatabase | undefined;
    let hook: WebhookReceiver | undefined;
    const children: SpawnedService[] = [];
    afterAll(async () => {
      for (const child of children) child.kill('SIGKILL');
      await Promise.all(children.map((child) => child.exited));
      await hook?.close();
      await database?.drop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('a second instance delivers every event after the lease, none lost', async () => {
      let databaseUrl: string;
      if (engine.name === 'sqlite') {
        dir = await mkdtemp(path.join(tmpdir(), 'roomgate-webhook-kill-'));
        databaseUrl = `sqlite:${path.join(dir, 'rg.db')}`;
      } else {
        database = await engine.createTestDatabase();
        databaseUrl = database.url;
      }
      const accountSid = `AC${hex(16)}`;
      const authToken = hex(16);
      let holding = true;
      hook = await startWebhookReceiver(() => (holding ? 'hang' : 200));

      const rooms: string[] = [];
      let key: string;
      const seed = await openStore(databaseUrl);
      try {
        await seed.migrate();
        const tenantId = await createTenant(seed, { slug: `kill-${hex(3)}`, name: 'Kill clinic', kind: 'human' });
        key = (await createApiKey(seed, { tenantId, scopes: ['webhooks:manage', 'events:read'] })).key;
        const now = new Date().toISOString();
        for (let index = 0; index < ROOMS; index += 1) {
          const id = newId('con');
          const roomSid = `RM${hex(16)}`;
          await insertConsultations(seed.db, [
            { id, tenantId, roomSid, roomName: `rg-${id}`, accountSid, record: false, scheduledAt: null, now },
          ]);
          await insertIssuedParticipants(seed.db, [
            {
              consultationId: id,
              identity: 'clin',
              role: 'clinician',
              issuedAt: now,
              expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
            },
          ]);
          rooms.push(roomSid);
        }
      } finally {
        await seed.close();
      }

      const env = async () => ({
        ...FAST_WEBHOOKS_ENV,
        PORT: String(await freePort()),
        ROOMGATE_DATABASE_URL: databaseUrl,
        TWILIO_ACCOUNT_SID: accountSid,
        TWILIO_AUTH_TOKEN: authToken,
        TWILIO_API_KEY_SID: `SK${hex(16)}`,
        TWILIO_API_KEY_SECRET: hex(16),
        ROOMGATE_WEBHOOK_LEASE: LEASE,
        ROOMGATE_WEBHOOK_TIMEOUT: '60s',
        LOG_LEVEL: 'warn',
      });
      const first = await spawnService(await env());
      children.push(first);
      const api = (service: SpawnedService, route: string, init: RequestInit = {}) =>
        fetch(`${service.url}${route}`, {
          ...init,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json', ...init.headers },
        });
      const created = await api(first, '/v1/webhook-endpoints', { method: 'POST', body: JSON.stringify({ url: hook.url }) });
      expect(created.status).toBe(201);
      const endpoint = (await created.json()) as { id: string; secret: string };
      hook.secrets = [endpoint.secret];

      // Each room: a participant connects and leaves (status, joined, left …) — several events per room.
      const start = Date.now() - 60_000;
      for (const roomSid of rooms) {
        let sequence = 0;
        const participant = { ParticipantSid: `PA${hex(16)}`, ParticipantIdentity: 'clin' };
        const event = (StatusCallbackEvent: string, seconds: number, extra: Record<string, string>) => ({
          AccountSid: accountSid,
          RoomSid: roomSid,
          RoomName: 'room',
          RoomStatus: 'in-progress',
          RoomType: 'group',
          StatusCallbackEvent,
          Timestamp: new Date(start + seconds * 1000).toISOString(),
          SequenceNumber: String(sequence++),
          ...extra,
        });
        for (const params of [
          event('participant-connected', 1, { ...participant, ParticipantStatus: 'connected' }),
          event('participant-disconnected', 30, { ...participant, ParticipantStatus: 'disconnected', ParticipantDuration: '29' }),
        ]) {
          const signed = signForm(`${first.url}/webhooks/twilio/video`, authToken, params);
          const response = await fetch(`${first.url}/webhooks/twilio/video`, {
            method: 'POST',
            headers: signed.headers,
            body: signed.body,
          });
          expect(response.status).toBe(204);
        }
      }

      // The first instance is mid-delivery: one request per room held open by the receiver.
      await until(`requests in flight\n${first.output()}`, () => hook!.deliveries.length >= ROOMS, 30_000);
      first.kill('SIGKILL');
      expect(await first.exited).toBe('SIGKILL');
      const killedAt = Date.now();
      holding = false;

      const second = await spawnService(await env());
      children.push(second);
      const page = await api(second, '/v1/events?after=0&limit=500');
      const log = ((await page.json()) as { data: { id: string; consultationId: string; sequence: number }[] }).data;
      expect(log.length).toBeGreaterThanOrEqual(ROOMS * 2);
      await until(`every event delivered\n${second.output()}`, () => hook!.accepted().length >= log.length, 60_000);
      console.log(`[faults] webhooks on ${engine.name}: every event delivered ${Date.now() - killedAt} ms after kill -9 (lease ${LEASE})`);

      const accepted = hook.accepted();
      expect(accepted.map((d) => d.webhookId).sort()).toEqual(log.map((e) => e.id).sort());
      expect(hook.deliveries.every((d) => d.verifiedWith.length === 1)).toBe(true);
      // A consultation's events still arrive in sequence order.
      for (const consultationId of new Set(log.map((e) => e.consultationId))) {
        const sequences = accepted.filter((d) => d.event.consultationId === consultationId).map((d) => d.event.sequence);
        expect(sequences).toEqual([...sequences].sort((x, y) => x - y));
      }
      // The attempts cut off by the kill are on the page as failed, not left pending.
      await until('the attempts recorded', async () => {
        const deliveries = (await (await api(second, `/v1/webhook-endpoints/${endpoint.id}/deliveries?limit=500`)).json()) as {
          data: { status: string; error?: string }[];
        };
        return (
          deliveries.data.filter((d) => d.status === 'delivered').length === log.length &&
          deliveries.data.filter((d) => d.error?.startsWith('interrupted')).length >= ROOMS &&
          deliveries.data.every((d) => d.status !== 'pending')
        );
      });
      second.kill('SIGTERM');
      await second.exited;
    }, 150_000);
  });
}
