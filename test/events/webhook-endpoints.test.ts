/**
 * /v1/webhook-endpoints on every engine: create (secret once, Location), list pages, fetch,
 * patch, delete; another tenant's endpoint is 404; the scope is webhooks:manage. SSRF: generated
 * URLs to private, loopback, link-local, metadata, reserved and IPv6-embedded addresses (in the
 * spellings the URL parser accepts), non-https schemes, credentials, and a host name resolving to
 * loopback are refused with 422 naming `url`; at delivery a redirect is an answer, never followed.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../support/engines.js';
import { startTestService, type TestService } from '../support/test-service.js';
import { FAST_WEBHOOKS_ENV, startWebhookReceiver, until } from '../support/webhook-receiver.js';
import { signForm } from '../support/signed-callback.js';

const v4 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const inRange = (base: string, prefix: number) => {
  const start = base.split('.').reduce((sum, part) => sum * 256 + Number(part), 0);
  return fc.integer({ min: 0, max: 2 ** (32 - prefix) - 1 }).map((offset) => v4(start + offset));
};

/** Refused IPv4 addresses, each in a spelling the WHATWG URL parser turns into it. */
const refusedV4Host = fc
  .tuple(
    fc.oneof(
      inRange('127.0.0.0', 8),
      inRange('10.0.0.0', 8),
      inRange('172.16.0.0', 12),
      inRange('192.168.0.0', 16),
      inRange('169.254.0.0', 16),
      inRange('100.64.0.0', 10),
      inRange('0.0.0.0', 8),
      inRange('224.0.0.0', 4),
    ),
    fc.integer({ min: 0, max: 4 }),
  )
  .map(([address, form]) => {
    const parts = address.split('.').map(Number);
    const n = parts.reduce((sum, part) => sum * 256 + part, 0);
    return [address, String(n), `0x${n.toString(16)}`, parts.map((part) => `0${part.toString(8)}`).join('.'), `[::ffff:${address}]`][form]!;
  });
const hex4 = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
const refusedV6Host = fc.oneof(
  fc.constant('[::1]'),
  fc.constant('[::]'),
  fc.tuple(hex4, hex4).map(([a, b]) => `[fe80::${a}:${b}]`),
  fc.tuple(hex4, hex4).map(([a, b]) => `[fc00::${a}:${b}]`),
  fc.constant('[fd00:ec2::254]'),
  inRange('10.0.0.0', 8).map((address) => `[64:ff9b::${address}]`),
);
const refusedUrl = fc.oneof(
  fc
    .tuple(fc.oneof(refusedV4Host, refusedV6Host), fc.constantFrom('', ':443', ':8443'))
    .map(([host, port]) => `https://${host}${port}/hook`),
  fc.constantFrom(
    'https://169.254.169.254/latest/meta-data/',
    'https://2852039166/latest/meta-data/',
    'https://localhost/hook',
    'http://hooks.example.com/x',
    'ftp://hooks.example.com/x',
    'file:///etc/passwd',
    'https://user:pw@hooks.example.com/x',
    'javascript:alert(1)',
  ),
);

