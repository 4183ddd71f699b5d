/**
 * CPU per request of the Twilio REST client: the global fetch (undici) against node:http with a
 * keep-alive agent (8 sockets at most) — the two requests the outbox makes per composition.
 *
 *   npx tsx bench/twilio-client.bench.ts [--requests 5000] [--warmup 500] [--rounds 3] [--concurrency 8]
 *
 * (a) fetch: bench/support/fetch-twilio-rest-client.ts, the request path as it was at 90c819d;
 * (b) node:http: createTwilioRestClient (src/service/twilio), its replacement.
 * Both call the same local server, a child process answering like Twilio (JSON, a composition of
 * Twilio's shape on POST /v1/Compositions, a page with one on GET), so process.cpuUsage()
 * (user + system, every thread of this process) counts the client alone. Requests alternate
 * listCompositions / createComposition. Each client is warmed up, then each mode — sequential,
 * then CONCURRENCY in flight — runs ROUNDS rounds of N requests per client, the clients' order
 * swapped every round; figures are the median round. Fails (exit 1) if any request fails or
 * answers wrongly.
 *
 * Printed 2026-11-30 09:00–09:09 UTC, 2 shared cores, load average 1.9–2.7, defaults, three runs
 * (CPU µs per request, fetch → node:http, and the ratio):
 *   sequential    514 → 168 (3.06×), 495 → 183 (2.70×), 487 → 163 (2.99×)
 *   8 in flight   436 → 129 (3.37×), 375 → 100 (3.75×), 467 → 125 (3.75×)
 * requests/s moved with the machine's load (node:http 2,799–3,639 sequential, 4,570–10,232 at 8;
 * fetch 1,378–1,529 and 1,675–3,062). More in bench/README.md, "Twilio client".
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createTwilioRestClient as createHttpClient } from '../src/service/twilio/twilio-rest-client.js';
import { benchArgs, fmt } from './support/bench-args.js';
import { createFetchTwilioClient as createFetchClient } from './support/fetch-twilio-rest-client.js';

const args = benchArgs(
  process.argv.slice(2),
  { requests: 5_000, warmup: 500, rounds: 3, concurrency: 8 },
  'npx tsx bench/twilio-client.bench.ts [--requests N] [--warmup N] [--rounds N] [--concurrency N]',
);

// The server, in its own process so its CPU is not counted. Bodies shaped like Twilio's.
const SERVER = `
const http = require('node:http');
const { randomBytes } = require('node:crypto');
const composition = (roomSid) => {
  const sid = 'CJ' + randomBytes(16).toString('hex');
  const url = 'https://video.twilio.com/v1/Compositions/' + sid;
  return { account_sid: 'AC' + 'a'.repeat(32), audio_sources: ['*'], audio_sources_excluded: [], bitrate: 0,
    date_completed: null, date_created: new Date().toISOString().slice(0, 19) + 'Z', date_deleted: null, duration: 0,
    format: 'mp4', links: { media: url + '/Media' }, resolution: '1280x720', room_sid: roomSid, sid, size: 0,
    status: 'enqueued', status_callback: 'https://roomgate.example.com/webhooks/twilio/composition', trim: true,
    url, video_layout: { grid: { video_sources: ['*'] } } };
};
http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://x');
    res.setHeader('content-type', 'application/json');
    if (req.method === 'POST' && url.pathname === '/v1/Compositions') {
      res.statusCode = 201;
      res.end(JSON.stringify(composition(new URLSearchParams(Buffer.concat(chunks).toString()).get('RoomSid'))));
    } else if (req.method === 'GET' && url.pathname === '/v1/Compositions') {
      res.end(JSON.stringify({ compositions: [composition(url.searchParams.get('RoomSid'))],
        meta: { page: 0, page_size: 50, first_page_url: url.href, previous_page_url: null, url: url.href, next_page_url: null, key: 'compositions' } }));
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ code: 20404, message: 'not found', status: 404 }));
    }
  });
}).listen(0, '127.0.0.1', function () { process.stdout.write(this.address().port + '\\n'); });
`;

interface Client {
  listCompositions(roomSid: string): Promise<{ room_sid: string }[]>;
  createComposition(input: { roomSid: string; statusCallback: string }): Promise<{ sid: string; room_sid: string }>;
}

interface Round {
  readonly cpuUsPerRequest: number;
  readonly perSecond: number;
}

async function run(client: Client, requests: number, concurrency: number): Promise<Round> {
  let next = 0;
  const one = async (i: number) => {
    const roomSid = `RM${String(i).padStart(32, '0')}`;
    if (i % 2 === 0) {
      const page = await client.listCompositions(roomSid);
      if (page[0]?.room_sid !== roomSid) throw new Error('wrong page');
    } else {
      const created = await client.createComposition({ roomSid, statusCallback: 'https://roomgate.example.com/cb' });
      if (!created.sid.startsWith('CJ') || created.room_sid !== roomSid) throw new Error('wrong composition');
    }
  };
  const lane = async () => {
    while (next < requests) await one(next++);
  };
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, lane));
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { cpuUsPerRequest: (used.user + used.system) / requests, perSecond: requests / seconds };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const server = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
const [portLine] = (await once(server.stdout!, 'data')) as [Buffer];
const baseUrl = `http://127.0.0.1:${portLine.toString().trim()}`;
const options = { baseUrl, apiKeySid: 'SK0123456789abcdef0123456789abcdef', apiKeySecret: 'bench-secret' };
const clients: Record<string, Client> = { fetch: createFetchClient(options), 'node:http': createHttpClient(options) };

try {
  for (const client of Object.values(clients)) await run(client, args.warmup, args.concurrency);
  console.log(`N = ${fmt(args.requests)} requests per round, ${args.rounds} rounds, median round; server in pid ${server.pid}`);
  console.log('mode            client      CPU µs/request   requests/s');
  for (const [mode, concurrency] of [
    ['sequential', 1],
    [`${args.concurrency} in flight`, args.concurrency],
  ] as const) {
    const rounds: Record<string, Round[]> = { fetch: [], 'node:http': [] };
    for (let round = 0; round < args.rounds; round += 1) {
      const order = round % 2 === 0 ? ['fetch', 'node:http'] : ['node:http', 'fetch'];
      for (const name of order) rounds[name]!.push(await run(clients[name]!, args.requests, concurrency));
    }
    const cpu: Record<string, number> = {};
    for (const [name, results] of Object.entries(rounds)) {
      cpu[name] = median(results.map((r) => r.cpuUsPerRequest));
      const rate = median(results.map((r) => r.perSecond));
      console.log(`${mode.padEnd(15)} ${name.padEnd(11)} ${fmt(cpu[name]!, 1).padStart(14)} ${fmt(rate).padStart(12)}`);
    }
    console.log(`${mode.padEnd(15)} fetch / node:http CPU per request: ${(cpu.fetch! / cpu['node:http']!).toFixed(2)}×`);
  }
} catch (error) {
  console.error('FAILED:', error);
  process.exitCode = 1;
} finally {
  server.kill();
}
