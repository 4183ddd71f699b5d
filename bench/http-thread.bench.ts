/**
 * CPU the HTTP thread spends per callback, over real HTTP: Roomgate's main thread (the one that
 * answers Twilio) against the bare node:http verifier, same requests, same port, one after the
 * other. Throughput on a shared machine follows its load; CPU time per callback much less so.
 *
 *   npx tsx bench/http-thread.bench.ts [--engine sqlite|postgres] [--requests 10000] [--warmup 2000]
 *                                      [--connections 32] [--runs 1] [--profile]
 *
 * Per measured run: the main thread's user+system CPU (/proc/<pid>/task/<pid>/stat) and the
 * whole process's, divided by the callbacks answered. Roomgate runs `serve` on a fresh seeded
 * database as in ingest.bench.ts, so whatever database work its main thread still does is in
 * the figure; the ceiling (bench/servers/bare-verify.ts) only verifies and answers 204.
 * --profile: a CPU profile of the Roomgate child, summarised over the measured run only
 * (start-up, module compilation under tsx and shut-down left out). Exit 1 unless every request
 * got 204.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { benchArgs, fmt } from './support/bench-args.js';
import { startChild, startRoomgate, type ChildServer } from './support/child-server.js';
import { printProfile, summariseProfileDir, type ProfileWindow } from './support/cpu-profile.js';
import { runLoad, type LoadResult } from './support/load-generator.js';
import { freshDatabase, seedRoomgate, type BenchEngine } from './support/roomgate-db.js';
import { processCpuMs, threadCpuMs } from './support/thread-cpu.js';
import { startTwilioStub } from './support/twilio-stub.js';
import { signedWorkload } from './support/video-callbacks.js';

const args = benchArgs(
  process.argv.slice(2),
  { engine: 'sqlite', requests: 10_000, warmup: 2_000, connections: 32, runs: 1, profile: false },
  'tsx bench/http-thread.bench.ts [--engine sqlite|postgres] [--requests N] [--warmup W] [--connections C] [--runs R] [--profile]',
);
if (args.engine !== 'sqlite' && args.engine !== 'postgres') {
  console.error('--engine: sqlite or postgres');
  process.exit(2);
}
const engine = args.engine as BenchEngine;
const N = Math.floor(args.requests);
const W = Math.floor(args.warmup);

const { account, rooms, port, warmup, measured } = await signedWorkload(N, W);
console.log(`http-thread bench: engine ${engine}, ${fmt(N)} callbacks measured (+${fmt(W)} warm-up), ${args.connections} connections`);

interface Measured {
  readonly result: LoadResult;
  /** CPU ms per callback: the main thread, the whole process. */
  readonly mainMs: number;
  readonly processMs: number;
  readonly window: ProfileWindow;
}

const failures: string[] = [];

async function measure(name: string, child: ChildServer): Promise<Measured> {
  try {
    const w = await runLoad({ port, connections: args.connections, requests: warmup });
    if ((w.statuses['204'] ?? 0) !== W) failures.push(`${name}: warm-up statuses ${JSON.stringify(w.statuses)}`);
    const main0 = threadCpuMs(child.pid, child.pid);
    const process0 = processCpuMs(child.pid);
    const from = process.hrtime.bigint();
    const result = await runLoad({ port, connections: args.connections, requests: measured });
    const to = process.hrtime.bigint();
    const mainMs = (threadCpuMs(child.pid, child.pid) - main0) / N;
    const processMs = (processCpuMs(child.pid) - process0) / N;
    if ((result.statuses['204'] ?? 0) !== N) failures.push(`${name}: statuses ${JSON.stringify(result.statuses)}`);
    return { result, mainMs, processMs, window: { fromMicros: Number(from / 1000n), toMicros: Number(to / 1000n) } };
  } finally {
    const code = await child.stop();
    if (code !== 0 && code !== null) failures.push(`${name}: exit code ${code}\n${child.stderr()}`);
  }
}

const line = (name: string, m: Measured) =>
  `  ${name.padEnd(9)} ${fmt(m.result.perSecond).padStart(8)}/s   main thread ${fmt(m.mainMs * 1000).padStart(4)} µs/callback   process ${fmt(m.processMs * 1000).padStart(5)} µs/callback   p99 ${m.result.p99Ms.toFixed(1)} ms`;

const stub = await startTwilioStub();
try {
  for (let run = 1; run <= args.runs; run++) {
    const db = await freshDatabase(engine, 'roomgate');
    let roomgate: Measured;
    const profileDir = args.profile ? mkdtempSync(path.join(tmpdir(), 'roomgate-http-prof-')) : undefined;
    try {
      await seedRoomgate(db.url, rooms);
      const child = await startRoomgate({
        ...account,
        port,
        databaseUrl: db.url,
        twilioApiBaseUrl: stub.url,
        ...(profileDir ? { profileDir } : {}),
      });
      roomgate = await measure('roomgate', child);
    } finally {
      await db.drop();
    }
    const ceiling = await measure(
      'ceiling',
      await startChild({
        name: 'ceiling',
        script: 'bench/servers/bare-verify.ts',
        port,
        env: { TWILIO_ACCOUNT_SID: account.accountSid, TWILIO_AUTH_TOKEN: account.authToken },
      }),
    );
    console.log(`run ${run}:`);
    console.log(line('roomgate', roomgate));
    console.log(line('ceiling', ceiling));
    console.log(`  Roomgate / ceiling main-thread CPU per callback: ${(roomgate.mainMs / ceiling.mainMs).toFixed(2)}×`);
    if (profileDir) {
      for (const { thread, summary } of summariseProfileDir(profileDir, 40, roomgate.window)) {
        const label = thread === '0' ? 'HTTP thread' : `worker thread ${thread}`;
        printProfile(`the Roomgate child, ${label}, over the measured run (${profileDir})`, summary);
      }
    }
  }
} finally {
  await stub.close();
}

if (failures.length > 0) {
  console.error(`\nFAILED checks:\n  ${failures.join('\n  ')}`);
  process.exitCode = 1;
}
