/**
 * The state of the emulated Twilio Video account — rooms, participants, tracks, recordings,
 * compositions — and the status callbacks each change causes, in the order Twilio sends them.
 * No HTTP here: the REST and control routes and the Sandbox object call into this.
 */
import { randomUUID } from 'node:crypto';
import type { FormParam } from '../core/signature/twilio-signature.js';
import type { SandboxClock } from './sandbox-clock.js';
import { invalidParameter, notFound, SANDBOX_ERROR_CODES as E, SandboxTwilioError } from './sandbox-errors.js';
import { twilioSid } from './twilio-ids.js';

export type RoomType = 'group' | 'group-small' | 'peer-to-peer' | 'go';
export type TrackKind = 'audio' | 'video';
export type CallbackMethod = 'POST' | 'GET';

export interface SandboxRecording {
  readonly sid: string;
  readonly roomSid: string;
  readonly participantSid: string;
  readonly participantIdentity: string;
  readonly trackSid: string;
  readonly trackName: string;
  readonly type: TrackKind;
  readonly container: 'mka' | 'mkv';
  readonly codec: 'opus' | 'VP8';
  readonly status: 'processing' | 'completed';
  readonly dateCreated: Date;
  readonly dateCompleted: Date | undefined;
  /** Seconds, once completed. */
  readonly duration: number | undefined;
  /** Bytes, once completed. */
  readonly size: number | undefined;
  /** Milliseconds from the room's creation to the start of this recording. */
  readonly offset: number;
}

export interface SandboxTrack {
  readonly sid: string;
  readonly kind: TrackKind;
  readonly name: string;
  readonly recordingSid: string | undefined;
}

export interface SandboxParticipant {
  readonly sid: string;
  readonly roomSid: string;
  readonly identity: string;
  readonly status: 'connected' | 'disconnected';
  readonly startTime: Date;
  readonly endTime: Date | undefined;
  /** Seconds, once disconnected. */
  readonly duration: number | undefined;
  readonly tracks: readonly SandboxTrack[];
}

/** One of Twilio's Recording Rules: include or exclude the tracks every given filter matches. */
export interface SandboxRecordingRule {
  readonly type: 'include' | 'exclude';
  readonly all?: true;
  readonly kind?: 'audio' | 'video' | 'data';
  readonly publisher?: string;
  readonly track?: string;
}

export interface SandboxRoom {
  readonly sid: string;
  readonly uniqueName: string;
  readonly type: RoomType;
  readonly status: 'in-progress' | 'completed';
  readonly statusCallback: string | undefined;
  readonly statusCallbackMethod: CallbackMethod;
  readonly recordParticipantsOnConnect: boolean;
  /** Minutes. */
  readonly emptyRoomTimeout: number;
  /** Minutes. */
  readonly unusedRoomTimeout: number;
  readonly maxParticipants: number;
  /** Seconds a participant may stay (MaxParticipantDuration); absent → Twilio's default, 14,400. */
  readonly maxParticipantDuration?: number;
  readonly dateCreated: Date;
  readonly dateUpdated: Date;
  readonly endTime: Date | undefined;
  /** Seconds, once completed. */
  readonly duration: number | undefined;
  readonly participants: readonly SandboxParticipant[];
  readonly recordings: readonly SandboxRecording[];
  /**
   * The Recording Rules in force: a track is recorded while some include rule and no exclude
   * rule matches it. RecordParticipantsOnConnect=true starts with include-all, else exclude-all.
   * Absent in a state file from before rules: from recordParticipantsOnConnect.
   */
  readonly recordingRules?: readonly SandboxRecordingRule[];
  /** When the rules were last set. */
  readonly recordingRulesUpdated?: Date;
  /** SequenceNumber of the last room callback (-1 before the first). */
  readonly lastSequenceNumber: number;
}

export interface SandboxComposition {
  readonly sid: string;
  readonly roomSid: string;
  readonly status: 'enqueued' | 'processing' | 'completed' | 'failed';
  readonly format: 'mp4' | 'webm';
  readonly resolution: string;
  readonly trim: boolean;
  readonly audioSources: readonly string[];
  readonly audioSourcesExcluded: readonly string[];
  readonly videoLayout: unknown;
  /** The room's recordings the sources (track names, `*` wildcards) select, less the excluded. */
  readonly sourceRecordingSids: readonly string[];
  readonly statusCallback: string | undefined;
  readonly statusCallbackMethod: CallbackMethod;
  readonly dateCreated: Date;
  readonly dateCompleted: Date | undefined;
  readonly duration: number;
  readonly size: number;
  readonly bitrate: number;
  readonly errorMessage: string | undefined;
}

