/**
 * SIGHUP on a running `roomgate serve`: in sandbox mode the sandbox's account stays in force
 * (the sandbox's own callbacks keep being accepted); a reload that would leave no account is
 * refused and logged, and the secrets in force stay.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { signForm } from '../support/signed-callback.js';
import { startRoomgate, type RoomgateProcess } from '../support/roomgate-process.js';
import { freePort } from '../support/spawn-service.js';
import { randomHex } from '../support/test-service.js';

const WEBHOOK = '/webhooks/twilio/video';
const running: RoomgateProcess[] = [];
afterEach(() => {
  for (const service of running.splice(0)) service.destroy();
});

async function times(service: RoomgateProcess, text: string, count: number) {
  await service.waitFor(new RegExp(`(${text}[\\s\\S]*){${count}}`), 30_000);
}

describe('SIGHUP', () => {
  it('in sandbox mode keeps the sandbox account: its callbacks are still accepted afterwards', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'roomgate-hup-'));
    const port = await freePort();
    const service = startRoomgate(['serve'], { cwd, env: { PORT: String(port), LOG_LEVEL: 'info' } });
    running.push(service);
    const sandboxUrl = (await service.waitFor(/emulator runs at (http:\/\/\S+)/))[1]!;
    const credentials = JSON.parse(readFileSync(join(cwd, 'data/sandbox-credentials.json'), 'utf8')) as Record<string, string>;
    const auth = `Basic ${Buffer.from(`${credentials.apiKeySid}:${credentials.apiKeySecret}`).toString('base64')}`;
    const sandbox = async (path: string, form: Record<string, string> = {}) => {
      const response = await fetch(`${sandboxUrl}${path}`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      });
      return (await response.json()) as Record<string, unknown>;
    };
    /** What Roomgate answered to each callback the sandbox delivered. */
    const answers = async () => {
      await sandbox('/_sandbox/Idle');
      const response = await fetch(`${sandboxUrl}/_sandbox/Callbacks`, { headers: { authorization: auth } });
      const { callbacks } = (await response.json()) as { callbacks: { event: string; status: number | null }[] };
      return callbacks.map((attempt) => `${attempt.event} ${attempt.status}`);
    };

    // A room whose callbacks go to Roomgate (a room Roomgate did not create: stored as unmatched, 204).
    await sandbox('/v1/Rooms', { UniqueName: 'hup-room', StatusCallback: `http://127.0.0.1:${port}${WEBHOOK}` });
    expect(await answers()).toEqual(['room-created 204']);

    service.signal('SIGHUP');
    await service.waitFor(/Twilio secrets reloaded/);
    await sandbox('/_sandbox/Rooms/hup-room/Participants', { Identity: 'clin-hup1', Tracks: 'audio' });
    const after = await answers();
    expect(after).toContain('participant-connected 204');
    expect(after.filter((answer) => !answer.endsWith(' 204'))).toEqual([]);
    expect(service.stdout()).not.toContain('unknown-account');
  });

  it('refuses a reload that would leave no account, logs it, and keeps the secrets in force', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'roomgate-hup-'));
    const configFile = join(directory, 'accounts.json');
    const accountSid = `AC${randomHex(16)}`;
    const token = randomHex(16);
    writeFileSync(configFile, JSON.stringify({ accounts: [{ accountSid, authTokens: [token] }] }));
    const port = await freePort();
    const service = startRoomgate(['serve'], {
      cwd: directory,
      env: {
        PORT: String(port),
        ROOMGATE_CONFIG: configFile,
        ROOMGATE_DATABASE_URL: `sqlite:${join(directory, 'rg.db')}`,
        TWILIO_API_KEY_SID: `SK${randomHex(16)}`,
        TWILIO_API_KEY_SECRET: randomHex(16),
        LOG_LEVEL: 'info',
      },
    });
    running.push(service);
    await service.waitFor(/Roomgate is listening/);
    let n = 0;
    const send = async () => {
      const url = `http://127.0.0.1:${port}${WEBHOOK}`;
      const signed = signForm(url, token, {
        AccountSid: accountSid,
        RoomSid: `RM${randomHex(16)}`,
        RoomName: 'r',
        RoomStatus: 'in-progress',
        RoomType: 'group',
        StatusCallbackEvent: 'room-created',
        Timestamp: new Date().toISOString(),
        SequenceNumber: String(n++),
      });
      return (await fetch(url, { method: 'POST', headers: signed.headers, body: signed.body })).status;
    };
    expect(await send()).toBe(204);

    for (const [index, content] of ['{"accounts":[]}', '{}', 'null', '{"accounts":[{"accountSid":"AC1"}]}'].entries()) {
      writeFileSync(configFile, content);
      service.signal('SIGHUP');
      await times(service, 'reload refused; the previous secrets stay in force', index + 1);
      expect(await send()).toBe(204);
    }
    expect(service.stdout()).toMatch(/"reason":"ROOMGATE_CONFIG: expected \{\\"accounts\\":\[…\]\} with at least one account"/);
    expect(service.stdout()).not.toContain(token);
  });
});
