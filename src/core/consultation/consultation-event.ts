/**
 * Twilio Video room and composition status callbacks as a typed union, and the key that
 * identifies an event itself (so a retry or a replay, whatever its headers, is recognised as the
 * same event). Parameter names per shared/twilio-reference.md.
 */
import { createHash } from 'node:crypto';

export const ROOM_EVENT_TYPES = ['room-created', 'room-ended'] as const;
export const PARTICIPANT_EVENT_TYPES = ['participant-connected', 'participant-disconnected'] as const;
export const TRACK_EVENT_TYPES = ['track-added', 'track-removed', 'track-enabled', 'track-disabled'] as const;
export const RECORDING_EVENT_TYPES = ['recording-started', 'recording-completed', 'recording-failed'] as const;
export const COMPOSITION_EVENT_TYPES = [
  'composition-enqueued',
  'composition-hook-failed',
  'composition-started',
  'composition-progress',
  'composition-available',
  'composition-failed',
] as const;

export type RoomEventType = (typeof ROOM_EVENT_TYPES)[number];
export type ParticipantEventType = (typeof PARTICIPANT_EVENT_TYPES)[number];
export type TrackEventType = (typeof TRACK_EVENT_TYPES)[number];
export type RecordingEventType = (typeof RECORDING_EVENT_TYPES)[number];
export type CompositionEventType = (typeof COMPOSITION_EVENT_TYPES)[number];
export type VideoEventType = RoomEventType | ParticipantEventType | TrackEventType | RecordingEventType | CompositionEventType;

interface EventBase {
  /** Twilio's `Timestamp`, ms since the epoch: the only order that counts (never arrival order). */
  readonly timestamp: number;
  /** Twilio's `SequenceNumber`: internal, not a true order — only a tie-break. */
  readonly sequenceNumber?: number | undefined;
  readonly roomSid: string;
  readonly accountSid?: string | undefined;
}

export interface RoomEvent extends EventBase {
  readonly type: RoomEventType;
  /** `RoomDuration` (s), on room-ended. Includes idle time: never billed. */
  readonly roomDuration?: number | undefined;
}

export interface ParticipantEvent extends EventBase {
  readonly type: ParticipantEventType;
  readonly participantSid: string;
  readonly identity?: string | undefined;
  /** `ParticipantDuration` (s), on participant-disconnected. */
  readonly participantDuration?: number | undefined;
}

/** Kept (they are accepted callbacks) but change nothing in the record. */
export interface TrackEvent extends EventBase {
  readonly type: TrackEventType;
  readonly participantSid?: string | undefined;
  readonly identity?: string | undefined;
  readonly trackSid?: string | undefined;
  readonly trackKind?: string | undefined;
}

export interface RecordingEvent extends EventBase {
  readonly type: RecordingEventType;
  readonly recordingSid: string;
  readonly participantSid?: string | undefined;
  readonly identity?: string | undefined;
  readonly trackName?: string | undefined;
  readonly mediaUri?: string | undefined;
  /** `Duration` (s), on recording-completed. */
  readonly duration?: number | undefined;
  readonly size?: number | undefined;
  readonly failedOperation?: string | undefined;
}

export interface CompositionEvent extends EventBase {
  readonly type: CompositionEventType;
  /** Absent only on composition-hook-failed, where no composition was made. */
  readonly compositionSid?: string | undefined;
  readonly mediaUri?: string | undefined;
  readonly duration?: number | undefined;
  readonly size?: number | undefined;
  readonly percentageDone?: number | undefined;
  readonly errorMessage?: string | undefined;
}

export type VideoEvent = RoomEvent | ParticipantEvent | TrackEvent | RecordingEvent | CompositionEvent;

export interface VideoEventError {
  readonly error: string;
}

const KIND = new Map<string, 'room' | 'participant' | 'track' | 'recording' | 'composition'>([
  ...ROOM_EVENT_TYPES.map((type) => [type, 'room'] as const),
  ...PARTICIPANT_EVENT_TYPES.map((type) => [type, 'participant'] as const),
  ...TRACK_EVENT_TYPES.map((type) => [type, 'track'] as const),
  ...RECORDING_EVENT_TYPES.map((type) => [type, 'recording'] as const),
  ...COMPOSITION_EVENT_TYPES.map((type) => [type, 'composition'] as const),
]);

// UTC ISO 8601 as Twilio sends it; Date.parse alone would also take "March 1, 2026".
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Turns a callback's form-decoded parameters into a typed event, or says why it cannot.
 *
 * @example
 * parseVideoEvent({ StatusCallbackEvent: 'room-ended', Timestamp: '2026-01-01T10:00:00Z', RoomSid: 'RM1' })
 * // { type: 'room-ended', timestamp: 1767261600000, roomSid: 'RM1', … }
 * parseVideoEvent({ StatusCallbackEvent: 'room-ended' })
 * // { error: 'Timestamp is missing or not ISO 8601' }
 */
