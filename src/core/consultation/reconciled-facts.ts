/**
 * What Twilio's REST API says about a room, turned into the facts the fold understands — the
 * parameters of the callbacks Twilio would have sent — and into a verdict on callbacks held as
 * `late`: a late callback is confirmed when the REST API shows the same fact at the same moment
 * (REST dates are whole seconds, so "the same moment" is within one second).
 *
 * Pure: the reconciler (service/reconcile) reads the REST API and the store, this decides.
 */
import type { CallbackParam } from '../webhook/callback-schema.js';
import { factKey, type VideoEvent } from './consultation-event.js';

/** The room as the REST API shows it, dates in ms since the epoch. */
export interface RestRoom {
  readonly sid: string;
  readonly uniqueName: string;
  readonly status: string;
  readonly createdAt: number | null;
  readonly endedAt: number | null;
  /** Seconds, once completed. */
  readonly duration: number | null;
}

export interface RestParticipant {
  readonly sid: string;
  readonly identity: string;
  readonly status: string;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  readonly duration: number | null;
}

export interface RestComposition {
  readonly sid: string;
  readonly status: string;
  readonly createdAt: number | null;
  readonly completedAt: number | null;
  readonly duration: number | null;
  readonly size: number | null;
}

/** A track recording as the REST API shows it (RoomRecording; no completion date: created + duration). */
export interface RestRecording {
  readonly sid: string;
  /** processing, completed, deleted or failed. */
  readonly status: string;
  readonly createdAt: number | null;
  /** Seconds, once completed. */
  readonly duration: number | null;
  readonly size: number | null;
  readonly participantSid: string | null;
  readonly trackName: string | null;
  readonly sourceSid: string | null;
  /** audio, video or data. */
  readonly kind: string | null;
  readonly container: string | null;
  readonly codec: string | null;
}

export interface ReconcileInput {
  readonly accountSid: string;
  readonly room: RestRoom;
  readonly participants: readonly RestParticipant[];
  readonly compositions: readonly RestComposition[];
  /** The room's track recordings (a recorded room): a lost recording-completed keeps its composition from being requested. */
  readonly recordings?: readonly RestRecording[];
  /** The facts the record has already (accepted rows, from callbacks or an earlier reconciliation). */
  readonly known: readonly VideoEvent[];
  /** Callbacks held as late, by inbox row id. */
  readonly held: readonly { readonly id: string; readonly event: VideoEvent }[];
  /** ms since the epoch: a composition enqueued or processing since before this is stuck. */
  readonly stuckBefore: number;
  /**
   * Whether an identity may enter the record: screening's rule for callbacks (issued for this
   * consultation, within the identity policy) applies to facts from the REST API too.
   */
  readonly admits: (identity: string) => boolean;
}

export interface ReconciledFact {
  /** The fact (factKey) this row states: its inbox dedupe key is derived from it. */
  readonly fact: string;
  readonly event: string;
  readonly params: readonly CallbackParam[];
}

export interface ReconcilePlan {
  /** Facts the REST API shows that no stored callback states. */
  readonly facts: readonly ReconciledFact[];
  /** Held late callbacks the REST API confirms: to apply. */
  readonly confirmed: readonly string[];
  /** Held late callbacks it does not confirm: they stay held. */
  readonly unconfirmed: readonly string[];
}

/** REST dates are whole seconds; a callback's Timestamp has milliseconds. */
const SAME_MOMENT_MS = 1000;

/**
 * @example planReconciliation({ accountSid, room, participants, compositions: [], known, held: [], stuckBefore })
 * // { facts: [{ fact: 'room-ended', event: 'room-ended', params: [...] }], confirmed: [], unconfirmed: [] }
 */
