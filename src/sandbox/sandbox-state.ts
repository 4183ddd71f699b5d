/**
 * The emulated Twilio Video account: rooms, participants, recordings, compositions, and the
 * status callbacks each lifecycle step sends — with Twilio's parameter names.
 */
import type { FormParam } from '../core/signature/twilio-signature.js';
import type { CallbackSender } from './callback-sender.js';
import { twilioSid } from './twilio-ids.js';

export interface SandboxRoom {
  readonly sid: string;
  readonly uniqueName: string;
  readonly type: string;
  status: 'in-progress' | 'completed';
  readonly statusCallback: string | undefined;
  readonly record: boolean;
  readonly createdAt: Date;
  endedAt: Date | undefined;
  sequence: number;
  readonly participants: Map<string, SandboxParticipant>;
  readonly recordings: SandboxRecording[];
}

export interface SandboxParticipant {
  readonly sid: string;
  readonly identity: string;
  status: 'connected' | 'disconnected';
  readonly connectedAt: Date;
  disconnectedAt: Date | undefined;
}

export interface SandboxRecording {
  readonly sid: string;
  readonly participantSid: string;
  readonly identity: string;
  readonly trackName: string;
  readonly kind: 'audio' | 'video';
  status: 'processing' | 'completed';
  readonly startedAt: Date;
}

export interface SandboxComposition {
  readonly sid: string;
  readonly roomSid: string;
  status: 'enqueued' | 'processing' | 'completed' | 'failed';
  readonly statusCallback: string | undefined;
  readonly createdAt: Date;
}

export class TwilioError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export class SandboxState {
  readonly rooms = new Map<string, SandboxRoom>();
  readonly compositions = new Map<string, SandboxComposition>();
  private failNextComposition = false;

  constructor(
    private readonly accountSid: string,
    private readonly sender: CallbackSender,
    private readonly clock: () => Date,
    private readonly baseUrl: () => string,
  ) {}

  createRoom(input: { uniqueName?: string; type?: string; statusCallback?: string; record?: boolean }): SandboxRoom {
    checkCallbackUrl(input.statusCallback);
    const uniqueName = input.uniqueName || undefined;
    if (uniqueName && [...this.rooms.values()].some((room) => room.uniqueName === uniqueName && room.status === 'in-progress')) {
      throw new TwilioError(400, 53113, 'Room exists');
    }
    const sid = twilioSid('RM');
    const room: SandboxRoom = {
      sid,
      uniqueName: uniqueName ?? sid,
      type: input.type ?? 'group',
      status: 'in-progress',
      statusCallback: input.statusCallback || undefined,
      record: input.record ?? false,
      createdAt: this.clock(),
      endedAt: undefined,
      sequence: 0,
      participants: new Map(),
      recordings: [],
    };
    this.rooms.set(sid, room);
    this.roomEvent(room, 'room-created', []);
    return room;
  }

  findRoom(sidOrName: string): SandboxRoom {
    const room = this.rooms.get(sidOrName) ?? [...this.rooms.values()].reverse().find((candidate) => candidate.uniqueName === sidOrName);
    if (!room) throw new TwilioError(404, 20404, `The requested resource /Rooms/${sidOrName} was not found`);
    return room;
  }

  connect(roomSidOrName: string, identity: string): SandboxParticipant {
    const room = this.findRoom(roomSidOrName);
    if (room.status !== 'in-progress') throw new TwilioError(400, 53118, 'Room is not in progress');
    // A duplicate identity disconnects the earlier participant (Twilio error 53205).
    for (const existing of room.participants.values()) {
      if (existing.identity === identity && existing.status === 'connected') this.disconnect(room.sid, existing.sid);
    }
    const participant: SandboxParticipant = { sid: twilioSid('PA'), identity, status: 'connected', connectedAt: this.clock(), disconnectedAt: undefined };
    room.participants.set(participant.sid, participant);
    this.roomEvent(room, 'participant-connected', this.participantParams(participant));
    for (const kind of ['audio', 'video'] as const) {
      const trackSid = twilioSid('MT');
      this.roomEvent(room, 'track-added', [...this.participantParams(participant), ['TrackSid', trackSid], ['TrackKind', kind]]);
      if (room.record) {
        const recording: SandboxRecording = { sid: twilioSid('RT'), participantSid: participant.sid, identity, trackName: `${kind}-${trackSid.slice(-6)}`, kind, status: 'processing', startedAt: this.clock() };
        room.recordings.push(recording);
        this.roomEvent(room, 'recording-started', this.recordingParams(room, recording));
      }
    }
    return participant;
  }

  disconnect(roomSidOrName: string, participantSidOrIdentity: string): SandboxParticipant {
    const room = this.findRoom(roomSidOrName);
    const participant =
      room.participants.get(participantSidOrIdentity) ??
      [...room.participants.values()].find((candidate) => candidate.identity === participantSidOrIdentity && candidate.status === 'connected');
    if (!participant) throw new TwilioError(404, 20404, `Participant ${participantSidOrIdentity} not found`);
    if (participant.status === 'disconnected') return participant;
    participant.status = 'disconnected';
    participant.disconnectedAt = this.clock();
    const duration = Math.round((participant.disconnectedAt.getTime() - participant.connectedAt.getTime()) / 1000);
    this.roomEvent(room, 'participant-disconnected', [...this.participantParams(participant), ['ParticipantDuration', String(duration)]]);
    for (const recording of room.recordings) {
      if (recording.participantSid === participant.sid && recording.status === 'processing') this.completeRecording(room, recording);
    }
    return participant;
  }

