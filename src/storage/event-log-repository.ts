/**
 * The per-tenant event log (migration 0009). Appending runs inside the transaction that records
 * the change: each tenant's counter row is incremented first (the upsert takes its row lock, kept
 * to commit), so two transactions of one tenant append one after the other and commit in sequence
 * order — a reader that has seen sequence N+1 has already been able to see N. On SQLite the
 * write transaction holds the whole database, which gives the same order.
 */
import { sql, type Insertable, type Kysely } from 'kysely';
import type { TenantEvent, TenantEventDraft, TenantEventType } from '../core/events/tenant-event.js';
import { newId } from './ids.js';
import { capabilitiesOf } from './dialect-capabilities.js';
import type { Database, StoreTransaction, TenantEventsTable } from './schema.js';
import { shapedStatement } from './shaped-statement.js';

/** Appends the events (in the given order per tenant) and returns them with their sequences. */
export async function appendTenantEvents(trx: StoreTransaction, drafts: readonly TenantEventDraft[]): Promise<TenantEvent[]> {
  if (drafts.length === 0) return [];
  const byTenant = new Map<string, TenantEventDraft[]>();
  for (const draft of drafts) byTenant.set(draft.tenantId, [...(byTenant.get(draft.tenantId) ?? []), draft]);
  const appended: TenantEvent[] = [];
  // Tenant id order: two transactions that append for the same tenants never deadlock.
  for (const tenantId of [...byTenant.keys()].sort()) {
    const events = byTenant.get(tenantId)!;
    const last = await reserveSequences(trx, tenantId, events.length);
    const rows = events.map((event, index) => ({
      tenant_id: tenantId,
      sequence: last - events.length + 1 + index,
      id: newId('evt'),
      type: event.type,
      // '' stands for none (the column is NOT NULL on every engine; ids are never empty).
      consultation_id: event.consultationId ?? '',
      occurred_at: event.at,
      payload: JSON.stringify(event.data),
    }));
    await insertEvents(trx, rows);
    appended.push(...rows.map(toEvent));
  }
  return appended;
}

/**
 * Moves the tenant's counter on by `count` (one upsert, which takes the row lock and keeps it to
 * commit — also for a tenant's first event, when two transactions create the row at once);
 * returns the new last sequence.
 */
async function reserveSequences(trx: StoreTransaction, tenantId: string, count: number): Promise<number> {
  await moveCounter(trx, { tenantId, count });
  const row = (await counterOf(trx, tenantId)).rows[0];
  if (!row) throw new Error('tenant event counter: no row after its upsert');
  return Number(row.last_sequence);
}

// Every fold that changes a record appends: compiled once per shape (shaped-statement.ts).
const moveCounter = shapedStatement('reserveTenantSequences', (db, { tenantId, count }: { tenantId: string; count: number }) => {
  const insert = db.insertInto('tenant_event_counters').values({ tenant_id: tenantId, last_sequence: count });
  return capabilitiesOf(db).insertIfAbsent === 'on-duplicate-key-noop'
    ? insert.onDuplicateKeyUpdate({ last_sequence: sql<number>`last_sequence + ${count}` })
    : insert.onConflict((oc) =>
        oc.column('tenant_id').doUpdateSet({ last_sequence: sql<number>`tenant_event_counters.last_sequence + ${count}` }),
      );
});
const counterOf = shapedStatement('tenantEventCounter', (db, tenantId: string) =>
  db.selectFrom('tenant_event_counters').select('last_sequence').where('tenant_id', '=', tenantId),
);
const insertEvents = shapedStatement('insertTenantEvents', (db, rows: Insertable<TenantEventsTable>[]) =>
  db.insertInto('tenant_events').values(rows),
);

/** The tenant's events after `after`, in sequence order, at most `limit`. */
export async function listTenantEvents(db: Kysely<Database>, tenantId: string, after: number, limit: number): Promise<TenantEvent[]> {
  const rows = await db
    .selectFrom('tenant_events')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('sequence', '>', after)
    .orderBy('sequence')
    .limit(limit)
    .execute();
  return rows.map(toEvent);
}

/** The tenant's last sequence (0 before its first event): where a stream without a cursor starts. */
export async function lastTenantSequence(db: Kysely<Database>, tenantId: string): Promise<number> {
  const row = await db.selectFrom('tenant_event_counters').select('last_sequence').where('tenant_id', '=', tenantId).executeTakeFirst();
  return row ? Number(row.last_sequence) : 0;
}

/** Retention: the tenant's events older than the cutoff. */
export async function purgeTenantEvents(trx: StoreTransaction, tenantId: string, cutoff: string): Promise<number> {
  const result = await trx
    .deleteFrom('tenant_events')
    .where('tenant_id', '=', tenantId)
    .where('occurred_at', '<', cutoff)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

function toEvent(row: {
  sequence: number | string;
  id: string;
  type: string;
  consultation_id: string;
  occurred_at: string;
  payload: string;
}): TenantEvent {
  return {
    id: row.id,
    sequence: Number(row.sequence),
    type: row.type as TenantEventType,
    consultationId: row.consultation_id === '' ? null : row.consultation_id,
    occurredAt: row.occurred_at,
    data: JSON.parse(row.payload) as Record<string, unknown>,
  };
}
