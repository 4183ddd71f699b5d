/**
 * Auth token rotation without downtime. In process: traffic signed with the old token keeps
 * passing while the new one is added, with no request failing during the swap; once the old is
 * removed only the new passes; metrics say which token matched. As a process: the same through
 * ROOMGATE_CONFIG and SIGHUP on a running `roomgate serve`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { freePort } from '../support/spawn-service.js';
import { randomHex, startTestService, type TestService } from '../support/test-service.js';

const PATH = '/webhooks/twilio/video';
const sqlite = enginesUnderTest().find((engine) => engine.name === 'sqlite')!;

function callback(accountSid: string, n: number): Record<string, string> {
  return {
    AccountSid: accountSid,
    RoomSid: `RM${'0'.repeat(24)}${String(n).padStart(8, '0')}`,
    RoomName: 'r',
    RoomStatus: 'in-progress',
    RoomType: 'group',
    StatusCallbackEvent: 'room-created',
    Timestamp: new Date().toISOString(),
    SequenceNumber: String(n),
  };
}

describe('token rotation in process', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService(sqlite);
  });
  afterAll(() => service?.close());

  it('keeps old-token traffic passing while the new token is added, then only the new one', async () => {
    const { accountSid } = service;
    const oldToken = service.authToken;
    const newToken = randomHex(16);
    let n = 0;
    const send = (token: string) => {
      const signed = signForm(`http://localhost:80${PATH}`, token, callback(accountSid, ++n));
      return service.app
        .inject({ method: 'POST', url: PATH, headers: signed.headers, payload: signed.body })
        .then((response) => response.statusCode);
    };

    // Old-token traffic in flight while the secrets are swapped to [new, old].
    const before = Array.from({ length: 30 }, () => send(oldToken));
    await new Promise((resolve) => setImmediate(resolve));
    service.app.roomgate.setAccounts([{ accountSid, authTokens: [newToken, oldToken], sharedKeys: [] }]);
    const after = Array.from({ length: 30 }, () => send(oldToken));
    expect(await Promise.all([...before, ...after])).toEqual(Array(60).fill(204));
    expect(await send(newToken)).toBe(204);

    service.app.roomgate.setAccounts([{ accountSid, authTokens: [newToken], sharedKeys: [] }]);
    expect(await send(oldToken)).toBe(403);
    expect(await send(newToken)).toBe(204);

    const metrics = await service.metricsText();
    // Which token matched: the old one first as primary, then as previous; the new one as primary.
    const count = (label: string) =>
      Number(new RegExp(`roomgate_signature_verifications_total\\{secret="${accountSid}/${label}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    expect(count('previous')).toBeGreaterThan(0);
    expect(count('primary') + count('previous')).toBe(62);
  });
});

describe('token rotation by SIGHUP on a running service', () => {
  it('reloads ROOMGATE_CONFIG without a restart', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'roomgate-rotation-'));
    const configFile = join(directory, 'accounts.json');
    const accountSid = `AC${randomHex(16)}`;
    const [oldToken, newToken] = [randomHex(16), randomHex(16)];
    const writeAccounts = (tokens: string[]) =>
      writeFileSync(configFile, JSON.stringify({ accounts: [{ accountSid, authTokens: tokens }] }));
    writeAccounts([oldToken]);
    const port = await freePort();
    // One process (no tsx wrapper), so SIGHUP reaches the service itself.
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
      env: {
        ...process.env,
        PORT: String(port),
        ROOMGATE_METRICS_PORT: '0',
        ROOMGATE_CONFIG: configFile,
        // Outside sandbox mode the signed URL needs a configured source: callbacks come from loopback.
        ROOMGATE_TRUST_PROXY: 'loopback',
        ROOMGATE_DATABASE_URL: `sqlite:${join(directory, 'rg.db')}`,
        TWILIO_API_KEY_SID: `SK${randomHex(16)}`,
        TWILIO_API_KEY_SECRET: randomHex(16),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const deadline = Date.now() + 30_000;
      while (!output.includes('Roomgate is listening')) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`service did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      let n = 0;
      const send = async (token: string) => {
        const url = `http://127.0.0.1:${port}${PATH}`;
        const signed = signForm(url, token, callback(accountSid, ++n));
        return (await fetch(url, { method: 'POST', headers: signed.headers, body: signed.body })).status;
      };
      expect(await send(oldToken)).toBe(204);
      expect(await send(newToken)).toBe(403);

      writeAccounts([newToken, oldToken]);
      child.kill('SIGHUP');
      await waitForLog(() => output, 'Twilio secrets reloaded');
      expect(await send(newToken)).toBe(204);
      expect(await send(oldToken)).toBe(204);

      writeAccounts([newToken]);
      child.kill('SIGHUP');
      await waitForLog(() => output, 'Twilio secrets reloaded', 2);
      expect(await send(oldToken)).toBe(403);
      expect(await send(newToken)).toBe(204);

      // A broken file is refused and the secrets in force stay.
      writeFileSync(configFile, '{ not json');
      child.kill('SIGHUP');
      await waitForLog(() => output, 'reload refused');
      expect(await send(newToken)).toBe(204);
      for (const secret of [oldToken, newToken]) expect(output).not.toContain(secret);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    expect(child.exitCode).toBe(0);
  });
});

async function waitForLog(output: () => string, text: string, times = 1): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (output().split(text).length - 1 < times) {
    if (Date.now() > deadline) throw new Error(`no '${text}' in the log:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