export interface CreateRoomInput {
  readonly uniqueName?: string;
  readonly type?: string;
  readonly statusCallback?: string;
  readonly statusCallbackMethod?: string;
  readonly recordParticipantsOnConnect?: boolean;
  readonly emptyRoomTimeout?: number;
  readonly unusedRoomTimeout?: number;
  readonly maxParticipants?: number;
  readonly maxParticipantDuration?: number;
}

export interface CreateCompositionInput {
  readonly roomSid: string;
  readonly audioSources?: readonly string[];
  readonly audioSourcesExcluded?: readonly string[];
  /** Already parsed from its JSON text. */
  readonly videoLayout?: unknown;
  readonly format?: string;
  readonly resolution?: string;
  readonly trim?: boolean;
  readonly statusCallback?: string;
  readonly statusCallbackMethod?: string;
}

/** Where callbacks go; the CallbackSender in production, a recorder in unit tests. */
export interface CallbackSink {
  send(configuredUrl: string, method: CallbackMethod, params: readonly FormParam[]): void;
}

export interface VideoEmulatorOptions {
  readonly accountSid: string;
  readonly clock: SandboxClock;
  readonly callbacks: CallbackSink;
  /** Real milliseconds between a composition's steps. Default 20. */
  readonly compositionStepMs?: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? Mutable<U>[] : T[K] };
type RoomState = Mutable<SandboxRoom>;
type ParticipantState = Mutable<SandboxParticipant>;
type RecordingState = Mutable<SandboxRecording>;
type CompositionState = Mutable<SandboxComposition>;

const ROOM_TYPES: readonly RoomType[] = ['group', 'group-small', 'peer-to-peer', 'go'];
const MAX_PARTICIPANTS: Record<RoomType, number> = { group: 50, 'group-small': 4, 'peer-to-peer': 10, go: 2 };
// Plausible bitrates, only so that Size grows with Duration.
const BYTES_PER_SECOND: Record<TrackKind, number> = { audio: 4_000, video: 62_500 };
const COMPOSITION_BYTES_PER_SECOND = 125_000;
const CONTAINER_HEADER_BYTES = 1_024;

export class VideoEmulator {
  private readonly roomStates = new Map<string, RoomState>();
  private readonly compositionStates = new Map<string, CompositionState>();
  private readonly jobs = new Set<Promise<void>>();
  private readonly pauses = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private failNext: string[] = [];
  private stuckNext = 0;
  private readonly stuckSids = new Set<string>();
  private closed = false;

  constructor(private readonly options: VideoEmulatorOptions) {}

  // ---- rooms ---------------------------------------------------------------------------

  createRoom(input: CreateRoomInput): SandboxRoom {
    const type = (input.type ?? 'group') as RoomType;
    if (!ROOM_TYPES.includes(type)) throw invalidParameter(`Type must be one of ${ROOM_TYPES.join(', ')}`);
    const recording = input.recordParticipantsOnConnect ?? false;
    if (recording && (type === 'go' || type === 'peer-to-peer')) {
      throw new SandboxTwilioError(400, E.ROOM_PARAMETERS_INCOMPATIBLE, `RecordParticipantsOnConnect is not supported for ${type} rooms`);
    }
    const method = callbackMethod(input.statusCallbackMethod);
    if (input.statusCallback !== undefined && input.statusCallback !== '') checkCallbackUrl(input.statusCallback);
    const emptyRoomTimeout = minutes('EmptyRoomTimeout', input.emptyRoomTimeout);
    const unusedRoomTimeout = minutes('UnusedRoomTimeout', input.unusedRoomTimeout);
    const maxParticipants = input.maxParticipants ?? MAX_PARTICIPANTS[type];
    if (!Number.isInteger(maxParticipants) || maxParticipants < 1 || maxParticipants > MAX_PARTICIPANTS[type]) {
      throw invalidParameter(`MaxParticipants must be between 1 and ${MAX_PARTICIPANTS[type]} for ${type} rooms`);
    }
    const maxParticipantDuration = input.maxParticipantDuration ?? 14_400;
    if (!Number.isInteger(maxParticipantDuration) || maxParticipantDuration < 600 || maxParticipantDuration > 86_400) {
      throw invalidParameter('MaxParticipantDuration must be between 600 and 86400 seconds');
    }
    const sid = twilioSid('RM');
    const uniqueName = input.uniqueName || sid;
    if (uniqueName.length > 128) throw invalidParameter('UniqueName must be at most 128 characters');
    if (this.findInProgress(uniqueName)) {
      throw new SandboxTwilioError(400, E.ROOM_EXISTS, `Room exists: a room named ${uniqueName} is in progress`);
    }
    const now = this.now();
    const room: RoomState = {
      sid,
      uniqueName,
      type,
      status: 'in-progress',
      statusCallback: input.statusCallback || undefined,
      statusCallbackMethod: method,
      recordParticipantsOnConnect: recording,
      emptyRoomTimeout,
      unusedRoomTimeout,
      maxParticipants,
      maxParticipantDuration,
      dateCreated: now,
      dateUpdated: now,
      endTime: undefined,
      duration: undefined,
      participants: [],
      recordings: [],
      recordingRules: [{ type: recording ? 'include' : 'exclude', all: true }],
      recordingRulesUpdated: now,
      lastSequenceNumber: -1,
    };
    this.roomStates.set(sid, room);
    this.emitRoom(room, 'room-created', []);
    return this.snapshotRoom(room);
  }

