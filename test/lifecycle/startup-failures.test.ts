/**
 * A start-up failure, as a supervisor sees it: `roomgate serve` prints one line on stderr and
 * exits 1 by itself — no worker, timer, listener, store or sandbox keeps it alive — and a bad
 * variable is exit 2 naming it. Real processes, real sockets.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRoomgate } from '../support/roomgate-process.js';
import { freePort } from '../support/spawn-service.js';
import { randomHex } from '../support/test-service.js';

const TWILIO = {
  TWILIO_ACCOUNT_SID: `AC${randomHex(16)}`,
  TWILIO_AUTH_TOKEN: randomHex(16),
  TWILIO_API_KEY_SID: `SK${randomHex(16)}`,
  TWILIO_API_KEY_SECRET: randomHex(16),
};

/** A listener holding a port, as another program would. */
async function occupy(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const lines = (text: string) => text.split('\n').filter((line) => line.trim() !== '');

describe('roomgate serve: a start-up failure exits 1 with one line and nothing left running', () => {
  let busy: Awaited<ReturnType<typeof occupy>>;
  const cwd = () => mkdtempSync(join(tmpdir(), 'roomgate-startup-'));
  const database = (directory: string) => `sqlite:${join(directory, 'rg.db')}`;
  beforeAll(async () => {
    busy = await occupy();
  });
  afterAll(() => busy?.close());

  const serve = (env: Record<string, string>, directory = cwd()) =>
    runRoomgate(['serve'], { cwd: directory, env: { ROOMGATE_DATABASE_URL: database(directory), ...env }, timeoutMs: 45_000 });

  const expectCleanFailure = (result: Awaited<ReturnType<typeof serve>>, line: RegExp) => {
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(lines(result.stderr)).toHaveLength(1);
    expect(result.stderr.trim()).toMatch(line);
    expect(result.leftRunning).toBe(false);
  };

  it('port in use, in sandbox mode (the sandbox already listening is stopped too)', async () => {
    const result = await serve({ PORT: String(busy.port) });
    expectCleanFailure(
      result,
      new RegExp(`^roomgate: cannot listen on 127\\.0\\.0\\.1:${busy.port} \\(HOST, PORT\\): the address is already in use$`),
    );
  });

  it('port in use, with Twilio configured', async () => {
    expectCleanFailure(await serve({ PORT: String(busy.port), ...TWILIO }), /^roomgate: cannot listen on .*already in use$/);
  });

  it('metrics port in use: the public listener already up is closed again', async () => {
    const result = await serve({ PORT: String(await freePort()), ROOMGATE_METRICS_PORT: String(busy.port), ...TWILIO });
    expectCleanFailure(
      result,
      new RegExp(
        `^roomgate: cannot listen on 127\\.0\\.0\\.1:${busy.port} \\(ROOMGATE_METRICS_HOST, ROOMGATE_METRICS_PORT\\): the address is already in use$`,
      ),
    );
  });

  it('a HOST that is no address of this machine', async () => {
    // 192.0.2.1 is TEST-NET-1: a valid address that no machine here has.
    const result = await serve({ PORT: String(await freePort()), HOST: '192.0.2.1' });
    expectCleanFailure(result, /^roomgate: cannot listen on 192\.0\.2\.1:\d+ \(HOST, PORT\): the address is not one of this machine’s$/);
  });

  it('an unreachable database (nothing listens on its port)', async () => {
    const closed = await freePort();
    const result = await runRoomgate(['serve'], {
      cwd: cwd(),
      // A bounded wait (retried with backoff, logged) before the one-line failure.
      env: {
        PORT: String(await freePort()),
        ROOMGATE_DATABASE_URL: `postgres://roomgate:s3cret-pw@127.0.0.1:${closed}/rg`,
        ROOMGATE_DB_STARTUP_WAIT: '2s',
        ...TWILIO,
      },
      timeoutMs: 90_000,
    });
    expectCleanFailure(
      result,
      new RegExp(`^roomgate: cannot (open|migrate) the database postgres://roomgate:\\*\\*\\*@127\\.0\\.0\\.1:${closed}/rg: `),
    );
    expect(result.stdout + result.stderr).not.toContain('s3cret-pw');
  });

  it('a migration that fails (the file is not a database)', async () => {
    const directory = cwd();
    writeFileSync(join(directory, 'rg.db'), 'this is not an SQLite database, whatever its name says'.repeat(100));
    expectCleanFailure(
      await serve({ PORT: String(await freePort()) }, directory),
      /^roomgate: cannot (open|migrate) the database sqlite:.*rg\.db: /,
    );
  });

  it('unreadable sandbox credentials', async () => {
    const directory = cwd();
    const file = join(directory, 'data', 'sandbox-credentials.json');
    mkdirSync(join(directory, 'data'));
    writeFileSync(file, '{ broken');
    expectCleanFailure(await serve({ PORT: String(await freePort()) }, directory), /^roomgate: cannot start the sandbox: /);
  });
});

describe('roomgate serve: a bad variable is exit 2 naming it', () => {
  it.each([
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent'],
    [{ HOST: 'not a host' }, 'HOST: must be an IP address or a host name'],
    [{ ROOMGATE_SHUTDOWN_TIMEOUT: 'soon' }, 'ROOMGATE_SHUTDOWN_TIMEOUT: must be a duration such as 30s, 15m, 2h'],
  ])('%j', async (env, message) => {
    const result = await runRoomgate(['serve'], { cwd: mkdtempSync(join(tmpdir(), 'roomgate-startup-')), env, timeoutMs: 45_000 });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 2, stderr: `roomgate: configuration: ${message}\n` });
    expect(result.leftRunning).toBe(false);
  });
});
