/**
 * Billing a consumer can sync, on every engine: a record carries createdAt, updatedAt and a
 * version; a correction moves updatedAt and bumps the version, so `updatedSince` (the last
 * updatedAt the consumer saw) returns it again; pages by cursor without gaps or repeats; times
 * are compared as instants whatever their offset; a malformed time is 422.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertBillingRecord } from '../../src/storage/billing-repository.js';
import { enginesUnderTest } from '../support/engines.js';
import { startTestService, type TestService } from '../support/test-service.js';

interface BillingRecord {
  id: string;
  consultationId: string;
  billableSeconds: number;
  version: number;
  createdAt: string;
  updatedAt: string;
}

const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 9, minute)).toISOString();
const fields = (seconds: number) => ({
  billable_seconds: seconds,
  rounded_seconds: Math.ceil(seconds / 60) * 60,
  intervals: JSON.stringify([{ start: at(0), end: new Date(Date.parse(at(0)) + seconds * 1000).toISOString() }]),
});

for (const engine of enginesUnderTest()) {
  describe(`billing sync on ${engine.name}`, () => {
    let service: TestService;
    let key: string;
    let tenantId: string;
    const consultations: string[] = [];

    beforeAll(async () => {
      service = await startTestService(engine);
      ({ key, tenantId } = await service.seedTenant('human', ['billing:read']));
      for (let i = 0; i < 5; i++) {
        const { id } = await service.seedConsultation(tenantId);
        consultations.push(id);
        await service.store.transaction((trx) =>
          upsertBillingRecord(trx, { consultationId: id, tenantId, now: at(10 + i), fields: fields(600 + i) }),
        );
      }
    });
    afterAll(async () => {
      await service?.close();
    });

    const list = async (query: string) => {
      const response = await service.app.inject({
        method: 'GET',
        url: `/v1/billing-records${query}`,
        headers: { authorization: `Bearer ${key}` },
      });
      expect(response.statusCode, response.body).toBe(200);
      return response.json() as { data: BillingRecord[]; nextCursor: string | null };
    };
    const all = async (query: string) => {
      const seen: BillingRecord[] = [];
      let cursor: string | null = null;
      do {
        const page = await list(`${query}${query ? '&' : '?'}limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.data.length).toBeLessThanOrEqual(2);
        seen.push(...page.data);
        cursor = page.nextCursor;
      } while (cursor);
      return seen;
    };

    it('pages every record once, oldest change first, each at version 1 with createdAt = updatedAt', async () => {
      const records = await all('');
      expect(records.map((record) => record.consultationId)).toEqual(consultations);
      for (const record of records) expect(record).toMatchObject({ version: 1, updatedAt: record.createdAt });
    });

    it('returns a correction to a consumer that synced before it, with a higher version', async () => {
      const synced = await all('');
      const lastSeen = synced.at(-1)!.updatedAt;
      expect(await all(`?updatedSince=${encodeURIComponent(lastSeen)}`)).toEqual([]);
      await service.store.transaction((trx) =>
        upsertBillingRecord(trx, { consultationId: consultations[1]!, tenantId, now: at(30), fields: fields(900) }),
      );
      const changes = await all(`?updatedSince=${encodeURIComponent(lastSeen)}`);
      expect(changes).toHaveLength(1);
      expect(changes[0]).toMatchObject({
        consultationId: consultations[1],
        billableSeconds: 900,
        version: 2,
        createdAt: at(11),
        updatedAt: at(30),
        id: synced[1]!.id,
      });
      // The same instant written with an offset selects the same records.
      expect(await all(`?updatedSince=${encodeURIComponent('2026-01-01T10:29:00+01:00')}`)).toEqual(changes);
    });

    it('refuses a time that is not RFC 3339 with 422 naming updatedSince', async () => {
      for (const bad of ['yesterday', '2026-13-45T00:00:00Z', '2026-01-01', '1700000000']) {
        const response = await service.app.inject({
          method: 'GET',
          url: `/v1/billing-records?updatedSince=${encodeURIComponent(bad)}`,
          headers: { authorization: `Bearer ${key}` },
        });
        expect(response.statusCode, bad).toBe(422);
        expect(response.json().error.field).toBe('updatedSince');
      }
    });
  });
}
