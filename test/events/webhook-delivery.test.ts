/**
 * Outbound webhooks end to end, on every engine, against a real receiver that verifies every
 * delivery with the `standardwebhooks` package: a receiver failing three times (500, 429 with
 * Retry-After, 503) then succeeding gets each event once, a consultation's events in sequence
 * order, and the deliveries page shows each attempt; two instances on one database deliver each
 * event once per endpoint; rotation signs with both secrets during the overlap; redelivery and
 * recovery send the same `webhook-id` again; an endpoint failing for too long is disabled with an
 * alert and a `webhook-endpoint.disabled` event; no secret is ever logged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { startTestService, type TestService } from '../support/test-service.js';
import { FAST_WEBHOOKS_ENV, startWebhookReceiver, until, type WebhookReceiver } from '../support/webhook-receiver.js';

interface Delivery {
  id: string;
  eventId: string;
  eventType: string;
  attempt: number;
  status: string;
  responseStatus?: number;
  latencyMs?: number;
  error?: string;
  attemptedAt: string;
  nextAttemptAt?: string;
}

/** Drives a service with Twilio callbacks: each participant connecting is one or two events. */
function callbackDriver(service: TestService) {
  let participant = 0;
  const startedAt = Date.now() - 60_000;
  return async (roomSid: string) => {
    participant += 1;
    const signed = signForm('http://localhost:80/webhooks/twilio/video', service.authToken, {
      AccountSid: service.accountSid,
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
    const answer = await service.app.inject({
      method: 'POST',
      url: '/webhooks/twilio/video',
      headers: signed.headers,
      payload: signed.body,
    });
    expect(answer.statusCode).toBe(204);
  };
}

async function logEvents(service: TestService, key: string) {
  const answer = await service.app.inject({
    method: 'GET',
    url: '/v1/events?after=0&limit=500',
    headers: { authorization: `Bearer ${key}`, accept: 'application/json' },
  });
  expect(answer.statusCode).toBe(200);
  return answer.json<{
    data: { id: string; sequence: number; type: string; consultationId: string | null; data: Record<string, unknown> }[];
  }>().data;
}

async function createEndpoint(service: TestService, key: string, body: Record<string, unknown>) {
  const answer = await service.app.inject({
    method: 'POST',
    url: '/v1/webhook-endpoints',
    headers: { authorization: `Bearer ${key}` },
    payload: body,
  });
  expect(answer.statusCode, answer.body).toBe(201);
  return answer.json<{ id: string; secret: string; enabled: boolean }>();
}

async function deliveries(service: TestService, key: string, endpointId: string): Promise<Delivery[]> {
  const answer = await service.app.inject({
    method: 'GET',
    url: `/v1/webhook-endpoints/${endpointId}/deliveries?limit=500`,
    headers: { authorization: `Bearer ${key}` },
  });
  expect(answer.statusCode).toBe(200);
  return answer.json<{ data: Delivery[] }>().data;
}

for (const engine of enginesUnderTest()) {
  describe(`webhook delivery on ${engine.name}`, () => {
    let a: TestService;
    let b: TestService;
    const receivers: WebhookReceiver[] = [];
    const receiver = async (...args: Parameters<typeof startWebhookReceiver>) => {
      const started = await startWebhookReceiver(...args);
      receivers.push(started);
      return started;
    };

    beforeAll(async () => {
      const database = await engine.createTestDatabase();
      a = await startTestService(engine, { database, env: FAST_WEBHOOKS_ENV, app: { webhookWorker: true } });
      b = await startTestService(engine, {
        database,
        env: { ...FAST_WEBHOOKS_ENV, TWILIO_ACCOUNT_SID: a.accountSid, TWILIO_AUTH_TOKEN: a.authToken },
        app: { webhookWorker: true },
      });
    });
    afterAll(async () => {
      for (const started of receivers) await started.close();
      await a?.app.close();
      await a?.store.close();
      await b?.close();
      await a?.database.drop();
    });

    it('a receiver failing three times then succeeding gets each event once, in order, every delivery verified; the page shows each attempt', async () => {
      const tenant = await a.seedTenant('human', ['webhooks:manage', 'events:read']);
      const hook = await receiver(({ attemptOfId }) =>
        attemptOfId === 1 ? 500 : attemptOfId === 2 ? { status: 429, headers: { 'retry-after': '0' } } : attemptOfId === 3 ? 503 : 200,
      );
      const endpoint = await createEndpoint(a, tenant.key, { url: hook.url, description: 'flaky' });
      hook.secrets = [endpoint.secret];
      const rooms = [await a.seedConsultation(tenant.tenantId, { identities: { 'clin-1': 'clinician' } })];
      rooms.push(await a.seedConsultation(tenant.tenantId, { identities: { 'clin-1': 'clinician' } }));
      const connect = callbackDriver(a);
      for (let i = 0; i < 6; i += 1) await connect(rooms[i % 2]!.roomSid);
      await a.app.roomgate.drain();

      const log = await logEvents(a, tenant.key);
      expect(log.length).toBeGreaterThanOrEqual(4);
      await until('every event accepted by the receiver', () => hook.accepted().length >= log.length);
      await a.app.roomgate.drain();

      const accepted = hook.accepted();
      expect(accepted.map((d) => d.webhookId).sort()).toEqual(log.map((e) => e.id).sort());
      // Every delivery (the failed ones too) verifies with the reference implementation.
      expect(hook.deliveries.every((d) => d.verifiedWith.length === 1)).toBe(true);
      // Each event: three refusals, then one success — never a fourth attempt.
      for (const event of log) {
        expect(hook.deliveries.filter((d) => d.webhookId === event.id).map((d) => d.status)).toEqual([500, 429, 503, 200]);
      }
      // The body is the event as the log holds it; a consultation's events arrive in sequence order.
      for (const delivery of accepted) expect(log.find((e) => e.id === delivery.webhookId)).toMatchObject(delivery.event);
      for (const room of rooms) {
        const sequences = accepted.filter((d) => d.event.consultationId === room.id).map((d) => d.event.sequence);
        expect(sequences).toEqual([...sequences].sort((x, y) => x - y));
        expect(sequences.length).toBeGreaterThan(0);
      }

      await until(
        'the last attempts recorded',
        async () => (await deliveries(a, tenant.key, endpoint.id)).filter((d) => d.status === 'delivered').length === log.length,
      );
      const page = await deliveries(a, tenant.key, endpoint.id);
      expect(page).toHaveLength(log.length * 4);
      for (const event of log) {
        const attempts = page.filter((d) => d.eventId === event.id).sort((x, y) => x.attempt - y.attempt);
        expect(attempts.map((d) => [d.attempt, d.status, d.responseStatus])).toEqual([
          [1, 'retrying', 500],
          [2, 'retrying', 429],
          [3, 'retrying', 503],
          [4, 'delivered', 200],
        ]);
        expect(attempts.every((d) => d.eventType === event.type && typeof d.latencyMs === 'number')).toBe(true);
        expect(attempts.slice(0, 3).every((d) => d.nextAttemptAt !== undefined)).toBe(true);
      }
      const endpointNow = await a.app.inject({
        method: 'GET',
        url: `/v1/webhook-endpoints/${endpoint.id}`,
        headers: { authorization: `Bearer ${tenant.key}` },
      });
      expect(endpointNow.json()).toMatchObject({ enabled: true, failingSince: null });
    });

    it('two instances deliver each event once per endpoint', async () => {
      const tenant = await a.seedTenant('human', ['webhooks:manage', 'events:read']);
      const first = await receiver(() => 200, '/first');
      const second = await receiver(() => 204, '/second');
      const one = await createEndpoint(a, tenant.key, { url: first.url });
      const two = await createEndpoint(b, tenant.key, { url: second.url, eventTypes: ['participant.joined'] });
      first.secrets = [one.secret];
      second.secrets = [two.secret];
      const rooms = await Promise.all([0, 1, 2].map(() => a.seedConsultation(tenant.tenantId, { identities: { 'clin-1': 'clinician' } })));
      const connectA = callbackDriver(a);
      for (let i = 0; i < 30; i += 1) await connectA(rooms[i % 3]!.roomSid);
      await a.app.roomgate.drain();

      const log = await logEvents(a, tenant.key);
      const joined = log.filter((e) => e.type === 'participant.joined');
      await until('both endpoints served', () => first.accepted().length >= log.length && second.accepted().length >= joined.length);
      await Promise.all([a.app.roomgate.webhooks.runOnce(), b.app.roomgate.webhooks.runOnce()]);
      // On the wire, not only after deduplication: one request per event and endpoint.
      expect(first.deliveries.map((d) => d.webhookId).sort()).toEqual(log.map((e) => e.id).sort());
      expect(second.deliveries.map((d) => d.webhookId).sort()).toEqual(joined.map((e) => e.id).sort());
      expect([...first.deliveries, ...second.deliveries].every((d) => d.verifiedWith.length === 1)).toBe(true);
    });

    it('rotation: both secrets sign during the overlap; redelivery and recovery resend the same webhook-id', async () => {
      const tenant = await a.seedTenant('human', ['webhooks:manage', 'events:read']);
      const hook = await receiver(() => 200);
      const endpoint = await createEndpoint(a, tenant.key, { url: hook.url });
      const rotated = await a.app.inject({
        method: 'POST',
        url: `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`,
        headers: { authorization: `Bearer ${tenant.key}` },
      });
      expect(rotated.statusCode).toBe(200);
      const { secret, previousSecretExpiresAt } = rotated.json<{ secret: string; previousSecretExpiresAt: string }>();
      expect(secret).toMatch(/^whsec_/);
      expect(Date.parse(previousSecretExpiresAt) - Date.now()).toBeGreaterThan(23 * 3_600_000);
      hook.secrets = [endpoint.secret, secret];
      const room = await a.seedConsultation(tenant.tenantId, { identities: { 'clin-1': 'clinician' } });
      await callbackDriver(a)(room.roomSid);
      await a.app.roomgate.drain();
      const log = await logEvents(a, tenant.key);
      await until('the events delivered', () => hook.accepted().length >= log.length);
      expect(hook.deliveries.every((d) => d.verifiedWith.length === 2 && d.signature.split(' ').length === 2)).toBe(true);

      await until('attempts recorded', async () => {
        const page = await deliveries(a, tenant.key, endpoint.id);
        return page.length === log.length && page.every((d) => d.status === 'delivered');
      });
      const [latest] = await deliveries(a, tenant.key, endpoint.id);
      const redeliver = await a.app.inject({
        method: 'POST',
        url: `/v1/webhook-endpoints/${endpoint.id}/deliveries/${latest!.id}/redeliver`,
        headers: { authorization: `Bearer ${tenant.key}` },
      });
      expect(redeliver.statusCode).toBe(202);
      await until('the redelivery', () => hook.deliveries.filter((d) => d.webhookId === latest!.eventId).length === 2);

      const before = hook.deliveries.length;
      const recover = await a.app.inject({
        method: 'POST',
        url: `/v1/webhook-endpoints/${endpoint.id}/recover`,
        headers: { authorization: `Bearer ${tenant.key}` },
        payload: { since: new Date(Date.now() - 3_600_000).toISOString() },
      });
      expect(recover.statusCode).toBe(202);
      expect(recover.json()).toEqual({ queued: log.length });
      await until('the recovery', () => hook.deliveries.length === before + log.length);
      expect(
        hook.deliveries
          .slice(before)
          .map((d) => d.webhookId)
          .sort(),
      ).toEqual(log.map((e) => e.id).sort());
      expect(hook.accepted()).toHaveLength(log.length);

      const unknown = await a.app.inject({
        method: 'POST',
        url: `/v1/webhook-endpoints/${endpoint.id}/deliveries/wha_nope/redeliver`,
        headers: { authorization: `Bearer ${tenant.key}` },
      });
      expect(unknown.statusCode).toBe(404);
      // Neither secret is in any log line.
      await a.app.roomgate.drain();
      expect(a.logs()).not.toContain(endpoint.secret.slice(6));
      expect(a.logs()).not.toContain(secret.slice(6));
    });
  });

  describe(`a failing webhook endpoint on ${engine.name}`, () => {
    let service: TestService;
    let hook: WebhookReceiver;
    let operator: WebhookReceiver;
    beforeAll(async () => {
      operator = await startWebhookReceiver(() => 204, '/alerts');
      service = await startTestService(engine, {
        env: {
          ...FAST_WEBHOOKS_ENV,
          ROOMGATE_WEBHOOK_DISABLE_AFTER: '300ms',
          ROOMGATE_ALERT_URL: operator.url,
          ROOMGATE_ALERT_SECRET: 'operator-alert-secret-1',
        },
        app: { webhookWorker: true },
      });
      hook = await startWebhookReceiver(() => 500);
    });
    afterAll(async () => {
      await operator?.close();
      await hook?.close();
      await service?.close();
    });

    it('is disabled after failing for the configured time: alert, event in the log, waiting messages kept; re-enabling sends them', async () => {
      const tenant = await service.seedTenant('human', ['webhooks:manage', 'events:read']);
      const endpoint = await createEndpoint(service, tenant.key, { url: hook.url });
      hook.secrets = [endpoint.secret];
      const room = await service.seedConsultation(tenant.tenantId, { identities: { 'clin-1': 'clinician' } });
      await callbackDriver(service)(room.roomSid);
      await service.app.roomgate.drain();
      const get = async () =>
        (
          await service.app.inject({
            method: 'GET',
            url: `/v1/webhook-endpoints/${endpoint.id}`,
            headers: { authorization: `Bearer ${tenant.key}` },
          })
        ).json<{
          enabled: boolean;
          disabledReason?: string;
          failingSince: string | null;
        }>();
      await until('the endpoint disabled', async () => !(await get()).enabled);
      expect((await get()).disabledReason).toMatch(/failing without a success since/);
      const disabled = (await logEvents(service, tenant.key)).filter((e) => e.type === 'webhook-endpoint.disabled');
      expect(disabled).toHaveLength(1);
      expect(disabled[0]).toMatchObject({ consultationId: null, data: { endpointId: endpoint.id, url: hook.url } });
      await service.app.roomgate.drain();
      expect(service.logs()).toContain('"alert":"webhook-endpoint-disabled"');
      expect(await service.metricsText()).toMatch(/roomgate_alerts_total\{kind="webhook-endpoint-disabled"\} 1/);
      // The operator's alert webhook hears of it too.
      await until('the operator alert', () =>
        operator.deliveries.some((d) => JSON.stringify(d.event).includes('webhook-endpoint-disabled')),
      );

      // Nothing more goes out while disabled; enabling sends what waited.
      const tried = hook.deliveries.length;
      await service.app.roomgate.webhooks.runOnce();
      expect(hook.deliveries.length).toBe(tried);
      const ok = await startWebhookReceiver(() => 200);
      ok.secrets = [endpoint.secret];
      try {
        const patch = await service.app.inject({
          method: 'PATCH',
          url: `/v1/webhook-endpoints/${endpoint.id}`,
          headers: { authorization: `Bearer ${tenant.key}` },
          payload: { url: ok.url, enabled: true },
        });
        expect(patch.statusCode).toBe(200);
        expect(patch.json()).toMatchObject({ enabled: true, failingSince: null });
        expect(patch.json()).not.toHaveProperty('disabledReason');
        // What waited, and what was logged while disabled (its own disabled event among them).
        const log = await logEvents(service, tenant.key);
        await until('the waiting messages delivered', () => ok.accepted().length >= log.length);
        expect(
          ok
            .accepted()
            .map((d) => d.webhookId)
            .sort(),
        ).toEqual(log.map((e) => e.id).sort());
      } finally {
        await ok.close();
      }
    });
  });
}
