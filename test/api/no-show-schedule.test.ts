/**
 * The no-show sweep runs on its own inside an app that has it on (as `serve` does): a consultation
 * whose window closed without anyone becomes a named no-show without any request. Waits for it
 * with a bound (no timing is asserted); the Twilio completion fails here (no Twilio) and is only logged.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant } from '../../src/service/tenants/tenant-admin.js';
import { findConsultationStatus, insertConsultations } from '../../src/storage/consultation-repository.js';
import { newId } from '../../src/storage/ids.js';
import { enginesUnderTest } from '../support/engines.js';
import { randomHex, startTestService, type TestService } from '../support/test-service.js';

const NOW = Date.parse('2026-08-01T12:00:00.000Z');

for (const engine of enginesUnderTest()) {
  describe(`the no-show schedule on ${engine.name}`, () => {
    let service: TestService;
    beforeAll(async () => {
      service = await startTestService(engine, {
        env: { TWILIO_API_BASE_URL: 'http://127.0.0.1:9' },
        app: { clock: () => new Date(NOW), noShows: { intervalMs: 10 } },
      });
    });
    afterAll(async () => service?.close());

    it('names a closed window’s no-show by itself', async () => {
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
          scheduledAt: new Date(NOW - 60 * 60_000).toISOString(),
          durationMinutes: 30,
          windowClosesAt: new Date(NOW - 15 * 60_000).toISOString(),
          now: new Date(NOW - 2 * 60 * 60_000).toISOString(),
        },
      ]);
      let status: string | undefined;
      for (let attempt = 0; attempt < 500 && status !== 'no-show'; attempt++) {
        await sleep(20);
        status = await findConsultationStatus(service.store.db, id);
      }
      expect(status).toBe('no-show');
    });
  });
}