export function parseVideoEvent(params: Readonly<Record<string, string>>): VideoEvent | VideoEventError {
  const type = params.StatusCallbackEvent;
  const kind = type === undefined ? undefined : KIND.get(type);
  if (!type || !kind) return { error: `StatusCallbackEvent ${JSON.stringify(type ?? '')} is not a Video room or composition event` };
  const timestamp = ISO_TIMESTAMP.test(params.Timestamp ?? '') ? Date.parse(params.Timestamp!) : Number.NaN;
  if (Number.isNaN(timestamp)) return { error: 'Timestamp is missing or not ISO 8601' };
  const roomSid = text(params.RoomSid);
  if (!roomSid) return { error: 'RoomSid is missing' };
  const sequenceNumber = integer(params.SequenceNumber);
  if (params.SequenceNumber && sequenceNumber === undefined) return { error: 'SequenceNumber is not a whole number' };
  const base = { timestamp, sequenceNumber, roomSid, accountSid: text(params.AccountSid) };

  switch (kind) {
    case 'room':
      return { ...base, type: type as RoomEventType, roomDuration: integer(params.RoomDuration) };
    case 'participant': {
      const participantSid = text(params.ParticipantSid);
      if (!participantSid) return { error: 'ParticipantSid is missing' };
      return {
        ...base,
        type: type as ParticipantEventType,
        participantSid,
        identity: text(params.ParticipantIdentity),
        participantDuration: integer(params.ParticipantDuration),
      };
    }
    case 'track':
      return {
        ...base,
        type: type as TrackEventType,
        participantSid: text(params.ParticipantSid),
        identity: text(params.ParticipantIdentity),
        trackSid: text(params.TrackSid),
        trackKind: text(params.TrackKind),
      };
    case 'recording': {
      const recordingSid = text(params.RecordingSid);
      if (!recordingSid) return { error: 'RecordingSid is missing' };
      return {
        ...base,
        type: type as RecordingEventType,
        recordingSid,
        participantSid: text(params.ParticipantSid),
        identity: text(params.ParticipantIdentity),
        trackName: text(params.TrackName),
        mediaUri: text(params.MediaUri),
        duration: integer(params.Duration),
        size: integer(params.Size),
        failedOperation: text(params.FailedOperation),
      };
    }
    case 'composition': {
      const compositionSid = text(params.CompositionSid);
      if (!compositionSid && type !== 'composition-hook-failed') return { error: 'CompositionSid is missing' };
      return {
        ...base,
        type: type as CompositionEventType,
        compositionSid,
        mediaUri: text(params.MediaUri),
        duration: integer(params.Duration),
        size: integer(params.Size),
        percentageDone: integer(params.PercentageDone),
        errorMessage: text(params.ErrorMessage),
      };
    }
  }
}

/**
 * True for a parsed event, false for a parse error (or anything else).
 *
 * @example events.map(parseVideoEvent).filter(isVideoEvent)
 */
export function isVideoEvent(value: unknown): value is VideoEvent {
  if (typeof value !== 'object' || value === null || 'error' in value) return false;
  const event = value as Partial<VideoEvent>;
  return typeof event.type === 'string' && KIND.has(event.type) && typeof event.timestamp === 'number' && Number.isFinite(event.timestamp);
}

/**
 * What makes an event itself: its account, room or composition, its type, the participant,
 * recording or track it is about, its Timestamp and SequenceNumber (and a progress event's
 * percentage). SHA-256 hex, 64 characters. Headers (idempotency token) are not part of it, so a
 * replay with fresh headers is still the same event. Stable: the inbox's UNIQUE key.
 *
 * @example eventDedupeKey({ RoomSid: 'RM1', StatusCallbackEvent: 'room-ended', Timestamp: '2026-01-01T10:00:00Z' }) // 'e3b0…' (64 hex)
 */
export function eventDedupeKey(params: Readonly<Record<string, string>>): string {
  const parts = [
    params.AccountSid,
    params.RoomSid,
    params.CompositionSid,
    params.StatusCallbackEvent,
    params.ParticipantSid,
    params.RecordingSid,
    params.TrackSid,
    params.Timestamp,
    params.SequenceNumber,
    params.PercentageDone,
  ];
  return createHash('sha256')
    .update(parts.map((part) => part ?? '').join('\u0000'))
    .digest('hex');
}

function text(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function integer(value: string | undefined): number | undefined {
  return value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}