  /** By SID (any status), or by UniqueName (in-progress rooms only, as Twilio). */
  getRoom(sidOrUniqueName: string): SandboxRoom | undefined {
    const room = this.roomStates.get(sidOrUniqueName) ?? this.findInProgress(sidOrUniqueName);
    return room && this.snapshotRoom(room);
  }

  /** Every room by SID, as snapshots (changing them changes nothing). */
  get rooms(): ReadonlyMap<string, SandboxRoom> {
    return new Map([...this.roomStates.values()].map((room) => [room.sid, this.snapshotRoom(room)]));
  }

  /** Every composition by SID, as snapshots. */
  get compositions(): ReadonlyMap<string, SandboxComposition> {
    return new Map([...this.compositionStates.values()].map((c) => [c.sid, { ...c }]));
  }

  listRooms(): SandboxRoom[] {
    return [...this.roomStates.values()].map((room) => this.snapshotRoom(room));
  }

  /** Ends the room as `POST /v1/Rooms/{sid}` with `Status=completed` does. */
  completeRoom(sidOrUniqueName: string): SandboxRoom {
    const room = this.requireRoom(sidOrUniqueName);
    if (room.status !== 'in-progress') {
      throw new SandboxTwilioError(400, E.ROOM_STATUS_INVALID, `Room ${room.sid} is not in-progress`);
    }
    this.endRoom(room);
    return this.snapshotRoom(room);
  }

  // ---- participants -------------------------------------------------------------------

  /**
   * A participant joins (as a client SDK would) and publishes its tracks. A duplicate identity
   * disconnects the earlier participant first (Twilio 53205).
   */
  connectParticipant(input: { room: string; identity: string; tracks?: readonly TrackKind[] }): SandboxParticipant {
    const room = this.requireRoom(input.room);
    if (room.status !== 'in-progress') throw new SandboxTwilioError(400, E.ROOM_COMPLETED, `Room ${room.sid} is completed`);
    const identity = input.identity;
    if (typeof identity !== 'string' || identity.length === 0 || Buffer.byteLength(identity) > 128) {
      throw invalidParameter('Identity must be 1 to 128 bytes');
    }
    const earlier = room.participants.find((p) => p.status === 'connected' && p.identity === identity);
    if (earlier) this.disconnect(room, earlier);
    if (room.participants.filter((p) => p.status === 'connected').length >= room.maxParticipants) {
      throw new SandboxTwilioError(400, E.ROOM_FULL, `Room ${room.sid} contains ${room.maxParticipants} participants already`);
    }
    const now = this.now();
    const participant: ParticipantState = {
      sid: twilioSid('PA'),
      roomSid: room.sid,
      identity,
      status: 'connected',
      startTime: now,
      endTime: undefined,
      duration: undefined,
      tracks: [],
    };
    room.participants.push(participant);
    room.dateUpdated = now;
    this.emitRoom(room, 'participant-connected', participantParams(participant));
    for (const kind of input.tracks ?? (['audio', 'video'] as const)) {
      const track = { sid: twilioSid('MT'), kind, name: randomUUID(), recordingSid: undefined as string | undefined };
      participant.tracks.push(track);
      this.emitRoom(room, 'track-added', [...participantParams(participant), ...trackParams(track)]);
      if (recorded(rulesOf(room), participant, track)) this.startRecording(room, participant, track);
    }
    return this.snapshotParticipant(participant);
  }

