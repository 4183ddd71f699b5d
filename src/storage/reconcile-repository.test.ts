/**
 * The reconciler's overdue query on every engine: a late callback held for an earlier room of a
 * consultation (rejoining: its current room is another) brings the consultation back, as one for
 * its current room does; once it was compared after the callback arrived, it does not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest, type TestDatabase } from '../../test/support/engines.js';
import { claimNextRoom, makeCurrentRoom } from './consultation-room-repository.js';
import { insertConsultations } from './consultation-repository.js';
import { insertCallbacks } from './inbox-repository.js';
import { openStore } from './open-store.js';
import { findOverdueConsultations, markReconciled } from './reconcile-repository.js';
import type { Store } from './store.js';

const TENANT = 'ten_overdue';
const NOW = Date.parse('2026-11-30T12:00:00.000Z');
const at = (minutes: number) => new Date(NOW + minutes * 60_000).toISOString();

for (const engine of enginesUnderTest()) {
  describe(`overdue consultations on ${engine.name}`, () => {
    let database: TestDatabase;
    let store: Store;

    beforeAll(async () => {
      database = await engine.createTestDatabase();
      store = await openStore(database.url);
      await store.migrate();
      await store.db
        .insertInto('tenants')
        .values({ id: TENANT, slug: 'overdue', name: 'overdue', kind: 'human', created_at: at(-60) })
        .execute();
    });
    afterAll(async () => {
      await store?.close();
      await database?.drop();
    });

    const overdue = () =>
      findOverdueConsultations(store.db, {
        quietBefore: at(-600),
        endedBefore: at(-600),
        endedAfter: at(-600),
        compositionBefore: at(-600),
        limit: 100,
      });

    /** A consultation whose first room is RMa…, then its second RMb… is current; a late callback held for `room`. */
    async function rejoinedWithLateCallback(id: string, room: 'first' | 'second') {
      const [first, second] = [`RMa${id}`, `RMb${id}`];
      await insertConsultations(store.db, [
        { id, tenantId: TENANT, roomSid: first, roomName: `rg-${id}`, accountSid: null, record: false, scheduledAt: null, now: at(-30) },
      ]);
      expect(await claimNextRoom(store.db, { consultationId: id, sequence: 2, roomName: `rg-${id}-2`, now: at(-20) })).toBe(true);
      await makeCurrentRoom(store.db, id, { roomName: `rg-${id}-2`, roomSid: second });
      await insertCallbacks(store.db, [
        {
          id: `cb_${id}`,
          dedupe_key: `late-${id}`,
          idempotency_token: null,
          account_sid: 'AC1',
          room_sid: room === 'first' ? first : second,
          composition_sid: null,
          event_type: 'participant-disconnected',
          event_timestamp: at(-25),
          sequence_number: 1,
          participant_sid: null,
          participant_identity: null,
          params: '[]',
          status: 'quarantined',
          received_at: at(-5),
          processed_at: null,
          held: 'late',
        },
      ]);
    }

    it('finds a consultation by a late callback of its earlier room, as by one of its current room', async () => {
      await rejoinedWithLateCallback('con_early', 'first');
      await rejoinedWithLateCallback('con_current', 'second');
      const found = await overdue();
      expect(found.get('con_early')).toBe('late-callbacks');
      expect(found.get('con_current')).toBe('late-callbacks');
    });

    it('does not find it again once it was compared after the callback arrived', async () => {
      await rejoinedWithLateCallback('con_compared', 'first');
      await markReconciled(store.db, 'con_compared', at(-1));
      expect((await overdue()).has('con_compared')).toBe(false);
    });
  });
}
