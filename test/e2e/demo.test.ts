/** `roomgate demo`, as a newcomer runs it: a real process, exit 0, and a summary that says so. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('roomgate demo', () => {
  it('plays every scenario and ends with exit 0: forged and replayed refused, duplicates absorbed, one billing record each', async () => {
    const { PORT: _port, ...env } = process.env;
    const { stdout } = await run('node_modules/.bin/tsx', ['src/cli/main.ts', 'demo'], { timeout: 90_000, env });
    expect(stdout).toMatch(/ok +forged +room-ended signed with a guessed token +expected 403, answered 403/);
    expect(stdout).toMatch(/ok +replay .* replayed after the max age +expected 403, answered 403/);
    expect(stdout).not.toMatch(/^FAIL/m);
    expect(stdout).toMatch(/duplicates absorbed: [1-9]\d*/);
    expect(stdout).toMatch(/billing records: 6 for 6 consultations/);
    expect(stdout).toMatch(/compositions: 6 available; composition requests sent to Twilio: 6/);
    expect(stdout).toContain('Demo passed');
    // Without PORT it picks its own ports, and says so.
    expect(stdout).toContain('ports picked at random; set PORT to choose');
  });
});
