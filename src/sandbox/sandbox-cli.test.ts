/** `roomgate sandbox` as a user runs it: a real process, its banner, its credentials file, its signals. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../../test/support/build.js';

const BIN = resolve(import.meta.dirname, '../../bin/roomgate.js');

// bin/roomgate.js runs the compiled dist/: never an older build than these sources.
beforeAll(() => ensureBuilt(), 600_000);

function start(cwd: string, args: string[]) {
  const child = spawn(process.execPath, [BIN, 'sandbox', ...args], { cwd, env: { ...process.env, LOG_LEVEL: 'warn' } });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const banner = async () => {
    const deadline = Date.now() + 20_000;
    while (!/Roomgate: TWILIO_API_BASE_URL=/.test(output)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no banner:\n${output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return output;
  };
  return { child, banner, exited, output: () => output };
}

describe('roomgate sandbox', () => {
  const children: ChildProcessWithoutNullStreams[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('prints where it listens and where the secrets are, never the secrets; reuses them; stops on SIGTERM', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'roomgate-cli-'));
    const first = start(cwd, ['--port', '0']);
    children.push(first.child);
    const banner = await first.banner();
    const file = join(cwd, 'data', 'sandbox-credentials.json');
    const credentials = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(banner).toContain(credentials.accountSid);
    expect(banner).toContain(credentials.apiKeySid);
    expect(banner).toContain('./data/sandbox-credentials.json');
    expect(banner).toContain('created now');
    expect(banner).not.toContain(credentials.authToken);
    expect(banner).not.toContain(credentials.apiKeySecret);

    const url = /listening on (http:\/\/\S+)/.exec(banner)![1]!;
    const auth = `Basic ${Buffer.from(`${credentials.apiKeySid}:${credentials.apiKeySecret}`).toString('base64')}`;
    const created = await fetch(`${url}/v1/Rooms`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'UniqueName=cli-room',
    });
    expect(created.status).toBe(201);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.output()).not.toContain(credentials.authToken);

    const second = start(cwd, ['--port', '0']);
    children.push(second.child);
    expect(await second.banner()).toContain('reused');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(credentials);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  });

  it('exits 2 on bad usage', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'roomgate-cli-'));
    for (const args of [['--port', 'eighty'], ['--port', '70000'], ['--nope'], ['extra']]) {
      const run = start(cwd, args);
      children.push(run.child);
      expect(await run.exited).toBe(2);
    }
  });
});
