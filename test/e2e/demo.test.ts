/** `roomgate demo`, as a newcomer runs it: a real process, exit 0, and a summary that says so. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('roomgate demo', () => {
  it('plays every scenario and ends with exit 0: forged and replayed refused, duplicates absorbed, lost callbacks healed, one billing record each', async () => {
    const { PORT: _port, ...env } = process.env;
    const { stdout } = await run('node_modules/.bin/tsx', ['src/cli/main.ts', 'demo'], { timeout: 90_000, env });
    expect(stdout).toMatch(/ok +forged +room-ended signed with a guessed token +expected 403, answered 403/);
    expect(stdout).toMatch(/ok +replay .* replayed after the max age +expected 403, answered 403/);
    expect(stdout).not.toMatch(/^FAIL/m);
    expect(stdout).toMatch(/duplicates absorbed: [1-9]\d*/);
    expect(stdout).toMatch(/billing records: 7 for 7 consultations/);
    expect(stdout).toMatch(/compositions: 7 available; composition requests sent to Twilio: 7/);
    // Twilio lost a consultation's disconnects and room-ended: the REST API finished it.
    expect(stdout).toMatch(/ok +lost-callbacks +reconciled from the REST API: in-progress → completed/);
    expect(stdout).toMatch(/healed by reconciliation: 1 of 1 /);
    // A local receiver registered as the tenant's webhook endpoint got every event, each verified.
    expect(stdout).toMatch(
      /webhooks: ([1-9]\d*) of the \1 events in the tenant's log delivered to http:\/\/127\.0\.0\.1:\d+\/webhooks, (\d+) of \2 deliveries verified/,
    );
    expect(stdout).toContain('Demo passed');
    // Without PORT it picks its own ports, and says so.
    expect(stdout).toContain('ports picked at random; set PORT to choose');
  });
});
