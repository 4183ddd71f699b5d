/**
 * The real service process (`roomgate serve`, spawned) under what an unauthenticated attacker can
 * write to its socket, on every engine (the WebSocket path looks its key up in the store):
 *
 * - upgrade requests (`Connection: upgrade`) to generated request targets — invalid URLs such as
 *   `//[`, absolute forms, junk bytes, random paths, the WebSocket path itself — and generated
 *   malformed request lines: each is answered (4xx) or closed within a bound, the process stays
 *   up, and a normal request still succeeds afterwards;
 * - slow senders: a request whose headers trickle in gets 408 once ROOMGATE_HEADERS_TIMEOUT has
 *   passed, one whose body trickles in gets 408 once ROOMGATE_REQUEST_TIMEOUT has passed, and
 *   both connections are closed;
 * - start-up: with a Twilio account but neither ROOMGATE_PUBLIC_URL nor ROOMGATE_TRUST_PROXY the
 *   service refuses to start (exit 2, the variable named).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest, type TestDatabase } from '../support/engines.js';
import { rawExchange } from '../support/raw-exchange.js';
import { freePort, spawnService, startFakeTwilio, type FakeTwilio, type SpawnedService } from '../support/spawn-service.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
/** How long an answer to a hostile request may take (no database work is involved, or one lookup). */
const ANSWER_BOUND_MS = 3000;
const HEADERS_TIMEOUT_MS = 1000;
const REQUEST_TIMEOUT_MS = 2000;

const printable = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 40 });
/** Request targets: invalid URLs, absolute and authority forms, junk, random and real paths. */
const targetArb = fc.oneof(
  fc.constantFrom(
    '//[',
    '//[::1',
    '//[/v1/events/ws',
    'http://[',
    'http://x/v1/events/ws',
    '//',
    '*',
    '/%',
    '/%ZZ',
    '/v1/events/ws',
    '/v1/events/ws?a=%ZZ',
    '//v1/events/ws',
    '/v1/events/ws/',
    '/V1/EVENTS/WS',
    '/webhooks/twilio/video',
    '/healthz',
    '/metrics',
    'example.com:443',
    '/\u00ff\u00fe',
  ),
  printable.map((text) => `/${text}`),
  printable,
  fc.array(printable, { maxLength: 5 }).map((segments) => `/${segments.join('/')}`),
);
const upgradeArb = fc.record({
  method: fc.constantFrom('GET', 'GET', 'POST', 'OPTIONS', 'PUT', 'CONNECT'),
  target: targetArb,
  connection: fc.constantFrom('upgrade', 'Upgrade', 'keep-alive, Upgrade', 'UPGRADE'),
  upgrade: fc.constantFrom('websocket', 'WebSocket', 'h2c', 'foo/1', ''),
  wsKey: fc.boolean(),
  authorization: fc.constantFrom(undefined, 'Bearer rgk_garbage', 'Basic Zm9vOmJhcg==', 'Bearer '),
});
const malformedLineArb = fc.record({
  method: fc.oneof(fc.constantFrom('GET', 'POST', 'FROB', 'G ET', 'get', ''), printable),
  target: targetArb,
  version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.x', 'HTTP/9', 'FOO', ''),
  header: fc.oneof(
    fc.constant('host: x'),
    fc.constant('host x'),
    fc.constant(': x'),
    printable.map((text) => `x-${text}: y`),
  ),
});

