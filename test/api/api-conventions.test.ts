/**
 * One style on every route, as a platform team meets it: the auth challenges (RFC 6750), the
 * scheme in any case, 403 naming the scope, Location on 201, one Consultation model for the list
 * and the fetch, 422 naming the refused field for every kind of bad input, external references
 * and metadata, cancel, and end/cancel against the sandbox Twilio (a room Twilio ended → 409
 * with the current state).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandboxCredentials } from '../../src/sandbox/sandbox-credentials.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox-server.js';
import { enginesUnderTest } from '../support/engines.js';
import { randomHex, startTestService, type TestService, sandboxTwilioEnv } from '../support/test-service.js';

const sqlite = enginesUnderTest().find((engine) => engine.name === 'sqlite') ?? enginesUnderTest()[0]!;
const SCOPES = ['consultations:read', 'consultations:write', 'tokens:issue', 'billing:read', 'audit:read', 'recordings:read'];

describe('tenant API conventions', () => {
  const credentials = createSandboxCredentials();
  let sandbox: Sandbox;
  let service: TestService;
  let key: string;
  let readOnly: string;

  beforeAll(async () => {
    sandbox = await startSandbox({ ...credentials, callbackRetries: 0 });
    service = await startTestService(sqlite, {
      env: {
        ...sandboxTwilioEnv(credentials, sandbox.url),
        ROOMGATE_PUBLIC_URL: 'http://127.0.0.1:9',
      },
    });
    const tenant = await service.seedTenant('human', SCOPES);
    key = tenant.key;
    readOnly = (await service.seedKey(tenant.tenantId, ['consultations:read'])).key;
  });
  afterAll(async () => {
    await service?.close();
    await sandbox?.close();
  });

  const call = (method: 'GET' | 'POST', url: string, payload?: unknown, authorization = `Bearer ${key}`) =>
    service.app.inject({
      method,
      url,
      headers: { authorization, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    });
  const create = async (body: Record<string, unknown> = { record: false }) => {
    const response = await call('POST', '/v1/consultations', body);
    expect(response.statusCode, response.body).toBe(201);
    return response.json();
  };

  it('challenges on 401 as RFC 6750 says, with or without a credential', async () => {
    const none = await service.app.inject({ method: 'GET', url: '/v1/consultations' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="roomgate"');
    const bad = await call('GET', '/v1/consultations', undefined, 'Bearer rgk_nope');
    expect(bad.statusCode).toBe(401);
    expect(bad.headers['www-authenticate']).toBe('Bearer realm="roomgate", error="invalid_token"');
  });

  it('reads the scheme name in any case', async () => {
    for (const scheme of ['bearer', 'BEARER', 'Bearer', 'bEaReR']) {
      expect((await call('GET', '/v1/consultations', undefined, `${scheme} ${key}`)).statusCode, scheme).toBe(200);
    }
  });

  it('names the missing scope on 403, in the body and the challenge', async () => {
    const response = await call('POST', '/v1/consultations', { record: false }, `Bearer ${readOnly}`);
    expect(response.statusCode).toBe(403);
    expect(response.json().error).toMatchObject({ code: 'FORBIDDEN_SCOPE', scope: 'consultations:write' });
    expect(response.json().error.message).toContain('consultations:write');
    expect(response.headers['www-authenticate']).toContain('scope="consultations:write"');
  });

  it('answers 201 with Location, and the list shows the same model as the fetch, in camelCase', async () => {
    const created = await call('POST', '/v1/consultations', { record: false, metadata: { clinic: 'north' } });
    expect(created.statusCode).toBe(201);
    expect(created.headers.location).toBe(`/v1/consultations/${created.json().id}`);
    const fetched = await call('GET', created.headers.location as string);
    expect(fetched.json()).toEqual(created.json());
    const listed = (await call('GET', '/v1/consultations?limit=500'))
      .json()
      .data.find((row: { id: string }) => row.id === created.json().id);
    expect(listed).toEqual(fetched.json());
    expect(JSON.stringify(listed)).not.toMatch(/"[a-z]+_[a-z_]+":/);
    expect(fetched.json().metadata).toEqual({ clinic: 'north' });
    const token = await call('POST', `/v1/consultations/${created.json().id}/access-tokens`, { identity: 'pt-loc-1', role: 'patient' });
    expect(token.statusCode).toBe(201);
    expect(token.headers.location).toBe(`/v1/consultations/${created.json().id}`);
  });

  it.each([
    ['GET', '/v1/consultations?limit=0', undefined, 'limit'],
    ['GET', '/v1/consultations?limit=501', undefined, 'limit'],
    ['GET', '/v1/consultations?limit=abc', undefined, 'limit'],
    ['GET', '/v1/consultations?status=bogus', undefined, 'status'],
    ['GET', '/v1/consultations?colour=red', undefined, 'colour'],
    ['GET', '/v1/billing-records?updatedSince=yesterday', undefined, 'updatedSince'],
    ['GET', '/v1/billing-records?limit=0', undefined, 'limit'],
    ['GET', '/v1/audit-log?since=2029-13-45T00:00:00Z', undefined, 'since'],
    ['GET', '/v1/audit-log?limit=x', undefined, 'limit'],
    ['POST', '/v1/consultations', { record: 'yes' }, 'record'],
    ['POST', '/v1/consultations', { record: 'true' }, 'record'],
    ['POST', '/v1/consultations', { scheduledAt: 'tomorrow' }, 'scheduledAt'],
    ['POST', '/v1/consultations', { colour: 'red' }, 'colour'],
    ['POST', '/v1/consultations', { externalRef: '' }, 'externalRef'],
    ['POST', '/v1/consultations', { metadata: { visit: 7 } }, 'metadata.visit'],
    ['POST', '/v1/consultations', { metadata: { 'bad key!': 'x' } }, 'metadata.bad key!'],
    ['POST', '/v1/consultations', [], ''],
    ['POST', '/v1/consultations', 'text', ''],
  ] as const)('%s %s → 422 naming %s', async (method, url, body, field) => {
    const response = await call(method, url, body);
    expect(response.statusCode, response.body).toBe(422);
    const error = response.json().error;
    expect(error.code).toBe('VALIDATION_FAILED');
    if (field !== '') {
      expect(error.field).toBe(field);
      expect(error.message).toContain(field.split('.')[0]);
    }
  });

  it('keeps externalRef unique per tenant (409 with the existing one) and filters by it', async () => {
    const externalRef = `appt-${randomHex(6)}`;
    const first = await create({ record: false, externalRef });
    const second = await call('POST', '/v1/consultations', { record: false, externalRef });
    expect(second.statusCode).toBe(409);
    expect(second.json().error).toMatchObject({ code: 'CONFLICT', field: 'externalRef', current: { id: first.id, externalRef } });
    const other = await service.seedTenant('human', SCOPES);
    const elsewhere = await call('POST', '/v1/consultations', { record: false, externalRef }, `Bearer ${other.key}`);
    expect(elsewhere.statusCode).toBe(201);
    const found = (await call('GET', `/v1/consultations?externalRef=${externalRef}`)).json().data;
    expect(found.map((row: { id: string }) => row.id)).toEqual([first.id]);
  });

  it('cancels a scheduled consultation and completes its room at Twilio; a second cancel is 409 with the state', async () => {
    const consultation = await create();
    expect(sandbox.state.getRoom(consultation.roomSid)?.status).toBe('in-progress');
    const cancelled = await call('POST', `/v1/consultations/${consultation.id}/cancel`);
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json()).toMatchObject({ id: consultation.id, status: 'cancelled' });
    expect(sandbox.state.getRoom(consultation.roomSid)?.status).toBe('completed');
    const again = await call('POST', `/v1/consultations/${consultation.id}/cancel`);
    expect(again.statusCode).toBe(409);
    expect(again.json().error.current).toMatchObject({ status: 'cancelled' });
  });

  it('answers 409 with the current state when Twilio has ended the room already', async () => {
    const consultation = await create();
    sandbox.endRoom(consultation.roomSid);
    const ended = await call('POST', `/v1/consultations/${consultation.id}/end`);
    expect(ended.statusCode).toBe(409);
    expect(ended.json().error).toMatchObject({ code: 'CONFLICT', current: { id: consultation.id } });
  });
});
