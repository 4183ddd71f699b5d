/**
 * Retention's deletions (service/retention/retention.ts decides what is kept and for how long;
 * the rules are in its file comment and docs/operations.md). Every query here runs inside the
 * caller's per-tenant or global transaction.
 */
import type { Kysely } from 'kysely';
import { purgeTenantEvents } from './event-log-repository.js';
import { purgeFinishedWebhookMessages } from './webhook-repository.js';
import type { Database, StoreTransaction } from './schema.js';

/** Rows removed per table. */
export interface RemovedCounts {
  consultations: number;
  participants: number;
  participant_sessions: number;
  issued_identities: number;
  recordings: number;
  compositions: number;
  callbacks: number;
  audit_log: number;
  security_events: number;
  outbox: number;
  idempotency_keys: number;
  tenant_events: number;
  webhook_messages: number;
  consents: number;
}

/** Ids per statement: far below every engine's bound-parameter limit. */
const CHUNK = 500;

/** Every table retention removes from, in report order. */
export const RETENTION_TABLES: readonly (keyof RemovedCounts)[] = [
  'consultations',
  'participants',
  'participant_sessions',
  'issued_identities',
  'recordings',
  'compositions',
  'callbacks',
  'audit_log',
  'security_events',
  'outbox',
  'idempotency_keys',
  'tenant_events',
  'webhook_messages',
  'consents',
];

export function emptyCounts(): RemovedCounts {
  return Object.fromEntries(RETENTION_TABLES.map((table) => [table, 0])) as unknown as RemovedCounts;
}

/** Every tenant with its retention period, by slug. */
export async function listTenantRetentionPeriods(db: Kysely<Database>) {
  return db.selectFrom('tenants').select(['id', 'slug', 'retention_days']).orderBy('slug').execute();
}

export async function purgeTenant(trx: StoreTransaction, tenantId: string, cutoff: string, replayCutoff: string) {
  const removed = emptyCounts();
  let keptForBilling = 0;
  let deferred = 0;

  const expired = await trx
    .selectFrom('consultations')
    .select(['id', 'room_sid'])
    .where('tenant_id', '=', tenantId)
    .where((eb) => eb.or([eb('ended_at', '<', cutoff), eb.and([eb('ended_at', 'is', null), eb('created_at', '<', cutoff)])]))
    .orderBy('id')
    .execute();

  for (let start = 0; start < expired.length; start += CHUNK) {
    let chunk = expired.slice(start, start + CHUNK);
    const roomSidsOf = (rows: typeof chunk) => rows.map((row) => row.room_sid).filter((sid): sid is string => sid !== null);

    // Left whole for a later run: a callback of the room is still inside the replay window.
    const young = await youngCallbackRooms(trx, roomSidsOf(chunk), replayCutoff);
    if (young.size > 0) {
      deferred += chunk.filter((row) => row.room_sid !== null && young.has(row.room_sid)).length;
      chunk = chunk.filter((row) => row.room_sid === null || !young.has(row.room_sid));
    }
    if (chunk.length === 0) continue;
    const ids = chunk.map((row) => row.id);
    // Every room of these consultations (rejoining, migration 0012), not only the current one.
    const earlierRooms = await trx
      .selectFrom('consultation_rooms')
      .select('room_sid')
      .where('consultation_id', 'in', ids)
      .where('room_sid', 'is not', null)
      .execute();
    const roomSids = [...new Set([...roomSidsOf(chunk), ...earlierRooms.map((row) => row.room_sid!)])];
    const compositionSids = (
      await trx
        .selectFrom('compositions')
        .select('composition_sid')
        .where('consultation_id', 'in', ids)
        .where('composition_sid', 'is not', null)
        .execute()
    ).map((row) => row.composition_sid!);

    if (roomSids.length > 0 || compositionSids.length > 0) {
      removed.callbacks += deleted(
        await trx
          .deleteFrom('callbacks')
          .where((eb) =>
            eb.or([
              ...(roomSids.length > 0 ? [eb('room_sid', 'in', roomSids)] : []),
              ...(compositionSids.length > 0 ? [eb('composition_sid', 'in', compositionSids)] : []),
            ]),
          )
          // Again here, not only in the check above: one that arrived since stays.
          .where('received_at', '<', replayCutoff)
          .executeTakeFirst(),
      );
    }
    // The consent ledger goes with the rest of the record it is evidence for (migration 0013).
    for (const table of ['participants', 'participant_sessions', 'issued_identities', 'recordings', 'compositions', 'consents'] as const) {
      removed[table] += deleted(await trx.deleteFrom(table).where('consultation_id', 'in', ids).executeTakeFirst());
    }
    const billed = new Set(
      (await trx.selectFrom('billing_records').select('consultation_id').where('consultation_id', 'in', ids).execute()).map(
        (row) => row.consultation_id,
      ),
    );
    keptForBilling += billed.size;
    const unbilled = ids.filter((id) => !billed.has(id));
    if (unbilled.length > 0) {
      removed.consultations += deleted(await trx.deleteFrom('consultations').where('id', 'in', unbilled).executeTakeFirst());
    }
  }

  removed.audit_log += deleted(
    await trx.deleteFrom('audit_log').where('tenant_id', '=', tenantId).where('created_at', '<', cutoff).executeTakeFirst(),
  );
  // The event log (migration 0009) is kept for the tenant's period, by when each event happened.
  removed.tenant_events += await purgeTenantEvents(trx, tenantId, cutoff);
  // Webhook messages finished (delivered or given up) before the cutoff, with their attempts;
  // a pending one stays until it is delivered or given up.
  removed.webhook_messages += await purgeFinishedWebhookMessages(trx, tenantId, cutoff);
  return { removed, keptForBilling, deferred };
}