  /** A participant leaves: its tracks end, then it disconnects, then its recordings complete. */
  disconnectParticipant(input: { room: string; participant: string }): SandboxParticipant {
    const room = this.requireRoom(input.room);
    const participant =
      room.participants.find((p) => p.sid === input.participant) ??
      room.participants.find((p) => p.status === 'connected' && p.identity === input.participant);
    if (!participant) throw notFound(`/Rooms/${room.sid}/Participants/${input.participant}`);
    if (participant.status !== 'connected') {
      throw new SandboxTwilioError(400, E.ROOM_STATUS_INVALID, `Participant ${participant.sid} is not connected`);
    }
    this.disconnect(room, participant);
    return this.snapshotParticipant(participant);
  }

  getParticipant(room: string, participant: string): SandboxParticipant | undefined {
    const state = this.roomStates.get(room) ?? this.findInProgress(room);
    const found = state?.participants.find((p) => p.sid === participant || (p.status === 'connected' && p.identity === participant));
    return found && this.snapshotParticipant(found);
  }

  getRecording(sid: string): SandboxRecording | undefined {
    for (const room of this.roomStates.values()) {
      const recording = room.recordings.find((r) => r.sid === sid);
      if (recording) return { ...recording };
    }
    return undefined;
  }

  // ---- recording rules ---------------------------------------------------------------

  /** The rules in force (`GET /v1/Rooms/{sid}/RecordingRules`). */
  getRecordingRules(sidOrUniqueName: string): { roomSid: string; rules: SandboxRecordingRule[]; dateCreated: Date; dateUpdated: Date } {
    const room = this.requireRoom(sidOrUniqueName);
    return {
      roomSid: room.sid,
      rules: rulesOf(room).map((rule) => ({ ...rule })),
      dateCreated: room.dateCreated,
      dateUpdated: room.recordingRulesUpdated ?? room.dateCreated,
    };
  }

  /**
   * Replaces the rules (`POST /v1/Rooms/{sid}/RecordingRules`) and applies them at once to every
   * published track: a track now included starts a new recording (recording-started), one now
   * excluded has its recording completed (recording-completed).
   */
  setRecordingRules(
    sidOrUniqueName: string,
    rules: unknown,
  ): { roomSid: string; rules: SandboxRecordingRule[]; dateCreated: Date; dateUpdated: Date } {
    const room = this.requireRoom(sidOrUniqueName);
    if (room.status !== 'in-progress') throw new SandboxTwilioError(400, E.ROOM_STATUS_INVALID, `Room ${room.sid} is not in-progress`);
    if (room.type === 'go' || room.type === 'peer-to-peer') {
      throw new SandboxTwilioError(400, E.ROOM_PARAMETERS_INCOMPATIBLE, `Recording Rules are not supported for ${room.type} rooms`);
    }
    room.recordingRules = checkRules(rules);
    const now = this.now();
    room.recordingRulesUpdated = now;
    room.dateUpdated = now;
    for (const participant of room.participants) {
      if (participant.status !== 'connected') continue;
      for (const track of participant.tracks) {
        const current = track.recordingSid ? room.recordings.find((r) => r.sid === track.recordingSid) : undefined;
        const recording = current?.status === 'processing';
        const wanted = recorded(room.recordingRules, participant, track);
        if (wanted && !recording) this.startRecording(room, participant, track);
        if (!wanted && recording) {
          this.completeRecording(room, current, now);
          track.recordingSid = undefined;
        }
      }
    }
    return this.getRecordingRules(room.sid);
  }

  // ---- compositions -------------------------------------------------------------------