export function planReconciliation(input: ReconcileInput): ReconcilePlan {
  const { room } = input;
  const confirmed: string[] = [];
  const unconfirmed: string[] = [];
  for (const held of input.held) (confirms(input, held.event) ? confirmed : unconfirmed).push(held.id);

  // What the record will know once the confirmed late callbacks are applied.
  const known = new Set([...input.known, ...input.held.filter((h) => confirmed.includes(h.id)).map((h) => h.event)].map(factKey));
  const facts: ReconciledFact[] = [];
  const add = (event: string, fact: string, params: CallbackParam[]) => {
    if (known.has(fact)) return;
    known.add(fact);
    facts.push({ fact, event, params });
  };
  const roomParams = (event: string, at: number, extra: CallbackParam[] = []): CallbackParam[] => [
    ['AccountSid', input.accountSid],
    ['RoomName', room.uniqueName],
    ['RoomSid', room.sid],
    ['RoomStatus', room.status],
    ['StatusCallbackEvent', event],
    ['Timestamp', new Date(at).toISOString()],
    // Unknown for a fact read from the REST API: only a tie-break in the fold.
    ['SequenceNumber', '0'],
    ...extra,
  ];

  if (room.createdAt !== null) add('room-created', 'room-created', roomParams('room-created', room.createdAt));
  for (const participant of input.participants) {
    if (!input.admits(participant.identity)) continue;
    const who: CallbackParam[] = [
      ['ParticipantSid', participant.sid],
      ['ParticipantIdentity', participant.identity],
    ];
    if (participant.startedAt !== null) {
      add(
        'participant-connected',
        `participant-connected ${participant.sid}`,
        roomParams('participant-connected', participant.startedAt, [...who, ['ParticipantStatus', 'connected']]),
      );
    }
    if (participant.status === 'disconnected' && participant.endedAt !== null) {
      add(
        'participant-disconnected',
        `participant-disconnected ${participant.sid}`,
        roomParams('participant-disconnected', participant.endedAt, [
          ...who,
          ['ParticipantStatus', 'disconnected'],
          ...(participant.duration !== null ? ([['ParticipantDuration', String(participant.duration)]] as CallbackParam[]) : []),
        ]),
      );
    }
  }
  if (room.status === 'completed' && room.endedAt !== null) {
    add(
      'room-ended',
      'room-ended',
      roomParams('room-ended', room.endedAt, room.duration !== null ? [['RoomDuration', String(room.duration)]] : []),
    );
  }
  for (const recording of input.recordings ?? []) {
    // The participant it records, as the REST API names it (the recording shows only its SID).
    const participant = input.participants.find((p) => p.sid === recording.participantSid);
    if (!participant || !input.admits(participant.identity) || recording.createdAt === null) continue;
    const about: CallbackParam[] = [
      ['RecordingSid', recording.sid],
      ['ParticipantSid', participant.sid],
      ['ParticipantIdentity', participant.identity],
      ['RecordingUri', `/v1/Recordings/${recording.sid}`],
      ...optionalParams([
        ['SourceSid', recording.sourceSid],
        ['TrackName', recording.trackName],
        ['Type', recording.kind],
        ['Container', recording.container],
        ['Codec', recording.codec],
      ]),
    ];
    add('recording-started', `recording-started ${recording.sid}`, roomParams('recording-started', recording.createdAt, about));
    if (recording.status === 'completed' && recording.duration !== null) {
      add(
        'recording-completed',
        `recording-completed ${recording.sid}`,
        roomParams('recording-completed', recording.createdAt + recording.duration * 1000, [
          ...about,
          ['MediaUri', `/v1/Recordings/${recording.sid}/Media`],
          ['Duration', String(recording.duration)],
          ...optionalParams([['Size', recording.size === null ? null : String(recording.size)]]),
        ]),
      );
    } else if (recording.status === 'failed') {
      add(
        'recording-failed',
        `recording-failed ${recording.sid}`,
        roomParams('recording-failed', recording.createdAt + (recording.duration ?? 0) * 1000, [
          ...about,
          ['FailedOperation', 'recording'],
        ]),
      );
    }
  }
  for (const composition of input.compositions) {
    const base = (event: string, at: number, extra: CallbackParam[] = []): CallbackParam[] => [
      ['AccountSid', input.accountSid],
      ['RoomSid', room.sid],
      ['CompositionSid', composition.sid],
      ['CompositionUri', `/v1/Compositions/${composition.sid}`],
      ['StatusCallbackEvent', event],
      ['Timestamp', new Date(at).toISOString()],
      ...extra,
    ];
    if (composition.status === 'completed' && composition.completedAt !== null) {
      add(
        'composition-available',
        `composition-available ${composition.sid}`,
        base('composition-available', composition.completedAt, [
          ['MediaUri', `/v1/Compositions/${composition.sid}/Media`],
          ...(composition.duration !== null ? ([['Duration', String(composition.duration)]] as CallbackParam[]) : []),
          ...(composition.size !== null ? ([['Size', String(composition.size)]] as CallbackParam[]) : []),
        ]),
      );
    } else if (composition.status === 'failed') {
      add(
        'composition-failed',
        `composition-failed ${composition.sid}`,
        base('composition-failed', composition.completedAt ?? composition.createdAt ?? 0, [
          ['FailedOperation', 'composition'],
          ['ErrorMessage', 'composition failed (reconciled from the REST API)'],
        ]),
      );
    } else if (
      (composition.status === 'enqueued' || composition.status === 'processing') &&
      composition.createdAt !== null &&
      composition.createdAt < input.stuckBefore
    ) {
      // Stuck (twilio-node #690): counted as failed, so the fold's bounded retry asks for another.
      add(
        'composition-failed',
        `composition-failed ${composition.sid}`,
        base('composition-failed', input.stuckBefore, [
          ['FailedOperation', 'composition'],
          ['ErrorMessage', `composition stuck in ${composition.status} (reconciled)`],
        ]),
      );
    }
  }
  return { facts, confirmed, unconfirmed };
}

