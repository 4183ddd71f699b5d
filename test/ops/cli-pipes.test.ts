/**
 * The command line in a pipe whose reader stops early (`roomgate --help | head -1`): the process
 * ends with the command's own exit code and no stack trace, as Unix tools do.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../support/build.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

beforeAll(() => ensureBuilt(), 600_000);

/** Runs the compiled CLI with its stdout's reader gone before it writes a byte. */
function runWithClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/roomgate.js'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

describe('roomgate with a closed stdout', () => {
  it.each([['--help'], ['help', 'key', 'create'], ['--version'], ['serve', '--help']].map((args) => [args.join(' '), args] as const))(
    'roomgate %s ends with exit 0 and no trace',
    async (_name, args) => {
      const { code, stderr } = await runWithClosedStdout([...args]);
      expect(stderr).not.toMatch(/EPIPE|Unhandled|at /);
      expect(code).toBe(0);
    },
  );

  it('a usage error still exits 2', async () => {
    const { code, stderr } = await runWithClosedStdout(['no-such-command']);
    expect(stderr).toMatch(/unknown command/);
    expect(code).toBe(2);
  });
});
