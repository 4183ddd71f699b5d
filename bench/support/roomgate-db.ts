/**
 * Roomgate's database for a benchmark: a fresh one per engine (SQLite file in a temporary
 * directory, or a uniquely named PostgreSQL database made by test/support/engines.ts), migrated
 * and seeded — one tenant, and per room its consultation, issued identities and participants —
 * the way the API would have left them before Twilio starts calling back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/storage/open-store.js';
import type { Store } from '../../src/storage/store.js';
import { enginesUnderTest, type EngineName, type TestDatabase } from '../../test/support/engines.js';
import type { BenchRoom } from './video-callbacks.js';

export type BenchEngine = Extract<EngineName, 'sqlite' | 'postgres'>;

/** A fresh, empty database of `engine`; drop() removes it. */
export async function freshDatabase(engine: BenchEngine, label: string): Promise<TestDatabase> {
  if (engine === 'sqlite') {
    const dir = await mkdtemp(path.join(process.env.BENCH_DIR ?? tmpdir(), `roomgate-bench-${label}-`));
    return { url: `sqlite:${path.join(dir, `${label}.db`)}`, drop: () => rm(dir, { recursive: true, force: true }) };
  }
  const previous = process.env.ROOMGATE_TEST_ENGINES;
  process.env.ROOMGATE_TEST_ENGINES = engine;
  try {
    return await enginesUnderTest()[0]!.createTestDatabase();
  } finally {
    if (previous === undefined) delete process.env.ROOMGATE_TEST_ENGINES;
    else process.env.ROOMGATE_TEST_ENGINES = previous;
  }
}

const CHUNK = 200;

/** Migrates Roomgate's schema into `url` and seeds one tenant and `rooms`; closes the store. */
export async function seedRoomgate(url: string, rooms: readonly BenchRoom[]): Promise<void> {
  const store = await openStore(url);
  try {
    await store.migrate();
    const now = new Date().toISOString();
    const expires = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const tenantId = 'ten_bench';
    await store.db
      .insertInto('tenants')
      .values({ id: tenantId, slug: 'bench-clinic', name: 'Bench clinic', kind: 'human', created_at: now })
      .execute();
    for (let offset = 0; offset < rooms.length; offset += CHUNK) {
      const chunk = rooms.slice(offset, offset + CHUNK);
      await store.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('consultations')
          .values(
            chunk.map((room) => ({
              id: room.consultationId,
              tenant_id: tenantId,
              room_sid: room.roomSid,
              room_name: room.roomName,
              status: 'scheduled',
              record: 1,
              scheduled_at: null,
              started_at: null,
              ended_at: null,
              created_at: now,
              updated_at: now,
              version: 0,
            })),
          )
          .execute();
        const people = chunk.flatMap((room) => [
          { room, identity: room.clinician, role: 'clinician' },
          { room, identity: room.patient, role: 'patient' },
        ]);
        await trx
          .insertInto('issued_identities')
          .values(
            people.map((p) => ({
              consultation_id: p.room.consultationId,
              identity: p.identity,
              role: p.role,
              issued_at: now,
              expires_at: expires,
            })),
          )
          .execute();
        await trx
          .insertInto('participants')
          .values(
            people.map((p, i) => ({
              id: `par_${p.room.consultationId.slice(4)}_${i % 2}`,
              consultation_id: p.room.consultationId,
              identity: p.identity,
              role: p.role,
              participant_sid: null,
              created_at: now,
            })),
          )
          .execute();
      });
    }
  } finally {
    await store.close();
  }
}

/** Counts in Roomgate's tables after a run: the inbox by status, and what the projection wrote. */
export async function roomgateCounts(url: string): Promise<{
  callbacks: number;
  byStatus: Record<string, number>;
  consultations: Record<string, number>;
  completed: number;
  billing: number;
  outbox: number;
  securityEvents: number;
}> {
  const store: Store = await openStore(url);
  try {
    const rows = await store.db
      .selectFrom('callbacks')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('status')
      .execute();
    const byStatus = Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));
    const count = async (table: 'billing_records' | 'outbox' | 'security_events') =>
      Number(
        (
          await store.db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const statuses = await store.db
      .selectFrom('consultations')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('status')
      .execute();
    const consultations = Object.fromEntries(statuses.map((row) => [row.status, Number(row.n)]));
    const completed = consultations.completed ?? 0;
    return {
      callbacks: Object.values(byStatus).reduce((a, b) => a + b, 0),
      byStatus,
      consultations,
      completed,
      billing: await count('billing_records'),
      outbox: await count('outbox'),
      securityEvents: await count('security_events'),
    };
  } finally {
    await store.close();
  }
}

/** Rows the Express baseline stored (its own table, on its own database). */
export async function baselineCount(url: string): Promise<number> {
  if (url.startsWith('sqlite:')) {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(url.slice('sqlite:'.length), { readonly: true });
    try {
      return Number((db.prepare('SELECT count(*) AS n FROM callbacks').get() as { n: number }).n);
    } finally {
      db.close();
    }
  }
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM baseline_callbacks')).rows[0]!.n);
  } finally {
    await client.end();
  }
}
