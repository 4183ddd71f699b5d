/**
 * Rejoining (issue 19): inside its appointment window, a consultation whose current room has
 * ended (a dropped call, Twilio's empty-room timeout, a room made long before the slot that
 * timed out unused) gets a new room on the next token request. The next room is claimed first
 * (UNIQUE consultation + sequence): of two requests racing, one creates it at Twilio and both sign
 * for its name. The room is created with the consultation's status callback and recording, and a
 * MaxParticipantDuration fitting what is left of the window. The consultation goes on: the fold
 * sums its rooms (core/consultation/consultation-state.ts).
 */
import type { ConsentMode } from '../../core/consultation/consent.js';
import { maxParticipantDurationSeconds, type AppointmentWindow } from '../../core/consultation/appointment-window.js';
import { claimNextRoom, listConsultationRooms, makeCurrentRoom, releaseRoomClaim } from '../../storage/consultation-room-repository.js';
import { appendTenantEvents } from '../../storage/event-log-repository.js';
import { retryRowConflicts } from '../../storage/row-conflict-retry.js';
import type { Store } from '../../storage/store.js';
import type { TwilioRestClient } from '../twilio/twilio-rest-client.js';
import { twilioFailure } from '../twilio/twilio-failure.js';

export interface RoomReopenerOptions {
  readonly store: Store;
  readonly twilio: Pick<TwilioRestClient, 'createRoom'>;
  readonly statusCallbackUrl: () => string;
}

interface ConsultationForRoom {
  readonly id: string;
  readonly tenant_id: string;
  readonly room_name: string;
  readonly room_sid: string | null;
  readonly record: number;
  /** The tenant's consent mode: a room whose recording follows consent starts recording nothing. */
  readonly consentMode?: ConsentMode;
}

/**
 * The name of the room a token should be signed for: the current one while it is live, else a
 * new one (created here). Only for a consultation with a window, inside it (the caller checked).
 */
export async function roomToJoin(
  options: RoomReopenerOptions,
  consultation: ConsultationForRoom,
  window: AppointmentWindow,
  now: Date,
): Promise<{ roomName: string; reopened: boolean }> {
  const rooms = await listConsultationRooms(options.store.db, [consultation.id]);
  const current = rooms.find((room) => room.roomName === consultation.room_name) ?? rooms.at(-1);
  // Live, or still being created by another request (no SID yet): join it.
  if (!current || current.endedAt === null) return { roomName: consultation.room_name, reopened: false };
  const latest = rooms.at(-1)!;
  if (latest.sequence > current.sequence) return { roomName: latest.roomName, reopened: false };

  const sequence = latest.sequence + 1;
  const roomName = `rg-${consultation.id}-${sequence}`;
  // Both writes run again when they lost a row conflict (a fold or a sweep held the consultation's
  // rows past the lock timeout): the claim is insert-if-absent, the last one a whole transaction,
  // and a 503 after Twilio made the room would leave it claimed but never current.
  const claimed = await retryRowConflicts(() =>
    claimNextRoom(options.store.db, { consultationId: consultation.id, sequence, roomName, now: now.toISOString() }),
  );
  if (!claimed) {
    const winner = (await listConsultationRooms(options.store.db, [consultation.id])).find((room) => room.sequence === sequence);
    return { roomName: winner?.roomName ?? roomName, reopened: false };
  }
  // What is left of the window, within Twilio's bounds.
  const maxParticipantDuration = maxParticipantDurationSeconds({ opensAt: now, closesAt: window.closesAt });
  let room;
  try {
    room = await options.twilio.createRoom({
      uniqueName: roomName,
      statusCallback: options.statusCallbackUrl(),
      // Recording that follows consent: nothing until the first join sets the rules (docs/consent.md).
      recordParticipantsOnConnect: Boolean(consultation.record) && (consultation.consentMode ?? 'off') === 'off',
      ...(maxParticipantDuration !== undefined ? { maxParticipantDuration } : {}),
    });
  } catch (error) {
    await releaseRoomClaim(options.store.db, roomName);
    throw twilioFailure(error, 'Twilio could not create the consultation’s next room.');
  }
  await retryRowConflicts(() =>
    options.store.transaction(async (trx) => {
      await makeCurrentRoom(trx, consultation.id, { roomName, roomSid: room.sid });
      await appendTenantEvents(trx, [
        {
          tenantId: consultation.tenant_id,
          consultationId: consultation.id,
          type: 'consultation.room_opened',
          at: now.toISOString(),
          data: { roomSid: room.sid, roomName, sequence },
        },
      ]);
    }),
  );
  return { roomName, reopened: true };
}
