import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import twilio from 'twilio';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../program.js';

const BASE = 'https://mycompany.com/myapp.php?foo=1&bar=2';
const PARAMS = ['CallSid=CA1234567890ABCDE', 'Caller=+14158675309', 'Digits=1234', 'From=+14158675309', 'To=+18005551212'];
const paramArgs = (params: string[]) => params.flatMap((p) => ['--param', p]);

/** `roomgate COMMAND …argv` in process, with what it printed. */
async function capture(command: 'sign' | 'diagnose', argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void out.push(args.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void err.push(args.join(' ')));
  const code = await runCli([command, ...argv], { out: (text) => out.push(text.trimEnd()), err: (text) => err.push(text.trimEnd()) });
  vi.restoreAllMocks();
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

const dir = mkdtempSync(join(tmpdir(), 'roomgate-sign-'));

afterEach(() => vi.restoreAllMocks());

describe('roomgate sign', () => {
  it('prints the reference signature; --param order kept, repeated keys as Twilio signs them', async () => {
    expect(await capture('sign', ['--url', BASE, '--token', '12345', ...paramArgs(PARAMS)])).toEqual({
      code: 0,
      stdout: 'RSOYDt4T1cUTdK1PDd93/VVr8B8=',
      stderr: '',
    });
    const repeated = ['Sid=CA123', 'SidAccount=AC123', 'Digits=5678', 'Digits=1234', 'Digits=1234'];
    expect((await capture('sign', ['--url', BASE, '--token', '12345', ...paramArgs(repeated)])).stdout).toBe(
      'IK+Dwps556ElfBT0I3Rgjkr1wJU=',
    );
    // A value may itself hold '='.
    expect((await capture('sign', ['--url', BASE, '--token', '12345', '--param', 'Body=a=b'])).stdout).toBe(
      twilio.getExpectedTwilioSignature('12345', BASE, { Body: 'a=b' }),
    );
  });

  it('JSON --body-file: prints the URL with bodySHA256 and its signature', async () => {
    const file = join(dir, 'body.json');
    writeFileSync(file, '{"property": "value", "boolean": true}');
    const result = await capture('sign', ['--url', 'https://mycompany.com/myapp.php', '--token', '12345', '--body-file', file]);
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout).toBe(
      'URL: https://mycompany.com/myapp.php?bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620\nX-Twilio-Signature: y77kIzt2vzLz71DgmJGsen2scGs=',
    );
  });

  it('form --body-file and --algorithm sha256', async () => {
    const file = join(dir, 'body.form');
    writeFileSync(file, 'CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212');
    expect((await capture('sign', ['--url', BASE, '--token', '12345', '--body-file', file])).stdout).toBe('RSOYDt4T1cUTdK1PDd93/VVr8B8=');
    const sha256 = await capture('sign', ['--url', BASE, '--token', 'shared', '--algorithm', 'sha256', ...paramArgs(PARAMS)]);
    expect(sha256.stdout).toBe(
      twilio.getExpectedTwilioSignature('shared', BASE, Object.fromEntries(PARAMS.map((p) => p.split('='))), 'HMAC_SHA256'),
    );
  });

  it.each([
    [['--token', 'x']],
    [['--url', BASE]],
    [['--url', 'mycompany.com/x', '--token', 'x']],
    [['--url', BASE, '--token', 'x', '--param', 'novalue']],
    [['--url', BASE, '--token', 'x', '--algorithm', 'md5']],
    [['--url', BASE, '--token', 'x', '--bogus']],
  ])('exit 2 on bad usage %j', async (argv) => {
    const saved = process.env.TWILIO_AUTH_TOKEN;
    delete process.env.TWILIO_AUTH_TOKEN;
    try {
      expect((await capture('sign', argv)).code).toBe(2);
    } finally {
      if (saved !== undefined) process.env.TWILIO_AUTH_TOKEN = saved;
    }
  });

  it('exit 1 when the body file cannot be read', async () => {
    expect((await capture('sign', ['--url', BASE, '--token', 'x', '--body-file', join(dir, 'missing')])).code).toBe(1);
  });
});

describe('roomgate diagnose', () => {
  const signature = 'RSOYDt4T1cUTdK1PDd93/VVr8B8=';

  it('exit 0 and says so when the signature matches', async () => {
    const result = await capture('diagnose', ['--url', BASE, '--token', '12345', '--signature', signature, ...paramArgs(PARAMS)]);
    expect(result).toMatchObject({ code: 0, stdout: `match: the signature is valid for ${BASE}` });
  });

  it('exit 1 with the likely cause and the matching URL; never prints the token or signature', async () => {
    const result = await capture('diagnose', [
      '--url',
      BASE.replace('https', 'http'),
      '--token',
      '12345',
      '--signature',
      signature,
      ...paramArgs(PARAMS),
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('likely cause: scheme');
    expect(result.stdout).toContain(`matching URL: ${BASE}`);
    expect(result.stdout + result.stderr).not.toContain(signature);
    expect(result.stdout + result.stderr).not.toContain('12345');
    const params = await capture('diagnose', [
      '--url',
      BASE,
      '--token',
      '12345',
      '--signature',
      signature,
      ...paramArgs([...PARAMS, 'Extra=1']),
    ]);
    expect(params).toMatchObject({ code: 1, stdout: expect.stringContaining('likely cause: parameters') });
  });

  it('names every cause when mistakes combine, and the host from --public-url', async () => {
    const combined = await capture('diagnose', [
      '--url',
      'http://mycompany.com/myapp.php?foo=1&bar=2'.replace('.com/', '.com/internal/'),
      '--token',
      '12345',
      '--signature',
      signature,
      ...paramArgs(PARAMS),
    ]);
    expect(combined).toMatchObject({ code: 1, stdout: expect.stringContaining('causes: scheme + path-prefix') });
    expect(combined.stdout).toContain(`matching URL: ${BASE}`);
    const local = await capture('diagnose', [
      '--url',
      'http://localhost:3000/myapp.php?foo=1&bar=2',
      '--public-url',
      BASE,
      '--token',
      '12345',
      '--signature',
      signature,
      ...paramArgs(PARAMS),
    ]);
    expect(local).toMatchObject({ code: 1, stdout: expect.stringContaining('causes: scheme + host') });
  });

  it('exit 2 without --signature', async () => {
    expect((await capture('diagnose', ['--url', BASE, '--token', '12345'])).code).toBe(2);
  });

  it('runs as `roomgate` from the command line, with its exit codes', () => {
    const cli = (args: string[]) =>
      spawnSync('npx', ['tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', env: { ...process.env, TWILIO_AUTH_TOKEN: '' } });
    const signed = cli(['sign', '--url', BASE, '--token', '12345', ...paramArgs(PARAMS)]);
    expect({ status: signed.status, stdout: signed.stdout.trim() }).toEqual({ status: 0, stdout: signature });
    expect(cli(['diagnose', '--url', BASE, '--token', '12345', '--signature', signature, ...paramArgs(PARAMS)]).status).toBe(0);
    expect(cli(['diagnose', '--url', BASE, '--token', 'wrong', '--signature', signature, ...paramArgs(PARAMS)]).status).toBe(1);
    expect(cli(['sign', '--url', BASE]).status).toBe(2);
  }, 180_000); // four tsx processes in a row: slow on a loaded machine
});
