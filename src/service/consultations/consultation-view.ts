/** The one Consultation model (api/schemas/consultation.ts) built from stored rows. */
import type { Store } from '../../storage/store.js';
import type { ConsultationRow } from '../../storage/schema.js';
import { findTenantConsultation } from '../../storage/consultation-repository.js';
import { loadConsultationDetails } from '../../storage/consultation-view-repository.js';
import type { ConsultationView } from '../api/schemas/consultation.js';

export async function consultationViews(store: Store, rows: readonly ConsultationRow[]): Promise<ConsultationView[]> {
  const details = await loadConsultationDetails(store.db, rows);
  return rows.map((row) => {
    const billing = details.billing.find((record) => record.consultation_id === row.id);
    return {
      id: row.id,
      status: row.status as ConsultationView['status'],
      externalRef: row.external_ref,
      metadata: row.metadata ? (JSON.parse(row.metadata) as Record<string, string>) : {},
      roomSid: row.room_sid,
      roomName: row.room_name,
      record: Boolean(row.record),
      scheduledAt: row.scheduled_at,
      startedAt: row.started_at,
      endedAt: row.ended_at,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      participants: details.participants
        .filter((participant) => participant.consultation_id === row.id)
        .map((participant) => ({
          identity: participant.identity,
          role: participant.role,
          sessions: details.sessions
            .filter((session) => session.consultation_id === row.id && session.identity === participant.identity)
            .map((session) => ({
              participantSid: session.participant_sid,
              connectedAt: session.connected_at,
              disconnectedAt: session.disconnected_at,
            })),
        })),
      timeline: details.timeline
        .filter((entry) => row.room_sid !== null && entry.room_sid === row.room_sid)
        .map((entry) => ({
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
            version: billing.version,
            updatedAt: billing.updated_at ?? billing.created_at,
          }
        : null,
    };
  });
}

/** One consultation of the tenant as the API shows it, or undefined (another tenant's is not found). */
export async function loadConsultationView(store: Store, tenantId: string, id: string): Promise<ConsultationView | undefined> {
  const row = await findTenantConsultation(store.db, tenantId, id);
  return row ? (await consultationViews(store, [row]))[0] : undefined;
}
