/**
 * The billing chain on every engine: two stores (as two instances, two projectors) write billing
 * record versions of one tenant at once. The tenant's head row lock orders the appends, so the
 * chain never forks: sequences 1…N with no gap or repeat, each entry naming the hash of the one
 * before, and every record equal to its last version.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyBillingChain } from '../core/billing/billing-chain.js';
import { enginesUnderTest, type TestDatabase } from '../../test/support/engines.js';
import { listBillingChain } from './billing-chain-repository.js';
import { billingVersionContent, listBillingRecordsById, upsertBillingRecord } from './billing-repository.js';
import { insertConsultations } from './consultation-repository.js';
import { openStore } from './open-store.js';
import { StoreUnavailableError } from './store-errors.js';
import type { Store } from './store.js';

const TENANT = 'ten_chain';
const WRITERS = 6;
const VERSIONS = 6;

for (const engine of enginesUnderTest()) {
  describe(`billing chain on ${engine.name}`, () => {
    let database: TestDatabase;
    let one: Store;
    let two: Store;

    beforeAll(async () => {
      database = await engine.createTestDatabase();
      one = await openStore(database.url);
      await one.migrate();
      two = await openStore(database.url);
      const now = new Date().toISOString();
      await one.db.insertInto('tenants').values({ id: TENANT, slug: 'chain', name: 'chain', kind: 'human', created_at: now }).execute();
      await insertConsultations(
        one.db,
        Array.from({ length: WRITERS }, (_, writer) => ({
          id: `con_${writer}`,
          tenantId: TENANT,
          roomSid: `RM${writer}`,
          roomName: `rg-con_${writer}`,
          accountSid: null,
          record: false,
          scheduledAt: null,
          now,
        })),
      );
    });
    afterAll(async () => {
      await one?.close();
      await two?.close();
      await database?.drop();
    });

    it('two instances writing versions at once make one unforked chain that verifies', async () => {
      let retries = 0;
      const write = async (store: Store, writer: number) => {
        for (let version = 1; version <= VERSIONS; version++) {
          const fields = {
            billable_seconds: 60 * version + writer,
            rounded_seconds: 60 * (version + 1),
            intervals: JSON.stringify([{ start: '2026-03-01T10:00:00.000Z', end: '2026-03-01T10:10:00.000Z' }]),
            evidence: JSON.stringify({ writer, version }),
          };
          // A deadlock or lock timeout rolls the whole transaction back (nothing half-chained); the
          // projector folds such a consultation again later — here, at once.
          for (;;) {
            try {
              await store.transaction((trx) =>
                upsertBillingRecord(trx, { consultationId: `con_${writer}`, tenantId: TENANT, now: new Date().toISOString(), fields }),
              );
              break;
            } catch (error) {
              if (!(error instanceof StoreUnavailableError) || ++retries > 50) throw error;
            }
          }
        }
      };
      await Promise.all(Array.from({ length: WRITERS }, (_, writer) => write(writer % 2 === 0 ? one : two, writer)));

      const entries = await listBillingChain(one.db, TENANT, 0, 1000);
      expect(entries.map((entry) => entry.sequence)).toEqual(Array.from({ length: WRITERS * VERSIONS }, (_, i) => i + 1));
      const records = (await listBillingRecordsById(one.db, TENANT, '', 1000)).map((row) => ({
        id: row.id,
        version: Number(row.version),
        content: billingVersionContent(row),
      }));
      expect(records.every((record) => record.version === VERSIONS)).toBe(true);
      expect(verifyBillingChain(entries, records)).toMatchObject({ ok: true, entries: WRITERS * VERSIONS });
      const head = await one.db.selectFrom('billing_chain_heads').selectAll().where('tenant_id', '=', TENANT).executeTakeFirstOrThrow();
      expect({ sequence: Number(head.last_sequence), hash: head.last_hash }).toEqual({
        sequence: WRITERS * VERSIONS,
        hash: entries.at(-1)!.hash,
      });
    });
  });
}
