/**
 * The sandbox README's shell examples, run as written against real processes: the walkthrough
 * `npm start` prints in its banner (a consultation by hand, in sandbox mode) and the emulator
 * alone (`roomgate sandbox`). Only the URLs are the ones the banners printed (free ports), and
 * `npx roomgate` runs this checkout's CLI.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { WALKTHROUGH } from '../../src/cli/sandbox-walkthrough.js';
import { ROOT, startRoomgate, type RoomgateProcess } from '../support/roomgate-process.js';
import { freePort } from '../support/spawn-service.js';

const exec = promisify(execFile);
const README = readFileSync(join(ROOT, 'src/sandbox/README.md'), 'utf8');
/** The ```sh blocks of the README, in order. */
const blocks = [...README.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);

const running: RoomgateProcess[] = [];
afterEach(() => {
  for (const service of running.splice(0)) service.destroy();
});

/** Runs a README block in bash, in `cwd`, with `npx roomgate` bound to this checkout's CLI. */
async function runBlock(block: string, cwd: string): Promise<string> {
  const loader = createRequire(import.meta.url).resolve('tsx');
  const npx = `npx() { if [ "$1" = roomgate ]; then shift; "${process.execPath}" --import "${loader}" "${join(ROOT, 'src/cli/main.ts')}" "$@"; else command npx "$@"; fi; }`;
  const { stdout } = await exec('bash', ['-c', `${npx}\n${block}`], {
    cwd,
    env: { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? '/tmp' },
    timeout: 120_000,
  });
  return stdout;
}

/** The JSON documents a block printed, one a line. */
const documents = (stdout: string) =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('src/sandbox/README.md, run as written', () => {
  it('has the two examples, and the walkthrough is the one the banner prints', () => {
    expect(blocks).toHaveLength(2);
    const lines = blocks[1]!.trimEnd().split('\n');
    expect(lines.slice(2, -1)).toEqual(WALKTHROUGH);
  });

  it('"A consultation by hand": a tenant, a key, a consultation, participants join and leave, the bill', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'roomgate-walkthrough-'));
    const service = startRoomgate(['serve'], { cwd, env: { PORT: String(await freePort()), LOG_LEVEL: 'warn' } });
    running.push(service);
    const urls = (await service.waitFor(/^ {4}(ROOMGATE=\S+ SANDBOX=\S+)$/m))[1]!;
    for (const line of WALKTHROUGH) expect(service.stdout()).toContain(`    ${line}\n`);

    const block = blocks[1]!.replace(/^ROOMGATE=\S+ SANDBOX=\S+$/m, urls);
    const stdout = await runBlock(block, cwd);

    const printed = documents(stdout);
    const consultation = printed.find((document) => document.roomName) as {
      id: string;
      status: string;
      participants: { identity: string; role: string }[];
    };
    expect(consultation).toMatchObject({ status: 'completed' });
    expect(consultation.participants.map((participant) => `${participant.identity}/${participant.role}`).sort()).toEqual([
      'clin-7f3a/clinician',
      'pat-91c2/patient',
    ]);
    const recordings = printed.find((document) => document.recordings) as { recordings: unknown[] };
    expect(recordings.recordings.length).toBeGreaterThan(0);
    const billing = printed.at(-1) as { data: { consultationId: string; billableSeconds: number; roundedSeconds: number }[] };
    expect(billing.data).toHaveLength(1);
    expect(billing.data[0]).toMatchObject({ consultationId: consultation.id, roundedSeconds: 600 });
    expect(billing.data[0]!.billableSeconds).toBeGreaterThanOrEqual(599);
    // The live event stream in the background saw them join and leave.
    expect(stdout.match(/^event: participant\.joined$/gm)).toHaveLength(2);
    expect(stdout.match(/^event: participant\.left$/gm)).toHaveLength(2);
  });

  it('the emulator alone: a room, a participant, the clock, the end, the callback log', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'roomgate-walkthrough-'));
    const sandbox = startRoomgate(['sandbox', '--port', '0'], { cwd, env: { LOG_LEVEL: 'warn' } });
    running.push(sandbox);
    const url = (await sandbox.waitFor(/listening on (http:\/\/\S+)/))[1]!;
    const stdout = await runBlock(blocks[0]!.replace(/^SANDBOX=\S+$/m, `SANDBOX=${url}`), cwd);

    const [room, participant, clock, ended, log] = documents(stdout);
    expect(room).toMatchObject({ unique_name: 'demo', status: 'in-progress' });
    expect(participant).toMatchObject({ identity: 'clin-1', status: 'connected' });
    expect(clock).toHaveProperty('now');
    expect(ended).toMatchObject({ unique_name: 'demo', status: 'completed' });
    const events = (log as { callbacks: { event: string; error?: string }[] }).callbacks.map((attempt) => attempt.event);
    expect(events).toEqual(expect.arrayContaining(['room-created', 'participant-connected', 'participant-disconnected', 'room-ended']));
  });
});
