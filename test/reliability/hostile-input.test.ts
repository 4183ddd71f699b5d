/**
 * Hostile input to every route, over inject() and over real HTTP: malformed bodies, broken
 * encodings, absurd headers, huge and empty requests, bad and deep JSON, odd methods, unknown
 * paths. Never a 5xx, never a crash, the exact 4xx where the answer is fixed by the contract,
 * the JSON error envelope on every error, and /healthz still answers afterwards. SQLite only.
 */
import net from 'node:net';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../support/engines.js';
import { signForm, signJsonText } from '../support/signed-callback.js';
import { startFakeTwilio, type FakeTwilio } from '../support/spawn-service.js';
import { startTestService, type TestService } from '../support/test-service.js';

const WEBHOOK = '/webhooks/twilio/video';
const KiB = 1024;
const WEBHOOK_LIMIT = 64 * KiB;
const APP_LIMIT = 256 * KiB;
const ALL_SCOPES = [
  'consultations:read',
  'consultations:write',
  'tokens:issue',
  'recordings:read',
  'billing:read',
  'privacy:erase',
  'audit:read',
];

interface Case {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  /** Statuses the contract allows for this input. */
  readonly expected: readonly number[];
  readonly label: string;
}

const CONTENT_TYPES: { value: string | undefined; json?: boolean; form?: boolean; malformed?: boolean }[] = [
  { value: undefined },
  { value: 'application/json', json: true },
  { value: 'application/json; charset=utf-8', json: true },
  { value: 'APPLICATION/JSON;charset=UTF-16', json: true },
  { value: 'application/x-www-form-urlencoded', form: true },
  { value: 'application/x-www-form-urlencoded; charset=iso-8859-1', form: true },
  { value: 'text/plain' }, // not parsed on the API: 415
  { value: 'text/xml' },
  { value: 'multipart/form-data; boundary=x' },
  { value: 'application/jsonx' },
  { value: ';;;=', malformed: true },
  { value: 'application/octet-stream' },
];

const deepJson = (depth: number) => Buffer.from('{"a":'.repeat(depth) + '1' + '}'.repeat(depth));
const bodyArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(Buffer.alloc(0)) },
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(
        '{bad',
        '{"record":',
        '[',
        '{"__proto__":{"x":1}}',
        '{"constructor":{"prototype":{"x":1}}}',
        'null',
        '"str"',
        '42',
        '[]',
        '\u0000',
        '{"record":"x"}',
        '{"identity":"ab\\u0000c","role":"patient"}',
        '{"identity":"admin","role":"clinician"}',
        '{"record":true,"scheduledAt":"not a date"}',
      )
      .map((text) => Buffer.from(text)),
  },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom('a=%ZZ&b=%', 'a=%C0%AF&%FF=1', 'Timestamp=%00&AccountSid=AC%E0%A4%A', '=&&==&', 'a=\u0000\u0000')
      .map((text) => Buffer.from(text)),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      Buffer.from([0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80]),
      Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]),
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 20000 }).map(deepJson) },
  { weight: 1, arbitrary: fc.constantFrom(WEBHOOK_LIMIT + 1, APP_LIMIT + 1, 1024 * KiB + 7).map((size) => Buffer.alloc(size, 0x61)) },
);
const junkSegment = fc.oneof(
  fc.constantFrom('%ZZ', '%C0%AF', '%FF', '%E0%A4%A', '%', '%00', '%2F', 'a%20b'),
  // Empty (a trailing slash: `GET /v1/consultations/`) or longer than any id: still an id that
  // names nothing (404), never a 422 or the router's 400 (both once answered here).
  fc.constantFrom('', 'a'.repeat(65), 'b'.repeat(1001), 'c'.repeat(4000)),
  fc.string({ unit: 'binary', maxLength: 20 }).map((text) => encodeURIComponent(text).slice(0, 60)),
  fc.stringMatching(/^[a-z0-9_]{1,30}$/),
);
const queryArb = fc.oneof(
  fc.constant(''),
  fc.constantFrom(
    '?limit=%ZZ',
    '?limit=-1&limit=2',
    '?cursor=%FF%FE',
    '?cursor=a&cursor=b',
    '?status=a&status=b',
    '?since=a&since=b',
    '?since=%00',
    '?x=' + 'y'.repeat(5000),
    '?&&=&=',
  ),
);
const isBadEncoding = (segment: string) => {
  try {
    decodeURIComponent(segment);
    return false;
  } catch {
    return true;
  }
};
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** What Fastify's body stage answers for a route that parses bodies (app limit, the JSON parser). */
function bodyStage(method: string, ct: (typeof CONTENT_TYPES)[number], body: Buffer, matched: boolean): number[] | undefined {
  if (!BODY_METHODS.has(method)) return undefined;
  if (ct.malformed) return [415];
  if (ct.json) {
    if (body.length > APP_LIMIT) return [413];
    if (body.length === 0) return [400];
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      return [400];
    }
    if (/"(__proto__|constructor)"/.test(body.toString('utf8'))) return [400];
    // Every JSON body of the tenant API is an object: an array, a string, a number, null → 422.
    if (matched && (value === null || typeof value !== 'object' || Array.isArray(value))) return [422];
    return undefined;
  }
  if (ct.value === undefined && body.length === 0) return undefined;
  return matched ? [415] : [404, 415];
}