  createComposition(input: CreateCompositionInput): SandboxComposition {
    if (!input.roomSid) throw invalidParameter('RoomSid is required');
    const room = this.roomStates.get(input.roomSid);
    if (!room) throw new SandboxTwilioError(400, E.ROOM_NOT_FOUND, `Room ${input.roomSid} not found`);
    if (room.status !== 'completed') {
      throw new SandboxTwilioError(
        400,
        E.COMPOSITION_ROOM_NOT_COMPLETED,
        `Room ${room.sid} is not completed: compositions need a completed room`,
      );
    }
    const audioSources = [...(input.audioSources ?? [])];
    if (audioSources.length === 0 && input.videoLayout === undefined) {
      throw new SandboxTwilioError(400, E.COMPOSITION_INVALID, 'At least one of AudioSources or VideoLayout is required');
    }
    const format = input.format ?? 'webm';
    if (format !== 'mp4' && format !== 'webm') throw new SandboxTwilioError(400, E.COMPOSITION_INVALID, 'Format must be mp4 or webm');
    const method = callbackMethod(input.statusCallbackMethod);
    if (input.statusCallback !== undefined && input.statusCallback !== '') checkCallbackUrl(input.statusCallback);
    const excluded = input.audioSourcesExcluded ?? [];
    const videoSources = videoSourcesOf(input.videoLayout);
    const sourceRecordingSids = room.recordings
      .filter((r) =>
        r.type === 'audio'
          ? audioSources.some((name) => trackNameMatches(name, r.trackName)) &&
            !excluded.some((name) => trackNameMatches(name, r.trackName))
          : videoSources.some((name) => trackNameMatches(name, r.trackName)),
      )
      .map((r) => r.sid);
    const composition: CompositionState = {
      sid: twilioSid('CJ'),
      roomSid: room.sid,
      status: 'enqueued',
      format,
      resolution: input.resolution ?? '640x480',
      trim: input.trim ?? true,
      audioSources,
      audioSourcesExcluded: [...(input.audioSourcesExcluded ?? [])],
      videoLayout: input.videoLayout ?? {},
      sourceRecordingSids,
      statusCallback: input.statusCallback || undefined,
      statusCallbackMethod: method,
      dateCreated: this.now(),
      dateCompleted: undefined,
      duration: 0,
      size: 0,
      bitrate: 0,
      errorMessage: undefined,
    };
    this.compositionStates.set(composition.sid, composition);
    const snapshot = { ...composition };
    this.emitComposition(composition, 'composition-enqueued', []);
    if (this.stuckNext > 0)
      this.stuckNext -= 1; // stays enqueued for ever (twilio-node #690)
    else this.track(this.process(composition, this.failNext.shift(), room));
    return snapshot;
  }

  getComposition(sid: string): SandboxComposition | undefined {
    const composition = this.compositionStates.get(sid);
    return composition && { ...composition };
  }

  listCompositions(filter: { roomSid?: string; status?: string } = {}): SandboxComposition[] {
    return [...this.compositionStates.values()]
      .filter((c) => (!filter.roomSid || c.roomSid === filter.roomSid) && (!filter.status || c.status === filter.status))
      .map((c) => ({ ...c }));
  }

  /** The next composition created fails (composition-failed) instead of becoming available. */
  failNextComposition(errorMessage = 'Composition failed (sandbox scenario)'): void {
    this.failNext.push(errorMessage);
  }

  /** The next composition created stays `enqueued` for ever, with no further callback. */
  stuckNextComposition(): void {
    this.stuckNext += 1;
  }

  // ---- persistence (sandbox-state-file.ts) ---------------------------------------------

  /** Everything a restarted sandbox needs to know the same rooms and compositions. */
  exportState(): { rooms: unknown; compositions: unknown; stuck: string[] } {
    return {
      rooms: [...this.roomStates.values()],
      compositions: [...this.compositionStates.values()],
      stuck: [...this.stuckSids],
    };
  }

  /** Restores exportState()'s output; a composition that was processing carries on (unless it was stuck). */
  importState(saved: { rooms?: unknown; compositions?: unknown; stuck?: unknown }): void {
    for (const room of (saved.rooms ?? []) as RoomState[]) this.roomStates.set(room.sid, room);
    for (const sid of (saved.stuck ?? []) as string[]) this.stuckSids.add(sid);
    for (const composition of (saved.compositions ?? []) as CompositionState[]) {
      this.compositionStates.set(composition.sid, composition);
      const room = this.roomStates.get(composition.roomSid);
      const unfinished = composition.status === 'enqueued' || composition.status === 'processing';
      if (room && unfinished && !this.stuckSids.has(composition.sid)) this.track(this.process(composition, undefined, room));
    }
  }

  // ---- time and lifecycle -------------------------------------------------------------

  /** Ends the in-progress rooms whose empty-room or unused-room timeout has passed. */
  checkTimeouts(): void {
    const now = this.now().getTime();
    for (const room of this.roomStates.values()) {
      if (room.status !== 'in-progress' || room.participants.some((p) => p.status === 'connected')) continue;
      const lastLeft = Math.max(0, ...room.participants.map((p) => p.endTime?.getTime() ?? 0));
      const expired =
        room.participants.length === 0
          ? now - room.dateCreated.getTime() >= room.unusedRoomTimeout * 60_000
          : now - lastLeft >= room.emptyRoomTimeout * 60_000;
      if (expired) this.endRoom(room);
    }
  }

