/**
 * Billing evidence and the tamper-evident billing chain (issue 20):
 * - tenants.billing_code_set ('us-cpt-2025' | 'us-medicare' | 'flat'; NULL → by the tenant's
 *   kind) and tenants.billing_flat_mode ('visit' | 'block'; NULL → 'visit');
 * - consultations.patient_status ('new' | 'established' | NULL);
 * - billing_records.evidence: the current version's evidence (JSON);
 * - billing_record_versions: every version of every billing record, one per tenant sequence,
 *   each with the previous entry's hash and its own (SHA-256 over canonical JSON);
 * - billing_chain_heads: each tenant's last sequence and hash; the transaction that appends holds
 *   its row lock to commit, so two projectors never fork a tenant's chain.
 * No foreign key to billing_records: the chain outlives nothing it must prove.
 * Billing records that exist already enter their tenant's chain here, at their current version
 * (no evidence: they were measured before it existed), in id order.
 */
import { sql, type CreateTableBuilder, type Kysely, type Migration } from 'kysely';
import { chainHash, GENESIS_HASH, type BillingChainEntry } from '../../core/billing/billing-chain.js';
import { canonicalJson } from '../../core/billing/canonical-json.js';
import type { DialectCapabilities } from '../dialect-capabilities.js';

const ID = 'varchar(64)';
const TIMESTAMP = 'char(24)';
const HASH = 'char(64)';

export function billingChain(capabilities: DialectCapabilities): Migration {
  const create = <T extends string>(db: Kysely<any>, name: T) => {
    const builder = db.schema.createTable(name);
    return (capabilities.createTableSuffix ? builder.modifyEnd(capabilities.createTableSuffix) : builder) as CreateTableBuilder<T, never>;
  };
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('tenants').addColumn('billing_code_set', 'varchar(32)').execute();
      await db.schema.alterTable('tenants').addColumn('billing_flat_mode', 'varchar(16)').execute();
      await db.schema.alterTable('consultations').addColumn('patient_status', 'varchar(16)').execute();
      await db.schema.alterTable('billing_records').addColumn('evidence', sql.raw(capabilities.jsonColumnType)).execute();
      await create(db, 'billing_chain_heads')
        .addColumn('tenant_id', ID, (c) => c.primaryKey().references('tenants.id').onDelete('cascade'))
        .addColumn('last_sequence', 'bigint', (c) => c.notNull())
        .addColumn('last_hash', HASH, (c) => c.notNull())
        .execute();
      await create(db, 'billing_record_versions')
        .addColumn('tenant_id', ID, (c) => c.notNull().references('tenants.id').onDelete('cascade'))
        .addColumn('sequence', 'bigint', (c) => c.notNull())
        .addColumn('billing_record_id', ID, (c) => c.notNull())
        .addColumn('consultation_id', ID, (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('recorded_at', TIMESTAMP, (c) => c.notNull())
        .addColumn('content', sql.raw(capabilities.jsonColumnType), (c) => c.notNull())
        .addColumn('previous_hash', HASH, (c) => c.notNull())
        .addColumn('hash', HASH, (c) => c.notNull())
        .addPrimaryKeyConstraint('billing_record_versions_pk', ['tenant_id', 'sequence'])
        .addUniqueConstraint('billing_record_versions_record_version_uq', ['billing_record_id', 'version'])
        .execute();
      await chainExistingRecords(db);
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('billing_record_versions').execute();
      await db.schema.dropTable('billing_chain_heads').execute();
      await db.schema.alterTable('billing_records').dropColumn('evidence').execute();
      await db.schema.alterTable('consultations').dropColumn('patient_status').execute();
      await db.schema.alterTable('tenants').dropColumn('billing_flat_mode').execute();
      await db.schema.alterTable('tenants').dropColumn('billing_code_set').execute();
    },
  };
}

const PAGE = 500;

async function chainExistingRecords(db: Kysely<any>): Promise<void> {
  const heads = new Map<string, { sequence: number; hash: string }>();
  let after = { tenantId: '', id: '' };
  for (;;) {
    const rows: {
      id: string;
      tenant_id: string;
      consultation_id: string;
      billable_seconds: number;
      rounded_seconds: number;
      intervals: string;
      version: number | null;
      created_at: string;
      updated_at: string | null;
    }[] = await db
      .selectFrom('billing_records')
      .select([
        'id',
        'tenant_id',
        'consultation_id',
        'billable_seconds',
        'rounded_seconds',
        'intervals',
        'version',
        'created_at',
        'updated_at',
      ])
      .where((eb) => eb.or([eb('tenant_id', '>', after.tenantId), eb.and([eb('tenant_id', '=', after.tenantId), eb('id', '>', after.id)])]))
      .orderBy('tenant_id')
      .orderBy('id')
      .limit(PAGE)
      .execute();
    for (const row of rows) {
      const head = heads.get(row.tenant_id) ?? { sequence: 0, hash: GENESIS_HASH };
      const entry: BillingChainEntry = {
        tenantId: row.tenant_id,
        sequence: head.sequence + 1,
        billingRecordId: row.id,
        consultationId: row.consultation_id,
        version: Number(row.version ?? 1),
        recordedAt: row.updated_at ?? row.created_at,
        content: {
          billableSeconds: Number(row.billable_seconds),
          roundedSeconds: Number(row.rounded_seconds),
          intervals: JSON.parse(row.intervals) as BillingChainEntry['content']['intervals'],
          evidence: null,
        },
        previousHash: head.hash,
      };
      const hash = chainHash(entry);
      await db
        .insertInto('billing_record_versions')
        .values({
          tenant_id: entry.tenantId,
          sequence: entry.sequence,
          billing_record_id: entry.billingRecordId,
          consultation_id: entry.consultationId,
          version: entry.version,
          recorded_at: entry.recordedAt,
          content: canonicalJson(entry.content),
          previous_hash: entry.previousHash,
          hash,
        })
        .execute();
      heads.set(row.tenant_id, { sequence: entry.sequence, hash });
    }
    if (rows.length < PAGE) break;
    after = { tenantId: rows.at(-1)!.tenant_id, id: rows.at(-1)!.id };
  }
  for (const [tenantId, head] of heads) {
    await db
      .insertInto('billing_chain_heads')
      .values({ tenant_id: tenantId, last_sequence: head.sequence, last_hash: head.hash })
      .execute();
  }
}
