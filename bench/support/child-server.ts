/**
 * The servers under test run as child processes (`node --import tsx <script>`: the same loader
 * as `tsx <script>`, without tsx's wrapper process, so the pid is the server's own and its RSS
 * and CPU profile are the server's), on 127.0.0.1. Readiness is a TCP connect, polled, bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { processCpuMs } from './thread-cpu.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ChildServer {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  /** Everything the child wrote to stderr (last 64 KiB). */
  stderr(): string;
  /** VmRSS of the child in KiB, from /proc. */
  rssKiB(): number;
  /** CPU time the child used so far (every thread, user + system), in ms, from /proc. */
  cpuMs(): number;
  /** SIGTERM, wait (bounded) for the exit; SIGKILL if it does not come. */
  stop(): Promise<number | null>;
}

/** A port free on 127.0.0.1 right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startChild(options: {
  name: string;
  /** Script path relative to the repository root, then its arguments. */
  script: string;
  args?: readonly string[];
  port: number;
  env: Record<string, string>;
  nodeArgs?: readonly string[];
  readyTimeoutMs?: number;
}): Promise<ChildServer> {
  const child: ChildProcess = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), '--import', 'tsx', options.script, ...(options.args ?? [])],
    {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        NODE_ENV: 'production',
        ...options.env,
        PORT: String(options.port),
        HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-65_536);
  });
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve((exited = code))));
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exited !== undefined) throw new Error(`${options.name} exited (${exited}) before listening:\n${stderr}`);
    if (await canConnect(options.port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.name} not listening on ${options.port} after ${options.readyTimeoutMs ?? 60_000} ms:\n${stderr}`);
    }
    await sleep(100);
  }
  return {
    name: options.name,
    pid: child.pid!,
    port: options.port,
    stderr: () => stderr,
    rssKiB: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
    },
    cpuMs: () => processCpuMs(child.pid!),
    async stop() {
      if (exited !== undefined) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `roomgate serve` as a child on `port`, with roomgateEnv; `profileDir`: a CPU profile of each of its threads there. */
export function startRoomgate(options: Parameters<typeof roomgateEnv>[0] & { port: number; profileDir?: string }): Promise<ChildServer> {
  const { port, profileDir, ...env } = options;
  return startChild({
    name: 'roomgate',
    script: 'src/cli/main.ts',
    args: ['serve'],
    port,
    env: roomgateEnv(env),
    ...(profileDir ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profileDir] } : {}),
  });
}

/** Environment for a Roomgate child: a configured (non-sandbox) account, quiet logs. */
export function roomgateEnv(options: {
  accountSid: string;
  authToken: string;
  databaseUrl: string;
  twilioApiBaseUrl: string;
  maxAge?: string;
}): Record<string, string> {
  return {
    TWILIO_ACCOUNT_SID: options.accountSid,
    TWILIO_AUTH_TOKEN: options.authToken,
    TWILIO_API_KEY_SID: `SK${'0'.repeat(32)}`,
    TWILIO_API_KEY_SECRET: 'bench-api-key-secret',
    // Only 127.0.0.1: the outbox's composition requests go to a local stub, never to Twilio.
    TWILIO_API_BASE_URL: options.twilioApiBaseUrl,
    ROOMGATE_DATABASE_URL: options.databaseUrl,
    // Callbacks come from this machine, signed for the address they are sent to.
    ROOMGATE_TRUST_PROXY: 'loopback',
    // The generated rooms span more Twilio time than the default 15 min replay window.
    ROOMGATE_WEBHOOK_MAX_AGE: options.maxAge ?? '24h',
    LOG_LEVEL: 'warn',
    ROOMGATE_METRICS_PORT: 'off',
    // Compare with the threads off: ROOMGATE_PROJECTION_THREAD=off ROOMGATE_SQLITE_THREAD=off npx tsx bench/…
    // and with request logging on (the default level): LOG_LEVEL=info npx tsx bench/…
    ...Object.fromEntries(
      Object.entries(process.env).filter(([name]) =>
        ['ROOMGATE_PROJECTION_THREAD', 'ROOMGATE_SQLITE_THREAD', 'LOG_LEVEL'].includes(name),
      ) as [string, string][],
    ),
  };
}
