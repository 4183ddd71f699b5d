/**
 * The inbox's reads find their rows through an index, on the real engines, with the lean indexes
 * of migration 0015: a partial index serves a query only when the query's own WHERE implies the
 * index's, so a repository query reworded one day could silently fall back to reading every
 * callback. Each read the record path and the operators' tools run is executed (its SQL taken
 * from the repository, never written here) and its plan asked of the engine; none may scan the
 * callbacks table. MySQL/MariaDB keep their full indexes (no partial indexes there).
 */
import { createQueryId, sql, type KyselyPlugin, type RootOperationNode } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest, type TestDatabase } from '../../test/support/engines.js';
import { consultationsWithUnfoldedCallbacks } from './consultation-repository.js';
import { newId } from './ids.js';
import { insertCallbacks, roomCallbackTimeline, unfoldedCallbacksOfRooms } from './inbox-repository.js';
import { openStore } from './open-store.js';
import { countHeldLateCallbacks } from './operator-repository.js';
import type { NewCallback } from './schema.js';
import type { Store } from './store.js';

const ROOMS = 40;
const PER_ROOM = 50;
const ROOM = `RM${'0'.repeat(31)}7`;

function callback(room: number, index: number): NewCallback {
  const at = new Date(Date.UTC(2026, 0, 1, 10, 0, index)).toISOString();
  return {
    id: newId('cb'),
    dedupe_key: `k-${room}-${index}`,
    idempotency_token: null,
    account_sid: 'AC00000000000000000000000000000000',
    room_sid: `RM${String(room).padStart(32, '0')}`,
    composition_sid: null,
    event_type: 'participant-connected',
    event_timestamp: at,
    sequence_number: index,
    participant_sid: `PA${String(index).padStart(32, '0')}`,
    participant_identity: index % 2 === 0 ? `pat-${room}-${index}` : null,
    params: '{}',
    status: 'accepted',
    received_at: at,
    // Most are folded; the last two of each room wait for the fold.
    processed_at: index < PER_ROOM - 2 ? at : null,
  };
}

for (const engine of enginesUnderTest().filter((candidate) => candidate.name !== 'mysql')) {
  describe(`callbacks reads use an index on ${engine.name}`, () => {
    let database: TestDatabase;
    let store: Store;

    beforeAll(async () => {
      database = await engine.createTestDatabase();
      store = await openStore(database.url);
      await store.migrate();
      for (let room = 0; room < ROOMS; room++) {
        await insertCallbacks(
          store.db,
          Array.from({ length: PER_ROOM }, (_, index) => callback(room, index)),
        );
      }
      await sql`analyze`.execute(store.db);
    });
    afterAll(async () => {
      await store?.close();
      await database?.drop();
    });

    /** The plans of the statements `read` runs, as the engine prints them. */
    async function plansOf(read: (db: Store['db']) => Promise<unknown>): Promise<string[]> {
      const nodes: RootOperationNode[] = [];
      const capture: KyselyPlugin = {
        transformQuery: ({ node }) => {
          nodes.push(node);
          return node;
        },
        transformResult: async ({ result }) => result,
      };
      await read(store.db.withPlugin(capture));
      const plans: string[] = [];
      for (const node of nodes) {
        const compiled = store.db.getExecutor().compileQuery(node, createQueryId());
        const explain = engine.name === 'sqlite' ? 'explain query plan ' : 'explain ';
        const result = await store.transaction(async (trx) => {
          // PostgreSQL reads a table this small from start to end whatever its indexes; forbidding
          // that asks whether an index can serve the query at all.
          if (engine.name === 'postgres') await sql`set local enable_seqscan = off`.execute(trx);
          return trx.executeQuery({ ...compiled, sql: explain + compiled.sql });
        });
        plans.push(result.rows.map((row) => Object.values(row as object).join(' ')).join('\n'));
      }
      return plans;
    }

    const fullScan = (plan: string) => (engine.name === 'sqlite' ? /SCAN callbacks(?! USING)/ : /Seq Scan on callbacks/).test(plan);

    // The index named: the one that keeps the read's cost to the rows it wants, not the room's history.
    it.each([
      ['the fold: a room’s callbacks not yet folded', 'callbacks_unfolded_idx', (db: Store['db']) => unfoldedCallbacksOfRooms(db, [ROOM])],
      [
        'the crash sweep: consultations with unfolded callbacks',
        'callbacks_unfolded_idx',
        (db: Store['db']) => consultationsWithUnfoldedCallbacks(db),
      ],
      ['the operators’ count of held late callbacks', 'callbacks_held_idx', (db: Store['db']) => countHeldLateCallbacks(db)],
      ['a room’s raw timeline', 'callbacks_room_time_idx', (db: Store['db']) => roomCallbackTimeline(db, ROOM)],
    ])('%s (%s)', async (_name, index, read) => {
      const plans = await plansOf(read);
      expect(plans.length).toBeGreaterThan(0);
      for (const plan of plans) {
        expect(fullScan(plan), plan).toBe(false);
        expect(plan).toContain(index);
      }
    });

    it('keeps a folded callback out of the unfolded index, and finds the rest', async () => {
      const unfolded = await unfoldedCallbacksOfRooms(store.db, [ROOM]);
      expect(unfolded).toHaveLength(2);
    });
  });
}