describe('hostile input on sqlite', () => {
  const engine = enginesUnderTest().find((candidate) => candidate.name === 'sqlite');
  let twilio: FakeTwilio;
  let service: TestService;
  let key: string;
  let scopeless: string;
  let consultationId: string;
  let roomSid: string;
  let port: number;
  const fives: string[] = [];

  beforeAll(async () => {
    twilio = await startFakeTwilio();
    service = await startTestService(engine ?? enginesUnderTest()[0]!, { env: { TWILIO_API_BASE_URL: twilio.url, LOG_LEVEL: 'warn' } });
    const tenant = await service.seedTenant('human', ALL_SCOPES);
    key = tenant.key;
    scopeless = (await service.seedKey(tenant.tenantId, ['nothing:here'])).key;
    const consultation = await service.seedConsultation(tenant.tenantId, { identities: { 'clin-1': 'clinician', 'pat-1': 'patient' } });
    consultationId = consultation.id;
    roomSid = consultation.roomSid;
    await service.app.listen({ port: 0, host: '127.0.0.1' });
    port = (service.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await service?.close();
    await twilio?.close();
  });

  /** Every route of the contract, with what a valid key may get when the body stage passes. */
  const v1Routes = () => [
    { method: 'POST', path: () => '/v1/consultations', ok: [201, 422] },
    { method: 'GET', path: () => '/v1/consultations', ok: [200, 422] },
    { method: 'GET', path: (id: string) => `/v1/consultations/${id}`, ok: [200, 404] },
    { method: 'POST', path: (id: string) => `/v1/consultations/${id}/access-tokens`, ok: [201, 404, 409, 422] },
    { method: 'POST', path: (id: string) => `/v1/consultations/${id}/end`, ok: [200, 404, 409] },
    { method: 'GET', path: (id: string) => `/v1/consultations/${id}/recordings`, ok: [200, 404] },
    { method: 'GET', path: () => '/v1/billing-records', ok: [200, 422] },
    { method: 'GET', path: () => '/v1/audit-log', ok: [200, 422] },
    { method: 'DELETE', path: (id: string) => `/v1/subjects/${id}`, ok: [200, 404, 422] },
    // Only without a usable key: with one, /v1/events streams forever.
    { method: 'GET', path: () => '/v1/events', ok: [] as number[], stream: true },
  ];

  const caseArb = () =>
    fc.oneof(
      // The webhook: signature header first, then content type and size, then the signature.
      fc
        .record({
          signature: fc.constantFrom('none', 'junk', 'empty', 'huge'),
          ct: fc.constantFrom(...CONTENT_TYPES),
          body: bodyArb,
          query: queryArb,
        })
        .map(({ signature, ct, body, query }): Case => {
          const headers: Record<string, string> = {};
          if (ct.value !== undefined) headers['content-type'] = ct.value;
          if (signature !== 'none')
            headers['x-twilio-signature'] =
              signature === 'junk' ? 'bm90IGEgc2lnbmF0dXJl' : signature === 'huge' ? 'A'.repeat(12 * KiB) : '';
          // The signature decides first whatever the media type; only an oversized body is refused unread.
          let expected: number[];
          if (signature === 'none') expected = [403];
          else if (body.length > WEBHOOK_LIMIT) expected = [413];
          else expected = [403];
          return {
            method: 'POST',
            url: `${WEBHOOK}${query}`,
            headers,
            body,
            expected,
            label: `webhook sig=${signature} ct=${ct.value} len=${body.length}`,
          };
        }),
      // Health, and /metrics, which the public port does not serve (it has its own listener).
      fc
        .record({
          path: fc.constantFrom('/healthz', '/readyz', '/metrics'),
          method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE'),
          ct: fc.constantFrom(...CONTENT_TYPES),
          body: bodyArb,
          query: queryArb,
        })
        .map(({ path, method, ct, body, query }): Case => {
          const headers: Record<string, string> = ct.value === undefined ? {} : { 'content-type': ct.value };
          const payload = method === 'GET' || method === 'HEAD' || method === 'TRACE' ? Buffer.alloc(0) : body;
          const readable = (method === 'GET' || method === 'HEAD') && path !== '/metrics';
          const expected = readable ? [200] : (bodyStage(method, ct, payload, false) ?? [404]);
          return {
            method,
            url: `${path}${query}`,
            headers,
            body: payload,
            expected,
            label: `${method} ${path} ct=${ct.value} len=${payload.length}`,
          };
        }),
      // Every /v1 route, with no key, a garbage key, a key without the scope, and a valid key.
      fc
        .record({
          route: fc.constantFrom(...v1Routes()),
          auth: fc.constantFrom('none', 'garbage', 'scopeless', 'valid', 'basic'),
          id: fc.oneof(fc.constant('KNOWN'), fc.constant('clin-1'), junkSegment),
          ct: fc.constantFrom(...CONTENT_TYPES),
          body: bodyArb,
          query: queryArb,
        })
        .map(({ route, auth, id, ct, body, query }): Case => {
          const segment = id === 'KNOWN' ? consultationId : id;
          const path = route.path(segment);
          const headers: Record<string, string> = ct.value === undefined ? {} : { 'content-type': ct.value };
          const authorization = { none: undefined, garbage: 'Bearer rg_live_garbage', scopeless, valid: key, basic: 'Basic Zm9vOmJhcg==' }[
            auth
          ];
          if (authorization) headers.authorization = authorization.startsWith('B') ? authorization : `Bearer ${authorization}`;
          const effectiveAuth = 'stream' in route && auth === 'valid' ? 'scopeless' : auth;
          if (effectiveAuth !== auth) headers.authorization = `Bearer ${scopeless}`;
          const payload = route.method === 'GET' ? Buffer.alloc(0) : body;
          let expected: number[];
          if (path.includes(segment) && route.path('X') !== route.path('Y') && isBadEncoding(segment)) expected = [400];
          else if (effectiveAuth !== 'valid' && effectiveAuth !== 'scopeless') expected = [401];
          else if (effectiveAuth === 'scopeless') expected = [403];
          else expected = bodyStage(route.method, ct, payload, true) ?? route.ok;
          return {
            method: route.method,
            url: `${path}${query}`,
            headers,
            body: payload,
            expected,
            label: `${route.method} ${path} auth=${auth} ct=${ct.value} len=${payload.length}`,
          };
        }),
      // Unknown paths and methods.
      fc
        .record({
          segments: fc.array(junkSegment, { minLength: 1, maxLength: 4 }),
          method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
          ct: fc.constantFrom(...CONTENT_TYPES),
          body: bodyArb,
        })
        .map(({ segments, method, ct, body }): Case => {
          const path = `/zz-${segments.join('/')}`;
          const headers: Record<string, string> = ct.value === undefined ? {} : { 'content-type': ct.value };
          const payload = method === 'GET' ? Buffer.alloc(0) : body;
          const expected = [...(segments.some(isBadEncoding) ? [400] : []), ...(bodyStage(method, ct, payload, false) ?? [404])];
          return {
            method,
            url: path,
            headers,
            body: payload,
            expected,
            label: `${method} ${path.slice(0, 80)} ct=${ct.value} len=${payload.length}`,
          };
        }),
      // Validly signed callbacks whose values are hostile: stored (or kept unmatched/quarantined), 204.
      fc
        .record({
          event: fc.constantFrom(
            'room-created',
            'participant-connected',
            'recording-completed',
            'room-ended',
            'composition-available',
            'bogus-event',
            '',
          ),
          room: fc.oneof(fc.constant('KNOWN'), fc.string({ unit: 'binary', maxLength: 40 })),
          identity: fc.oneof(fc.constant('clin-1'), fc.string({ unit: 'binary', maxLength: 120 })),
          extra: fc.dictionary(fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 60 }), {
            maxKeys: 4,
          }),
          sequence: fc.oneof(fc.nat().map(String), fc.string({ maxLength: 10 })),
        })
        .map(({ event, room, identity, extra, sequence }): Case => {
          const params: Record<string, string> = {
            ...Object.fromEntries(Object.entries(extra).filter(([name]) => name !== '__proto__')),
            AccountSid: service.accountSid,
            RoomSid: room === 'KNOWN' ? roomSid : room,
            StatusCallbackEvent: event,
            ParticipantSid: `PA${sequence}`,
            ParticipantIdentity: identity,
            Timestamp: new Date().toISOString(),
            SequenceNumber: sequence,
          };
          return {
            method: 'POST',
            url: WEBHOOK,
            headers: {},
            body: Buffer.from(JSON.stringify(params)),
            expected: [204],
            label: `signed ${event} ${JSON.stringify(params).slice(0, 200)}`,
          };
        }),
    );

  /** Signed cases carry their params as JSON until the URL they are sent to is known. */
  const prepare = (c: Case, signedUrl: string): Case => {
    if (c.expected.length !== 1 || c.expected[0] !== 204 || c.url !== WEBHOOK || Object.keys(c.headers).length > 0) return c;
    const signed = signForm(signedUrl, service.authToken, JSON.parse(c.body.toString('utf8')) as Record<string, string>);
    return { ...c, headers: signed.headers, body: Buffer.from(signed.body) };
  };

  const check = (c: Case, status: number, text: string) => {
    if (status >= 500) fives.push(`${status} ← ${c.label}: ${text.slice(0, 200)}`);
    expect(status, `${c.label} → ${text.slice(0, 300)}`).toBeLessThan(500);
    expect(c.expected, `${c.label} → ${status} ${text.slice(0, 300)}`).toContain(status);
    if (status >= 400 && c.method !== 'HEAD') {
      const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; requestId?: unknown } };
      expect(Object.keys(body)).toEqual(['error']);
      expect(typeof body.error?.code).toBe('string');
      expect(typeof body.error?.message).toBe('string');
      expect(body.error?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    }
  };

  it('answers every hostile request over inject() with a precise 4xx and the error envelope, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb(), async (raw) => {
        const c = prepare(raw, `http://localhost:80${WEBHOOK}`);
        const response = await service.app.inject({ method: c.method as 'GET', url: c.url, headers: c.headers, payload: c.body });
        check(c, response.statusCode, response.body);
      }),
      { numRuns: 700, seed: Number(process.env.FUZZ_SEED ?? 20260707), endOnFailure: true },
    );
    expect(fives).toEqual([]);
    expect((await service.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('answers every route with a valid key and every hostile query string without a 5xx (exhaustive)', async () => {
    const queries = [
      '?limit=%ZZ',
      '?limit=-1&limit=2',
      '?limit=1e309',
      '?cursor=%FF%FE',
      '?cursor=a&cursor=b',
      '?status=a&status=b',
      '?status=%00',
      '?since=a&since=b',
      '?since=%00',
      '?since=9999-99-99',
      '?limit[]=1',
      '?status[a]=b',
      '?__proto__[x]=1',
      '?constructor=1',
    ];
    const failures: string[] = [];
    for (const route of v1Routes().filter((candidate) => !('stream' in candidate))) {
      for (const query of queries) {
        const c: Case = {
          method: route.method,
          url: `${route.path(consultationId)}${query}`,
          headers: { authorization: `Bearer ${key}` },
          body: Buffer.alloc(0),
          expected: route.ok,
          label: `${route.method} ${route.path(':id')}${query}`,
        };
        const response = await service.app.inject({ method: c.method as 'GET', url: c.url, headers: c.headers });
        if (!c.expected.includes(response.statusCode)) failures.push(`${c.label} → ${response.statusCode} ${response.body.slice(0, 120)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('answers 404 for an id that is empty or longer than any id, on every route that takes one (exhaustive)', async () => {
    const failures: string[] = [];
    const idRoutes = v1Routes().filter((route) => !('stream' in route) && route.path('X') !== route.path('Y') && route.method !== 'DELETE');
    for (const route of idRoutes) {
      for (const id of ['', 'a'.repeat(65), 'b'.repeat(1001), 'c'.repeat(4000)]) {
        const response = await service.app.inject({
          method: route.method as 'GET',
          url: route.path(id),
          headers: { authorization: `Bearer ${key}`, ...(route.method === 'POST' ? { 'content-type': 'application/json' } : {}) },
          ...(route.method === 'POST' ? { payload: '{}' } : {}),
        });
        if (response.statusCode !== 404 || response.json().error.code !== 'NOT_FOUND')
          failures.push(`${route.method} ${route.path(`<${id.length}>`)} → ${response.statusCode} ${response.body.slice(0, 120)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('answers 422 naming the field for a query integer beyond any sequence or version, never a 5xx', async () => {
    const { tenantId } = await service.seedTenant('human', ['events:read', 'billing:read']);
    const reader = (await service.seedKey(tenantId, ['events:read', 'billing:read'])).key;
    const cases = [
      { url: `/v1/events?after=${'9'.repeat(400)}`, field: 'after' },
      { url: '/v1/events?after=99999999999999999999', field: 'after' },
      { url: '/v1/events?after=9007199254740992', field: 'after' },
      { url: `/v1/billing-records/bil_x/evidence?version=${'9'.repeat(400)}`, field: 'version' },
      { url: '/v1/billing-records/bil_x/evidence?version=2147483648', field: 'version' },
    ];
    for (const c of cases) {
      const response = await service.app.inject({
        method: 'GET',
        url: c.url,
        headers: { authorization: `Bearer ${reader}`, accept: 'application/json' },
      });
      expect(response.statusCode, `${c.url.slice(0, 60)} → ${response.body.slice(0, 200)}`).toBe(422);
      expect(response.json().error).toMatchObject({ code: 'VALIDATION_FAILED', field: c.field });
    }
    const last = await service.app.inject({
      method: 'GET',
      url: '/v1/events?after=9007199254740991',
      headers: { authorization: `Bearer ${reader}`, accept: 'application/json' },
    });
    expect(last.statusCode).toBe(200);
  });

  it('stores a signed JSON callback nested deeper than JSON.stringify can write as quarantined (204), never a 5xx', async () => {
    const quarantined = async () =>
      (
        await service.store.db
          .selectFrom('callbacks')
          .select('id')
          .where('room_sid', '=', roomSid)
          .where('status', '=', 'quarantined')
          .execute()
      ).length;
    const before = await quarantined();
    const fields = `"AccountSid":"${service.accountSid}","RoomSid":"${roomSid}","StatusCallbackEvent":"room-ended"`;
    for (const body of [
      `{${fields},"Timestamp":"${new Date().toISOString()}","Deep":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
      `{${fields},"Timestamp":${'{"a":'.repeat(8_000)}1${'}'.repeat(8_000)}}`,
    ]) {
      const signed = signJsonText(`http://localhost:80${WEBHOOK}`, service.authToken, body);
      const response = await service.app.inject({
        method: 'POST',
        url: signed.url.slice('http://localhost:80'.length),
        headers: signed.headers,
        payload: signed.body,
      });
      expect(response.statusCode, response.body.slice(0, 200)).toBe(204);
    }
    await service.app.roomgate.drain();
    expect(await quarantined()).toBe(before + 2);
  });

  it('fingerprints a body nested a hundred thousand levels deep for Idempotency-Key without a 5xx', async () => {
    // …/end and …/cancel ignore their body but fingerprint it: the recursive fingerprint overflowed.
    for (const body of [`{"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`]) {
      for (const action of ['end', 'cancel']) {
        const response = await service.app.inject({
          method: 'POST',
          url: `/v1/consultations/con_doesnotexist/${action}`,
          headers: {
            authorization: `Bearer ${key}`,
            'content-type': 'application/json',
            'idempotency-key': `deep-${action}-${body.length}`,
          },
          payload: body,
        });
        expect(response.statusCode, `${action} ${body.length} → ${response.body.slice(0, 200)}`).toBe(404);
      }
    }
  });

  it('answers the same over real HTTP (a few hundred requests, keep-alive)', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    // A server may close a keep-alive connection after answering early (a body it refused
    // unread); a request that raced that close is sent again on a fresh connection, as clients do.
    const send = async (c: Case) => {
      try {
        return await sendOn(c, c.body.length > WEBHOOK_LIMIT ? false : agent);
      } catch {
        return sendOn(c, false);
      }
    };
    const sendOn = (c: Case, via: http.Agent | false) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const request = http.request(
          {
            host: '127.0.0.1',
            port,
            method: c.method,
            path: c.url,
            headers: { ...c.headers, 'content-length': c.body.length },
            agent: via,
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          },
        );
        request.on('error', reject);
        request.end(c.body);
      });
    try {
      await fc.assert(
        fc.asyncProperty(caseArb(), async (raw) => {
          const c = prepare(raw, `http://127.0.0.1:${port}${WEBHOOK}`);
          const { status, text } = await send(c);
          // Over 16 KiB of request line and headers: Node's parser answers 431 before any route.
          const headerBytes =
            c.url.length + Object.entries(c.headers).reduce((sum, [name, value]) => sum + name.length + value.length + 4, 0);
          if (headerBytes > 15 * KiB) expect(status, c.label).toBe(431);
          else check(c, status, text);
        }),
        { numRuns: 250, seed: Number(process.env.FUZZ_SEED ?? 20260708), endOnFailure: true },
      );
    } finally {
      agent.destroy();
    }
    expect(fives).toEqual([]);
  });

  it('survives what only a raw socket can send: no length, duplicated and huge headers, bad methods, garbage', async () => {
    const raw = (text: string | Buffer) =>
      new Promise<string>((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        let answer = '';
        socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
        socket.on('error', () => resolve(answer));
        socket.on('close', () => resolve(answer));
        socket.setTimeout(5000, () => socket.destroy());
        socket.end(text);
      });
    const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
    const form = 'content-type: application/x-www-form-urlencoded\r\n';
    const cases: { name: string; request: string | Buffer; expected: number[]; envelope: boolean }[] = [
      {
        name: 'webhook, signature, no content-length (empty body)',
        request: `POST ${WEBHOOK} HTTP/1.1\r\nhost: x\r\n${form}x-twilio-signature: abc\r\nconnection: close\r\n\r\n`,
        expected: [403],
        envelope: true,
      },
      {
        name: 'webhook, chunked body, no content-length',
        request: `POST ${WEBHOOK} HTTP/1.1\r\nhost: x\r\n${form}x-twilio-signature: abc\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n5\r\na=%ZZ\r\n0\r\n\r\n`,
        expected: [403],
        envelope: true,
      },
      {
        name: 'webhook, 1 MiB chunked body',
        request: `POST ${WEBHOOK} HTTP/1.1\r\nhost: x\r\n${form}x-twilio-signature: abc\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n100000\r\n${'a'.repeat(0x100000)}\r\n0\r\n\r\n`,
        expected: [413],
        envelope: true,
      },
      {
        name: 'webhook, duplicated signature headers',
        request: `POST ${WEBHOOK} HTTP/1.1\r\nhost: x\r\n${form}x-twilio-signature: abc\r\nx-twilio-signature: def\r\ncontent-length: 3\r\nconnection: close\r\n\r\na=1`,
        expected: [403],
        envelope: true,
      },
      {
        name: 'webhook, duplicated content types',
        request: `POST ${WEBHOOK} HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\n${form}x-twilio-signature: abc\r\ncontent-length: 3\r\nconnection: close\r\n\r\na=1`,
        expected: [403],
        envelope: true,
      },
      {
        name: 'conflicting content-lengths',
        request: `POST ${WEBHOOK} HTTP/1.1\r\nhost: x\r\n${form}x-twilio-signature: abc\r\ncontent-length: 3\r\ncontent-length: 5\r\nconnection: close\r\n\r\na=1`,
        expected: [400],
        envelope: false,
      },
      {
        name: 'a 64 KiB signature header',
        request: `POST ${WEBHOOK} HTTP/1.1\r\nhost: x\r\n${form}x-twilio-signature: ${'A'.repeat(64 * KiB)}\r\ncontent-length: 3\r\nconnection: close\r\n\r\na=1`,
        expected: [431],
        envelope: false,
      },
      {
        name: 'unknown method',
        request: `FROB /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`,
        expected: [400],
        envelope: false,
      },
      {
        name: 'NUL in the request target',
        request: Buffer.from(`GET /heal\u0000thz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`, 'latin1'),
        expected: [400],
        envelope: false,
      },
      {
        name: 'invalid UTF-8 in the path',
        request: Buffer.concat([
          Buffer.from('GET /v1/consultations/'),
          Buffer.from([0xff, 0xc0]),
          Buffer.from(` HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key}\r\nconnection: close\r\n\r\n`),
        ]),
        expected: [400],
        envelope: false,
      },
      {
        name: 'garbage instead of HTTP',
        request: Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x01, 0x00]),
        expected: [400],
        envelope: false,
      },
      {
        name: 'a v1 route, 1 MiB body, no key',
        request: `POST /v1/consultations HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${1024 * KiB}\r\nconnection: close\r\n\r\n${'x'.repeat(1024 * KiB)}`,
        expected: [401],
        envelope: true,
      },
    ];
    for (const c of cases) {
      const answer = await raw(c.request);
      const status = statusOf(answer);
      expect(c.expected, `${c.name}: ${answer.slice(0, 300)}`).toContain(status);
      if (c.envelope) expect(answer, c.name).toMatch(/\{"error":\{"code":"[A-Z_]+","message":"[^"]+","requestId":"[0-9a-f-]{36}"\}\}$/);
    }
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
  });
});
