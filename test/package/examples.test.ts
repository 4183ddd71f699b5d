/**
 * The verifier package as a user gets it: `npm pack`, installed into an empty project (no
 * dependency comes with it), then each app in examples/ — the README's "Library use" — run
 * under plain `node` with its framework from the registry: genuine → 204, tampered → 403,
 * replayed → 403.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const EXAMPLES = ['express', 'fastify', 'hono'];
const PACKAGE = '@roomgate/twilio-verifier';
const TOKEN = 'example-auth-token';
const PUBLIC_URL = 'https://hooks.example.com';
const SIGNED_URL = `${PUBLIC_URL}/webhooks/twilio`;

const run = promisify(execFile);
// npm's own variables (set when this runs under `npm test`) must not steer the nested installs.
const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')));
const npm = (args: string[], cwd: string) =>
  run('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], { cwd, env, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });

let workdir: string;
let project: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  workdir = mkdtempSync(path.join(tmpdir(), 'roomgate-examples-'));
  const { stdout } = await npm(['pack', '--workspace', PACKAGE, '--pack-destination', workdir, '--json'], ROOT);
  const tarball = path.join(workdir, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
  project = path.join(workdir, 'project');
  cpSync(path.join(ROOT, 'examples'), path.join(project, 'examples'), { recursive: true });
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await npm(['install', tarball], project);
  // Then the frameworks the examples name (the versions their package.json files ask for).
  const frameworks = EXAMPLES.flatMap((name) => {
    const { dependencies } = JSON.parse(readFileSync(path.join(ROOT, 'examples', name, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    return Object.entries(dependencies)
      .filter(([dependency]) => dependency !== PACKAGE)
      .map(([dependency, range]) => `${dependency}@${range}`);
  });
  await npm(['install', ...frameworks], project);
}, 900_000);

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

describe('the packed verifier', () => {
  it('installs with nothing but itself: no runtime dependency, only node: built-ins imported', () => {
    const installed = path.join(project, 'node_modules', PACKAGE);
    const manifest = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.license).toBe('Apache-2.0');
    expect(readdirSync(installed).sort()).toEqual(['LICENSE', 'dist', 'package.json', 'README.md'].sort());
    const imports = new Set<string>();
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (file.endsWith('.js')) for (const [, from] of readFileSync(file, 'utf8').matchAll(/from '([^']+)'/g)) imports.add(from!);
      }
    };
    walk(path.join(installed, 'dist'));
    expect([...imports].filter((from) => !from.startsWith('.') && !from.startsWith('node:'))).toEqual([]);
    expect(manifest.exports).toHaveProperty(['.']);
    expect(Object.keys(manifest.exports as object).sort()).toEqual(['.', './express', './fastify', './fetch', './package.json']);
  });
});

async function startExample(name: string): Promise<{ base: string; output: () => string }> {
  const child = spawn(process.execPath, ['server.js'], {
    cwd: path.join(project, 'examples', name),
    // Plain node: no loader, no NODE_OPTIONS from the test runner.
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: '0',
      HOST: '127.0.0.1',
      TWILIO_AUTH_TOKEN: TOKEN,
      PUBLIC_URL,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const listening = /listening on (http:\/\/\S+)/.exec(output);
    if (listening) return { base: listening[1]!, output: () => output };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`examples/${name} did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function callback(minutesOld: number) {
  const params = {
    AccountSid: `AC${'0'.repeat(32)}`,
    RoomSid: `RM${'1'.repeat(32)}`,
    StatusCallbackEvent: 'participant-connected',
    ParticipantIdentity: 'pt-7f3a',
    Timestamp: new Date(Date.now() - minutesOld * 60_000).toISOString(),
  };
  return { params, signature: twilio.getExpectedTwilioSignature(TOKEN, SIGNED_URL, params) };
}

const post = (base: string, signature: string, params: Record<string, string>) =>
  fetch(`${base}/webhooks/twilio`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    body: new URLSearchParams(params).toString(),
  }).then((response) => response.status);

describe('README "Library use"', () => {
  it('shows each example verbatim', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const name of EXAMPLES) {
      const source = readFileSync(path.join(ROOT, 'examples', name, 'server.js'), 'utf8').trimEnd();
      expect(readme, `examples/${name}/server.js`).toContain(`\`\`\`js\n${source}\n\`\`\``);
    }
  });
});

describe.each(EXAMPLES)('examples/%s under plain node', (name) => {
  it('genuine → 204, tampered → 403, replayed → 403', async () => {
    const { base, output } = await startExample(name);
    const genuine = callback(0);
    expect(await post(base, genuine.signature, genuine.params)).toBe(204);
    expect(output()).toContain(`verified: participant-connected ${genuine.params.RoomSid}`);

    expect(await post(base, genuine.signature, { ...genuine.params, ParticipantIdentity: 'intruder' })).toBe(403);
    expect(output()).toContain('refused: signature-mismatch');

    // Genuinely signed, captured an hour ago and sent again: only the replay window stops it.
    const replayed = callback(60);
    expect(await post(base, replayed.signature, replayed.params)).toBe(403);
    expect(output()).toContain('refused: replay-too-old');
  });
});
