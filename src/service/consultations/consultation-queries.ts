/** Reads of a tenant's consultation record, always scoped by tenant id. */
import { findConsultationBilling } from '../../storage/billing-repository.js';
import { findTenantConsultation as findTenantConsultationRow } from '../../storage/consultation-repository.js';
import { roomCallbackTimeline } from '../../storage/inbox-repository.js';
import { listConsultationParticipants, listConsultationSessions } from '../../storage/participant-repository.js';
import type { Store } from '../../storage/store.js';

export async function findTenantConsultation(store: Store, tenantId: string, id: string) {
  return findTenantConsultationRow(store.db, tenantId, id);
}

/** The consultation as the API shows it: state, participants with their intervals, timeline. */
export async function loadConsultationView(store: Store, tenantId: string, id: string) {
  const consultation = await findTenantConsultation(store, tenantId, id);
  if (!consultation) return undefined;
  const [participants, sessions, timeline, billing] = await Promise.all([
    listConsultationParticipants(store.db, id),
    listConsultationSessions(store.db, id),
    consultation.room_sid ? roomCallbackTimeline(store.db, consultation.room_sid) : Promise.resolve([]),
    findConsultationBilling(store.db, id),
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
      status: entry.status,
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
