/**
 * What the API's Consultation model needs besides the consultation rows — participants, sessions,
 * billing — for a whole page of consultations in three queries, never one consultation at a time.
 * (Its status history is a column of the row; the raw callbacks are a separate paged list.)
 */
import type { Kysely } from 'kysely';
import type { ConsultationRow, Database } from './schema.js';

/** What the view needs besides the consultation rows, for all of them at once. */
export async function loadConsultationDetails(db: Kysely<Database>, consultations: readonly ConsultationRow[]) {
  const ids = consultations.map((row) => row.id);
  if (ids.length === 0) return { participants: [], sessions: [], billing: [] };
  const [participants, sessions, billing] = await Promise.all([
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
    db
      .selectFrom('billing_records')
      .select(['consultation_id', 'id', 'billable_seconds', 'rounded_seconds', 'version', 'created_at', 'updated_at'])
      .where('consultation_id', 'in', ids)
      .execute(),
  ]);
  return { participants, sessions, billing };
}
