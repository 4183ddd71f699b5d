/**
 * The emulator's state as Twilio's REST API shows it: snake_case fields, `url` and `links`
 * (pointing at the sandbox, so a client that follows them stays in the sandbox), and dates as
 * Twilio writes them (ISO 8601, whole seconds, `Z`).
 */
import type { SandboxComposition, SandboxParticipant, SandboxRecording, SandboxRoom } from './video-emulator.js';

export function twilioDate(date: Date | undefined): string | null {
  return date ? date.toISOString().replace(/\.\d{3}Z$/, 'Z') : null;
}

export function roomResource(base: string, accountSid: string, room: SandboxRoom) {
  const url = `${base}/v1/Rooms/${room.sid}`;
  return {
    sid: room.sid,
    account_sid: accountSid,
    unique_name: room.uniqueName,
    status: room.status,
    type: room.type,
    date_created: twilioDate(room.dateCreated),
    date_updated: twilioDate(room.dateUpdated),
    end_time: twilioDate(room.endTime),
    duration: room.duration ?? null,
    status_callback: room.statusCallback ?? null,
    status_callback_method: room.statusCallbackMethod,
    record_participants_on_connect: room.recordParticipantsOnConnect,
    max_participants: room.maxParticipants,
    max_participant_duration: room.maxParticipantDuration ?? 14_400,
    max_concurrent_published_tracks: room.type === 'go' || room.type === 'peer-to-peer' ? null : 170,
    empty_room_timeout: room.emptyRoomTimeout,
    unused_room_timeout: room.unusedRoomTimeout,
    enable_turn: true,
    video_codecs: room.type === 'go' || room.type === 'peer-to-peer' ? null : ['VP8'],
    media_region: 'us1',
    audio_only: false,
    large_room: false,
    url,
    links: {
      participants: `${url}/Participants`,
      recordings: `${url}/Recordings`,
      recording_rules: `${url}/RecordingRules`,
    },
  };
}

export function participantResource(base: string, accountSid: string, participant: SandboxParticipant) {
  const url = `${base}/v1/Rooms/${participant.roomSid}/Participants/${participant.sid}`;
  return {
    sid: participant.sid,
    room_sid: participant.roomSid,
    account_sid: accountSid,
    identity: participant.identity,
    status: participant.status,
    date_created: twilioDate(participant.startTime),
    date_updated: twilioDate(participant.endTime ?? participant.startTime),
    start_time: twilioDate(participant.startTime),
    end_time: twilioDate(participant.endTime),
    duration: participant.duration ?? null,
    url,
    links: {
      published_tracks: `${url}/PublishedTracks`,
      subscribed_tracks: `${url}/SubscribedTracks`,
      subscribe_rules: `${url}/SubscribeRules`,
      anonymize: `${url}/Anonymize`,
    },
  };
}

export function recordingResource(base: string, accountSid: string, recording: SandboxRecording) {
  const url = `${base}/v1/Recordings/${recording.sid}`;
  return {
    sid: recording.sid,
    account_sid: accountSid,
    status: recording.status,
    date_created: twilioDate(recording.dateCreated),
    source_sid: recording.trackSid,
    size: recording.size ?? 0,
    duration: recording.duration ?? null,
    type: recording.type,
    container: recording.container,
    codec: recording.codec,
    track_name: recording.trackName,
    offset: recording.offset,
    grouping_sids: { room_sid: recording.roomSid, participant_sid: recording.participantSid },
    media_external_location: null,
    status_callback: null,
    status_callback_method: 'POST',
    url,
    links: { media: `${url}/Media` },
  };
}

export function compositionResource(base: string, accountSid: string, composition: SandboxComposition) {
  const url = `${base}/v1/Compositions/${composition.sid}`;
  return {
    sid: composition.sid,
    account_sid: accountSid,
    room_sid: composition.roomSid,
    status: composition.status,
    date_created: twilioDate(composition.dateCreated),
    date_completed: twilioDate(composition.dateCompleted),
    date_deleted: null,
    audio_sources: composition.audioSources,
    audio_sources_excluded: composition.audioSourcesExcluded,
    video_layout: composition.videoLayout,
    resolution: composition.resolution,
    trim: composition.trim,
    format: composition.format,
    bitrate: composition.bitrate,
    size: composition.size,
    duration: composition.duration,
    media_external_location: null,
    status_callback: composition.statusCallback ?? null,
    status_callback_method: composition.statusCallbackMethod,
    url,
    links: { media: `${url}/Media` },
  };
}
