/**
 * The billing chain on every engine: two stores (as two instances, two projectors) write billing
 * record versions of one tenant at once. The tenant's head row lock orders the appends, so the
 * chain never forks: sequences 1…N with no gap or repeat, each entry naming the hash of the one
 * before, and every record equal to its last version.
 */
import { Migrator } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyBillingChain } from '../core/billing/billing-chain.js';
import { enginesUnderTest, type TestDatabase } from '../../test/support/engines.js';
import { listBillingChain } from './billing-chain-repository.js';
import { migrationProvider } from './migrations/migration-provider.js';
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
    const chainOf = async (store: Store, tenantId: string) => {
      const entries = await listBillingChain(store.db, tenantId, 0, 1000);
      const records = (await listBillingRecordsById(store.db, tenantId, '', 1000)).map((row) => ({
        id: row.id,
        version: Number(row.version),
        content: billingVersionContent(row),
      }));
      return { entries, records, verdict: verifyBillingChain(entries, records) };
    };

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

    it('chains the billing records that existed before migration 0014, at their current version', async () => {
      const old = await engine.createTestDatabase();
      const store = await openStore(old.url);
      try {
        const all = await migrationProvider(store.capabilities).getMigrations();
        const before = Object.fromEntries(Object.entries(all).filter(([name]) => name !== '0014_billing_chain'));
        const partial = await new Migrator({
          db: store.db,
          provider: { getMigrations: async () => before },
          allowUnorderedMigrations: true,
        }).migrateToLatest();
        expect(partial.error).toBeUndefined();
        const now = '2026-03-01T11:00:00.000Z';
        const db = store.db as unknown as import('kysely').Kysely<any>;
        await db.insertInto('tenants').values({ id: 'ten_old', slug: 'old', name: 'old', kind: 'human', created_at: now }).execute();
        for (const [index, version] of [1, 3].entries()) {
          await db
            .insertInto('consultations')
            .values({
              id: `con_old${index}`,
              tenant_id: 'ten_old',
              room_name: `rg-${index}`,
              status: 'completed',
              record: 0,
              created_at: now,
              updated_at: now,
              version: 1,
            })
            .execute();
          await db
            .insertInto('billing_records')
            .values({
              id: `bil_old${index}`,
              consultation_id: `con_old${index}`,
              tenant_id: 'ten_old',
              billable_seconds: 600 + index,
              rounded_seconds: 660,
              intervals: '[]',
              created_at: now,
              updated_at: now,
              version,
            })
            .execute();
        }
        expect(await store.migrate()).toEqual(['0014_billing_chain']);
        const migrated = await chainOf(store, 'ten_old');
        expect(migrated.verdict).toMatchObject({ ok: true, entries: 2 });
        expect(migrated.entries.map((entry) => [entry.billingRecordId, entry.version, entry.content.evidence])).toEqual([
          ['bil_old0', 1, null],
          ['bil_old1', 3, null],
        ]);
        // The next correction chains onto the migrated head.
        await store.transaction((trx) =>
          upsertBillingRecord(trx, {
            consultationId: 'con_old1',
            tenantId: 'ten_old',
            now,
            fields: { billable_seconds: 900, rounded_seconds: 900, intervals: '[]', evidence: '{"schema":"x"}' },
          }),
        );
        const corrected = await chainOf(store, 'ten_old');
        expect(corrected.verdict).toMatchObject({ ok: true, entries: 3 });
        expect(corrected.entries.at(-1)).toMatchObject({ sequence: 3, version: 4, previousHash: migrated.entries[1]!.hash });
      } finally {
        await store.close();
        await old.drop();
      }
    });
  });
}
