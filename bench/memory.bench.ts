/**
 * Roomgate's memory over a long ingest: does RSS stay flat?
 *
 *   npx tsx bench/memory.bench.ts [--engine sqlite|postgres] [--requests 1000000] [--step 100000]
 *                                 [--connections 32] [--distinct N]
 *
 * One Roomgate child (`src/cli/main.ts serve`, configured account) on a fresh database seeded
 * with every room of the run. Callbacks are the ingest bench's (recorded two-person
 * consultations, 18 per room, in Timestamp order), generated and signed STEP at a time so the
 * bench itself stays small; after each STEP the child's VmRSS (/proc/<pid>/status) is sampled.
 * By default every callback is distinct (all stored and projected); --distinct N makes only
 * the first N distinct and then replays them (duplicates: 204, nothing stored).
 * Prints the series, first vs last, and checks every request got 204 and the inbox holds
 * exactly the distinct callbacks (exit 1 if not).
 */
import { benchArgs, fmt } from './support/bench-args.js';
import { freePort, startRoomgate, sleep } from './support/child-server.js';
import { runLoad, type LoadRequest } from './support/load-generator.js';
import { freshDatabase, roomgateCounts, seedRoomgate, type BenchEngine } from './support/roomgate-db.js';
import { startTwilioStub } from './support/twilio-stub.js';
import { benchAccount, benchRooms, CALLBACKS_PER_ROOM, signedRequest, videoCallbackBlocks, webhookUrl } from './support/video-callbacks.js';

const args = benchArgs(
  process.argv.slice(2),
  { engine: 'sqlite', requests: 1_000_000, step: 100_000, connections: 32, distinct: 0 },
  'tsx bench/memory.bench.ts [--engine sqlite|postgres] [--requests N] [--step S] [--connections C] [--distinct D]',
);
if (args.engine !== 'sqlite' && args.engine !== 'postgres') {
  console.error('--engine: sqlite or postgres');
  process.exit(2);
}
const total = Math.floor(args.requests);
const step = Math.max(1, Math.floor(args.step));
const distinct = args.distinct > 0 ? Math.min(total, Math.floor(args.distinct)) : total;

const account = benchAccount();
const rooms = benchRooms(Math.ceil(distinct / CALLBACKS_PER_ROOM));
const port = await freePort();
const url = webhookUrl(port);
console.log(
  `memory bench: engine ${args.engine}, ${fmt(total)} callbacks, ${distinct === total ? 'all distinct' : `${fmt(distinct)} distinct then replayed as duplicates`}, ` +
    `${fmt(rooms.length)} rooms, RSS sampled every ${fmt(step)}, ${args.connections} connections`,
);

const stub = await startTwilioStub();
const db = await freshDatabase(args.engine as BenchEngine, 'memory');
const failures: string[] = [];
const series: { sent: number; rssMiB: number; perSecond: number; p99Ms: number }[] = [];
let expectedRows = 0;
try {
  let t = Date.now();
  await seedRoomgate(db.url, rooms);
  console.log(`  seeded ${fmt(rooms.length)} consultations in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const child = await startRoomgate({ ...account, port, databaseUrl: db.url, twilioApiBaseUrl: stub.url });
  try {
    await sleep(1000);
    const sample = (sent: number, perSecond: number, p99Ms: number) => {
      const row = { sent, rssMiB: child.rssKiB() / 1024, perSecond, p99Ms };
      series.push(row);
      console.log(
        `  ${fmt(sent).padStart(10)} callbacks   RSS ${row.rssMiB.toFixed(1).padStart(7)} MiB   ${sent === 0 ? '' : `${fmt(perSecond)}/s, p99 ${p99Ms.toFixed(1)} ms`}`,
      );
    };
    sample(0, 0, 0);

    const blocks = videoCallbackBlocks(account, rooms, 200);
    let pending: Record<string, string>[] = [];
    const replay: LoadRequest[] = []; // only kept when --distinct asks for duplicates
    let sent = 0;
    let generatedDistinct = 0;
    while (sent < total) {
      const size = Math.min(step, total - sent);
      let requests: LoadRequest[] = [];
      t = Date.now();
      while (requests.length < size && generatedDistinct < distinct) {
        if (pending.length === 0) {
          const next = blocks.next();
          if (next.done) break;
          pending = next.value;
        }
        const take = pending.splice(0, Math.min(size - requests.length, distinct - generatedDistinct));
        const signed = take.map((params) => signedRequest(url, account.authToken, params));
        generatedDistinct += signed.length;
        requests.push(...signed);
        if (distinct < total) replay.push(...signed);
      }
      for (let i = 0; requests.length < size && replay.length > 0; i += 1) requests.push(replay[(sent + i) % replay.length]!);
      const signSeconds = (Date.now() - t) / 1000;
      const result = await runLoad({ port, connections: args.connections, requests });
      const ok = result.statuses['204'] ?? 0;
      if (ok !== requests.length)
        failures.push(`step at ${sent}: ${ok}/${requests.length} answered 204 ${JSON.stringify(result.statuses)}`);
      sent += requests.length;
      requests = [];
      if (signSeconds > 5) console.log(`    (signing that step took ${signSeconds.toFixed(1)} s, outside the measurement)`);
      sample(sent, result.perSecond, result.p99Ms);
    }
    expectedRows = generatedDistinct;
    const counts = await roomgateCounts(db.url);
    if (counts.callbacks !== expectedRows) failures.push(`inbox holds ${counts.callbacks} callbacks, expected ${expectedRows}`);
    console.log(`  inbox: ${JSON.stringify(counts.byStatus)}; ${fmt(counts.completed)} consultations completed`);
  } finally {
    const code = await child.stop();
    if (code !== 0 && code !== null) failures.push(`roomgate exit code ${code}\n${child.stderr()}`);
  }
} finally {
  await stub.close();
  await db.drop();
}

const first = series[1] ?? series[0]!;
const last = series.at(-1)!;
console.log('');
console.log(
  `RSS before load ${series[0]!.rssMiB.toFixed(1)} MiB; after the first ${fmt(first.sent)}: ${first.rssMiB.toFixed(1)} MiB; after ${fmt(last.sent)}: ${last.rssMiB.toFixed(1)} MiB`,
);
console.log(
  `growth first → last sample: ${(last.rssMiB - first.rssMiB).toFixed(1)} MiB (${((100 * (last.rssMiB - first.rssMiB)) / first.rssMiB).toFixed(1)} %)`,
);
console.log(`throughput first step ${fmt(first.perSecond)}/s, last step ${fmt(last.perSecond)}/s`);
if (failures.length > 0) {
  console.error(`\nFAILED checks:\n  ${failures.join('\n  ')}`);
  process.exitCode = 1;
} else {
  console.log(`all ${fmt(last.sent)} answered 204; the inbox holds the ${fmt(expectedRows)} distinct callbacks`);
}
