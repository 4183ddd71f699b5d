/**
 * The record path in process — the webhook's group-committed inbox insert with its screening,
 * then the projection worker's folds, as the record thread runs them on SQLite (folds of up to
 * 100 consultations, 5 ms apart) — on the ingest bench's workload (support/video-callbacks.ts:
 * two-person recorded consultations, 18 callbacks each, rooms overlapping), each run on a fresh
 * durable SQLite file (WAL, synchronous=FULL). Runs alternate between the hot statements built
 * and compiled by Kysely on every call (`builder`) and compiled once per shape
 * (`shaped`: storage/shaped-statement.ts), the same callbacks in each run.
 *
 *   npx tsx bench/record-statements.bench.ts [--rooms 200] [--runs 3] [--engine sqlite|postgres] [--counts]
 *     [--calls 3000] [--only builder|shaped]
 *
 * Prints per run the process CPU (user + system) per callback from submit to the last fold
 * (the fsync waits are not CPU) and statements per callback; `--counts` lists the statements
 * of the last run by SQL text (SQLite only), most frequent first.
 */
import type { CallbackParam } from '../src/core/webhook/callback-schema.js';
import { ProjectionWorker } from '../src/service/consultations/projection-worker.js';
import { createLocalLiveEvents } from '../src/service/live/live-events.js';
import { createLogger } from '../src/service/logger.js';
import { createStoreIngest } from '../src/service/webhook/store-ingest.js';
import { findConsultationsForProjection, updateConsultation } from '../src/storage/consultation-repository.js';
import { insertCallbacks } from '../src/storage/inbox-repository.js';
import { newId } from '../src/storage/ids.js';
import { openStore } from '../src/storage/open-store.js';
import { enqueueOutboxEntry } from '../src/storage/outbox-repository.js';
import { findIssuedIdentities, updateSession } from '../src/storage/participant-repository.js';
import { updateRecording } from '../src/storage/recording-repository.js';
import { shapedStatements } from '../src/storage/shaped-statement.js';
import type { StoreTransaction } from '../src/storage/store.js';
import { StatementRunner } from '../src/storage/sqlite-backend.js';
import { inProcessCallback } from './support/in-process-callback.js';
import { benchArgs, fmt } from './support/bench-args.js';
import { freshDatabase, seedRoomgate, type BenchEngine } from './support/roomgate-db.js';
import { benchAccount, benchRooms, videoCallbacks } from './support/video-callbacks.js';

const args = benchArgs(
  process.argv.slice(2),
  { rooms: 200, runs: 3, engine: 'sqlite', counts: false, calls: 3000, only: '' },
  'tsx bench/record-statements.bench.ts [--rooms 200] [--runs 3] [--engine sqlite|postgres] [--counts] [--calls 3000] [--only builder|shaped]',
);

// Statements by SQL text, lists and row groups folded (a measurement-only wrapper, this process only).
const counts = new Map<string, number>();
const run = StatementRunner.prototype.run;
StatementRunner.prototype.run = function (sql, parameters) {
  const text = sql.replace(/\(\?(, \?)*\)(, \(\?(, \?)*\))*/g, '(…)');
  counts.set(text, (counts.get(text) ?? 0) + 1);
  return run.call(this, sql, parameters);
};

const account = benchAccount();
const rooms = benchRooms(args.rooms);
const callbacks = videoCallbacks(account, rooms, args.rooms * 18).map((fields) => Object.entries(fields) as CallbackParam[]);

async function measure(shaped: boolean): Promise<{ cpuMicros: number; statements: number }> {
  shapedStatements.enabled = shaped;
  const database = await freshDatabase(args.engine as BenchEngine, 'statements');
  try {
    await seedRoomgate(database.url, rooms);
    const store = await openStore(database.url);
    const logger = createLogger({ level: 'silent' });
    const clock = () => new Date();
    const projection = new ProjectionWorker({
      store,
      logger,
      live: createLocalLiveEvents(),
      clock,
      onOutbox: () => undefined,
      ...(store.engine === 'sqlite' ? { batchSize: 100, pauseMs: 5 } : {}),
    });
    const ingest = createStoreIngest({
      store,
      clock,
      logger,
      onCommitted: (ids) => projection.markDirty(ids),
      legacyAccountSid: () => account.accountSid,
    });
    await store.ping();
    counts.clear();
    const cpu = process.cpuUsage();
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < callbacks.length) {
          const params = callbacks[next++]!;
          const outcome = await ingest.submit(inProcessCallback(params));
          if (outcome.outcome !== 'stored') throw new Error(`callback ${outcome.outcome}`);
        }
      }),
    );
    await projection.idle();
    const used = process.cpuUsage(cpu);
    const statements = [...counts.values()].reduce((sum, n) => sum + n, 0);
    await ingest.close();
    await projection.stop();
    await store.close();
    return { cpuMicros: (used.user + used.system) / callbacks.length, statements: statements / callbacks.length };
  } finally {
    await database.drop();
  }
}

