/**
 * A client generated from docs/openapi.json (openapi-typescript types + openapi-fetch) drives
 * the happy path over real HTTP against the sandbox Twilio: the document is enough to integrate.
 * Every call below is type-checked against the generated types (tsc), so a route whose schema
 * changes without `npm run openapi` breaks this file as well as the staleness test.
 */
import type { AddressInfo } from 'node:net';
import createClient from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandboxCredentials } from '../../src/sandbox/sandbox-credentials.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox-server.js';
import { enginesUnderTest } from '../support/engines.js';
import type { paths } from '../support/generated/roomgate-api.js';
import { createOpenApiChecker } from '../support/openapi-responses.js';
import { startTestService, type TestService, sandboxTwilioEnv } from '../support/test-service.js';

const sqlite = enginesUnderTest().find((engine) => engine.name === 'sqlite') ?? enginesUnderTest()[0]!;

describe('a client generated from the OpenAPI document', () => {
  const credentials = createSandboxCredentials();
  let sandbox: Sandbox;
  let service: TestService;
  let client: ReturnType<typeof createClient<paths>>;

  beforeAll(async () => {
    sandbox = await startSandbox({ ...credentials, callbackRetries: 0 });
    service = await startTestService(sqlite, {
      env: {
        ...sandboxTwilioEnv(credentials, sandbox.url),
      },
    });
    await service.app.listen({ port: 0, host: '127.0.0.1' });
    const { key } = await service.seedTenant('human', [
      'consultations:read',
      'consultations:write',
      'tokens:issue',
      'recordings:read',
      'billing:read',
      'keys:manage',
    ]);
    client = createClient<paths>({
      baseUrl: `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}`,
      headers: { authorization: `Bearer ${key}` },
    });
    // Over real HTTP too, every answer must be what the document says.
    const check = createOpenApiChecker();
    client.use({
      async onResponse({ request, response }) {
        const problem = check({
          method: request.method,
          url: new URL(request.url).pathname,
          status: response.status,
          contentType: response.headers.get('content-type') ?? undefined,
          body: await response.clone().text(),
        });
        if (problem) throw new Error(`answer does not match docs/openapi.json: ${problem}`);
        return response;
      },
    });
  });
  afterAll(async () => {
    await service?.close();
    await sandbox?.close();
  });

  it('creates, lists, fetches, issues a token, reads recordings and billing, cancels, and manages keys', async () => {
    const created = await client.POST('/v1/consultations', {
      params: { header: { 'idempotency-key': 'client-happy-path-1' } },
      body: { record: false, externalRef: 'appt-42', metadata: { clinic: 'north' } },
    });
    expect(created.response.status).toBe(201);
    const consultation = created.data!;
    expect(consultation).toMatchObject({ status: 'scheduled', externalRef: 'appt-42', metadata: { clinic: 'north' } });
    expect(created.response.headers.get('location')).toBe(`/v1/consultations/${consultation.id}`);

    const listed = await client.GET('/v1/consultations', { params: { query: { externalRef: 'appt-42', limit: 10 } } });
    expect(listed.data!.data.map((row) => row.id)).toEqual([consultation.id]);
    expect(listed.data!.nextCursor).toBeNull();

    const fetched = await client.GET('/v1/consultations/{id}', { params: { path: { id: consultation.id } } });
    // The same model (its timeline may have grown: the sandbox reports the room by callback).
    expect(fetched.data).toMatchObject({ id: consultation.id, roomSid: consultation.roomSid, metadata: { clinic: 'north' } });

    const token = await client.POST('/v1/consultations/{id}/access-tokens', {
      params: { path: { id: consultation.id } },
      body: { identity: 'pt-client-1', role: 'patient' },
    });
    expect(token.response.status).toBe(201);
    expect(token.data!.roomName).toBe(consultation.roomName);

    const recordings = await client.GET('/v1/consultations/{id}/recordings', { params: { path: { id: consultation.id } } });
    expect(recordings.data).toEqual({ recordings: [], composition: null, compositions: [] });

    const billing = await client.GET('/v1/billing-records', { params: { query: { updatedSince: '2020-01-01T00:00:00Z' } } });
    expect(billing.data!.data).toEqual([]);

    const refused = await client.GET('/v1/billing-records', { params: { query: { updatedSince: 'yesterday' } } });
    expect(refused.response.status).toBe(422);
    expect(refused.error!.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'updatedSince' });

    const cancelled = await client.POST('/v1/consultations/{id}/cancel', { params: { path: { id: consultation.id } } });
    expect(cancelled.data!.status).toBe('cancelled');
    expect(sandbox.state.getRoom(consultation.roomSid!)?.status).toBe('completed');

    const newKey = await client.POST('/v1/api-keys', { body: { scopes: ['consultations:read'] } });
    expect(newKey.response.status).toBe(201);
    const keys = await client.GET('/v1/api-keys');
    expect(keys.data!.data.map((row) => row.id)).toContain(newKey.data!.id);
    const revoked = await client.DELETE('/v1/api-keys/{id}', { params: { path: { id: newKey.data!.id } } });
    expect(revoked.data!.revokedAt).not.toBeNull();
  });
});
