/**
 * Keys over the API (scope keys:manage): a created key works at once and only for its scopes; a
 * key can never grant a scope it does not hold; lists and fetches never show a secret; another
 * tenant's key is not found; a revoked key gets 401; creation, refusal and revocation are audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../support/engines.js';
import { startTestService, type TestService } from '../support/test-service.js';

const sqlite = enginesUnderTest().find((engine) => engine.name === 'sqlite') ?? enginesUnderTest()[0]!;

describe('API keys over the API', () => {
  let service: TestService;
  let manager: string;
  let tenantId: string;
  let otherManager: string;

  beforeAll(async () => {
    service = await startTestService(sqlite);
    ({ key: manager, tenantId } = await service.seedTenant('human', ['keys:manage', 'consultations:read', 'audit:read']));
    ({ key: otherManager } = await service.seedTenant('human', ['keys:manage']));
  });
  afterAll(async () => {
    await service?.close();
  });

  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, key: string, payload?: Record<string, unknown>) =>
    service.app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload ? { payload } : {}) });

  it('creates a key that works at once for its scopes only, shown once, with Location', async () => {
    const created = await call('POST', '/v1/api-keys', manager, { scopes: ['consultations:read'] });
    expect(created.statusCode, created.body).toBe(201);
    const body = created.json();
    expect(created.headers.location).toBe(`/v1/api-keys/${body.id}`);
    expect(body).toMatchObject({ scopes: ['consultations:read'], revokedAt: null, expiresAt: null });
    expect(typeof body.key).toBe('string');
    expect((await call('GET', '/v1/consultations', body.key)).statusCode).toBe(200);
    expect((await call('GET', '/v1/audit-log', body.key)).statusCode).toBe(403);
    const fetched = await call('GET', `/v1/api-keys/${body.id}`, manager);
    expect(fetched.statusCode).toBe(200);
    expect(fetched.body).not.toContain(body.key);
    const { key: _secret, lastUsedAt: _unused, ...model } = body;
    expect(fetched.json()).toMatchObject(model);
    const listed = await call('GET', '/v1/api-keys?limit=500', manager);
    expect(listed.json().data.map((row: { id: string }) => row.id)).toContain(body.id);
    expect(listed.body).not.toContain(body.key);
    expect(listed.body).not.toMatch(/secret|hash/i);
  });

  it('never grants a scope the calling key does not hold (403 naming it)', async () => {
    const refused = await call('POST', '/v1/api-keys', manager, { scopes: ['consultations:read', 'privacy:erase'] });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error).toMatchObject({ code: 'FORBIDDEN_SCOPE', scope: 'privacy:erase' });
    const unknown = await call('POST', '/v1/api-keys', manager, { scopes: ['root:all'] });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().error.field).toMatch(/^scopes/);
    const past = await call('POST', '/v1/api-keys', manager, { scopes: ['consultations:read'], expiresAt: '2020-01-01T00:00:00Z' });
    expect(past.statusCode).toBe(422);
    expect(past.json().error.field).toBe('expiresAt');
  });

  it("keeps tenants apart: another tenant's key id is not found, not listed, not revocable", async () => {
    const mine = (await call('POST', '/v1/api-keys', manager, { scopes: ['consultations:read'] })).json();
    expect((await call('GET', `/v1/api-keys/${mine.id}`, otherManager)).statusCode).toBe(404);
    expect((await call('DELETE', `/v1/api-keys/${mine.id}`, otherManager)).statusCode).toBe(404);
    expect((await call('GET', '/v1/api-keys', otherManager)).body).not.toContain(mine.id);
    expect((await call('GET', '/v1/consultations', mine.key)).statusCode).toBe(200);
  });

  it('revokes (idempotently): the key gets 401 from then on; every step is audited', async () => {
    const doomed = (await call('POST', '/v1/api-keys', manager, { scopes: ['consultations:read'] })).json();
    const revoked = await call('DELETE', `/v1/api-keys/${doomed.id}`, manager);
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json().revokedAt).toEqual(expect.any(String));
    expect((await call('DELETE', `/v1/api-keys/${doomed.id}`, manager)).json()).toEqual(revoked.json());
    expect((await call('GET', '/v1/consultations', doomed.key)).statusCode).toBe(401);
    await service.app.roomgate.drain();
    const audit = (await call('GET', '/v1/audit-log?limit=500', manager)).json().data as {
      action: string;
      target: string;
      outcome: string;
    }[];
    expect(audit.filter((row) => row.action === 'api-key.revoke' && row.target === doomed.id)).toHaveLength(1);
    expect(audit.some((row) => row.action === 'api-key.create' && row.target === doomed.id && row.outcome === 'created')).toBe(true);
    expect(audit.some((row) => row.action === 'api-key.create' && row.outcome === 'refused')).toBe(true);
    expect(JSON.stringify(audit)).not.toContain(doomed.key);
    expect(tenantId).toBeTruthy();
  });
});
