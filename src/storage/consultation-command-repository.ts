/**
 * Writes the tenant API makes to a consultation: create it (before its room exists), record its
 * room, cancel it. Status changes driven by Twilio's callbacks are the projector's.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface NewConsultation {
  readonly id: string;
  readonly tenantId: string;
  readonly roomName: string;
  readonly accountSid: string | null;
  readonly record: boolean;
  readonly scheduledAt: string | null;
  readonly externalRef: string | null;
  readonly metadata: Record<string, string> | null;
  readonly now: string;
}

/** Throws StoreConstraintError('unique') when the tenant already has this externalRef. */
export async function insertConsultation(db: Kysely<Database>, input: NewConsultation): Promise<void> {
  await db
    .insertInto('consultations')
    .values({
      id: input.id,
      tenant_id: input.tenantId,
      room_sid: null,
      room_name: input.roomName,
      account_sid: input.accountSid,
      status: 'scheduled',
      record: input.record ? 1 : 0,
      scheduled_at: input.scheduledAt,
      started_at: null,
      ended_at: null,
      created_at: input.now,
      updated_at: input.now,
      version: 0,
      external_ref: input.externalRef,
      metadata: input.metadata ? JSON.stringify(input.metadata) : null,
    })
    .execute();
}

export async function recordConsultationRoom(
  db: Kysely<Database>,
  id: string,
  roomSid: string,
  accountSid: string | undefined,
): Promise<void> {
  await db
    .updateTable('consultations')
    .set({ room_sid: roomSid, ...(accountSid ? { account_sid: accountSid } : {}) })
    .where('id', '=', id)
    .execute();
}

/**
 * Cancels the consultation if it is still `scheduled` or `waiting` (the check and the change are
 * one statement: a callback that starts it meanwhile wins). Returns whether it was cancelled.
 */
export async function cancelOpenConsultation(db: Kysely<Database>, tenantId: string, id: string, now: string): Promise<boolean> {
  const result = await db
    .updateTable('consultations')
    .set({ status: 'cancelled', ended_at: now, updated_at: now, version: sql`version + 1` })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .where('status', 'in', ['scheduled', 'waiting'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** A consultation whose room Twilio could not create: cancelled at once. */
export async function cancelConsultationWithoutRoom(db: Kysely<Database>, id: string, now: string): Promise<void> {
  await db.updateTable('consultations').set({ status: 'cancelled', updated_at: now }).where('id', '=', id).execute();
}
