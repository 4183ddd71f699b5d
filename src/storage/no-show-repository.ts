/** The no-show sweep's queries: consultations whose appointment window closed without a visit. */
import type { Kysely } from 'kysely';
import type { Database, IsoTimestamp } from './schema.js';
import { listLobbyEntries } from './lobby-repository.js';

type Db = Kysely<Database>;

/**
 * Up to `limit` consultations whose window closed at or before `now` and that are not named yet:
 * still scheduled or waiting, or a no-show the fold made when Twilio ended the empty room.
 */
export async function listClosedWindowConsultations(db: Db, now: IsoTimestamp, limit: number) {
  return db
    .selectFrom('consultations')
    .select(['id', 'tenant_id', 'room_sid', 'window_closes_at', 'status'])
    .where('window_closes_at', '<=', now)
    .where('status', 'in', ['scheduled', 'waiting', 'no-show'])
    .where('no_show_missing', 'is', null)
    .orderBy('window_closes_at')
    .orderBy('id')
    .limit(limit)
    .execute();
}

/** Everyone who came: sessions with the issued role, and lobby entries (joined to decided/left). */
export async function loadPresences(db: Db, consultationId: string) {
  const sessions = await db
    .selectFrom('participant_sessions')
    .innerJoin('participants', (join) =>
      join
        .onRef('participants.consultation_id', '=', 'participant_sessions.consultation_id')
        .onRef('participants.identity', '=', 'participant_sessions.identity'),
    )
    .select(['participants.role', 'participant_sessions.connected_at', 'participant_sessions.disconnected_at'])
    .where('participant_sessions.consultation_id', '=', consultationId)
    .execute();
  const lobby = await listLobbyEntries(db, [consultationId]);
  return [
    ...sessions.map((s) => ({ role: s.role, from: s.connected_at, to: s.disconnected_at })),
    ...lobby.map((entry) => ({ role: entry.role, from: entry.joinedAt, to: entry.decidedAt ?? entry.leftAt })),
  ];
}

/**
 * Marks the no-show unless the consultation moved on meanwhile (compare-and-set on its status):
 * two instances sweeping at once mark it once. True when this call marked it.
 */
export async function markNoShow(
  db: Db,
  id: string,
  verdict: { missing: string; waitedSeconds: number; endedAt: IsoTimestamp; now: IsoTimestamp },
): Promise<boolean> {
  const result = await db
    .updateTable('consultations')
    .set((eb) => ({
      status: 'no-show',
      // The fold's own no-show (the room ended first) keeps the room's end.
      ended_at: eb.fn.coalesce('ended_at', eb.val(verdict.endedAt)),
      no_show_missing: verdict.missing,
      no_show_waited_seconds: verdict.waitedSeconds,
      // No room follows a named no-show (rejoining): the fold's close.
      closed_at: eb.fn.coalesce('closed_at', eb.val(verdict.endedAt)),
      updated_at: verdict.now,
      version: eb('version', '+', 1),
    }))
    .where('id', '=', id)
    .where('status', 'in', ['scheduled', 'waiting', 'no-show'])
    .where('no_show_missing', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Who a consultation's named no-show missed, or null (not named). */
export async function findNoShowMissing(db: Db, id: string): Promise<string | null> {
  return (await db.selectFrom('consultations').select('no_show_missing').where('id', '=', id).executeTakeFirst())?.no_show_missing ?? null;
}
