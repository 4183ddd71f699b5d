/**
 * Row conflicts on the real servers: a deadlock between two transactions locking two
 * consultations in opposite orders is reported as StoreDeadlockError (MariaDB/MySQL 1213
 * ER_LOCK_DEADLOCK, PostgreSQL 40P01) and a lock wait past the lock timeout as
 * StoreLockTimeoutError, each with its driver code for the logs; retryRowConflicts runs the lost
 * transaction again and it succeeds, and it never runs again what was not a row conflict.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest, type TestDatabase } from '../../test/support/engines.js';
import { insertConsultations } from './consultation-repository.js';
import { newId } from './ids.js';
import { openStore } from './open-store.js';
import { retryRowConflicts } from './row-conflict-retry.js';
import { lockConsultations } from './row-locks.js';
import type { Store } from './store.js';
import {
  driverErrorOrigin,
  isRowConflict,
  StoreConstraintError,
  StoreDeadlockError,
  StoreLockTimeoutError,
  StoreUnavailableError,
} from './store-errors.js';
import { insertTenant } from './tenant-repository.js';

const NOW = '2026-01-01T00:00:00.000Z';

describe('retryRowConflicts', () => {
  it('runs the work again after a row conflict, up to the attempts, and nothing else', async () => {
    const conflicts = [new StoreLockTimeoutError('held'), new StoreDeadlockError('victim')];
    let runs = 0;
    const retried: number[] = [];
    await expect(
      retryRowConflicts(
        async () => {
          runs += 1;
          if (conflicts.length > 0) throw conflicts.shift();
          return 'done';
        },
        { onRetry: (_error, attempt) => retried.push(attempt) },
      ),
    ).resolves.toBe('done');
    expect([runs, retried]).toEqual([3, [1, 2]]);

    runs = 0;
    await expect(
      retryRowConflicts(async () => {
        runs += 1;
        throw new StoreLockTimeoutError('held for ever');
      }),
    ).rejects.toBeInstanceOf(StoreLockTimeoutError);
    expect(runs).toBe(3);

    for (const error of [new StoreUnavailableError('down'), new StoreConstraintError('unique'), new Error('bug')]) {
      runs = 0;
      await expect(
        retryRowConflicts(async () => {
          runs += 1;
          throw error;
        }),
      ).rejects.toBe(error);
      expect(runs).toBe(1);
      expect(isRowConflict(error)).toBe(false);
    }
  });
});

for (const engine of enginesUnderTest().filter((candidate) => candidate.name !== 'sqlite')) {
  describe(`row conflicts on ${engine.name}`, () => {
    let database: TestDatabase;
    let store: Store;
    const ids: string[] = [];

    beforeAll(async () => {
      database = await engine.createTestDatabase();
      // Longer than PostgreSQL's deadlock_timeout (1 s), so its deadlock check runs first.
      store = await openStore(database.url, { lockTimeoutMs: 2000, poolSize: 4 });
      await store.migrate();
      const tenantId = newId('ten');
      await insertTenant(store.db, { id: tenantId, slug: 'conflicts', name: 'conflicts', kind: 'human', created_at: NOW });
      for (let n = 0; n < 2; n++) ids.push(newId('con'));
      await insertConsultations(
        store.db,
        ids.map((id) => ({
          id,
          tenantId,
          roomSid: null,
          roomName: `rg-${id}`,
          accountSid: null,
          record: false,
          scheduledAt: null,
          now: NOW,
        })),
      );
    });
    afterAll(async () => {
      await store?.close();
      await database?.drop();
    });

    it('reports a deadlock as StoreDeadlockError with its driver code, and a retry of the victim succeeds', async () => {
      const [a, b] = ids as [string, string];
      let bothLocked!: () => void;
      const firstLocks = new Promise<void>((resolve) => {
        let count = 0;
        bothLocked = () => {
          count += 1;
          if (count === 2) resolve();
        };
      });
      const victims: unknown[] = [];
      // Each locks one row, waits until the other has its own, then asks for the other's.
      const crossing = (first: string, second: string) => {
        let runs = 0;
        return retryRowConflicts(
          () =>
            store.transaction(async (trx) => {
              runs += 1;
              await lockConsultations(trx, [first]);
              if (runs === 1) {
                bothLocked();
                await firstLocks;
              }
              await lockConsultations(trx, [second]);
            }),
          { onRetry: (error) => victims.push(error) },
        );
      };
      await Promise.all([crossing(a, b), crossing(b, a)]);
      expect(victims).toHaveLength(1);
      expect(victims[0]).toBeInstanceOf(StoreDeadlockError);
      expect(victims[0]).toBeInstanceOf(StoreUnavailableError);
      expect(driverErrorOrigin(victims[0])).toMatchObject(
        engine.name === 'postgres' ? { code: '40P01' } : { code: 'ER_LOCK_DEADLOCK', errno: 1213 },
      );
    });

    it('reports a lock wait past the lock timeout as StoreLockTimeoutError, and runs it again once the row is free', async () => {
      const [a] = ids as [string];
      let locked!: () => void;
      const holding = new Promise<void>((resolve) => (locked = resolve));
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const holder = store.transaction(async (trx) => {
        await lockConsultations(trx, [a]);
        locked();
        await released;
      });
      await holding;
      const conflicts: unknown[] = [];
      const waiter = retryRowConflicts(() => store.transaction((trx) => lockConsultations(trx, [a])), {
        attempts: 2,
        onRetry: (error) => {
          conflicts.push(error);
          release();
        },
      });
      await Promise.all([holder, waiter]);
      expect(conflicts).toHaveLength(1);
      expect(conflicts[0]).toBeInstanceOf(StoreLockTimeoutError);
      expect(driverErrorOrigin(conflicts[0])).toMatchObject(
        engine.name === 'postgres' ? { code: '55P03' } : { code: 'ER_LOCK_WAIT_TIMEOUT', errno: 1205 },
      );
    });
  });
}
