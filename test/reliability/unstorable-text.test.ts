/**
 * A NUL or an unpaired surrogate anywhere a request carries text — a path parameter, a query
 * parameter, a JSON body's key or value at any depth — on every route of the OpenAPI document:
 * a path id holding one answers 404 (it names nothing), any other field 422 naming it, never a
 * 5xx, and nothing is written. (On PostgreSQL, `GET /v1/consultations/ab%00c` and
 * `DELETE /v1/subjects/ab%00c` answered 500: it refuses a NUL in any text value, even in a WHERE
 * clause.) PostgreSQL is the engine that refuses; the others run it when it is not under test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows } from '../../src/storage/table-counts.js';
import { enginesUnderTest } from '../support/engines.js';
import { startTestService, type TestService } from '../support/test-service.js';

const engines = enginesUnderTest();
const engine = engines.find((candidate) => candidate.name === 'postgres') ?? engines[0]!;
const SCOPES = [
  'audit:read',
  'billing:read',
  'consents:write',
  'console:read',
  'consultations:read',
  'consultations:write',
  'events:read',
  'keys:manage',
  'privacy:erase',
  'recordings:read',
  'settings:manage',
  'tokens:issue',
  'webhooks:manage',
];
const WRITTEN = ['consultations', 'api_keys', 'webhook_endpoints', 'lobby_entries', 'consents', 'idempotency_keys'] as const;

interface Operation {
  readonly method: string;
  readonly path: string;
  readonly pathParams: string[];
  readonly queryParams: string[];
  readonly bodyFields: string[];
}

interface Probe {
  readonly method: string;
  readonly url: string;
  readonly body?: string;
  readonly expected: { status: number; field?: string };
}

describe(`unstorable text in a request, on ${engine.name}`, () => {
  let service: TestService;
  let key: string;

  beforeAll(async () => {
    service = await startTestService(engine, { env: { TWILIO_API_BASE_URL: 'http://127.0.0.1:9' } });
    ({ key } = await service.seedTenant('human', SCOPES));
  });
  afterAll(async () => {
    await service?.close();
  });

  const operations = async (): Promise<Operation[]> => {
    type Parameter = { in: string; name: string };
    type Schema = { $ref?: string; properties?: Record<string, unknown> };
    type Op = { parameters?: Parameter[]; requestBody?: { content?: Record<string, { schema?: Schema }> }; responses?: unknown };
    const document = (await service.app.inject({ method: 'GET', url: '/v1/openapi.json' })).json() as {
      paths: Record<string, Record<string, Op>>;
      components: { schemas: Record<string, Schema> };
    };
    const resolve = (schema: Schema | undefined) => (schema?.$ref ? document.components.schemas[schema.$ref.split('/').pop()!] : schema);
    return Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([method, op]) => method !== 'head' && typeof op === 'object' && op.responses !== undefined)
        // The webhook's query is part of the signed URL; the operator's routes take another credential.
        .filter(() => !path.startsWith('/webhooks/') && !path.startsWith('/v1/operator/'))
        .map(([method, op]) => ({
          method: method.toUpperCase(),
          path,
          pathParams: (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
          queryParams: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
          bodyFields: Object.keys(resolve(op.requestBody?.content?.['application/json']?.schema)?.properties ?? {}),
        })),
    );
  };

  const probesOf = (op: Operation): Probe[] => {
    const url = (values: Record<string, string> = {}) => op.path.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? 'x');
    const probes: Probe[] = [];
    for (const name of op.pathParams) {
      for (const bad of ['ab%00c', '%00']) {
        probes.push({
          method: op.method,
          url: url({ [name]: bad }),
          expected: /^(id|name)$|Id$/.test(name) ? { status: 404 } : { status: 422, field: name },
        });
      }
    }
    for (const name of op.queryParams) {
      for (const bad of ['ab%00c']) {
        probes.push({ method: op.method, url: `${url()}?${name}=${bad}`, expected: { status: 422, field: name } });
      }
    }
    for (const name of op.bodyFields) {
      for (const [body, field] of [
        [{ [name]: 'ab\u0000c' }, name],
        [{ [name]: 'ab\ud800c' }, name],
        [{ [name]: ['ok', 'a\u0000'] }, `${name}.1`],
        [{ [name]: { 'k\u0000': 'v' } }, `${name}.k\u0000`],
        [{ [name]: { k: { deeper: 'v\u0000' } } }, `${name}.k.deeper`],
      ] as const) {
        probes.push({ method: op.method, url: url(), body: JSON.stringify(body), expected: { status: 422, field } });
      }
    }
    return probes;
  };

  it('answers 404 for a path id and 422 naming any other field, on every route, and writes nothing', async () => {
    const before = await Promise.all(WRITTEN.map((table) => countRows(service.store.db, table)));
    const failures: string[] = [];
    let probed = 0;
    for (const op of await operations()) {
      for (const probe of probesOf(op)) {
        probed += 1;
        const response = await service.app.inject({
          method: probe.method as 'GET',
          url: probe.url,
          headers: {
            authorization: `Bearer ${key}`,
            accept: 'application/json',
            ...(probe.body === undefined ? {} : { 'content-type': 'application/json', 'idempotency-key': `k-${probed}` }),
          },
          ...(probe.body === undefined ? {} : { payload: probe.body }),
        });
        const error = response.statusCode >= 400 ? (response.json() as { error: { code: string; field?: string } }).error : undefined;
        const ok =
          response.statusCode === probe.expected.status &&
          error?.code === (probe.expected.status === 404 ? 'NOT_FOUND' : 'VALIDATION_FAILED') &&
          error.field === probe.expected.field;
        if (!ok) failures.push(`${probe.method} ${probe.url} ${probe.body ?? ''} → ${response.statusCode} ${response.body.slice(0, 160)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(probed).toBeGreaterThan(150);
    expect(await Promise.all(WRITTEN.map((table) => countRows(service.store.db, table)))).toEqual(before);
    expect((await service.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});