  /** Resolves when no composition is being processed. */
  async settled(): Promise<void> {
    while (this.jobs.size > 0) await Promise.all([...this.jobs]);
  }

  get busy(): boolean {
    return this.jobs.size > 0;
  }

  close(): void {
    this.closed = true;
    for (const pause of this.pauses) {
      clearTimeout(pause.timer);
      pause.resolve();
    }
    this.pauses.clear();
  }

  // ---- internals ----------------------------------------------------------------------

  private now(): Date {
    return this.options.clock.now();
  }

  private findInProgress(uniqueName: string): RoomState | undefined {
    for (const room of this.roomStates.values()) if (room.status === 'in-progress' && room.uniqueName === uniqueName) return room;
    return undefined;
  }

  private requireRoom(sidOrUniqueName: string): RoomState {
    const room = this.roomStates.get(sidOrUniqueName) ?? this.findInProgress(sidOrUniqueName);
    if (!room) throw notFound(`/Rooms/${sidOrUniqueName}`);
    return room;
  }

  private disconnect(room: RoomState, participant: ParticipantState): void {
    const now = this.now();
    participant.status = 'disconnected';
    participant.endTime = now;
    participant.duration = seconds(participant.startTime, now);
    room.dateUpdated = now;
    for (const track of participant.tracks) {
      this.emitRoom(room, 'track-removed', [...participantParams(participant), ...trackParams(track)]);
    }
    this.emitRoom(room, 'participant-disconnected', [
      ...participantParams(participant),
      ['ParticipantDuration', String(participant.duration)],
    ]);
    for (const track of participant.tracks) {
      const recording = room.recordings.find((r) => r.sid === track.recordingSid);
      if (!recording || recording.status !== 'processing') continue;
      this.completeRecording(room, recording, now);
    }
  }

  private startRecording(room: RoomState, participant: ParticipantState, track: Mutable<SandboxTrack>): void {
    const now = this.now();
    const recording: RecordingState = {
      sid: twilioSid('RT'),
      roomSid: room.sid,
      participantSid: participant.sid,
      participantIdentity: participant.identity,
      trackSid: track.sid,
      trackName: track.name,
      type: track.kind,
      container: track.kind === 'audio' ? 'mka' : 'mkv',
      codec: track.kind === 'audio' ? 'opus' : 'VP8',
      status: 'processing',
      dateCreated: now,
      dateCompleted: undefined,
      duration: undefined,
      size: undefined,
      offset: now.getTime() - room.dateCreated.getTime(),
    };
    track.recordingSid = recording.sid;
    room.recordings.push(recording);
    this.emitRoom(room, 'recording-started', recordingParams(recording));
  }

  private completeRecording(room: RoomState, recording: RecordingState, now: Date): void {
    recording.status = 'completed';
    recording.dateCompleted = now;
    recording.duration = seconds(recording.dateCreated, now);
    recording.size = CONTAINER_HEADER_BYTES + recording.duration * BYTES_PER_SECOND[recording.type];
    const uri = `/v1/Recordings/${recording.sid}`;
    this.emitRoom(room, 'recording-completed', [
      ...recordingParams(recording),
      ['MediaUri', `${uri}/Media`],
      ['Duration', String(recording.duration)],
      ['Size', String(recording.size)],
      // Empty: the sandbox keeps no media in external storage.
      ['MediaExternalLocation', ''],
    ]);
  }

  private endRoom(room: RoomState): void {
    for (const participant of room.participants) if (participant.status === 'connected') this.disconnect(room, participant);
    const now = this.now();
    room.status = 'completed';
    room.endTime = now;
    room.dateUpdated = now;
    room.duration = seconds(room.dateCreated, now);
    this.emitRoom(room, 'room-ended', [['RoomDuration', String(room.duration)]]);
  }

  private emitRoom(room: RoomState, event: string, extra: readonly FormParam[]): void {
    room.lastSequenceNumber += 1;
    if (!room.statusCallback) return;
    this.options.callbacks.send(room.statusCallback, room.statusCallbackMethod, [
      ['AccountSid', this.options.accountSid],
      ['RoomName', room.uniqueName],
      ['RoomSid', room.sid],
      ['RoomStatus', room.status],
      ['RoomType', room.type],
      ['StatusCallbackEvent', event],
      ['Timestamp', this.now().toISOString()],
      ['SequenceNumber', String(room.lastSequenceNumber)],
      ...extra,
    ]);
  }