for (const engine of enginesUnderTest()) {
  describe(`the service process under hostile sockets on ${engine.name}`, () => {
    let database: TestDatabase;
    let twilio: FakeTwilio;
    let service: SpawnedService;
    let port: number;

    beforeAll(async () => {
      database = await engine.createTestDatabase();
      twilio = await startFakeTwilio();
      port = await freePort();
      service = await spawnService({
        PORT: String(port),
        ROOMGATE_DATABASE_URL: database.url,
        TWILIO_ACCOUNT_SID: `AC${hex(16)}`,
        TWILIO_AUTH_TOKEN: hex(16),
        TWILIO_API_KEY_SID: `SK${hex(16)}`,
        TWILIO_API_KEY_SECRET: hex(16),
        TWILIO_API_BASE_URL: twilio.url,
        ROOMGATE_HEADERS_TIMEOUT: `${HEADERS_TIMEOUT_MS}ms`,
        ROOMGATE_REQUEST_TIMEOUT: `${REQUEST_TIMEOUT_MS}ms`,
        LOG_LEVEL: 'warn',
      });
    }, 60_000);
    afterAll(async () => {
      service?.kill('SIGTERM');
      await service?.exited;
      await twilio?.close();
      await database?.drop();
    });

    const stillServing = async () => {
      expect(service.child.exitCode, service.output()).toBeNull();
      expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
      const api = await fetch(`${service.url}/v1/consultations`);
      expect(api.status).toBe(401);
    };

    it('answers or closes `GET //[` with Connection: upgrade, and stays up', async () => {
      const exchange = await rawExchange(
        port,
        'GET //[ HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n',
        ANSWER_BOUND_MS,
      );
      expect(exchange.hung, exchange.answer).toBe(false);
      expect(exchange.status).toBe(404);
      expect(exchange.answer).toMatch(/\{"error":\{"code":"NOT_FOUND","message":"[^"]+","requestId":"[0-9a-f-]{36}"\}\}$/);
      expect(exchange.closedAfterMs).toBeDefined();
      await stillServing();
    });

    it('answers or closes every generated upgrade request and malformed request line within the bound, and stays up', async () => {
      const requestArb = fc.oneof(
        upgradeArb.map((c) => {
          const headers = [
            'host: x',
            `connection: ${c.connection}`,
            ...(c.upgrade ? [`upgrade: ${c.upgrade}`] : []),
            ...(c.wsKey ? ['sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version: 13'] : []),
            ...(c.authorization ? [`authorization: ${c.authorization}`] : []),
          ];
          // With an Upgrade header the server either upgrades or answers and closes; without one
          // it is a plain request, answered and kept alive.
          return { text: `${c.method} ${c.target} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`, mustClose: c.upgrade !== '' };
        }),
        malformedLineArb.map((c) => ({
          text: `${c.method} ${c.target} ${c.version}\r\n${c.header}\r\nconnection: close\r\n\r\n`,
          mustClose: false,
        })),
      );
      await fc.assert(
        fc.asyncProperty(requestArb, async ({ text, mustClose }) => {
          const exchange = await rawExchange(port, Buffer.from(text, 'latin1'), ANSWER_BOUND_MS, 300);
          const label = `${JSON.stringify(text)} → ${exchange.answer.slice(0, 200)}`;
          expect(exchange.hung, label).toBe(false);
          if (mustClose) expect(exchange.closedAfterMs, label).toBeDefined();
          // An answer, when there is one, is a refusal or a plain answer — never a server error.
          if (exchange.status !== 0) expect(exchange.status, label).toBeLessThan(500);
          expect(service.child.exitCode, service.output()).toBeNull();
        }),
        { numRuns: 200, seed: Number(process.env.FUZZ_SEED ?? 20261201), endOnFailure: true },
      );
      await stillServing();
    }, 120_000);

    it('answers 408 and closes a connection whose headers trickle in past ROOMGATE_HEADERS_TIMEOUT', async () => {
      const pieces = ['GET /healthz HTTP/1.1\r\nhost: x\r\n', ...Array.from({ length: 100 }, (_, i) => `x-slow-${i}: y\r\n`)];
      const exchange = await rawExchange(port, { pieces, everyMs: 100 }, HEADERS_TIMEOUT_MS + 4000);
      expect(exchange.status, exchange.answer).toBe(408);
      expect(exchange.answer).toMatch(/"code":"REQUEST_TIMEOUT"/);
      expect(exchange.closedAfterMs).toBeDefined();
      expect(exchange.answeredAfterMs!).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS);
      await stillServing();
    });

    it('answers 408 and closes a connection whose body trickles in past ROOMGATE_REQUEST_TIMEOUT', async () => {
      const head =
        'POST /webhooks/twilio/video HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\n' +
        'x-twilio-signature: bm90IGEgc2lnbmF0dXJlIGF0IGFsbA==\r\ncontent-length: 500\r\n\r\n';
      const exchange = await rawExchange(
        port,
        { pieces: [head, ...Array.from({ length: 500 }, () => 'a')], everyMs: 50 },
        REQUEST_TIMEOUT_MS + 4000,
      );
      expect(exchange.status, exchange.answer).toBe(408);
      expect(exchange.closedAfterMs).toBeDefined();
      expect(exchange.answeredAfterMs!).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS);
      await stillServing();
    });
  });
}

describe('start-up without a source for the signed URL', () => {
  it('refuses to start outside sandbox mode without ROOMGATE_PUBLIC_URL or ROOMGATE_TRUST_PROXY: exit 2, the variable named', async () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const child = spawn(path.join(root, 'node_modules/.bin/tsx'), ['src/cli/main.ts', 'serve'], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        PORT: String(await freePort()),
        ROOMGATE_DATABASE_URL: 'sqlite::memory:',
        TWILIO_ACCOUNT_SID: `AC${hex(16)}`,
        TWILIO_AUTH_TOKEN: hex(16),
        // A complete Twilio configuration: a partial one is refused first, naming what it lacks.
        TWILIO_API_KEY_SID: `SK${hex(16)}`,
        TWILIO_API_KEY_SECRET: hex(16),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
    clearTimeout(timer);
    expect(code, output).toBe(2);
    expect(output).toMatch(/ROOMGATE_PUBLIC_URL/);
    expect(output.trim().split('\n')).toHaveLength(1);
  }, 30_000);
});
