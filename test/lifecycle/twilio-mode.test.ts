/**
 * Sandbox mode is explicit where it matters, as `roomgate serve` processes: production without
 * Twilio credentials refuses to start unless ROOMGATE_SANDBOX=1; a partial Twilio configuration
 * refuses to start naming what is missing; /readyz and the banner say when the sandbox is in use.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runRoomgate, startRoomgate, type RoomgateProcess } from '../support/roomgate-process.js';
import { freePort } from '../support/spawn-service.js';
import { randomHex } from '../support/test-service.js';

const running: RoomgateProcess[] = [];
afterEach(() => {
  for (const service of running.splice(0)) service.destroy();
});
const cwd = () => mkdtempSync(join(tmpdir(), 'roomgate-mode-'));

describe('Twilio or sandbox, explicitly', () => {
  it('NODE_ENV=production without Twilio credentials refuses to start (exit 2), starting nothing', async () => {
    const directory = cwd();
    const result = await runRoomgate(['serve'], { cwd: directory, env: { NODE_ENV: 'production', PORT: String(await freePort()) } });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^roomgate: configuration: TWILIO_ACCOUNT_SID: NODE_ENV=production needs the Twilio credentials .*ROOMGATE_SANDBOX=1/,
    );
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(directory, 'data'))).toBe(false);
  });

  it.each([
    [{ TWILIO_ACCOUNT_SID: `AC${randomHex(16)}`, TWILIO_AUTH_TOKEN: randomHex(16) }, 'TWILIO_API_KEY_SID: partial Twilio configuration'],
    [
      { TWILIO_API_KEY_SID: `SK${randomHex(16)}`, TWILIO_API_KEY_SECRET: randomHex(16) },
      'TWILIO_ACCOUNT_SID: partial Twilio configuration',
    ],
    [{ TWILIO_API_KEY_SECRET: randomHex(16) }, 'TWILIO_API_KEY_SID: required when TWILIO_API_KEY_SECRET is set'],
  ])('a partial Twilio configuration refuses to start, naming what is missing: %#', async (env, message) => {
    const result = await runRoomgate(['serve'], { cwd: cwd(), env: { ...env, PORT: String(await freePort()) } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`roomgate: configuration: ${message}`);
    for (const value of Object.values(env)) expect(result.stderr).not.toContain(value);
  });

  it('NODE_ENV=production with ROOMGATE_SANDBOX=1 runs the sandbox, and says so in the banner and /readyz', async () => {
    const port = await freePort();
    const service = startRoomgate(['serve'], { cwd: cwd(), env: { NODE_ENV: 'production', ROOMGATE_SANDBOX: '1', PORT: String(port) } });
    running.push(service);
    await service.waitFor(/SANDBOX MODE/);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(await ready.json()).toEqual({ status: 'ready', twilio: 'sandbox' });
    service.signal('SIGTERM');
    expect(await service.exited).toBe(0);
  });

  it('with Twilio configured: no sandbox, and /readyz says twilio', async () => {
    const port = await freePort();
    const service = startRoomgate(['serve'], {
      cwd: cwd(),
      env: {
        NODE_ENV: 'production',
        PORT: String(port),
        TWILIO_ACCOUNT_SID: `AC${randomHex(16)}`,
        TWILIO_AUTH_TOKEN: randomHex(16),
        TWILIO_API_KEY_SID: `SK${randomHex(16)}`,
        TWILIO_API_KEY_SECRET: randomHex(16),
      },
    });
    running.push(service);
    await service.waitFor(/Roomgate is listening/);
    expect(await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()).toEqual({ status: 'ready', twilio: 'twilio' });
    expect(service.stdout()).not.toContain('SANDBOX');
    service.signal('SIGTERM');
    expect(await service.exited).toBe(0);
  });
});
