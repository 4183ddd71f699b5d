/**
 * Durable inserts per second on SQLite (a file on disk, WAL, synchronous=FULL — every COMMIT
 * that returns is fsync'd): one transaction per event versus group commit, with the same
 * number of concurrent submitters and events, in the same run.
 *
 *   npm run bench:storage                       # 4000 events, 32 submitters
 *   EVENTS=10000 SUBMITTERS=64 npm run bench:storage
 *
 * Each event is one inbox row (insertCallbacks, as the webhook stores it); each submitter waits
 * for its event to be committed before sending the next, as a webhook request does.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GroupCommitter } from '../src/storage/group-committer.js';
import { newId } from '../src/storage/ids.js';
import { insertCallbacks } from '../src/storage/inbox-repository.js';
import { openStore } from '../src/storage/open-store.js';
import type { NewCallback } from '../src/storage/schema.js';
import type { Store } from '../src/storage/store.js';
import { sqliteDurabilitySettings } from '../src/storage/sqlite-settings.js';
import { countRows } from '../src/storage/table-counts.js';

const EVENTS = Number(process.env.EVENTS ?? 4000);
const SUBMITTERS = Number(process.env.SUBMITTERS ?? 32);

function event(index: number): NewCallback {
  const now = new Date().toISOString();
  return {
    id: newId('cb'),
    dedupe_key: `bench-${index}-${newId('k')}`.slice(0, 64),
    idempotency_token: null,
    account_sid: 'AC00000000000000000000000000000000',
    room_sid: 'RM00000000000000000000000000000000',
    composition_sid: null,
    event_type: 'participant-connected',
    event_timestamp: now,
    sequence_number: index,
    participant_sid: 'PA00000000000000000000000000000000',
    participant_identity: `pat-${index % 50}`,
    params: JSON.stringify({ StatusCallbackEvent: 'participant-connected', SequenceNumber: String(index), RoomStatus: 'in-progress' }),
    status: 'accepted',
    received_at: now,
    processed_at: null,
  };
}

interface Result {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly transactions: number;
}

async function drive(store: Store, insert: (row: NewCallback) => Promise<unknown>): Promise<{ seconds: number; latencies: number[] }> {
  let next = 0;
  const latencies: number[] = [];
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: SUBMITTERS }, async () => {
      while (next < EVENTS) {
        const row = event(next++);
        const t0 = process.hrtime.bigint();
        await insert(row);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const stored = await countRows(store.db, 'callbacks');
  if (stored !== EVENTS) throw new Error(`expected ${EVENTS} rows, found ${stored}`);
  return { seconds, latencies };
}

function summarise(run: { seconds: number; latencies: number[] }, transactions: number): Result {
  const sorted = [...run.latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { perSecond: EVENTS / run.seconds, p50: at(0.5), p99: at(0.99), transactions };
}

async function withFreshStore<T>(work: (store: Store, file: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(process.env.BENCH_DIR ?? tmpdir(), 'roomgate-bench-'));
  const file = path.join(dir, 'bench.db');
  const store = await openStore(`sqlite:${file}`);
  try {
    await store.migrate();
    return await work(store, file);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const onePerEvent = await withFreshStore(async (store) =>
  summarise(await drive(store, (row) => store.transaction((trx) => insertCallbacks(trx, [row]))), EVENTS),
);

const grouped = await withFreshStore(async (store) => {
  const committer = new GroupCommitter({ store, apply: (trx, rows: NewCallback[]) => insertCallbacks(trx, rows) });
  const run = await drive(store, (row) => committer.submit(row));
  await committer.close();
  return summarise(run, committer.stats.batches);
});

const journal = await withFreshStore(async (store) => {
  const settings = await sqliteDurabilitySettings(store.db);
  return `journal_mode=${settings.journalMode} synchronous=${settings.synchronous}`;
});

const line = (name: string, r: Result) =>
  `${name.padEnd(26)} ${r.perSecond.toFixed(0).padStart(8)} events/s   ${String(r.transactions).padStart(6)} commits   ` +
  `(${(EVENTS / r.transactions).toFixed(1)} events/commit)   latency p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms`;

console.log(`SQLite durable inserts: ${EVENTS} events, ${SUBMITTERS} concurrent submitters, ${journal}, node ${process.version}`);
console.log(line('one commit per event', onePerEvent));
console.log(line('group commit', grouped));
console.log(`group commit / one commit per event = ${(grouped.perSecond / onePerEvent.perSecond).toFixed(1)}x`);
