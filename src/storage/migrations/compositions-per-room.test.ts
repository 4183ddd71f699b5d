/**
 * Migration 0016 on every engine: an existing compositions row gets the room its composition's
 * callbacks named (else the consultation's current room), and a consultation may then hold one
 * row per room — never two for the same room.
 */
import { Migrator, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest, type TestDatabase } from '../../../test/support/engines.js';
import { capabilitiesOf } from '../dialect-capabilities.js';
import { openStore } from '../open-store.js';
import type { Store } from '../store.js';
import { migrationProvider } from './migration-provider.js';

const AT = '2026-03-01T10:00:00.000Z';
const room = (n: number) => `RM${String(n).padStart(32, '0')}`;

for (const engine of enginesUnderTest()) {
  describe(`0016 compositions per room on ${engine.name}`, () => {
    let database: TestDatabase;
    let store: Store;
    let db: Kysely<any>;

    beforeAll(async () => {
      database = await engine.createTestDatabase();
      store = await openStore(database.url);
      db = store.db as unknown as Kysely<any>;
      const migrator = new Migrator({ db: store.db, provider: migrationProvider(capabilitiesOf(store.db)) });
      expect((await migrator.migrateTo('0015_callbacks_lean_indexes')).error).toBeUndefined();
      await db.insertInto('tenants').values({ id: 'ten_1', slug: 't1', name: 'T', kind: 'human', created_at: AT }).execute();
      for (const [id, current] of [
        ['con_a', room(2)],
        ['con_b', room(3)],
      ] as const) {
        await db
          .insertInto('consultations')
          .values({
            id,
            tenant_id: 'ten_1',
            room_sid: current,
            room_name: `rg-${id}`,
            status: 'completed',
            record: 1,
            created_at: AT,
            updated_at: AT,
            version: 1,
          })
          .execute();
      }
      // con_a's composition is of its first room (room 1), though its current room is room 2.
      await db
        .insertInto('callbacks')
        .values({
          id: 'cb_1',
          dedupe_key: 'k1',
          account_sid: 'AC1',
          room_sid: room(1),
          composition_sid: 'CJ1',
          event_type: 'composition-available',
          event_timestamp: AT,
          params: '{}',
          status: 'accepted',
          received_at: AT,
        })
        .execute();
      for (const [id, consultation, sid] of [
        ['cmp_a', 'con_a', 'CJ1'],
        ['cmp_b', 'con_b', null],
      ] as const)
        await db
          .insertInto('compositions')
          .values({
            id,
            consultation_id: consultation,
            composition_sid: sid,
            status: 'available',
            attempts: 1,
            created_at: AT,
            updated_at: AT,
          })
          .execute();
      expect((await migrator.migrateTo('0016_compositions_per_room')).error).toBeUndefined();
    });
    afterAll(async () => {
      await store?.close();
      await database?.drop();
    });

    it('gives each row its room, and allows one row per room of a consultation', async () => {
      const rows = await db.selectFrom('compositions').select(['id', 'room_sid', 'composition_sid']).orderBy('id').execute();
      expect(rows).toEqual([
        { id: 'cmp_a', room_sid: room(1), composition_sid: 'CJ1' },
        { id: 'cmp_b', room_sid: room(3), composition_sid: null },
      ]);
      const row = (id: string, roomSid: string) => ({
        id,
        consultation_id: 'con_a',
        room_sid: roomSid,
        status: 'requested',
        attempts: 0,
        created_at: AT,
        updated_at: AT,
      });
      await db
        .insertInto('compositions')
        .values(row('cmp_a2', room(2)))
        .execute();
      await expect(
        db
          .insertInto('compositions')
          .values(row('cmp_a3', room(2)))
          .execute(),
      ).rejects.toThrow();
    });
  });
}