async function youngCallbackRooms(trx: StoreTransaction, roomSids: string[], replayCutoff: string): Promise<Set<string>> {
  if (roomSids.length === 0) return new Set();
  const rows = await trx
    .selectFrom('callbacks')
    .select('room_sid')
    .distinct()
    .where('room_sid', 'in', roomSids)
    .where('received_at', '>=', replayCutoff)
    .execute();
  return new Set(rows.map((row) => row.room_sid!));
}

export async function purgeGlobal(
  trx: StoreTransaction,
  cutoffs: { operatorAuditCutoff: string; securityCutoff: string; replayCutoff: string; now: string },
): Promise<RemovedCounts> {
  const removed = emptyCounts();
  // Idempotency-Key answers are replayed for 24 h (expires_at), then only take room.
  removed.idempotency_keys = deleted(await trx.deleteFrom('idempotency_keys').where('expires_at', '<=', cutoffs.now).executeTakeFirst());
  removed.security_events = deleted(
    await trx.deleteFrom('security_events').where('created_at', '<', cutoffs.securityCutoff).executeTakeFirst(),
  );
  removed.audit_log = deleted(
    await trx
      .deleteFrom('audit_log')
      .where('tenant_id', 'is', null)
      .where('created_at', '<', cutoffs.operatorAuditCutoff)
      .executeTakeFirst(),
  );
  // Callbacks of no consultation (unknown rooms): evidence for an investigation, kept as long as
  // security events, and never inside the replay window.
  const orphanCutoff = cutoffs.securityCutoff < cutoffs.replayCutoff ? cutoffs.securityCutoff : cutoffs.replayCutoff;
  removed.callbacks = deleted(
    await trx
      .deleteFrom('callbacks')
      .where('received_at', '<', orphanCutoff)
      .where((eb) =>
        eb.or([
          eb('room_sid', 'is', null),
          eb.and([
            eb(
              'room_sid',
              'not in',
              eb.selectFrom('consultations').select('room_sid').where('room_sid', 'is not', null).$narrowType<{ room_sid: string }>(),
            ),
            // A consultation's earlier rooms (rejoining) are not orphans.
            eb(
              'room_sid',
              'not in',
              eb.selectFrom('consultation_rooms').select('room_sid').where('room_sid', 'is not', null).$narrowType<{ room_sid: string }>(),
            ),
          ]),
        ]),
      )
      .where((eb) =>
        eb.or([
          eb('composition_sid', 'is', null),
          eb(
            'composition_sid',
            'not in',
            eb
              .selectFrom('compositions')
              .select('composition_sid')
              .where('composition_sid', 'is not', null)
              .$narrowType<{ composition_sid: string }>(),
          ),
        ]),
      )
      .executeTakeFirst(),
  );
  removed.outbox = deleted(
    await trx.deleteFrom('outbox').where('status', '=', 'done').where('done_at', '<', cutoffs.securityCutoff).executeTakeFirst(),
  );
  return removed;
}

function deleted(result: { numDeletedRows: bigint }): number {
  return Number(result.numDeletedRows);
}
