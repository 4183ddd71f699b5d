/**
 * `billing verify` beside a live service, on every engine: while a second store keeps correcting
 * billing records (each correction and its chain entry in one transaction), every verification
 * of the tenant's chain says intact — a record corrected after the chain pages were read is
 * looked at again with the chain read on, never reported broken.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyTenantBillingChain } from '../../src/service/billing/billing-chain-verify.js';
import { createTenant } from '../../src/service/tenants/tenant-admin.js';
import { upsertBillingRecord } from '../../src/storage/billing-repository.js';
import { insertConsultations } from '../../src/storage/consultation-repository.js';
import { openStore } from '../../src/storage/open-store.js';
import type { Store } from '../../src/storage/store.js';
import { enginesUnderTest, type TestDatabase } from '../support/engines.js';

const RECORDS = 8;
const ROUNDS = 6;

for (const engine of enginesUnderTest()) {
  describe(`billing verify beside a live writer on ${engine.name}`, () => {
    let database: TestDatabase;
    let reader: Store;
    let writer: Store;
    let tenantId: string;

    beforeAll(async () => {
      database = await engine.createTestDatabase();
      reader = await openStore(database.url);
      await reader.migrate();
      writer = await openStore(database.url);
      tenantId = await createTenant(reader, { slug: 'live', name: 'live', kind: 'human' });
      const now = new Date().toISOString();
      await insertConsultations(
        reader.db,
        Array.from({ length: RECORDS }, (_, i) => ({
          id: `con_live${i}`,
          tenantId,
          roomSid: `RMlive${i}`,
          roomName: `rg-live${i}`,
          accountSid: null,
          record: false,
          scheduledAt: null,
          now,
        })),
      );
    });
    afterAll(async () => {
      await reader?.close();
      await writer?.close();
      await database?.drop();
    });

    it('never reports a chain broken that a correction was extending while it read', async () => {
      let writing = true;
      const corrections = (async () => {
        for (let round = 1; round <= ROUNDS; round++) {
          for (let i = 0; i < RECORDS; i++) {
            const fields = { billable_seconds: 60 * round + i, rounded_seconds: 60 * (round + 1), intervals: '[]' };
            await writer.transaction((trx) =>
              upsertBillingRecord(trx, { consultationId: `con_live${i}`, tenantId, now: new Date().toISOString(), fields }),
            );
          }
        }
        writing = false;
      })();
      const verdicts = [];
      while (writing) verdicts.push(await verifyTenantBillingChain(reader, tenantId));
      await corrections;
      verdicts.push(await verifyTenantBillingChain(reader, tenantId));
      expect(verdicts.length).toBeGreaterThan(1);
      expect(verdicts.filter((verdict) => !verdict.ok)).toEqual([]);
      expect(verdicts.at(-1)).toMatchObject({ ok: true, entries: RECORDS * ROUNDS });
    });
  });
}