for (const engine of enginesUnderTest()) {
  describe(`webhook endpoints API on ${engine.name}`, () => {
    let service: TestService;
    let strict: TestService;
    let owner: { tenantId: string; key: string };
    let other: { key: string };
    const auth = (key: string) => ({ authorization: `Bearer ${key}` });

    beforeAll(async () => {
      const database = await engine.createTestDatabase();
      service = await startTestService(engine, { database, env: FAST_WEBHOOKS_ENV, app: { webhookWorker: true } });
      // The defaults: https only, nothing private reachable.
      strict = await startTestService(engine, { database });
      owner = await service.seedTenant('human', ['webhooks:manage', 'events:read']);
      other = await service.seedTenant('veterinary', ['webhooks:manage']);
    });
    afterAll(async () => {
      await strict?.app.close();
      await strict?.store.close();
      await service?.close();
    });

    it('creates, lists, fetches, changes and deletes endpoints; the secret only in the create answer', async () => {
      const created = await service.app.inject({
        method: 'POST',
        url: '/v1/webhook-endpoints',
        headers: auth(owner.key),
        payload: { url: 'https://203.0.113.1.nip.invalid/hook', eventTypes: ['participant.joined'], description: 'billing system' },
      });
      expect(created.statusCode, created.body).toBe(201);
      const body = created.json<{ id: string; secret: string }>();
      expect(created.headers.location).toBe(`/v1/webhook-endpoints/${body.id}`);
      expect(created.headers['cache-control']).toBe('no-store');
      expect(body).toMatchObject({ eventTypes: ['participant.joined'], description: 'billing system', enabled: true, failingSince: null });
      expect(body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

      const second = await service.app.inject({
        method: 'POST',
        url: '/v1/webhook-endpoints',
        headers: auth(owner.key),
        payload: { url: 'https://hooks.invalid/second', enabled: false },
      });
      expect(second.statusCode).toBe(201);
      expect(second.json()).toMatchObject({ enabled: false, eventTypes: null, description: null });

      const first = await service.app.inject({ method: 'GET', url: '/v1/webhook-endpoints?limit=1', headers: auth(owner.key) });
      const firstPage = first.json<{ data: { id: string }[]; nextCursor: string }>();
      expect(firstPage.data).toHaveLength(1);
      const next = await service.app.inject({
        method: 'GET',
        url: `/v1/webhook-endpoints?limit=1&cursor=${firstPage.nextCursor}`,
        headers: auth(owner.key),
      });
      const ids = [...firstPage.data, ...next.json<{ data: { id: string }[] }>().data].map((e) => e.id);
      expect(ids.sort()).toEqual([body.id, second.json<{ id: string }>().id].sort());
      expect(first.body + next.body).not.toContain('whsec_');

      const fetched = await service.app.inject({ method: 'GET', url: `/v1/webhook-endpoints/${body.id}`, headers: auth(owner.key) });
      expect(fetched.statusCode).toBe(200);
      expect(fetched.json()).not.toHaveProperty('secret');
      const patched = await service.app.inject({
        method: 'PATCH',
        url: `/v1/webhook-endpoints/${body.id}`,
        headers: auth(owner.key),
        payload: { eventTypes: null, description: null, enabled: false },
      });
      expect(patched.statusCode).toBe(200);
      expect(patched.json()).toMatchObject({
        eventTypes: null,
        description: null,
        enabled: false,
        disabledReason: 'disabled by the tenant',
      });

      // Another tenant's key: the endpoint does not exist for it.
      for (const [method, url] of [
        ['GET', `/v1/webhook-endpoints/${body.id}`],
        ['PATCH', `/v1/webhook-endpoints/${body.id}`],
        ['DELETE', `/v1/webhook-endpoints/${body.id}`],
        ['POST', `/v1/webhook-endpoints/${body.id}/rotate-secret`],
        ['GET', `/v1/webhook-endpoints/${body.id}/deliveries`],
        ['POST', `/v1/webhook-endpoints/${body.id}/recover`],
      ] as const) {
        const answer = await service.app.inject({
          method,
          url,
          headers: auth(other.key),
          ...(method === 'PATCH'
            ? { payload: { enabled: true } }
            : method === 'POST' && url.endsWith('recover')
              ? { payload: { since: new Date().toISOString() } }
              : {}),
        });
        expect(answer.statusCode, `${method} ${url}`).toBe(404);
      }
      const listed = await service.app.inject({ method: 'GET', url: '/v1/webhook-endpoints', headers: auth(other.key) });
      expect(listed.json()).toEqual({ data: [], nextCursor: null });

      const deleted = await service.app.inject({ method: 'DELETE', url: `/v1/webhook-endpoints/${body.id}`, headers: auth(owner.key) });
      expect(deleted.statusCode).toBe(204);
      const gone = await service.app.inject({ method: 'GET', url: `/v1/webhook-endpoints/${body.id}`, headers: auth(owner.key) });
      expect(gone.statusCode).toBe(404);

      const noScope = await service.seedKey(owner.tenantId, ['events:read']);
      const refused = await service.app.inject({ method: 'GET', url: '/v1/webhook-endpoints', headers: auth(noScope.key) });
      expect(refused.statusCode).toBe(403);
      expect(refused.json()).toMatchObject({ error: { code: 'FORBIDDEN_SCOPE', scope: 'webhooks:manage' } });
    });

    it('refuses unknown event types and bad bodies with 422 naming the field', async () => {
      for (const [payload, field] of [
        [{ url: 'https://hooks.invalid/x', eventTypes: ['consultation.exploded'] }, 'eventTypes'],
        [{}, 'url'],
        [{ url: 'https://hooks.invalid/x', surprise: 1 }, 'surprise'],
      ] as const) {
        const answer = await service.app.inject({ method: 'POST', url: '/v1/webhook-endpoints', headers: auth(owner.key), payload });
        expect(answer.statusCode).toBe(422);
        expect(answer.json<{ error: { field: string } }>().error.field).toContain(field);
      }
    });

    it('refuses every generated SSRF URL with 422 naming url, at create and at patch', async () => {
      const target = await strict.app.inject({
        method: 'POST',
        url: '/v1/webhook-endpoints',
        headers: auth(owner.key),
        payload: { url: 'https://hooks.invalid/ok' },
      });
      expect(target.statusCode).toBe(201);
      const id = target.json<{ id: string }>().id;
      await fc.assert(
        fc.asyncProperty(refusedUrl, async (url) => {
          const created = await strict.app.inject({
            method: 'POST',
            url: '/v1/webhook-endpoints',
            headers: auth(owner.key),
            payload: { url },
          });
          expect(created.statusCode, url).toBe(422);
          expect(created.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED', field: 'url' } });
          const patched = await strict.app.inject({
            method: 'PATCH',
            url: `/v1/webhook-endpoints/${id}`,
            headers: auth(owner.key),
            payload: { url },
          });
          expect(patched.statusCode, url).toBe(422);
        }),
        { numRuns: 60 },
      );
      const unchanged = await strict.app.inject({ method: 'GET', url: `/v1/webhook-endpoints/${id}`, headers: auth(owner.key) });
      expect(unchanged.json()).toMatchObject({ url: 'https://hooks.invalid/ok' });
    });

    it('never follows a redirect: a 3xx is a failed attempt and its target gets nothing', async () => {
      const target = await startWebhookReceiver(() => 200);
      const redirecting = await startWebhookReceiver(() => ({ status: 307, headers: { location: target.url } }));
      try {
        const created = await service.app.inject({
          method: 'POST',
          url: '/v1/webhook-endpoints',
          headers: auth(owner.key),
          payload: { url: redirecting.url },
        });
        const endpoint = created.json<{ id: string; secret: string }>();
        redirecting.secrets = [endpoint.secret];
        const room = await service.seedConsultation(owner.tenantId, { identities: { 'clin-1': 'clinician' } });
        const signed = signForm('http://localhost:80/webhooks/twilio/video', service.authToken, {
          AccountSid: service.accountSid,
          RoomSid: room.roomSid,
          RoomName: 'r',
          RoomStatus: 'in-progress',
          RoomType: 'group',
          StatusCallbackEvent: 'participant-connected',
          ParticipantSid: `PA${'1'.padStart(32, '0')}`,
          ParticipantIdentity: 'clin-1',
          ParticipantStatus: 'connected',
          Timestamp: new Date().toISOString(),
          SequenceNumber: '1',
        });
        await service.app.inject({ method: 'POST', url: '/webhooks/twilio/video', headers: signed.headers, payload: signed.body });
        await until('three attempts at the redirecting endpoint', () => redirecting.deliveries.length >= 3);
        const page = await service.app.inject({
          method: 'GET',
          url: `/v1/webhook-endpoints/${endpoint.id}/deliveries`,
          headers: auth(owner.key),
        });
        const attempts = page.json<{ data: { status: string; responseStatus?: number }[] }>().data;
        expect(attempts.some((attempt) => attempt.status === 'retrying' && attempt.responseStatus === 307)).toBe(true);
        expect(target.deliveries).toHaveLength(0);
        expect(redirecting.deliveries.every((delivery) => delivery.verifiedWith.length === 1)).toBe(true);
        await service.app.inject({ method: 'DELETE', url: `/v1/webhook-endpoints/${endpoint.id}`, headers: auth(owner.key) });
      } finally {
        await target.close();
        await redirecting.close();
      }
    });
  });
}
