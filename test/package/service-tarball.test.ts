/**
 * The service as `npm pack` ships it: the tarball holds the compiled service, its CLI and its
 * docs — no sources, tests or benches — and what it holds is enough to run. Its dependencies are
 * this checkout's (linked, not installed: an install would build better-sqlite3 from source for
 * a minute); the package's own files are the tarball's alone.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../support/build.js';
import { freePort } from '../support/spawn-service.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
// npm's own variables (set when this runs under `npm test`) must not steer the nested pack.
const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')));

let workdir: string;
let files: string[];

beforeAll(async () => {
  await ensureBuilt();
  workdir = mkdtempSync(path.join(tmpdir(), 'roomgate-tarball-'));
  // --ignore-scripts: dist/ is already built; `prepare` would rebuild it under parallel tests.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', workdir, '--json'], {
    cwd: ROOT,
    env,
    maxBuffer: 16 * 1024 * 1024,
  });
  const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  files = packed!.files.map((file) => file.path);
  await run('tar', ['xzf', path.join(workdir, packed!.filename)], { cwd: workdir });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(workdir, 'package', 'node_modules'), 'dir');
}, 600_000);

afterAll(() => {
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

describe('the packed service', () => {
  it('holds the compiled service, the CLI, the console and the docs, and no sources, tests or benches', () => {
    for (const expected of [
      'bin/roomgate.js',
      'dist/cli/main.js',
      'dist/console/index.html',
      'docs/openapi.json',
      'README.md',
      'LICENSE',
    ]) {
      expect(files).toContain(expected);
    }
    expect(files.some((file) => /^dist\/storage\/migrations\/0001-.*\.js$/.test(file))).toBe(true);
    expect(files.filter((file) => /^(src|test|bench|examples|console|\.ci)\//.test(file) || /\.test\.(js|ts)$/.test(file))).toEqual([]);
  });

  it('runs from what it holds: serves, then stops on SIGTERM with exit 0', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(workdir, 'package/bin/roomgate.js'), 'serve'], {
      cwd: workdir,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        HOST: '127.0.0.1',
        PORT: String(port),
        ROOMGATE_DATABASE_URL: `sqlite:${path.join(workdir, 'roomgate.db')}`,
        ROOMGATE_METRICS_PORT: '0',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const base = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 45_000;
      for (;;) {
        const status = await fetch(`${base}/healthz`).then(
          (response) => response.status,
          () => 0,
        );
        if (status === 200) break;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the packed service did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const console = await fetch(`${base}/console`);
      expect(console.status).toBe(200);
      expect(await console.text()).toMatch(/<html/i);
      expect((await fetch(`${base}/v1/openapi.json`)).status).toBe(200);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 60_000);
});
