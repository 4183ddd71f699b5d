/**
 * Reliability test support: a tiny fake of the Twilio Video REST slice Roomgate calls (rooms and
 * compositions, counting every composition it creates), and the real service spawned as a child
 * process (`tsx src/cli/main.ts serve`) so a test can SIGKILL it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

export interface FakeTwilio {
  readonly url: string;
  /** Compositions created (POST /v1/Compositions), per RoomSid. */
  readonly created: Map<string, number>;
  readonly requests: { method: string; path: string }[];
  close(): Promise<void>;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/**
 * `compositionDelayMs`: POST /v1/Compositions creates the composition at once but answers only
 * after this long — a worker killed meanwhile leaves a composition Twilio has and an entry not done.
 */
export async function startFakeTwilio(options: { compositionDelayMs?: number } = {}): Promise<FakeTwilio> {
  const created = new Map<string, number>();
  const compositions: { sid: string; room_sid: string; status: string }[] = [];
  const requests: { method: string; path: string }[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://fake');
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      requests.push({ method: request.method ?? '', path: url.pathname });
      const json = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      if (request.method === 'POST' && url.pathname === '/v1/Rooms') {
        return json(201, { sid: `RM${hex(16)}`, unique_name: form.get('UniqueName') ?? '', status: 'in-progress' });
      }
      const room = /^\/v1\/Rooms\/([^/]+)$/.exec(url.pathname);
      if (room)
        return json(200, {
          sid: decodeURIComponent(room[1]!),
          unique_name: 'room',
          status: request.method === 'POST' ? 'completed' : 'in-progress',
        });
      if (request.method === 'POST' && url.pathname === '/v1/Compositions') {
        const roomSid = form.get('RoomSid') ?? '';
        const composition = { sid: `CJ${hex(16)}`, room_sid: roomSid, status: 'enqueued' };
        compositions.push(composition);
        created.set(roomSid, (created.get(roomSid) ?? 0) + 1);
        if (options.compositionDelayMs) return void setTimeout(() => json(201, composition), options.compositionDelayMs);
        return json(201, composition);
      }
      if (request.method === 'GET' && url.pathname === '/v1/Compositions') {
        const roomSid = url.searchParams.get('RoomSid');
        return json(200, { compositions: compositions.filter((composition) => composition.room_sid === roomSid) });
      }
      return json(404, { code: 20404, message: 'not found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    created,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port that was free a moment ago (the child binds it itself). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface SpawnedService {
  readonly child: ChildProcess;
  readonly url: string;
  output(): string;
  /** Resolves with the exit code or signal once the process is gone. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
  /** Signals the service process itself (and the tsx wrapper), not only the wrapper. */
  kill(signal: NodeJS.Signals): void;
}

const ROOT = path.resolve(import.meta.dirname, '../..');

/** `roomgate serve` as a child process; resolves once /healthz answers. */
export async function spawnService(env: Record<string, string>, options: { timeoutMs?: number } = {}): Promise<SpawnedService> {
  const port = Number(env.PORT);
  // Outside sandbox mode the service needs a source for the signed URL: the tests' callbacks
  // come from this machine and are signed for the address they connect to.
  const signedUrlSource = env.ROOMGATE_PUBLIC_URL || env.ROOMGATE_TRUST_PROXY ? {} : { ROOMGATE_TRUST_PROXY: 'loopback' };
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['src/cli/main.ts', 'serve'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      HOST: '127.0.0.1',
      ROOMGATE_METRICS_PORT: '0',
      ...signedUrlSource,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: tsx runs the service in a child node process, and a kill must reach both.
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 45_000);
  let gone = false;
  void exited.then(() => (gone = true));
  for (;;) {
    if (gone) throw new Error(`roomgate serve exited before it was ready:\n${output}`);
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      kill(child, 'SIGKILL');
      throw new Error(`roomgate serve did not become ready:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, url, output: () => output, exited, kill: (signal) => kill(child, signal) };
}

/** Signals the whole process group (tsx and the node process running the service). */
function kill(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}
