/** The one Consultation model (api/schemas/consultation.ts) built from stored rows. */
import type { Store } from '../../storage/store.js';
import type { ConsultationRow } from '../../storage/schema.js';
import { findTenantConsultation } from '../../storage/consultation-repository.js';
import { loadConsultationDetails } from '../../storage/consultation-view-repository.js';
import type { ConsultationView } from '../api/schemas/consultation.js';
import { listLobbyEntries } from '../../storage/lobby-repository.js';
import { lobbyEntryView } from './lobby-view.js';
import { listConsents } from '../../storage/consent-repository.js';
import { currentConsents } from './consent-view.js';
import { listConsultationRooms } from '../../storage/consultation-room-repository.js';

export async function consultationViews(store: Store, rows: readonly ConsultationRow[]): Promise<ConsultationView[]> {
  const details = await loadConsultationDetails(store.db, rows);
  const lobby = await listLobbyEntries(
    store.db,
    rows.map((row) => row.id),
  );
  const consents = await listConsents(
    store.db,
    rows.map((row) => row.id),
  );
  const rooms = await listConsultationRooms(
    store.db,
    rows.map((row) => row.id),
  );
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
      durationMinutes: row.duration_minutes ?? null,
      waitingRoom: row.waiting_room === null || row.waiting_room === undefined ? null : Boolean(row.waiting_room),
      patientStatus: row.patient_status === 'new' || row.patient_status === 'established' ? row.patient_status : null,
      noShow: row.no_show_missing
        ? {
            missing: row.no_show_missing as 'clinician' | 'care-recipient' | 'both',
            waitedSeconds: row.no_show_waited_seconds ?? 0,
          }
        : null,
      lobby: lobby.filter((entry) => entry.consultationId === row.id).map(lobbyEntryView),
      rooms: rooms
        .filter((room) => room.consultationId === row.id)
        .map((room) => ({
          sequence: room.sequence,
          roomSid: room.roomSid,
          roomName: room.roomName,
          createdAt: room.createdAt,
          endedAt: room.endedAt,
        })),
      consents: currentConsents(consents.filter((entry) => entry.consultationId === row.id)),
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
      statusHistory: statusHistory(row),
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

type HistoryEntry = ConsultationView['statusHistory'][number];

/**
 * Each status the consultation entered, with the moment (docs/lifecycle.md): `scheduled` at its
 * creation, then each change the fold made at the Timestamp of the event that made it. A status
 * set outside the fold (cancelled by the API) closes the list at the row's last update.
 */
function statusHistory(row: ConsultationRow): HistoryEntry[] {
  const folded = row.status_history
    ? (JSON.parse(row.status_history) as { status: string; at: string | null; source?: string }[])
    : [{ status: 'scheduled', at: null }];
  const history = folded.map((entry, index): HistoryEntry => ({
    status: entry.status as HistoryEntry['status'],
    at: index === 0 ? row.created_at : (entry.at ?? row.updated_at),
    ...(entry.source ? { source: entry.source as NonNullable<HistoryEntry['source']> } : {}),
  }));
  if (history.at(-1)?.status !== row.status) history.push({ status: row.status as HistoryEntry['status'], at: row.updated_at });
  return history;
}

/** One consultation of the tenant as the API shows it, or undefined (another tenant's is not found). */
export async function loadConsultationView(store: Store, tenantId: string, id: string): Promise<ConsultationView | undefined> {
  const row = await findTenantConsultation(store.db, tenantId, id);
  return row ? (await consultationViews(store, [row]))[0] : undefined;
}
