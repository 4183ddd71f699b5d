/**
 * The no-show sweep runs on its own inside an app that has it on (as `serve` does): a consultation
 * whose window closed without anyone becomes a named no-show without any request. Waits for it
 * with a bound (no timing is asserted); the Twilio completion fails here (no Twilio) and is only logged.
 * A consultation whose row another transaction holds past the lock timeout does not stop the
 * pass: the ones after it are named, and it is named once free (engines with row locks).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant } from '../../src/service/tenants/tenant-admin.js';
import { findConsultationStatus, insertConsultations } from '../../src/storage/consultation-repository.js';
import { newId } from '../../src/storage/ids.js';
import { lockConsultations } from '../../src/storage/row-locks.js';
import { enginesUnderTest } from '../support/engines.js';
import { randomHex, startTestService, type TestService } from '../support/test-service.js';

const NOW = Date.parse('2026-08-01T12:00:00.000Z');

for (const engine of enginesUnderTest()) {
  describe(`the no-show schedule on ${engine.name}`, () => {
    let service: TestService;
    let now = NOW;
    beforeAll(async () => {
      service = await startTestService(engine, {
        env: { TWILIO_API_BASE_URL: 'http://127.0.0.1:9', ROOMGATE_DB_LOCK_TIMEOUT: '1s' },
        app: { clock: () => new Date(now), noShows: { intervalMs: 10 } },
      });
    });
    afterAll(async () => service?.close());

    /** A consultation of a new tenant whose window closed `closedMinutesAgo` minutes before NOW (after it, if negative). */
    const closedWindow = async (closedMinutesAgo: number) => {
      const tenantId = await createTenant(service.store, { slug: `t-${randomHex(4)}`, name: 'Clinic', kind: 'human' });
      const id = newId('con');
      await insertConsultations(service.store.db, [
        {
          id,
          tenantId,
          roomSid: null,
          roomName: `rg-${id}`,
          accountSid: null,
          record: false,
          scheduledAt: new Date(NOW - (closedMinutesAgo + 45) * 60_000).toISOString(),
          durationMinutes: 30,
          windowClosesAt: new Date(NOW - closedMinutesAgo * 60_000).toISOString(),
          now: new Date(NOW - 2 * 60 * 60_000).toISOString(),
        },
      ]);
      return id;
    };
    const namedWithin = async (id: string, attempts: number) => {
      let status: string | undefined;
      for (let attempt = 0; attempt < attempts && status !== 'no-show'; attempt++) {
        await sleep(20);
        status = await findConsultationStatus(service.store.db, id);
      }
      return status;
    };

    it('names a closed window’s no-show by itself', async () => {
      const id = await closedWindow(15);
      expect(await namedWithin(id, 500)).toBe('no-show');
    });

    if (engine.name !== 'sqlite') {
      it('names the others while one consultation is held past the lock timeout, and the held one once free', async () => {
        // Windows that close later, the held one first: once they have closed every pass comes to
        // it first. Its row is locked before the clock reaches them, so no pass names it before.
        const held = await closedWindow(-10);
        const after = await closedWindow(-20);
        let locked!: () => void;
        const holding = new Promise<void>((resolve) => (locked = resolve));
        let release!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        const holder = service.store.transaction(async (trx) => {
          await lockConsultations(trx, [held]);
          locked();
          await released;
        });
        await holding;
        now = NOW + 60 * 60_000;
        try {
          expect(await namedWithin(after, 1000)).toBe('no-show');
          expect(await findConsultationStatus(service.store.db, held)).toBe('scheduled');
        } finally {
          release();
          await holder;
        }
        expect(await namedWithin(held, 1000)).toBe('no-show');
        expect(service.logs()).toContain('no-show: the consultation is held; named at the next pass');
      });
    }
  });
}
