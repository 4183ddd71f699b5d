/**
 * Roomgate's database for a benchmark: a fresh one per engine (SQLite file in a temporary
 * directory, or a uniquely named PostgreSQL database made by test/support/engines.ts), migrated
 * and seeded — one tenant, and per room its consultation, issued identities and participants —
 * the way the API would have left them before Twilio starts calling back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { countConsultationsByStatus, insertConsultations } from '../../src/storage/consultation-repository.js';
import { countCallbacksByStatus } from '../../src/storage/inbox-repository.js';
import { openStore } from '../../src/storage/open-store.js';
import { insertIssuedParticipants } from '../../src/storage/participant-repository.js';
import { countRows } from '../../src/storage/table-counts.js';
import { insertTenant } from '../../src/storage/tenant-repository.js';
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
    await insertTenant(store.db, { id: tenantId, slug: 'bench-clinic', name: 'Bench clinic', kind: 'human', created_at: now });
    for (let offset = 0; offset < rooms.length; offset += CHUNK) {
      const chunk = rooms.slice(offset, offset + CHUNK);
      await store.transaction(async (trx) => {
        await insertConsultations(
          trx,
          chunk.map((room) => ({
            id: room.consultationId,
            tenantId,
            roomSid: room.roomSid,
            roomName: room.roomName,
            accountSid: null,
            record: true,
            scheduledAt: null,
            now,
          })),
        );
        await insertIssuedParticipants(
          trx,
          chunk.flatMap((room) =>
            (
              [
                [room.clinician, 'clinician'],
                [room.patient, 'patient'],
              ] as const
            ).map(([identity, role]) => ({ consultationId: room.consultationId, identity, role, issuedAt: now, expiresAt: expires })),
          ),
        );
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
    const byStatus = await countCallbacksByStatus(store.db);
    const consultations = await countConsultationsByStatus(store.db);
    const completed = consultations.completed ?? 0;
    return {
      callbacks: Object.values(byStatus).reduce((a, b) => a + b, 0),
      byStatus,
      consultations,
      completed,
      billing: await countRows(store.db, 'billing_records'),
      outbox: await countRows(store.db, 'outbox'),
      securityEvents: await countRows(store.db, 'security_events'),
    };
  } finally {
    await store.close();
  }
}
