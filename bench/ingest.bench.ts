/**
 * Webhook ingest end to end, over HTTP: Roomgate against the usual alternative and against the
 * ceiling, in the same run, with the same requests, on the same port.
 *
 *   npx tsx bench/ingest.bench.ts [--engine sqlite|postgres] [--requests 20000] [--warmup 2000]
 *                                 [--connections 32] [--profile]
 *
 * Servers, each a child process on 127.0.0.1, measured one after the other:
 *   roomgate  `src/cli/main.ts serve` (configured account, no sandbox): verify, freshness, group
 *             commit of the inbox row with dedupe, screening, projection into the consultation
 *             record, outbox — on a fresh, seeded database of the engine;
 *   baseline  bench/servers/express-baseline.ts: Express + twilio.webhook() + one plain INSERT
 *             per callback, same engine and durability (SQLite WAL synchronous=FULL);
 *   ceiling   bench/servers/bare-verify.ts: node:http, Roomgate's verifier, 204, stores nothing.
 * Requests: WARMUP + N distinct Video callbacks of recorded two-person consultations (18 per
 * room, ≈ 45 rooms live at once, in Timestamp order), signed for http://127.0.0.1:<port>/….
 * The consultations and issued identities are seeded before Roomgate starts, so every callback
 * is accepted and projected. The first WARMUP go first (not measured), then N at CONNECTIONS
 * closed-loop keep-alive connections.
 * Checks (exit 1 if any fails): every request answered 204; the rows each database gained
 * during the measured run equal N (counted while the server still runs: every 204 was
 * committed); Roomgate stored all of them as 'accepted' and completed every finished room.
 * Targets (reported, not enforced): Roomgate ≥ 4× baseline throughput on SQLite, ≥ 0.5× the
 * ceiling, p99 < 25 ms. --profile writes a CPU profile of the Roomgate child and prints where
 * its time went.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { benchArgs, fmt } from './support/bench-args.js';
import { startChild, startRoomgate, type ChildServer } from './support/child-server.js';
import { printProfile, summariseProfileDir } from './support/cpu-profile.js';
import { runLoad, type LoadResult } from './support/load-generator.js';
import { baselineCount } from './support/baseline-db.js';
import { freshDatabase, roomgateCounts, seedRoomgate, type BenchEngine } from './support/roomgate-db.js';
import { threadCpuBreakdown, threadsCpuMs } from './support/thread-cpu.js';
import { startTwilioStub } from './support/twilio-stub.js';
import { signedWorkload } from './support/video-callbacks.js';

const args = benchArgs(
  process.argv.slice(2),
  { engine: 'sqlite', requests: 20_000, warmup: 2_000, connections: 32, profile: false },
  'tsx bench/ingest.bench.ts [--engine sqlite|postgres] [--requests N] [--warmup W] [--connections C] [--profile]',
);
if (args.engine !== 'sqlite' && args.engine !== 'postgres') {
  console.error('--engine: sqlite or postgres');
  process.exit(2);
}
const engine = args.engine as BenchEngine;
const N = Math.floor(args.requests);
const W = Math.floor(args.warmup);

const { account, rooms, port, callbackParams, warmup, measured, signingMs } = await signedWorkload(N, W);
console.log(
  `ingest bench: engine ${engine}, ${fmt(N)} callbacks measured (+${fmt(W)} warm-up), ${rooms.length} rooms, ${args.connections} connections, port ${port}`,
);
console.log(`  ${fmt(N + W)} callbacks signed with twilio.getExpectedTwilioSignature in ${(signingMs / 1000).toFixed(1)} s`);

interface Outcome {
  readonly name: string;
  readonly result: LoadResult;
  /** The server's CPU time (all its threads) per 1,000 measured callbacks: holds on a noisy machine where callbacks/s does not. */
  readonly cpuMsPerThousand: number;
  /** The same, thread by thread: where the CPU went. */
  readonly threads: string;
  readonly checks: string[];
  readonly failures: string[];
}

