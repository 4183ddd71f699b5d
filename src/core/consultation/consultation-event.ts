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
  /**
   * Where the fact came from: a callback Twilio sent (the default), or Twilio's REST API read by
   * the reconciler. A reconciled fact gives way to a callback of the same fact (factKey).
   */
  readonly source?: EventSource | undefined;
}

/** 'operator': an operator finished the consultation (`roomgate consultation complete`). */
export type EventSource = 'callback' | 'reconciled' | 'operator';

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
  /** Twilio's `Type`: audio, video or data. */
  readonly kind?: string | undefined;
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

/** A callback that is not a Video event Roomgate can apply (see core/webhook/callback-schema.ts). */
export interface VideoEventError {
  readonly error: string;
}

const VIDEO_EVENT_TYPES: ReadonlySet<string> = new Set([
  ...ROOM_EVENT_TYPES,
  ...PARTICIPANT_EVENT_TYPES,
  ...TRACK_EVENT_TYPES,
  ...RECORDING_EVENT_TYPES,
  ...COMPOSITION_EVENT_TYPES,
]);

/**
 * True for a parsed event, false for a parse error (or anything else).
 *
 * @example events.map(parseVideoEvent).filter(isVideoEvent)
 */
export function isVideoEvent(value: unknown): value is VideoEvent {
  if (typeof value !== 'object' || value === null || 'error' in value) return false;
  const event = value as Partial<VideoEvent>;
  return (
    typeof event.type === 'string' &&
    VIDEO_EVENT_TYPES.has(event.type) &&
    typeof event.timestamp === 'number' &&
    Number.isFinite(event.timestamp)
  );
}

/**
 * The fact an event states, whatever its Timestamp or SequenceNumber: a room ends once, a
 * participant connects and disconnects once, a recording or composition reaches each state once.
 * A reconciled fact (REST API, whole seconds, no SequenceNumber) and the callback Twilio sent for
 * it share this key, so the fold keeps the callback and drops the reconciled copy.
 *
 * @example factKey({ type: 'participant-disconnected', participantSid: 'PA1', … }) === 'participant-disconnected PA1'
 */
export function factKey(event: VideoEvent): string {
  const about =
    (event as { participantSid?: string }).participantSid ??
    (event as { recordingSid?: string }).recordingSid ??
    (event as { compositionSid?: string }).compositionSid ??
    '';
  const track = (event as { trackSid?: string }).trackSid ?? '';
  const recording = (event as { recordingSid?: string }).recordingSid;
  return [event.type, recording ?? about, track, event.type === 'composition-progress' ? event.timestamp : ''].join(' ').trimEnd();
}

/**
 * What makes an event itself: its account, room or composition, its type, the participant,
 * recording or track it is about, its Timestamp and SequenceNumber (and a progress event's
 * percentage). SHA-256 hex, 64 characters. Headers (idempotency token) are not part of it, so a
 * replay with fresh headers is still the same event. Stable: the inbox's UNIQUE key. Given the
 * `fields` of a callback that passed the schema (core/webhook/callback-schema.ts) — each present
 * once, well-formed — never raw parameters, which could hold a field twice.
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
