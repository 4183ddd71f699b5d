/**
 * The typed event the fold walks, built from a callback that passed the schema — the fold reads
 * the same parse as freshness, the dedupe key and screening (core/webhook/callback-schema.ts).
 */
import { parseCallback, type CallbackParam, type ParsedCallback } from '../webhook/callback-schema.js';
import type {
  CompositionEventType,
  ParticipantEventType,
  RecordingEventType,
  RoomEventType,
  TrackEventType,
  VideoEvent,
  VideoEventError,
} from './consultation-event.js';

/**
 * @example toVideoEvent(parsed) // { type: 'room-ended', timestamp: 1767261600000, roomSid: 'RM…', sequenceNumber: 7, … }
 */
export function toVideoEvent(callback: ParsedCallback): VideoEvent {
  const fields = callback.fields;
  const base = {
    timestamp: callback.timestamp,
    sequenceNumber: whole(fields.SequenceNumber),
    roomSid: callback.roomSid,
    accountSid: callback.accountSid,
  };
  switch (callback.kind) {
    case 'room':
      return { ...base, type: callback.event as RoomEventType, roomDuration: whole(fields.RoomDuration) };
    case 'participant':
      return {
        ...base,
        type: callback.event as ParticipantEventType,
        participantSid: fields.ParticipantSid!,
        identity: fields.ParticipantIdentity,
        participantDuration: whole(fields.ParticipantDuration),
      };
    case 'track':
      return {
        ...base,
        type: callback.event as TrackEventType,
        participantSid: fields.ParticipantSid,
        identity: fields.ParticipantIdentity,
        trackSid: fields.TrackSid,
        trackKind: fields.TrackKind,
      };
    case 'recording':
      return {
        ...base,
        type: callback.event as RecordingEventType,
        recordingSid: fields.RecordingSid!,
        participantSid: fields.ParticipantSid,
        identity: fields.ParticipantIdentity,
        trackName: fields.TrackName,
        kind: fields.Type,
        mediaUri: fields.MediaUri,
        duration: whole(fields.Duration),
        size: whole(fields.Size),
        failedOperation: fields.FailedOperation,
      };
    case 'composition':
      return {
        ...base,
        type: callback.event as CompositionEventType,
        compositionSid: fields.CompositionSid,
        mediaUri: fields.MediaUri,
        duration: whole(fields.Duration),
        size: whole(fields.Size),
        percentageDone: whole(fields.PercentageDone),
        errorMessage: fields.ErrorMessage,
      };
  }
}

/**
 * Parses stored or received parameters into a typed event, or says why it is not one (the
 * schema's reason). A record is taken as its entries (one value per name).
 *
 * @example parseVideoEvent(JSON.parse(row.params)) // VideoEvent | { error: 'schema-missing-field:Timestamp' }
 */
export function parseVideoEvent(params: readonly CallbackParam[] | Readonly<Record<string, string>>): VideoEvent | VideoEventError {
  const parse = parseCallback(Array.isArray(params) ? (params as readonly CallbackParam[]) : Object.entries(params));
  return parse.ok ? toVideoEvent(parse) : { error: parse.reason };
}

/** Fields the schema checked as canonical digits. */
function whole(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}
