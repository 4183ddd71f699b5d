/**
 * The event log's sequence on every engine: two stores (as two instances) append for the same
 * tenants at once while readers follow with a cursor. Every event gets a distinct sequence with
 * no gap, and a reader that only ever asks for "after my last" misses nothing — an event that
 * commits later never carries a lower sequence than one already visible.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest, type TestDatabase } from '../../test/support/engines.js';
import { appendTenantEvents, lastTenantSequence, listTenantEvents } from './event-log-repository.js';
import { openStore } from './open-store.js';
import type { Store } from './store.js';

const TENANTS = ['ten_a', 'ten_b'];
const WRITERS_PER_STORE = 3;
const APPENDS_PER_WRITER = 15;

for (const engine of enginesUnderTest()) {
  describe(`event log on ${engine.name}`, () => {
    let database: TestDatabase;
    let one: Store;
    let two: Store;

    beforeAll(async () => {
      database = await engine.createTestDatabase();
      one = await openStore(database.url);
      await one.migrate();
      two = await openStore(database.url);
      for (const id of TENANTS) {
        await one.db
          .insertInto('tenants')
          .values({ id, slug: id, name: id, kind: 'human', created_at: new Date().toISOString() })
          .execute();
      }
    });
    afterAll(async () => {
      await one?.close();
      await two?.close();
      await database?.drop();
    });

    it('gives concurrent appends of two instances gapless, unique, in-order sequences that a cursor reader never skips', async () => {
      let writing = true;
      const seen = new Map<string, number[]>(TENANTS.map((tenant) => [tenant, []]));
      const follow = async (store: Store, tenant: string) => {
        let cursor = 0;
        for (;;) {
          const done = !writing; // read once more after the writers finished
          const events = await listTenantEvents(store.db, tenant, cursor, 50);
          for (const event of events) seen.get(tenant)!.push(event.sequence);
          if (events.length > 0) cursor = events.at(-1)!.sequence;
          else if (done) return;
          else await new Promise((resolve) => setTimeout(resolve, 2));
        }
      };
      const write = async (store: Store, writer: number) => {
        for (let i = 0; i < APPENDS_PER_WRITER; i++) {
          // Several events per transaction, for both tenants, in a varying order.
          const tenants = (writer + i) % 2 === 0 ? TENANTS : [...TENANTS].reverse();
          await store.transaction((trx) =>
            appendTenantEvents(
              trx,
              tenants.flatMap((tenantId) =>
                [1, 2].map(() => ({
                  tenantId,
                  consultationId: `con_${writer}`,
                  type: 'consultation.status' as const,
                  at: new Date().toISOString(),
                  data: { writer, i },
                })),
              ),
            ),
          );
        }
      };
      const readers = TENANTS.flatMap((tenant) => [follow(one, tenant), follow(two, tenant)]);
      await Promise.all(Array.from({ length: WRITERS_PER_STORE * 2 }, (_, writer) => write(writer % 2 === 0 ? one : two, writer)));
      writing = false;
      await Promise.all(readers);

      const total = WRITERS_PER_STORE * 2 * APPENDS_PER_WRITER * 2;
      for (const tenant of TENANTS) {
        const expected = Array.from({ length: total }, (_, index) => index + 1);
        // Two readers per tenant: each saw every sequence exactly once, in order.
        const both = seen.get(tenant)!;
        expect([...both].sort((a, b) => a - b)).toEqual(expected.flatMap((n) => [n, n]));
        expect(await lastTenantSequence(two.db, tenant)).toBe(total);
        const all = await listTenantEvents(one.db, tenant, 0, total + 10);
        expect(all.map((event) => event.sequence)).toEqual(expected);
        expect(new Set(all.map((event) => event.id)).size).toBe(total);
      }
    });
  });
}