  private emitComposition(composition: CompositionState, event: string, extra: readonly FormParam[]): void {
    if (!composition.statusCallback) return;
    this.options.callbacks.send(composition.statusCallback, composition.statusCallbackMethod, [
      ['AccountSid', this.options.accountSid],
      ['RoomSid', composition.roomSid],
      ['CompositionSid', composition.sid],
      ['CompositionUri', `/v1/Compositions/${composition.sid}`],
      ['StatusCallbackEvent', event],
      ['Timestamp', this.now().toISOString()],
      ...extra,
    ]);
  }

  private async process(composition: CompositionState, failWith: string | undefined, room: RoomState): Promise<void> {
    await this.step();
    if (this.closed) return;
    composition.status = 'processing';
    this.emitComposition(composition, 'composition-started', []);
    // A composition from before sources were kept (state file) composes every recording.
    const sources = composition.sourceRecordingSids
      ? room.recordings.filter((r) => composition.sourceRecordingSids.includes(r.sid))
      : room.recordings;
    const starts = sources.map((r) => r.dateCreated.getTime());
    const ends = sources.map((r) => r.dateCompleted?.getTime() ?? r.dateCreated.getTime());
    const duration = starts.length ? Math.round((Math.max(...ends) - Math.min(...starts)) / 1000) : 0;
    await this.step();
    if (this.closed) return;
    this.emitComposition(composition, 'composition-progress', [
      ['PercentageDone', '50'],
      ['SecondsRemaining', String(Math.max(1, Math.ceil(duration / 10)))],
    ]);
    await this.step();
    if (this.closed) return;
    const error =
      failWith ??
      (room.recordings.length === 0
        ? 'Room has no recordings to compose'
        : sources.length === 0
          ? 'No recording matches the composition sources'
          : undefined);
    composition.dateCompleted = this.now();
    if (error) {
      composition.status = 'failed';
      composition.errorMessage = error;
      this.emitComposition(composition, 'composition-failed', [
        ['FailedOperation', 'composition'],
        ['ErrorMessage', error],
      ]);
      return;
    }
    composition.status = 'completed';
    composition.duration = duration;
    composition.size = CONTAINER_HEADER_BYTES + duration * COMPOSITION_BYTES_PER_SECOND;
    composition.bitrate = (COMPOSITION_BYTES_PER_SECOND * 8) / 1000;
    this.emitComposition(composition, 'composition-available', [
      ['MediaUri', `/v1/Compositions/${composition.sid}/Media`],
      ['Duration', String(composition.duration)],
      ['Size', String(composition.size)],
    ]);
  }

  /** A pause between composition steps; close() ends every pause at once, so no job hangs. */
  private step(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const pause = {
        timer: setTimeout(() => {
          this.pauses.delete(pause);
          resolve();
        }, this.options.compositionStepMs ?? 20),
        resolve,
      };
      this.pauses.add(pause);
    });
  }

  private track(job: Promise<void>): void {
    const tracked = job.finally(() => this.jobs.delete(tracked));
    this.jobs.add(tracked);
  }

  private snapshotRoom(room: RoomState): SandboxRoom {
    return {
      ...room,
      participants: room.participants.map((p) => this.snapshotParticipant(p)),
      recordings: room.recordings.map((r) => ({ ...r })),
    };
  }

  private snapshotParticipant(participant: ParticipantState): SandboxParticipant {
    return { ...participant, tracks: participant.tracks.map((t) => ({ ...t })) };
  }
}

function rulesOf(room: RoomState): readonly SandboxRecordingRule[] {
  return room.recordingRules ?? [{ type: room.recordParticipantsOnConnect ? 'include' : 'exclude', all: true }];
}

function matches(rule: SandboxRecordingRule, participant: { identity: string }, track: { kind: TrackKind; name: string }): boolean {
  return (
    (rule.all === undefined || rule.all) &&
    (rule.kind === undefined || rule.kind === track.kind) &&
    (rule.publisher === undefined || rule.publisher === participant.identity) &&
    (rule.track === undefined || rule.track === track.name)
  );
}

