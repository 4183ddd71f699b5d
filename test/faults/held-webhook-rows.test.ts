/**
 * A dead host's open transaction holds a row of tenants' outbound webhooks — one tenant's
 * endpoint (it died while editing it) or one pending message (it died while claiming it) — until
 * the server ends its session. The fan-out moves each endpoint's cursor by compare-and-set and
 * the workers claim messages the same way: a row held elsewhere must be passed over, not waited
 * for, or every poll fails at the lock timeout and no tenant gets its webhooks. Here the other
 * tenant's events keep arriving meanwhile, and the held tenant's arrive once the row is free —
 * each event once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/storage/open-store.js';
import type { StoreTransaction } from '../../src/storage/schema.js';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { randomHex, startTestService, type TestService } from '../support/test-service.js';
import { FAST_WEBHOOKS_ENV, startWebhookReceiver, until, type WebhookReceiver } from '../support/webhook-receiver.js';

const PATH = '/webhooks/twilio/video';
const servers = enginesUnderTest().filter((engine) => engine.server);

for (const engine of servers) {
  describe(`a webhook row held by a dead host on ${engine.name}`, () => {
    let service: TestService;
    const receivers: WebhookReceiver[] = [];

    beforeAll(async () => {
      service = await startTestService(engine, {
        env: { ...FAST_WEBHOOKS_ENV, ROOMGATE_COMMIT_DEADLINE: '3s', ROOMGATE_DB_LOCK_TIMEOUT: '1s' },
        app: { webhookWorker: true },
      });
    });
    afterAll(async () => {
      await service?.close();
      for (const receiver of receivers) await receiver.close();
    });

    /** A tenant with an endpoint (its receiver answering `answer`) and a consultation. */
    const tenantWithEndpoint = async (answer: Parameters<typeof startWebhookReceiver>[0]) => {
      const tenant = await service.seedTenant('human', ['webhooks:manage', 'events:read']);
      const hook = await startWebhookReceiver(answer);
      receivers.push(hook);
      const created = await service.app.inject({
        method: 'POST',
        url: '/v1/webhook-endpoints',
        headers: { authorization: `Bearer ${tenant.key}` },
        payload: { url: hook.url },
      });
      expect(created.statusCode, created.body).toBe(201);
      const endpoint = created.json<{ id: string; secret: string }>();
      hook.secrets = [endpoint.secret];
      return { ...tenant, hook, endpointId: endpoint.id };
    };
    /** A participant joins a fresh consultation of the tenant: one event in its log. */
    const join = async (tenantId: string) => {
      const consultation = await service.seedConsultation(tenantId, { record: false, identities: { clin: 'clinician' } });
      const signed = signForm(`http://localhost:80${PATH}`, service.authToken, {
        AccountSid: service.accountSid,
        RoomSid: consultation.roomSid,
        RoomName: 'rg-room',
        RoomStatus: 'in-progress',
        RoomType: 'group',
        StatusCallbackEvent: 'participant-connected',
        Timestamp: new Date().toISOString(),
        SequenceNumber: '1',
        ParticipantSid: `PA${randomHex(16)}`,
        ParticipantIdentity: 'clin',
        ParticipantStatus: 'connected',
      });
      const answer = await service.app.inject({ method: 'POST', url: PATH, headers: signed.headers, payload: signed.body });
      expect(answer.statusCode).toBe(204);
      await service.app.roomgate.drain();
      return consultation.id;
    };
    const joinedFor = (hook: WebhookReceiver, consultationId: string) =>
      hook
        .accepted()
        .filter((delivery) => delivery.event.type === 'participant.joined' && delivery.event.consultationId === consultationId);

    /** Holds rows from another session (as a dead host's open transaction would) until released. */
    const holdRows = async (lock: (trx: StoreTransaction) => Promise<void>) => {
      const other = await openStore(service.database.url);
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let holding!: () => void;
      const holdingNow = new Promise<void>((resolve) => (holding = resolve));
      const transaction = other
        .transaction(async (trx) => {
          await lock(trx);
          holding();
          await released;
          throw new Error('the host died: nothing of this transaction remains');
        })
        .catch((error: unknown) => error);
      const first = await Promise.race([holdingNow.then(() => undefined), transaction]);
      if (first !== undefined) throw new Error(`could not hold the rows: ${String(first)}`);
      return async () => {
        release();
        await transaction;
        await other.close();
      };
    };

    it("delivers the other tenants' events while one tenant's endpoint row is held", async () => {
      const held = await tenantWithEndpoint(() => 200);
      const free = await tenantWithEndpoint(() => 200);
      const free2 = await tenantWithEndpoint(() => 200);
      const unhold = await holdRows(async (trx) => {
        const rows = await trx.selectFrom('webhook_endpoints').select('id').where('id', '=', held.endpointId).forUpdate().execute();
        expect(rows).toHaveLength(1);
      });
      let heldEvent: string;
      try {
        heldEvent = await join(held.tenantId);
        const freeEvents = [await join(free.tenantId), await join(free2.tenantId)];
        const started = Date.now();
        await until(
          "the other tenants' events delivered while one endpoint is held",
          () => joinedFor(free.hook, freeEvents[0]!).length === 1 && joinedFor(free2.hook, freeEvents[1]!).length === 1,
          6000,
        );
        console.log(`[faults] ${engine.name}: an endpoint row held → the other tenants' webhooks after ${Date.now() - started} ms`);
        expect(joinedFor(held.hook, heldEvent)).toHaveLength(0);
      } finally {
        await unhold();
      }
      await until(
        'the held tenant’s event delivered once its endpoint is free',
        () => joinedFor(held.hook, heldEvent).length === 1,
        10_000,
      );
    }, 60_000);

    it("delivers the other tenants' events while one pending message's row is held", async () => {
      // The held tenant's receiver is busy at first (503, Retry-After 2 s): its message stays
      // pending, unclaimed, until it is due again.
      let failing = true;
      const held = await tenantWithEndpoint(() => (failing ? { status: 503, headers: { 'retry-after': '2' } } : 200));
      const free = await tenantWithEndpoint(() => 200);
      const heldEvent = await join(held.tenantId);
      await until('the held tenant’s first attempt made', () => held.hook.deliveries.length > 0, 10_000);
      const unhold = await holdRows(async (trx) => {
        const rows = await trx
          .selectFrom('webhook_messages')
          .select('id')
          .where('endpoint_id', '=', held.endpointId)
          .where('status', '=', 'pending')
          .forUpdate()
          .execute();
        expect(rows.length).toBeGreaterThan(0);
      });
      failing = false;
      try {
        await new Promise((resolve) => setTimeout(resolve, 2200)); // the held message is due again
        const freeEvent = await join(free.tenantId);
        const started = Date.now();
        await until("the other tenant's event delivered while a message is held", () => joinedFor(free.hook, freeEvent).length === 1, 6000);
        console.log(`[faults] ${engine.name}: a message row held → the other tenant's webhook after ${Date.now() - started} ms`);
      } finally {
        await unhold();
      }
      await until('the held message delivered once its row is free', () => joinedFor(held.hook, heldEvent).length === 1, 10_000);
    }, 60_000);
  });
}
