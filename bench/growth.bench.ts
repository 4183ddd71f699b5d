/**
 * Cost per callback as a room's history grows: the record path in process (group-committed
 * inbox insert with screening, then the projection worker's incremental fold), on a fresh
 * durable SQLite file (WAL, synchronous=FULL), for consultations of 2, 20 and 200 participants
 * with ≈ 2,000 callbacks each, delivered in Timestamp order in blocks of BLOCK at CONCURRENCY.
 *
 *   npx tsx bench/growth.bench.ts [--events 2000] [--block 200] [--concurrency 16]
 *
 * Prints, per room size, the cost per callback (wall time of a block: inbox commits + the fold
 * of its callbacks, divided by its size) for each quarter of the room's history, and the last
 * quarter / first quarter ratio (1.0 = flat; a fold that re-read the room's history would grow
 * with it). Also prints what one full refold of the whole room costs at the end, for scale.
 * Each participant connects, adds and toggles its tracks, records, and disconnects; track
 * events are stored but change nothing in the record (they are not folded).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseVideoEvent } from '../src/core/consultation/video-event-from-callback.js';
import { foldConsultationState } from '../src/core/consultation/consultation-state.js';
import { isVideoEvent } from '../src/core/consultation/consultation-event.js';
import type { CallbackParam } from '../src/core/webhook/callback-schema.js';
import { ProjectionWorker } from '../src/service/consultations/projection-worker.js';
import { createLocalLiveEvents } from '../src/service/live/live-events.js';
import { createLogger } from '../src/service/logger.js';
import { createTenant } from '../src/service/tenants/tenant-admin.js';
import { createStoreIngest } from '../src/service/webhook/store-ingest.js';
import { findConsultationsForProjection, findConsultationStatus, insertConsultations } from '../src/storage/consultation-repository.js';
import { acceptedCallbacksOfRoom } from '../src/storage/inbox-repository.js';
import { openStore } from '../src/storage/open-store.js';
import { insertIssuedParticipants } from '../src/storage/participant-repository.js';
import { inProcessCallback } from './support/in-process-callback.js';
import { benchArgs, fmt } from './support/bench-args.js';

const args = benchArgs(
  process.argv.slice(2),
  { events: 2000, block: 200, concurrency: 16 },
  'tsx bench/growth.bench.ts [--events 2000] [--block 200] [--concurrency 16]',
);
const ACCOUNT = `AC${'a'.repeat(32)}`;
const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** ≈ `total` callbacks of one room with `people` participants, in Timestamp order. */
function roomCallbacks(roomSid: string, roomName: string, people: number, total: number): CallbackParam[][] {
  const start = Date.now() - 10 * 60_000;
  const out: CallbackParam[][] = [];
  let sequence = 0;
  const add = (at: number, event: string, extra: [string, string][] = []) =>
    out.push([
      ['AccountSid', ACCOUNT],
      ['RoomName', roomName],
      ['RoomSid', roomSid],
      ['RoomStatus', 'in-progress'],
      ['StatusCallbackEvent', event],
      ['Timestamp', new Date(at).toISOString()],
      ['SequenceNumber', String(sequence++)],
      ...extra,
    ]);
  // Per participant: connect, 2 track-added, 2 recording-started, T toggles, 2 recording-completed,
  // disconnect — T chosen so that the room has ≈ `total` callbacks.
  const fixed = 2 + people * 8;
  const toggles = Math.max(0, Math.floor((total - fixed) / people));
  const span = 8 * 60_000;
  const step = span / (people * (8 + toggles) + 2);
  let t = start;
  add((t += step), 'room-created');
  for (let p = 0; p < people; p++) {
    const who: [string, string][] = [
      ['ParticipantSid', `PA${hex(p + 1, 32)}`],
      ['ParticipantIdentity', p === 0 ? 'clinician-0' : `patient-${p}`],
    ];
    add((t += step), 'participant-connected', who);
    for (const kind of ['audio', 'video']) {
      const track: [string, string][] = [...who, ['TrackSid', `MT${hex(p * 2 + (kind === 'audio' ? 0 : 1), 32)}`], ['TrackKind', kind]];
      add((t += step), 'track-added', track);
      add((t += step), 'recording-started', [...who, ['RecordingSid', `RT${hex(p * 2 + (kind === 'audio' ? 0 : 1), 32)}`]]);
    }
    for (let k = 0; k < toggles; k++)
      add((t += step), k % 2 === 0 ? 'track-disabled' : 'track-enabled', [
        ...who,
        ['TrackSid', `MT${hex(p * 2, 32)}`],
        ['TrackKind', 'audio'],
      ]);
  }
  for (let p = 0; p < people; p++) {
    const who: [string, string][] = [
      ['ParticipantSid', `PA${hex(p + 1, 32)}`],
      ['ParticipantIdentity', p === 0 ? 'clinician-0' : `patient-${p}`],
    ];
    for (const r of [0, 1])
      add((t += step), 'recording-completed', [...who, ['RecordingSid', `RT${hex(p * 2 + r, 32)}`], ['Duration', '60']]);
    add((t += step), 'participant-disconnected', who);
  }
  add((t += step), 'room-ended');
  return out;
}

