/**
 * Every tenant route, with every kind of bad credential: no key, a malformed key, a key with a
 * wrong checksum, an unknown key, a revoked key, an expired key, a key lacking the scope, and
 * another tenant's valid key on this tenant's ids — each answered as the contract says, with the
 * error envelope and nothing of the resource in the body.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCOPES } from '../../src/service/auth/scopes.js';
import { deleteApiKeys } from '../../src/storage/tenant-repository.js';
import { enginesUnderTest } from '../support/engines.js';
import { startTestService, type TestService } from '../support/test-service.js';

interface Route {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  readonly path: (ids: { consultationId: string }) => string;
  readonly scope: string;
  readonly body?: unknown;
  /** Routes addressing one of this tenant's resources: another tenant gets 404. */
  readonly owned: boolean;
}

const ROUTES: Route[] = [
  { method: 'POST', path: () => '/v1/consultations', scope: 'consultations:write', body: { record: false }, owned: false },
  { method: 'GET', path: () => '/v1/consultations', scope: 'consultations:read', owned: false },
  { method: 'GET', path: ({ consultationId }) => `/v1/consultations/${consultationId}`, scope: 'consultations:read', owned: true },
  {
    method: 'POST',
    path: ({ consultationId }) => `/v1/consultations/${consultationId}/access-tokens`,
    scope: 'tokens:issue',
    body: { identity: 'pt-7', role: 'patient' },
    owned: true,
  },
  { method: 'POST', path: ({ consultationId }) => `/v1/consultations/${consultationId}/end`, scope: 'consultations:write', owned: true },
  { method: 'GET', path: ({ consultationId }) => `/v1/consultations/${consultationId}/recordings`, scope: 'recordings:read', owned: true },
  { method: 'POST', path: ({ consultationId }) => `/v1/consultations/${consultationId}/cancel`, scope: 'consultations:write', owned: true },
  {
    method: 'GET',
    path: ({ consultationId }) => `/v1/consultations/${consultationId}/composition/media`,
    scope: 'recordings:read',
    owned: true,
  },
  { method: 'GET', path: () => '/v1/billing-records', scope: 'billing:read', owned: false },
  {
    method: 'POST',
    path: ({ consultationId }) => `/v1/consultations/${consultationId}/consents`,
    scope: 'consents:write',
    body: { identity: 'pt-secret-1', kind: 'recording', decision: 'given', textVersion: 'rec-1' },
    owned: true,
  },
  { method: 'GET', path: ({ consultationId }) => `/v1/consultations/${consultationId}/consents`, scope: 'consultations:read', owned: true },
  { method: 'GET', path: () => '/v1/api-keys', scope: 'keys:manage', owned: false },
  { method: 'POST', path: () => '/v1/api-keys', scope: 'keys:manage', body: { scopes: ['consultations:read'] }, owned: false },
  { method: 'GET', path: () => '/v1/events', scope: 'events:read', owned: false },
  { method: 'GET', path: () => '/v1/webhook-endpoints', scope: 'webhooks:manage', owned: false },
  { method: 'GET', path: () => '/v1/tenant/settings', scope: 'settings:manage', owned: false },
  { method: 'PATCH', path: () => '/v1/tenant/settings', scope: 'settings:manage', body: { waitingRoom: false }, owned: false },
  { method: 'POST', path: () => '/v1/webhook-endpoints', scope: 'webhooks:manage', body: { url: 'https://203.0.113.9/x' }, owned: false },
  // Erasure is idempotent: another tenant's key gets the same 200 as for any identity it never had,
  // with nothing changed here (test/privacy/subject-erasure.test.ts proves the rows untouched).
  { method: 'DELETE', path: () => '/v1/subjects/pt-secret-1', scope: 'privacy:erase', owned: false },
];

const ALL_SCOPES = SCOPES;