  completeRoom(sidOrName: string): SandboxRoom {
    const room = this.findRoom(sidOrName);
    if (room.status === 'completed') return room;
    for (const participant of room.participants.values()) {
      if (participant.status === 'connected') this.disconnect(room.sid, participant.sid);
    }
    room.status = 'completed';
    room.endedAt = this.clock();
    const duration = Math.round((room.endedAt.getTime() - room.createdAt.getTime()) / 1000);
    this.roomEvent(room, 'room-ended', [['RoomDuration', String(duration)]]);
    return room;
  }

  createComposition(input: { roomSid: string; statusCallback?: string }): SandboxComposition {
    checkCallbackUrl(input.statusCallback);
    const room = this.rooms.get(input.roomSid);
    if (!room) throw new TwilioError(404, 20404, `Room ${input.roomSid} not found`);
    if (room.status !== 'completed') throw new TwilioError(400, 53609, 'Room is not completed; compositions need an ended room');
    const composition: SandboxComposition = { sid: twilioSid('CJ'), roomSid: room.sid, status: 'enqueued', statusCallback: input.statusCallback || undefined, createdAt: this.clock() };
    this.compositions.set(composition.sid, composition);
    const fail = this.failNextComposition;
    this.failNextComposition = false;
    this.compositionEvent(composition, 'composition-enqueued', []);
    composition.status = 'processing';
    this.compositionEvent(composition, 'composition-started', []);
    this.compositionEvent(composition, 'composition-progress', [['PercentageDone', '50'], ['SecondsRemaining', '5']]);
    if (fail) {
      composition.status = 'failed';
      this.compositionEvent(composition, 'composition-failed', [['FailedOperation', 'Composition'], ['ErrorMessage', 'Sandbox: composition failed on request']]);
    } else {
      composition.status = 'completed';
      this.compositionEvent(composition, 'composition-available', [
        ['MediaUri', `/v1/Compositions/${composition.sid}/Media`],
        ['Duration', '60'],
        ['Size', '1048576'],
      ]);
    }
    return composition;
  }

  findComposition(sid: string): SandboxComposition {
    const composition = this.compositions.get(sid);
    if (!composition) throw new TwilioError(404, 20404, `The requested resource /Compositions/${sid} was not found`);
    return composition;
  }

  failNextCompositionRequest(): void {
    this.failNextComposition = true;
  }

  private participantParams(participant: SandboxParticipant): FormParam[] {
    return [
      ['ParticipantSid', participant.sid],
      ['ParticipantStatus', participant.status],
      ['ParticipantIdentity', participant.identity],
    ];
  }

  private recordingParams(room: SandboxRoom, recording: SandboxRecording): FormParam[] {
    return [
      ['RecordingSid', recording.sid],
      ['SourceSid', recording.sid],
      ['RecordingUri', `/v1/Recordings/${recording.sid}`],
      ['Container', recording.kind === 'audio' ? 'mka' : 'mkv'],
      ['Codec', recording.kind === 'audio' ? 'OPUS' : 'VP8'],
      ['Type', recording.kind],
      ['TrackName', recording.trackName],
      ['ParticipantSid', recording.participantSid],
      ['ParticipantIdentity', recording.identity],
      ['OffsetFromTwilioVideoEpoch', String(recording.startedAt.getTime() - room.createdAt.getTime())],
    ];
  }

  private completeRecording(room: SandboxRoom, recording: SandboxRecording): void {
    recording.status = 'completed';
    const duration = Math.round((this.clock().getTime() - recording.startedAt.getTime()) / 1000);
    this.roomEvent(room, 'recording-completed', [
      ...this.recordingParams(room, recording),
      ['MediaUri', `/v1/Recordings/${recording.sid}/Media`],
      ['Duration', String(duration)],
      ['Size', String(duration * 16_000)],
      ['MediaExternalLocation', ''],
    ]);
  }

  private roomEvent(room: SandboxRoom, event: string, extra: FormParam[]): void {
    if (!room.statusCallback) return;
    const params: FormParam[] = [
      ['AccountSid', this.accountSid],
      ['RoomName', room.uniqueName],
      ['RoomSid', room.sid],
      ['RoomStatus', room.status],
      ['RoomType', room.type],
      ['StatusCallbackEvent', event],
      ['Timestamp', this.clock().toISOString()],
      ['SequenceNumber', String(room.sequence++)],
      ...extra,
    ];
    this.sender.send(room.statusCallback, params);
  }

  private compositionEvent(composition: SandboxComposition, event: string, extra: FormParam[]): void {
    if (!composition.statusCallback) return;
    this.sender.send(composition.statusCallback, [
      ['AccountSid', this.accountSid],
      ['RoomSid', composition.roomSid],
      ['CompositionSid', composition.sid],
      ['CompositionUri', `${this.baseUrl()}/v1/Compositions/${composition.sid}`],
      ['StatusCallbackEvent', event],
      ['Timestamp', this.clock().toISOString()],
      ...extra,
    ]);
  }
}

function checkCallbackUrl(url: string | undefined): void {
  if (!url) return;
  try {
    if (/^https?:$/.test(new URL(url).protocol)) return;
  } catch {
    // falls through to the error
  }
  throw new TwilioError(400, 21609, 'StatusCallback must be an http(s) URL');
}