/** Twilio's evaluation: included by some include rule, and excluded by no exclude rule. */
function recorded(
  rules: readonly SandboxRecordingRule[],
  participant: { identity: string },
  track: { kind: TrackKind; name: string },
): boolean {
  return (
    rules.some((rule) => rule.type === 'include' && matches(rule, participant, track)) &&
    !rules.some((rule) => rule.type === 'exclude' && matches(rule, participant, track))
  );
}

/** The `Rules` array as Twilio accepts it: each rule a type and at least one filter. */
function checkRules(value: unknown): SandboxRecordingRule[] {
  if (!Array.isArray(value)) throw invalidParameter('Rules must be a JSON array of recording rules');
  return value.map((rule: unknown, index) => {
    if (!rule || typeof rule !== 'object' || Array.isArray(rule)) throw invalidParameter(`Rules[${index}] must be an object`);
    const { type, all, kind, publisher, track, ...rest } = rule as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw invalidParameter(`Rules[${index}] has an unknown filter: ${Object.keys(rest).join(', ')}`);
    if (type !== 'include' && type !== 'exclude') throw invalidParameter(`Rules[${index}].type must be include or exclude`);
    if (all === undefined && kind === undefined && publisher === undefined && track === undefined) {
      throw invalidParameter(`Rules[${index}] needs a filter: all, kind, publisher or track`);
    }
    if (all !== undefined && all !== true && all !== 'true') throw invalidParameter(`Rules[${index}].all must be true`);
    if (kind !== undefined && kind !== 'audio' && kind !== 'video' && kind !== 'data') {
      throw invalidParameter(`Rules[${index}].kind must be audio, video or data`);
    }
    for (const [name, text] of [
      ['publisher', publisher],
      ['track', track],
    ] as const) {
      if (text !== undefined && (typeof text !== 'string' || text.length === 0))
        throw invalidParameter(`Rules[${index}].${name} must be a string`);
    }
    return {
      type,
      ...(all !== undefined ? { all: true as const } : {}),
      ...(kind !== undefined ? { kind: kind as 'audio' | 'video' | 'data' } : {}),
      ...(publisher !== undefined ? { publisher: publisher as string } : {}),
      ...(track !== undefined ? { track: track as string } : {}),
    };
  });
}

/** The track names a VideoLayout's regions name (`video_sources`, at any depth). */
function videoSourcesOf(layout: unknown): string[] {
  if (Array.isArray(layout)) return layout.flatMap(videoSourcesOf);
  if (!layout || typeof layout !== 'object') return [];
  return Object.entries(layout).flatMap(([key, value]) =>
    key === 'video_sources' && Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : videoSourcesOf(value),
  );
}

/** A composition source: a track name, where `*` matches any run of characters (Twilio's wildcard). */
function trackNameMatches(pattern: string, name: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return regex.test(name);
}

function participantParams(p: ParticipantState): FormParam[] {
  return [
    ['ParticipantSid', p.sid],
    ['ParticipantStatus', p.status],
    ['ParticipantIdentity', p.identity],
  ];
}

function trackParams(t: SandboxTrack): FormParam[] {
  return [
    ['TrackSid', t.sid],
    ['TrackKind', t.kind],
    ['TrackName', t.name],
  ];
}

function recordingParams(r: RecordingState): FormParam[] {
  return [
    ['RecordingSid', r.sid],
    ['SourceSid', r.trackSid],
    ['RecordingUri', `/v1/Recordings/${r.sid}`],
    ['Container', r.container],
    ['Codec', r.codec],
    ['Type', r.type],
    ['TrackName', r.trackName],
    ['ParticipantSid', r.participantSid],
    ['ParticipantIdentity', r.participantIdentity],
    ['OffsetFromTwilioVideoEpoch', String(r.offset)],
  ];
}

function seconds(from: Date, to: Date): number {
  return Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000));
}

function minutes(name: string, value: number | undefined): number {
  if (value === undefined) return 5;
  if (!Number.isInteger(value) || value < 1 || value > 60) throw invalidParameter(`${name} must be a whole number of minutes from 1 to 60`);
  return value;
}

function callbackMethod(value: string | undefined): CallbackMethod {
  if (value === undefined || value === '') return 'POST';
  const upper = value.toUpperCase();
  if (upper !== 'POST' && upper !== 'GET') throw invalidParameter('StatusCallbackMethod must be POST or GET');
  return upper;
}

function checkCallbackUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SandboxTwilioError(400, E.STATUS_CALLBACK_INVALID, 'StatusCallback is not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new SandboxTwilioError(400, E.STATUS_CALLBACK_INVALID, 'StatusCallback must be an http or https URL');
  }
}
