/** `roomgate demo`, as a newcomer runs it: a real process, exit 0, and a summary that says so. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('roomgate demo', () => {
  it('plays every scenario and ends with exit 0: forged and replayed refused, duplicates absorbed, lost callbacks healed, one billing record each; lobby, window, no-shows, rejoining', async () => {
    const { PORT: _port, ...env } = process.env;
    const { stdout } = await run('node_modules/.bin/tsx', ['src/cli/main.ts', 'demo'], { timeout: 150_000, env });
    expect(stdout).toMatch(/ok +forged +room-ended signed with a guessed token +expected 403, answered 403/);
    expect(stdout).toMatch(/ok +replay .* replayed after the max age +expected 403, answered 403/);
    expect(stdout).not.toMatch(/^FAIL/m);
    expect(stdout).toMatch(/duplicates absorbed: [1-9]\d*/);
    // Seven recorded consultations that met, and the clinic scenarios: three that met, three no-shows.
    expect(stdout).toMatch(/billing records: 10 for 10 consultations that met \(13 in all\)/);
    expect(stdout).toMatch(/ok +lobby +token for patient \(waiting, not admitted\) +expected 409, answered 409/);
    expect(stdout).toMatch(/ok +early-late-tokens +token for patient \(an hour early: window not open\) +expected 422, answered 422/);
    expect(stdout).toMatch(/ok +early-late-tokens +token for patient \(after the grace: window closed\) +expected 422, answered 422/);
    expect(stdout).toMatch(/ok +no-show-clinician +no-show \(missing: clinician\)/);
    expect(stdout).toMatch(/ok +no-show-care-recipient +no-show \(missing: care-recipient\)/);
    expect(stdout).toMatch(/ok +no-show-both +no-show \(missing: both\)/);
    expect(stdout).toMatch(/ok +drop-and-rejoin +token for patient \(rejoin: a new room\) +expected 201, answered 201/);
    expect(stdout).toMatch(/ok +drop-and-rejoin +completed, 2 rooms, 90\d s billed once/);
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