const stub = await startTwilioStub();
const outcomes: Outcome[] = [];
const failures: string[] = [];
const profileDir = args.profile ? mkdtempSync(path.join(tmpdir(), 'roomgate-prof-')) : undefined;

/**
 * `settled` (Roomgate): resolves once the record has caught up with what was acknowledged, so the
 * CPU figure includes the folding the measured callbacks caused, not only their acknowledgement.
 */
async function measure(name: string, child: ChildServer, count: () => Promise<number>, settled?: () => Promise<void>): Promise<Outcome> {
  const checks: string[] = [];
  const fails: string[] = [];
  try {
    const w = await runLoad({ port, connections: args.connections, requests: warmup });
    if ((w.statuses['204'] ?? 0) !== W) fails.push(`${name}: warm-up statuses ${JSON.stringify(w.statuses)}`);
    const before = await count();
    const cpuBefore = child.cpuMs();
    const threadsBefore = threadsCpuMs(child.pid);
    const result = await runLoad({ port, connections: args.connections, requests: measured });
    await settled?.();
    const cpuMsPerThousand = ((child.cpuMs() - cpuBefore) * 1000) / N;
    const threads = threadCpuBreakdown(child.pid, threadsBefore, threadsCpuMs(child.pid), N);
    const after = await count();
    const ok = result.statuses['204'] ?? 0;
    if (ok !== N) fails.push(`${name}: ${ok}/${N} answered 204 ${JSON.stringify(result.statuses)}`);
    else checks.push(`all ${fmt(N)} answered 204`);
    if (after >= 0) {
      if (after - before !== N) fails.push(`${name}: database gained ${after - before} rows during the run, expected ${N}`);
      else checks.push(`rows gained = ${fmt(after - before)} = N (counted before stop)`);
    }
    return { name, result, cpuMsPerThousand, threads, checks, failures: fails };
  } finally {
    const code = await child.stop();
    if (code !== 0 && code !== null) fails.push(`${name}: exit code ${code}\n${child.stderr()}`);
  }
}

try {
  // (a) Roomgate
  {
    const db = await freshDatabase(engine, 'roomgate');
    try {
      const t = Date.now();
      await seedRoomgate(db.url, rooms);
      console.log(
        `  Roomgate database seeded (${rooms.length} consultations, ${rooms.length * 2} issued identities) in ${((Date.now() - t) / 1000).toFixed(1)} s`,
      );
      const child = await startRoomgate({
        ...account,
        port,
        databaseUrl: db.url,
        twilioApiBaseUrl: stub.url,
        ...(profileDir ? { profileDir } : {}),
      });
      const finishedRooms = callbackParams.filter((params) => params.StatusCallbackEvent === 'room-ended').length;
      const folded = async () => {
        for (const giveUpAt = Date.now() + 60_000; Date.now() < giveUpAt; await new Promise((resolve) => setTimeout(resolve, 50))) {
          if ((await roomgateCounts(db.url)).completed >= finishedRooms) return;
        }
      };
      const outcome = await measure('roomgate', child, async () => (await roomgateCounts(db.url)).callbacks, folded);
      const counts = await roomgateCounts(db.url);
      if ((counts.byStatus.accepted ?? 0) !== N + W)
        outcome.failures.push(`roomgate: inbox by status ${JSON.stringify(counts.byStatus)}, expected ${N + W} accepted`);
      else outcome.checks.push(`all ${fmt(N + W)} stored as accepted`);
      if (counts.completed !== finishedRooms)
        outcome.failures.push(
          `roomgate: ${counts.completed} consultations completed, expected ${finishedRooms} (consultations by status ${JSON.stringify(counts.consultations)})`,
        );
      else
        outcome.checks.push(
          `${fmt(counts.completed)} consultations completed, ${fmt(counts.billing)} billing records, ${fmt(counts.outbox)} outbox entries`,
        );
      outcomes.push(outcome);
    } finally {
      await db.drop();
    }
  }
  // (b) Express baseline, same engine
  {
    const db = await freshDatabase(engine, 'baseline');
    try {
      const child = await startChild({
        name: 'baseline',
        script: 'bench/servers/express-baseline.ts',
        port,
        env: { TWILIO_AUTH_TOKEN: account.authToken, BASELINE_DB: db.url },
      });
      outcomes.push(await measure('baseline', child, () => baselineCount(db.url)));
    } finally {
      await db.drop();
    }
  }
  // (c) the ceiling
  {
    const child = await startChild({
      name: 'ceiling',
      script: 'bench/servers/bare-verify.ts',
      port,
      env: { TWILIO_ACCOUNT_SID: account.accountSid, TWILIO_AUTH_TOKEN: account.authToken },
    });
    outcomes.push(await measure('ceiling', child, async () => -1));
  }
} finally {
  await stub.close();
}

