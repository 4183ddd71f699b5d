/** The readiness probe's write (service_heartbeats, migration 0005). */
import { randomBytes } from 'node:crypto';
import { insertIfAbsent } from './insert-if-absent.js';
import type { StoreTransaction } from './schema.js';

/** About one callback row's worth of bytes, different each time. */
const PADDING_BYTES = 512;
/** Rows of instances gone for longer than this are removed by the next beat of any instance. */
const FORGET_AFTER_MS = 24 * 3_600_000;

/** Upserts this instance's row (and drops long-gone instances' rows) inside `trx`. */
export async function writeHeartbeat(trx: StoreTransaction, instanceId: string, now: Date): Promise<void> {
  const row = { beat_at: now.toISOString(), padding: randomBytes(PADDING_BYTES).toString('hex') };
  if (!(await insertIfAbsent(trx, 'service_heartbeats', { instance_id: instanceId }, { instance_id: instanceId, ...row }))) {
    await trx.updateTable('service_heartbeats').set(row).where('instance_id', '=', instanceId).execute();
  }
  await trx
    .deleteFrom('service_heartbeats')
    .where('beat_at', '<', new Date(now.getTime() - FORGET_AFTER_MS).toISOString())
    .execute();
}
