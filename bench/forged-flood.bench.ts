/**
 * Genuine callbacks while a flood of forged ones hits the same Roomgate: does verification keep
 * the genuine path fast?
 *
 *   npx tsx bench/forged-flood.bench.ts [--engine sqlite|postgres] [--genuine 3000] [--rate 200]
 *                                       [--flood-connections 32] [--genuine-connections 16]
 *
 * One Roomgate child (`src/cli/main.ts serve`, configured account) on a fresh seeded database.
 * Phase 1, quiet: GENUINE distinct, validly signed Video callbacks at RATE per second (open
 * loop: each is due at start + i/RATE and its latency is counted from then). Phase 2, flood:
 * GENUINE other genuine callbacks at the same RATE while FLOOD_CONNECTIONS closed-loop
 * connections send forged callbacks as fast as they are answered, until the genuine ones are
 * done. A forged callback is a real-looking callback for the same account with a well-formed
 * signature made with a wrong token — the costly kind (every URL form is tried before 403);
 * 5,000 distinct ones, cycled.
 * Prints genuine p50/p99 quiet and under flood (target: p99 < 50 ms under flood), forged
 * refusals per second, and checks every genuine got 204 and every forged 403 (exit 1 if not).
 */
import { benchArgs, fmt } from './support/bench-args.js';
import { freePort, startRoomgate } from './support/child-server.js';
import { runLoad, type LoadResult } from './support/load-generator.js';
import { freshDatabase, roomgateCounts, seedRoomgate, type BenchEngine } from './support/roomgate-db.js';
import { startTwilioStub } from './support/twilio-stub.js';
import {
  benchAccount,
  benchRooms,
  CALLBACKS_PER_ROOM,
  forgedRequest,
  signedRequest,
  videoCallbacks,
  webhookUrl,
} from './support/video-callbacks.js';

const args = benchArgs(
  process.argv.slice(2),
  { engine: 'sqlite', genuine: 3_000, rate: 200, 'flood-connections': 32, 'genuine-connections': 16, 'max-forged': 5_000_000 },
  'tsx bench/forged-flood.bench.ts [--engine sqlite|postgres] [--genuine N] [--rate R] [--flood-connections C] [--genuine-connections C]',
);
if (args.engine !== 'sqlite' && args.engine !== 'postgres') {
  console.error('--engine: sqlite or postgres');
  process.exit(2);
}
const G = Math.floor(args.genuine);
const account = benchAccount();
const rooms = benchRooms(Math.ceil((2 * G) / CALLBACKS_PER_ROOM));
const port = await freePort();
const url = webhookUrl(port);
const genuine = videoCallbacks(account, rooms, 2 * G).map((params) => signedRequest(url, account.authToken, params, 'genuine'));
const quiet = genuine.slice(0, G);
const underFlood = genuine.slice(G);
// Forgeries: real-looking callbacks of the same account for other rooms, signed with wrong tokens.
const forged = videoCallbacks(account, benchRooms(300, 'f'), 5_000).map((params) => forgedRequest(url, params));
const warmupGenuine = quiet.splice(0, Math.min(500, Math.floor(G / 5)));

console.log(
  `forged-flood bench: engine ${args.engine}, genuine ${fmt(G)} quiet + ${fmt(G)} under flood at ${args.rate}/s over ${args['genuine-connections']} connections; flood ${args['flood-connections']} connections`,
);

const stub = await startTwilioStub();
const db = await freshDatabase(args.engine as BenchEngine, 'flood');
const failures: string[] = [];
let quietResult: LoadResult;
let genuineResult: LoadResult;
let forgedResult: LoadResult;
try {
  await seedRoomgate(db.url, rooms);
  const child = await startRoomgate({ ...account, port, databaseUrl: db.url, twilioApiBaseUrl: stub.url });
  try {
    // Warm-up: some genuine, some forged.
    await runLoad({ port, connections: 16, requests: warmupGenuine });
    await runLoad({ port, connections: 16, requests: forged.slice(0, 1000) });

    quietResult = await runLoad({ port, connections: args['genuine-connections'], requests: quiet, ratePerSecond: args.rate });

    const stopFlood = new AbortController();
    const flood = runLoad({
      port,
      connections: args['flood-connections'],
      requests: forged,
      total: args['max-forged'],
      signal: stopFlood.signal,
    });
    genuineResult = await runLoad({
      port,
      connections: args['genuine-connections'],
      requests: underFlood,
      ratePerSecond: args.rate,
    }).finally(() => stopFlood.abort());
    forgedResult = await flood;
    const counts = await roomgateCounts(db.url);
    console.log(`  inbox: ${JSON.stringify(counts.byStatus)}; security events stored: ${fmt(counts.securityEvents)}`);
  } finally {
    const code = await child.stop();
    if (code !== 0 && code !== null) failures.push(`roomgate exit code ${code}\n${child.stderr()}`);
  }
} finally {
  await stub.close();
  await db.drop();
}

const check = (label: string, result: LoadResult, status: string, expected: number) => {
  const got = result.statuses[status] ?? 0;
  if (got !== expected) failures.push(`${label}: ${got}/${expected} answered ${status} ${JSON.stringify(result.statuses)}`);
};
check('genuine (quiet)', quietResult, '204', quiet.length);
check('genuine (flood)', genuineResult, '204', underFlood.length);
check('forged', forgedResult, '403', forgedResult.requests);

console.log('');
console.log(
  `genuine, quiet:       ${fmt(quietResult.requests)} at ${fmt(quietResult.perSecond)}/s   p50 ${quietResult.p50Ms.toFixed(2)} ms   p99 ${quietResult.p99Ms.toFixed(2)} ms   ${JSON.stringify(quietResult.statuses)}`,
);
console.log(
  `genuine, under flood: ${fmt(genuineResult.requests)} at ${fmt(genuineResult.perSecond)}/s   p50 ${genuineResult.p50Ms.toFixed(2)} ms   p99 ${genuineResult.p99Ms.toFixed(2)} ms   ${JSON.stringify(genuineResult.statuses)}`,
);
console.log(
  `forged refused:       ${fmt(forgedResult.requests)} in ${forgedResult.seconds.toFixed(1)} s = ${fmt(forgedResult.perSecond)} refusals/s   p50 ${forgedResult.p50Ms.toFixed(2)} ms   p99 ${forgedResult.p99Ms.toFixed(2)} ms   ${JSON.stringify(forgedResult.statuses)}`,
);
console.log(
  `genuine p99 under flood: ${genuineResult.p99Ms.toFixed(2)} ms (target < 50 ms: ${genuineResult.p99Ms < 50 ? 'MET' : 'MISSED'}); ×${(genuineResult.p99Ms / quietResult.p99Ms).toFixed(2)} the quiet p99`,
);
if (failures.length > 0) {
  console.error(`\nFAILED checks:\n  ${failures.join('\n  ')}`);
  process.exitCode = 1;
} else {
  console.log(`all ${fmt(quiet.length + underFlood.length)} genuine answered 204, all ${fmt(forgedResult.requests)} forged 403`);
}