/** Hot statements one at a time, on an in-memory SQLite database, rolled back: CPU µs per call. */
async function perStatement(): Promise<void> {
  const store = await openStore('sqlite::memory:');
  await store.migrate();
  const now = new Date().toISOString();
  const rows = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      id: newId('cb'),
      dedupe_key: newId('dk'),
      idempotency_token: null,
      account_sid: account.accountSid,
      room_sid: rooms[i % rooms.length]!.roomSid,
      composition_sid: null,
      event_type: 'track-added',
      event_timestamp: now,
      sequence_number: i,
      participant_sid: `PA${i}`,
      participant_identity: rooms[i % rooms.length]!.patient,
      params: JSON.stringify(callbacks[i % callbacks.length]),
      status: 'accepted' as const,
      received_at: now,
      processed_at: null,
    }));
  const recording = {
    track_name: 'a',
    participant_sid: 'PA1',
    kind: 'audio',
    status: 'completed',
    duration: 60,
    size: null,
    media_uri: null,
    completed_at: now,
  };
  const consultationIds = rooms.slice(0, 100).map((room) => room.consultationId);
  const cases: [string, (trx: StoreTransaction, i: number) => Promise<unknown>][] = [
    ['updateRecording (8 columns)', (trx, i) => updateRecording(trx, `RT${i}`, recording)],
    [
      'updateConsultation (7 columns)',
      (trx, i) =>
        updateConsultation(trx, `con_${i}`, {
          fold_state: '{}',
          status_history: '[]',
          status: 'in-progress',
          started_at: now,
          ended_at: null,
          updated_at: now,
          version: 2,
        }),
    ],
    [
      'updateSession (3 columns)',
      (trx, i) => updateSession(trx, `con_${i}`, `PA${i}`, { identity: 'x', connected_at: now, disconnected_at: null }),
    ],
    ['enqueueOutboxEntry (insert if absent)', (trx, i) => enqueueOutboxEntry(trx, { kind: 'k', key: `key-${i}`, payload: { i }, now })],
    [
      'findIssuedIdentities (20 × 40)',
      (trx) =>
        findIssuedIdentities(
          trx,
          rooms.slice(0, 20).map((room) => room.consultationId),
          rooms.slice(0, 40).map((room) => room.patient),
        ),
    ],
    ['findConsultationsForProjection (100 ids)', (trx) => findConsultationsForProjection(trx, consultationIds)],
    ['insertCallbacks (32 rows)', (trx) => insertCallbacks(trx, rows(32))],
  ];
  const calls = args.calls;
  console.log(`per statement: CPU µs per call (the statement run too), ${fmt(calls)} calls × 3 rounds, median round`);
  for (const [name, call] of cases) {
    const micros: Record<'builder' | 'shaped', number[]> = { builder: [], shaped: [] };
    for (let round = 0; round < 4; round++) {
      for (const mode of ['builder', 'shaped'] as const) {
        shapedStatements.enabled = mode === 'shaped';
        const n = name.startsWith('insertCallbacks') ? Math.ceil(calls / 10) : calls;
        const cpu = process.cpuUsage();
        await store
          .transaction(async (trx) => {
            for (let i = 0; i < n; i++) await call(trx, i);
            throw new Error('rollback');
          })
          .catch((error: unknown) => {
            if (!(error instanceof Error) || error.message !== 'rollback') throw error;
          });
        const used = process.cpuUsage(cpu);
        if (round > 0) micros[mode].push((used.user + used.system) / n); // round 0: warm-up
      }
    }
    const b = median(micros.builder);
    const a = median(micros.shaped);
    console.log(
      `  ${name.padEnd(38)} builder ${b.toFixed(1).padStart(6)}  shaped ${a.toFixed(1).padStart(6)}  saved ${(b - a).toFixed(1).padStart(5)} µs`,
    );
  }
  await store.close();
  console.log();
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
if (args.calls > 0) await perStatement();

if (args.runs > 0)
  console.log(`record statements bench: ${args.engine}, ${fmt(callbacks.length)} callbacks of ${fmt(args.rooms)} rooms per run\n`);
const modes = args.only ? [args.only as 'builder' | 'shaped'] : (['builder', 'shaped'] as const);
if (args.runs > 0) for (const mode of modes) await measure(mode === 'shaped'); // warm-up: V8's compilation of each path, not counted
const results: Record<'builder' | 'shaped', number[]> = { builder: [], shaped: [] };
for (let i = 0; i < args.runs; i++) {
  for (const mode of i % 2 === 0 ? modes : [...modes].reverse()) {
    const result = await measure(mode === 'shaped');
    results[mode].push(result.cpuMicros);
    const perCallback = args.engine === 'sqlite' ? `, ${result.statements.toFixed(2)} statements/callback` : '';
    console.log(`run ${i + 1} ${mode.padEnd(7)}  CPU ${fmt(result.cpuMicros).padStart(4)} µs/callback${perCallback}`);
  }
}
const [before, after] = [median(results.builder), median(results.shaped)];
if (args.runs > 0 && !args.only)
  console.log(
    `\nmedian CPU µs/callback: builder ${fmt(before)}, shaped ${fmt(after)} (${(((after - before) / before) * 100).toFixed(1)} %)`,
  );
if (args.counts)
  for (const [sql, n] of [...counts].sort((a, b) => b[1] - a[1]))
    console.log(`${(n / callbacks.length).toFixed(3).padStart(6)}  ${sql.slice(0, 150)}`);
