/**
 * Browser dashboards and fair use: no CORS header unless ROOMGATE_CORS_ORIGINS names the origin
 * (preflight and actual request); each API key's requests a minute are limited — by its
 * tenant's own limit, else ROOMGATE_RATE_LIMIT — with 429 RATE_LIMITED and Retry-After; one
 * key's budget is not another's, and requests without a valid key spend no one's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant } from '../../src/service/tenants/tenant-admin.js';
import { enginesUnderTest } from '../support/engines.js';
import { randomHex, startTestService, type TestService } from '../support/test-service.js';

const sqlite = enginesUnderTest().find((engine) => engine.name === 'sqlite') ?? enginesUnderTest()[0]!;
const DASHBOARD = 'https://dashboard.example.com';

describe('CORS and per-key rate limits', () => {
  let plain: TestService;
  let service: TestService;

  beforeAll(async () => {
    plain = await startTestService(sqlite);
    service = await startTestService(sqlite, {
      env: { ROOMGATE_CORS_ORIGINS: `${DASHBOARD},http://localhost:3000`, ROOMGATE_RATE_LIMIT: '5' },
    });
  });
  afterAll(async () => {
    await plain?.close();
    await service?.close();
  });

  const preflight = (target: TestService, origin: string) =>
    target.app.inject({
      method: 'OPTIONS',
      url: '/v1/consultations',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,idempotency-key',
      },
    });

  it('sends no CORS header by default', async () => {
    const { key } = await plain.seedTenant('human', ['consultations:read']);
    const response = await plain.app.inject({
      method: 'GET',
      url: '/v1/consultations',
      headers: { origin: DASHBOARD, authorization: `Bearer ${key}` },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
    expect((await preflight(plain, DASHBOARD)).headers['access-control-allow-origin']).toBeUndefined();
  });

  it('allows the configured origins only, and exposes the headers a client reads', async () => {
    const allowed = await preflight(service, DASHBOARD);
    expect(allowed.statusCode).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe(DASHBOARD);
    expect(String(allowed.headers['access-control-allow-headers'])).toContain('idempotency-key');
    expect((await preflight(service, 'https://evil.example.com')).headers['access-control-allow-origin']).toBeUndefined();
    const { key } = await service.seedTenant('human', ['consultations:read']);
    const actual = await service.app.inject({
      method: 'GET',
      url: '/v1/consultations',
      headers: { origin: DASHBOARD, authorization: `Bearer ${key}` },
    });
    expect(actual.headers['access-control-allow-origin']).toBe(DASHBOARD);
    expect(String(actual.headers['access-control-expose-headers'])).toContain('x-request-id');
  });

  it('limits each key to ROOMGATE_RATE_LIMIT a minute, with 429 and Retry-After; other keys keep theirs', async () => {
    const tenant = await service.seedTenant('human', ['consultations:read']);
    const sibling = await service.seedKey(tenant.tenantId, ['consultations:read']);
    const get = (key: string) =>
      service.app.inject({ method: 'GET', url: '/v1/consultations', headers: { authorization: `Bearer ${key}` } });
    for (let i = 0; i < 5; i++) expect((await get(tenant.key)).statusCode).toBe(200);
    const limited = await get(tenant.key);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await get(sibling.key)).statusCode).toBe(200);
    // A bad key is refused (401) without spending anyone's budget.
    for (let i = 0; i < 10; i++) expect((await get('rgk_not_a_key')).statusCode).toBe(401);
  });

  it("uses the tenant's own limit when it has one", async () => {
    const tenantId = await createTenant(service.store, {
      slug: `t-${randomHex(4)}`,
      name: 'Busy clinic',
      kind: 'human',
      rateLimitPerMinute: 2,
    });
    const { key } = await service.seedKey(tenantId, ['consultations:read']);
    const get = () => service.app.inject({ method: 'GET', url: '/v1/consultations', headers: { authorization: `Bearer ${key}` } });
    expect((await get()).statusCode).toBe(200);
    expect((await get()).statusCode).toBe(200);
    expect((await get()).statusCode).toBe(429);
  });
});
