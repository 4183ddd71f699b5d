/**
 * `npm start` as a supervisor runs it: a real process tree and real signals. The PID the start
 * command gives must stop the service — no shell or tsx process in between that a signal kills
 * while the node server lives on, re-parented to PID 1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../support/build.js';
import { freePort } from '../support/spawn-service.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const STOP_TIMEOUT_MS = 20_000;

interface Started {
  readonly child: ChildProcess;
  readonly port: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

const started: Started[] = [];
const seen = new Set<number>();

beforeAll(() => ensureBuilt(), 600_000);

afterEach(() => {
  // Whatever a failed test left behind: the npm process group and every process seen under it.
  for (const { child } of started.splice(0)) signal(-child.pid!, 'SIGKILL');
  for (const pid of seen) signal(pid, 'SIGKILL');
  seen.clear();
});

async function start(command: string, args: string[]): Promise<Started> {
  const port = await freePort();
  const data = mkdtempSync(path.join(tmpdir(), 'roomgate-start-'));
  const child = spawn(command, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: String(port),
      HOST: '127.0.0.1',
      ROOMGATE_DATABASE_URL: `sqlite:${path.join(data, 'roomgate.db')}`,
      LOG_LEVEL: 'warn',
      ROOMGATE_METRICS_PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so afterEach can clean up whatever is left
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const entry = { child, port, exited, output: () => output };
  started.push(entry);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited before it was ready:\n${output}`);
    if (Date.now() > deadline) throw new Error(`not ready after 60 s:\n${output}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (const pid of descendants(child.pid!)) seen.add(pid);
  return entry;
}

/** Every live process below `pid`, read from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid …: comm may hold spaces and parentheses, so split after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const child of children.get(parent) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

const commandLine = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie has exited; it only waits for its parent to read its status.
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

async function within<T>(promise: Promise<T>, what: string, output: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${STOP_TIMEOUT_MS} ms:\n${output()}`)), STOP_TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function refusesConnections(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/healthz`);
    return false;
  } catch {
    return true;
  }
}

describe('npm start', () => {
  it('starts the compiled service as npm’s only child: node dist/cli/main.js serve, no shell, no tsx', async () => {
    const npm = await start('npm', ['start']);
    const below = descendants(npm.child.pid!);
    expect(below.map(commandLine)).toEqual([['node', 'dist/cli/main.js', 'serve']]);
    signal(npm.child.pid!, 'SIGTERM');
    await within(npm.exited, 'npm start did not stop', npm.output);
  });

  for (const name of ['SIGTERM', 'SIGINT'] as const) {
    it(`${name} to the PID npm start gives stops the service: npm exits 0 after it, nothing left running`, async () => {
      const npm = await start('npm', ['start']);
      const below = descendants(npm.child.pid!);
      expect(below.length).toBeGreaterThan(0);
      signal(npm.child.pid!, name);
      expect(await within(npm.exited, `npm start did not stop on ${name}`, npm.output)).toEqual({ code: 0, signal: null });
      // npm waits for its child, so when npm is gone the service is gone too.
      expect(below.filter(alive)).toEqual([]);
      expect(await refusesConnections(npm.port)).toBe(true);
    });
  }

  it('SIGTERM to the service’s own PID (under npm start) stops it, and npm start exits 0', async () => {
    const npm = await start('npm', ['start']);
    const [service, ...others] = descendants(npm.child.pid!);
    expect(others).toEqual([]);
    signal(service!, 'SIGTERM');
    expect(await within(npm.exited, 'npm start did not stop', npm.output)).toEqual({ code: 0, signal: null });
    expect(alive(service!)).toBe(false);
    expect(await refusesConnections(npm.port)).toBe(true);
  });
});

describe('bin/roomgate.js serve', () => {
  it('is one process running dist/: SIGTERM to its PID stops it with exit 0, nothing left', async () => {
    const bin = await start(process.execPath, ['bin/roomgate.js', 'serve']);
    expect(descendants(bin.child.pid!)).toEqual([]);
    signal(bin.child.pid!, 'SIGTERM');
    expect(await within(bin.exited, 'roomgate serve did not stop', bin.output)).toEqual({ code: 0, signal: null });
    expect(await refusesConnections(bin.port)).toBe(true);
  });
});
