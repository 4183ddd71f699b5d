/**
 * Twilio Video room and composition callbacks as typed events, and the key that identifies an
 * event itself (so a retry or a replay, whatever its headers, is recognised as the same event).
 */
import { createHash } from 'node:crypto';

export type VideoEventType =
  | 'room-created'
  | 'room-ended'
  | 'participant-connected'
  | 'participant-disconnected'
  | 'track-added'
  | 'track-removed'
  | 'track-enabled'
  | 'track-disabled'
  | 'recording-started'
  | 'recording-completed'
  | 'recording-failed'
  | 'composition-enqueued'
  | 'composition-hook-failed'
  | 'composition-started'
  | 'composition-progress'
  | 'composition-available'
  | 'composition-failed';

export interface VideoEvent {
  readonly type: VideoEventType;
  /** Twilio's Timestamp, ms since the epoch: the only order that counts. */
  readonly at: number;
  readonly sequenceNumber: number | undefined;
  readonly roomSid: string | undefined;
  readonly participantSid: string | undefined;
  readonly identity: string | undefined;
  readonly recordingSid: string | undefined;
  readonly trackName: string | undefined;
  readonly compositionSid: string | undefined;
  readonly mediaUri: string | undefined;
  readonly duration: number | undefined;
  readonly size: number | undefined;
}

const TYPES = new Set<string>([
  'room-created',
  'room-ended',
  'participant-connected',
  'participant-disconnected',
  'track-added',
  'track-removed',
  'track-enabled',
  'track-disabled',
  'recording-started',
  'recording-completed',
  'recording-failed',
  'composition-enqueued',
  'composition-hook-failed',
  'composition-started',
  'composition-progress',
  'composition-available',
  'composition-failed',
]);

/**
 * @example parseVideoEvent({ StatusCallbackEvent: 'room-ended', Timestamp: '2026-01-01T10:00:00Z', RoomSid: 'RM1' })?.type === 'room-ended'
 */
export function parseVideoEvent(params: Readonly<Record<string, string>>): VideoEvent | undefined {
  const type = params.StatusCallbackEvent;
  const at = Date.parse(params.Timestamp ?? '');
  if (!type || !TYPES.has(type) || Number.isNaN(at)) return undefined;
  return {
    type: type as VideoEventType,
    at,
    sequenceNumber: integer(params.SequenceNumber),
    roomSid: params.RoomSid || undefined,
    participantSid: params.ParticipantSid || undefined,
    identity: params.ParticipantIdentity || undefined,
    recordingSid: params.RecordingSid || undefined,
    trackName: params.TrackName || undefined,
    compositionSid: params.CompositionSid || undefined,
    mediaUri: params.MediaUri || undefined,
    duration: integer(params.Duration),
    size: integer(params.Size),
  };
}

/**
 * What makes an event itself: its room or composition, its type, the participant, recording or
 * track it is about, its Timestamp and SequenceNumber. SHA-256 hex, 64 characters.
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
  return createHash('sha256').update(parts.map((part) => part ?? '').join('\u0000')).digest('hex');
}

function integer(text: string | undefined): number | undefined {
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}
