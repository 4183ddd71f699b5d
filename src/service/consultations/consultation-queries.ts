/** Reads of a tenant's consultation record, always scoped by tenant id. */
import type { Store } from '../../storage/store.js';

export async function findTenantConsultation(store: Store, tenantId: string, id: string) {
  return store.db.selectFrom('consultations').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
}

/** The consultation as the API shows it: state, participants with their intervals, timeline. */
export async function loadConsultationView(store: Store, tenantId: string, id: string) {
  const consultation = await findTenantConsultation(store, tenantId, id);
  if (!consultation) return undefined;
  const [participants, sessions, timeline, billing] = await Promise.all([
    store.db.selectFrom('participants').select(['identity', 'role']).where('consultation_id', '=', id).orderBy('identity').execute(),
    store.db
      .selectFrom('participant_sessions')
      .select(['participant_sid', 'identity', 'connected_at', 'disconnected_at'])
      .where('consultation_id', '=', id)
      .orderBy('connected_at')
      .execute(),
    consultation.room_sid
      ? store.db
          .selectFrom('callbacks')
          .select(['event_type', 'event_timestamp', 'participant_identity', 'status', 'held', 'source'])
          .where('room_sid', '=', consultation.room_sid)
          .orderBy('event_timestamp')
          .orderBy('id')
          .execute()
      : Promise.resolve([]),
    store.db
      .selectFrom('billing_records')
      .select(['id', 'billable_seconds', 'rounded_seconds', 'created_at'])
      .where('consultation_id', '=', id)
      .executeTakeFirst(),
  ]);
  return {
    id: consultation.id,
    status: consultation.status,
    roomSid: consultation.room_sid,
    roomName: consultation.room_name,
    record: Boolean(consultation.record),
    scheduledAt: consultation.scheduled_at,
    startedAt: consultation.started_at,
    endedAt: consultation.ended_at,
    createdAt: consultation.created_at,
    participants: participants.map((participant) => ({
      identity: participant.identity,
      role: participant.role,
      sessions: sessions
        .filter((session) => session.identity === participant.identity)
        .map((session) => ({
          participantSid: session.participant_sid,
          connectedAt: session.connected_at,
          disconnectedAt: session.disconnected_at,
        })),
    })),
    timeline: timeline.map((entry) => ({
      event: entry.event_type,
      at: entry.event_timestamp,
      identity: entry.participant_identity,
      // A late callback not yet confirmed shows as 'late' (stored, not applied).
      status: entry.held ?? entry.status,
      // 'callback' (Twilio sent it), 'reconciled' (read from Twilio's REST API) or 'operator'.
      source: entry.source,
    })),
    billing: billing
      ? {
          id: billing.id,
          billableSeconds: billing.billable_seconds,
          roundedSeconds: billing.rounded_seconds,
          recordedAt: billing.created_at,
        }
      : null,
  };
}
