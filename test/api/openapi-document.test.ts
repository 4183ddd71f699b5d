/**
 * The published contract: docs/openapi.json is exactly what the routes' schemas generate (else:
 * `npm run openapi`), the service serves it at /v1/openapi.json and a reference page at /docs
 * that loads nothing from elsewhere, every /v1 route is in it with its scope and error answers,
 * and the checker that validates every answer of the API tests against it does refuse answers
 * that disagree.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument, serializeOpenApiDocument } from '../../src/service/api/openapi-document.js';
import { enginesUnderTest } from '../support/engines.js';
import { generatedClientTypes } from '../support/openapi-client-types.js';
import { createOpenApiChecker } from '../support/openapi-responses.js';
import { startTestService, type TestService } from '../support/test-service.js';

const committed = readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8');
const sqlite = enginesUnderTest().find((engine) => engine.name === 'sqlite') ?? enginesUnderTest()[0]!;

describe('the OpenAPI document', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService(sqlite);
  });
  afterAll(async () => {
    await service?.close();
  });

  it('is current: docs/openapi.json is what the routes generate', async () => {
    const generated = serializeOpenApiDocument(await buildOpenApiDocument());
    expect(generated === committed, 'docs/openapi.json is stale: run `npm run openapi` and commit the result').toBe(true);
  });

  it('has current generated client types (test/support/generated/roomgate-api.d.ts)', async () => {
    const generated = await generatedClientTypes(JSON.parse(committed) as Record<string, unknown>);
    const types = readFileSync(new URL('../support/generated/roomgate-api.d.ts', import.meta.url), 'utf8');
    expect(generated === types, 'the generated client types are stale: run `npm run openapi` and commit the result').toBe(true);
  });

  it('is served at /v1/openapi.json without a key, as OpenAPI 3.1, the same as the committed one', async () => {
    const response = await service.app.inject({ method: 'GET', url: '/v1/openapi.json' });
    expect(response.statusCode).toBe(200);
    const served = response.json() as { openapi: string; paths: Record<string, Record<string, { security?: unknown; responses: object }>> };
    expect(served.openapi).toBe('3.1.0');
    expect(served).toEqual(JSON.parse(committed));
    for (const [path, operations] of Object.entries(served.paths)) {
      if (!path.startsWith('/v1/') || path === '/v1/openapi.json') continue;
      for (const [method, operation] of Object.entries(operations)) {
        // The platform operator's routes take the operator token, every other /v1 route an API key.
        expect(operation.security, `${method} ${path}`).toEqual([
          path.startsWith('/v1/operator/') ? { operatorToken: [] } : { apiKey: [] },
        ]);
        expect(Object.keys(operation.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['401', '403', '422']));
      }
    }
  });

  it('has a reference page at /docs that loads nothing from another origin', async () => {
    const response = await service.app.inject({ method: 'GET', url: '/docs' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.body).toContain('/v1/openapi.json');
    expect(response.body).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
  });

  it('answers with X-Request-Id on every answer, errors included', async () => {
    for (const url of ['/healthz', '/v1/consultations', '/nowhere']) {
      const response = await service.app.inject({ method: 'GET', url });
      expect(response.headers['x-request-id'], url).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('checks answers: an undocumented status or a body off its schema is refused', () => {
    const check = createOpenApiChecker();
    const json = 'application/json; charset=utf-8';
    const ok = { error: { code: 'NOT_FOUND', message: 'Not found.', requestId: 'r' } };
    expect(
      check({ method: 'GET', url: '/v1/consultations/con_x', status: 404, contentType: json, body: JSON.stringify(ok) }),
    ).toBeUndefined();
    expect(check({ method: 'GET', url: '/v1/consultations/con_x', status: 404, contentType: json, body: '{"error":{}}' })).toMatch(/code/);
    expect(check({ method: 'GET', url: '/v1/consultations', status: 418, contentType: json, body: '{}' })).toMatch(/not documented/);
    expect(
      check({ method: 'GET', url: '/v1/consultations', status: 200, contentType: json, body: '{"data":[{"id":1}],"nextCursor":null}' }),
    ).toMatch(/must/);
    expect(
      check({ method: 'GET', url: '/v1/billing-records?limit=1', status: 200, contentType: json, body: '{"data":[],"nextCursor":null}' }),
    ).toBeUndefined();
  });
});