for (const engine of enginesUnderTest()) {
  describe(`tenant API security on ${engine.name}`, () => {
    let service: TestService;
    let consultationId: string;
    let roomSid: string;
    const keys: Record<string, string> = {};

    beforeAll(async () => {
      service = await startTestService(engine);
      const owner = await service.seedTenant('human', ALL_SCOPES);
      keys.owner = owner.key;
      ({ id: consultationId, roomSid } = await service.seedConsultation(owner.tenantId, { identities: { 'pt-secret-1': 'patient' } }));
      keys.revoked = (await service.seedKey(owner.tenantId, ALL_SCOPES, { revoked: true })).key;
      keys.expired = (await service.seedKey(owner.tenantId, ALL_SCOPES, { expiresAt: new Date(Date.now() - 1000).toISOString() })).key;
      keys.noScope = (await service.seedKey(owner.tenantId, ['audit:read'])).key;
      keys.other = (await service.seedTenant('veterinary', ALL_SCOPES)).key;
      // A well-formed key that was never issued: right shape and checksum, unknown id.
      const unknown = await service.seedKey(owner.tenantId, ALL_SCOPES);
      keys.unknown = unknown.key;
      await deleteApiKeys(service.store.db, [owner.keyId, unknown.keyId]);
      keys.owner = (await service.seedKey(owner.tenantId, ALL_SCOPES)).key;
    });
    afterAll(async () => {
      await service?.close();
    });

    const call = (route: Route, authorization: string | undefined) =>
      service.app.inject({
        method: route.method,
        url: route.path({ consultationId }),
        headers: authorization === undefined ? {} : { authorization },
        ...(route.body ? { payload: route.body as Record<string, unknown> } : {}),
      });

    const badCredentials: [string, () => string | undefined][] = [
      ['no key', () => undefined],
      ['a malformed key', () => 'Bearer not-a-key'],
      ['a non-bearer scheme', () => `Basic ${keys.owner}`],
      ['a key with a typo', () => `Bearer ${keys.owner!.slice(0, -1)}${keys.owner!.endsWith('A') ? 'B' : 'A'}`],
      ['an unknown key', () => `Bearer ${keys.unknown}`],
      ['a revoked key', () => `Bearer ${keys.revoked}`],
      ['an expired key', () => `Bearer ${keys.expired}`],
    ];

    for (const route of ROUTES) {
      const name = `${route.method} ${route.path({ consultationId: ':id' })}`;
      describe(name, () => {
        it.each(badCredentials)('answers 401 to %s', async (_label, authorization) => {
          const response = await call(route, authorization());
          expect(response.statusCode).toBe(401);
          expect(response.json()).toEqual({
            error: { code: 'UNAUTHENTICATED', message: expect.any(String), requestId: expect.any(String) },
          });
        });

        it('answers 403 to a valid key lacking the scope', async () => {
          const response = await call(route, `Bearer ${keys.noScope}`);
          expect(response.statusCode).toBe(403);
          expect(response.json().error.code).toBe('FORBIDDEN_SCOPE');
        });

        // The SSE stream never ends under inject(); its tenant filter is proven in the live events test.
        if (route.path({ consultationId }) === '/v1/events') return;
        it("never shows another tenant this tenant's data", async () => {
          const response = await call(route, `Bearer ${keys.other}`);
          if (route.owned) {
            expect(response.statusCode).toBe(404);
            expect(response.json().error.code).toBe('NOT_FOUND');
          } else {
            // Its own (empty) view, or for POST its own new consultation (502 here: no Twilio).
            expect([401, 403, 404]).not.toContain(response.statusCode);
          }
          for (const secret of [consultationId, roomSid, 'pt-secret-1']) expect(response.body).not.toContain(secret);
        });
      });
    }

    it('answers an unknown id like another tenant’s: 404, same body shape', async () => {
      const response = await service.app.inject({
        method: 'GET',
        url: '/v1/consultations/con_doesnotexist',
        headers: { authorization: `Bearer ${keys.owner}` },
      });
      expect(response.statusCode).toBe(404);
      expect(response.json().error.code).toBe('NOT_FOUND');
    });

    it('lets the owner in', async () => {
      const response = await service.app.inject({
        method: 'GET',
        url: `/v1/consultations/${consultationId}`,
        headers: { authorization: `Bearer ${keys.owner}` },
      });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ id: consultationId, roomSid });
    });
  });
}
