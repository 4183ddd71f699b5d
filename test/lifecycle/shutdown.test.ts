/**
 * Stopping `roomgate serve` with real signals while clients are connected: live streams are
 * ended (SSE: a final comment and `stream.end` event, then the end of the response; WebSocket:
 * close code 1001) and
 * the process exits 0; a request that never finishes is cut off at ROOMGATE_SHUTDOWN_TIMEOUT
 * (exit 1, one line); a second signal exits at once.
 */
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApiKey, createTenant } from '../../src/service/tenants/tenant-admin.js';
import { openStore } from '../../src/storage/open-store.js';
import { startRoomgate, type RoomgateProcess } from '../support/roomgate-process.js';
import { freePort } from '../support/spawn-service.js';
import { randomHex } from '../support/test-service.js';

const running: RoomgateProcess[] = [];
afterEach(() => {
  for (const service of running.splice(0)) service.destroy();
});

/** A configured service on a fresh SQLite database with one tenant key (events:read). */
async function start(env: Record<string, string> = {}) {
  const directory = mkdtempSync(join(tmpdir(), 'roomgate-stop-'));
  const database = `sqlite:${join(directory, 'rg.db')}`;
  const store = await openStore(database);
  await store.migrate();
  const tenantId = await createTenant(store, { slug: 'stop-clinic', name: 'Stop', kind: 'human' });
  const { key } = await createApiKey(store, { tenantId, scopes: ['events:read'] });
  await store.close();
  const port = await freePort();
  const service = startRoomgate(['serve'], {
    cwd: directory,
    env: {
      PORT: String(port),
      ROOMGATE_DATABASE_URL: database,
      TWILIO_ACCOUNT_SID: `AC${randomHex(16)}`,
      TWILIO_AUTH_TOKEN: randomHex(16),
      TWILIO_API_KEY_SID: `SK${randomHex(16)}`,
      TWILIO_API_KEY_SECRET: randomHex(16),
      LOG_LEVEL: 'info',
      ...env,
    },
  });
  running.push(service);
  await service.waitFor(/Roomgate is listening/);
  return { service, port, key };
}

/** An SSE subscriber: everything it received, and whether the server ended the response. */
function subscribeSse(port: number, key: string) {
  let received = '';
  const opened = new Promise<void>((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/v1/events', headers: { authorization: `Bearer ${key}` } }, (response) => {
      expect(response.statusCode).toBe(200);
      response.on('data', (chunk: Buffer) => {
        received += chunk.toString();
        if (received.includes(': connected')) resolve();
      });
      response.on('end', () => (ended = true));
    });
    request.on('error', reject);
  });
  let ended = false;
  return { opened, received: () => received, ended: () => ended };
}

/** A WebSocket subscriber: resolves with the close code the server sent. */
async function subscribeWebSocket(port: number, key: string) {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/v1/events/ws`, { headers: { authorization: `Bearer ${key}` } });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return { closed };
}

/** A webhook request whose body never finishes arriving: in flight until the server gives up on it. */
async function stalledRequest(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(
    'POST /webhooks/twilio/video HTTP/1.1\r\nhost: 127.0.0.1\r\nx-twilio-signature: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 1000\r\n\r\nAccountSid=AC',
  );
  socket.on('error', () => undefined);
  return socket;
}

/** The stalled request's start line (debug: at info a request writes one line, when it is answered). */
const STALLED_STARTED = /"method":"POST","url":"\/webhooks\/twilio\/video"[^}]*\},"msg":"incoming request"/;

/** The exit of a process that should end by itself; fails the test if it has not within the bound. */
async function exitWithin(service: RoomgateProcess, ms: number): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`still running after ${ms} ms`), ms)));
  const result = await Promise.race([service.exited, bound]);
  clearTimeout(timer);
  return result;
}

describe('SIGTERM / SIGINT on roomgate serve', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s with an SSE and a WebSocket client connected: both see the end, exit 0', async (signal) => {
    const { service, port, key } = await start({ ROOMGATE_SHUTDOWN_TIMEOUT: '30s' });
    const sse = subscribeSse(port, key);
    await sse.opened;
    const ws = await subscribeWebSocket(port, key);

    service.signal(signal);
    // Exit 0 means the stop finished before the 30 s timeout (after it: exit 1).
    expect(await exitWithin(service, 45_000)).toBe(0);
    expect(await ws.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(sse.received()).toMatch(/: server shutting down\n\nevent: stream\.end\ndata: \{"reason":"server-stopping"\}\n\n$/);
    expect(sse.ended()).toBe(true);
    expect(await service.groupGone()).toBe(true);
    expect(service.stdout()).toContain('"msg":"stopped"');
  });

  it('a request that never finishes: exit 1 at ROOMGATE_SHUTDOWN_TIMEOUT, with one line', async () => {
    const { service, port } = await start({ ROOMGATE_SHUTDOWN_TIMEOUT: '2s', LOG_LEVEL: 'debug' });
    const stalled = await stalledRequest(port);
    await service.waitFor(STALLED_STARTED); // the request is in flight
    service.signal('SIGTERM');
    expect(await exitWithin(service, 30_000)).toBe(1);
    expect(service.stderr()).toBe('roomgate: the stop took longer than ROOMGATE_SHUTDOWN_TIMEOUT (2000 ms): exiting\n');
    expect(await service.groupGone()).toBe(true);
    stalled.destroy();
  });

  it('a second signal while stopping exits at once', async () => {
    const { service, port } = await start({ ROOMGATE_SHUTDOWN_TIMEOUT: '10m', LOG_LEVEL: 'debug' });
    const stalled = await stalledRequest(port);
    await service.waitFor(STALLED_STARTED);
    service.signal('SIGTERM');
    await service.waitFor(/stopping: ending live streams/);
    service.signal('SIGINT');
    // Far sooner than the 10 minutes the first stop would wait for the stalled request.
    expect(await exitWithin(service, 20_000)).toBe(1);
    expect(service.stderr()).toBe('roomgate: second SIGINT while stopping: exiting at once\n');
    expect(await service.groupGone()).toBe(true);
    stalled.destroy();
  });
});