async function measure(people: number) {
  const dir = await mkdtemp(path.join(process.env.BENCH_DIR ?? tmpdir(), 'roomgate-growth-'));
  const store = await openStore(`sqlite:${path.join(dir, 'growth.db')}`);
  try {
    await store.migrate();
    const logger = createLogger({ level: (process.env.LOG_LEVEL as 'warn' | undefined) ?? 'silent' });
    const clock = () => new Date();
    const tenantId = await createTenant(store, { slug: `growth-${people}`, name: 'Growth', kind: 'human' });
    const roomSid = `RM${hex(people, 32)}`;
    const id = `con_growth_${people}`;
    const roomName = `rg-${id}`;
    const now = clock().toISOString();
    await insertConsultations(store.db, [{ id, tenantId, roomSid, roomName, accountSid: ACCOUNT, record: true, scheduledAt: null, now }]);
    await insertIssuedParticipants(
      store.db,
      Array.from({ length: people }, (_, p) => ({
        consultationId: id,
        identity: p === 0 ? 'clinician-0' : `patient-${p}`,
        role: p === 0 ? 'clinician' : 'patient',
        issuedAt: now,
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      })),
    );
    const projection = new ProjectionWorker({ store, logger, live: createLocalLiveEvents(), clock, onOutbox: () => undefined });
    const ingest = createStoreIngest({
      store,
      clock,
      logger,
      onCommitted: (ids) => projection.markDirty(ids),
      legacyAccountSid: () => ACCOUNT,
    });
    const callbacks = roomCallbacks(roomSid, roomName, people, args.events);
    /** Each block's size and wall time, µs: a quarter's cost is its time over its callbacks. */
    const perBlock: { callbacks: number; micros: number }[] = [];
    for (let offset = 0; offset < callbacks.length; offset += args.block) {
      const block = callbacks.slice(offset, offset + args.block);
      const started = process.hrtime.bigint();
      let next = 0;
      await Promise.all(
        Array.from({ length: args.concurrency }, async () => {
          while (next < block.length) {
            const params = block[next++]!;
            const outcome = await ingest.submit(inProcessCallback(params));
            if (outcome.outcome !== 'stored') throw new Error(`callback ${outcome.outcome}: ${JSON.stringify(outcome)}`);
          }
        }),
      );
      await projection.idle();
      perBlock.push({ callbacks: block.length, micros: Number(process.hrtime.bigint() - started) / 1e3 });
    }
    const status = (await findConsultationStatus(store.db, id)) ?? 'missing';
    const stateBytes = (await findConsultationsForProjection(store.db, [id]))[0]?.fold_state?.length ?? 0;
    // For scale: one full refold of the room (what each batch cost before the incremental fold).
    const refoldStarted = process.hrtime.bigint();
    const rows = await acceptedCallbacksOfRoom(store.db, roomSid);
    const events = rows.map((row) => parseVideoEvent(JSON.parse(row.params) as CallbackParam[])).filter(isVideoEvent);
    foldConsultationState({ consultation: { id, roomSid, record: true }, events, roles: new Map() });
    const refoldMs = Number(process.hrtime.bigint() - refoldStarted) / 1e6;
    await ingest.close();
    await projection.stop();
    return { callbacks: callbacks.length, perBlock, status, refoldMs, stateBytes };
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

console.log(`growth bench: SQLite (WAL, synchronous=FULL), blocks of ${args.block} at ${args.concurrency} concurrent submits\n`);
console.log(
  'participants  callbacks  µs/callback by quarter of the room history (1st … 4th)   4th/1st   final status   one full refold   stored state',
);
for (const people of process.env.GROWTH_ONLY ? [Number(process.env.GROWTH_ONLY)] : [2, 20, 200]) {
  const result = await measure(people);
  const quarter = Math.max(1, Math.floor(result.perBlock.length / 4));
  const quarters = [0, 1, 2, 3].map((q) => {
    // Weighted by callbacks: a short last block (a few callbacks, and the fold of the room's end)
    // must not count as much as a full one — averaging blocks' own figures made it dominate.
    const slice = result.perBlock.slice(q * quarter, q === 3 ? undefined : (q + 1) * quarter);
    return slice.reduce((sum, block) => sum + block.micros, 0) / slice.reduce((sum, block) => sum + block.callbacks, 0);
  });
  console.log(
    `${String(people).padStart(12)}  ${String(result.callbacks).padStart(9)}  ${quarters.map((q) => fmt(q).padStart(8)).join(' ')}${' '.repeat(26)}${(quarters[3]! / quarters[0]!).toFixed(2).padStart(7)}×   ${result.status.padEnd(12)}   ${fmt(result.refoldMs).padStart(6)} ms   ${fmt(result.stateBytes / 1024)} KiB`,
  );
}
