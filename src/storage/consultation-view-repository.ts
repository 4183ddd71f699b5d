/**
 * What the API's Consultation model needs besides the consultation rows — participants, sessions,
 * timeline, billing — for a whole page of consultations in four queries, never one consultation
 * at a time.
 */
import type { Kysely } from 'kysely';
import type { ConsultationRow, Database } from './schema.js';

/** What the view needs besides the consultation rows, for all of them at once. */
export async function loadConsultationDetails(db: Kysely<Database>, consultations: readonly ConsultationRow[]) {
  const ids = consultations.map((row) => row.id);
  const roomSids = consultations.flatMap((row) => (row.room_sid ? [row.room_sid] : []));
  if (ids.length === 0) return { participants: [], sessions: [], timeline: [], billing: [] };
  const [participants, sessions, timeline, billing] = await Promise.all([
    db
      .selectFrom('participants')
      .select(['consultation_id', 'identity', 'role'])
      .where('consultation_id', 'in', ids)
      .orderBy('identity')
      .execute(),
    db
      .selectFrom('participant_sessions')
      .select(['consultation_id', 'participant_sid', 'identity', 'connected_at', 'disconnected_at'])
      .where('consultation_id', 'in', ids)
      .orderBy('connected_at')
      .execute(),
    roomSids.length === 0
      ? Promise.resolve([])
      : db
          .selectFrom('callbacks')
          .select(['room_sid', 'event_type', 'event_timestamp', 'participant_identity', 'status', 'held', 'source'])
          .where('room_sid', 'in', roomSids)
          .orderBy('event_timestamp')
          .orderBy('id')
          .execute(),
    db
      .selectFrom('billing_records')
      .select(['consultation_id', 'id', 'billable_seconds', 'rounded_seconds', 'version', 'created_at', 'updated_at'])
      .where('consultation_id', 'in', ids)
      .execute(),
  ]);
  return { participants, sessions, timeline, billing };
}