const [roomgate, baseline, ceiling] = outcomes as [Outcome, Outcome, Outcome];
console.log('');
console.log(`server     callbacks/s     p50 ms   p99 ms   CPU ms/1k   checks`);
for (const outcome of outcomes) {
  const r = outcome.result;
  console.log(
    `${outcome.name.padEnd(9)} ${fmt(r.perSecond).padStart(12)} ${r.p50Ms.toFixed(2).padStart(10)} ${r.p99Ms.toFixed(2).padStart(8)} ${fmt(outcome.cpuMsPerThousand).padStart(11)}   ${outcome.checks.join('; ')}`,
  );
  failures.push(...outcome.failures);
}
console.log('');
console.log('CPU ms per 1,000 callbacks by thread (main = HTTP; then the busiest others: record thread, GC and compiler helpers):');
for (const outcome of outcomes) console.log(`  ${outcome.name.padEnd(9)} ${outcome.threads}`);
const vsBaseline = roomgate.result.perSecond / baseline.result.perSecond;
const vsCeiling = roomgate.result.perSecond / ceiling.result.perSecond;
const verdict = (ok: boolean) => (ok ? 'MET' : 'MISSED');
console.log('');
// Issue 15's targets: ≥ 4× the baseline and ≥ 0.5× the ceiling on SQLite, ≥ 2× on PostgreSQL.
const baselineTarget = engine === 'sqlite' ? 4 : 2;
console.log(
  `Roomgate / baseline throughput: ${vsBaseline.toFixed(2)}×   (target ≥ ${baselineTarget}× on ${engine === 'sqlite' ? 'SQLite' : 'PostgreSQL'}: ${verdict(vsBaseline >= baselineTarget)})`,
);
console.log(
  `Roomgate / ceiling  throughput: ${vsCeiling.toFixed(2)}×   (target ≥ 0.5× on SQLite: ${engine === 'sqlite' ? verdict(vsCeiling >= 0.5) : 'n/a on postgres'})`,
);
console.log(`Roomgate p99: ${roomgate.result.p99Ms.toFixed(2)} ms   (target < 25 ms: ${verdict(roomgate.result.p99Ms < 25)})`);
console.log(`Roomgate p99 / baseline p99: ${(roomgate.result.p99Ms / baseline.result.p99Ms).toFixed(2)}×`);
console.log(
  `Roomgate / baseline CPU per callback (Roomgate's includes folding them): ${(roomgate.cpuMsPerThousand / baseline.cpuMsPerThousand).toFixed(2)}×`,
);

if (profileDir) {
  const profiles = summariseProfileDir(profileDir);
  for (const { thread, summary } of profiles) {
    printProfile(`the Roomgate child, ${thread === '0' ? 'HTTP thread' : `worker thread ${thread}`} (${profileDir})`, summary);
  }
  if (profiles.length === 0) console.log(`no CPU profile found in ${profileDir}`);
}

if (failures.length > 0) {
  console.error(`\nFAILED checks:\n  ${failures.join('\n  ')}`);
  process.exitCode = 1;
} else {
  console.log('\nall correctness checks passed');
}