/** The parameters whose value the REST API gave. */
function optionalParams(entries: readonly (readonly [string, string | null])[]): CallbackParam[] {
  return entries.filter((entry): entry is [string, string] => entry[1] !== null && entry[1] !== '');
}

/** Whether the REST API shows the held callback's fact, at its moment. */
function confirms(input: ReconcileInput, event: VideoEvent): boolean {
  const { room } = input;
  if (event.roomSid !== room.sid || (event.accountSid !== undefined && event.accountSid !== input.accountSid)) return false;
  const same = (rest: number | null) => rest !== null && Math.abs(rest - event.timestamp) <= SAME_MOMENT_MS;
  const participantSid = (event as { participantSid?: string }).participantSid;
  const participant = participantSid === undefined ? undefined : input.participants.find((p) => p.sid === participantSid);
  const identity = (event as { identity?: string }).identity;
  if (participantSid !== undefined && (!participant || (identity !== undefined && identity !== participant.identity))) return false;
  switch (event.type) {
    case 'room-created':
      return same(room.createdAt);
    case 'room-ended':
      return room.status === 'completed' && same(room.endedAt);
    case 'participant-connected':
      return same(participant!.startedAt);
    case 'participant-disconnected':
      return participant!.status === 'disconnected' && same(participant!.endedAt);
    case 'composition-enqueued':
    case 'composition-started':
    case 'composition-progress':
    case 'composition-available':
    case 'composition-failed':
    case 'composition-hook-failed': {
      const sid = (event as { compositionSid?: string }).compositionSid;
      if (sid === undefined) return event.type === 'composition-hook-failed' && room.status === 'completed';
      const composition = input.compositions.find((c) => c.sid === sid);
      if (!composition) return false;
      if (event.type === 'composition-available') return composition.status === 'completed';
      if (event.type === 'composition-failed') return composition.status === 'failed';
      return true;
    }
    default: {
      // Track and recording events: within the participant's time in the room (or the room's).
      const from = participant ? participant.startedAt : room.createdAt;
      const to = participant?.endedAt ?? room.endedAt;
      if (from === null || event.timestamp < from - SAME_MOMENT_MS) return false;
      return to === null || event.timestamp <= to + SAME_MOMENT_MS;
    }
  }
}
