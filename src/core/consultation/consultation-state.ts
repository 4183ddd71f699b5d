/**
 * A consultation's record as a pure fold of its room's accepted callbacks. The events are
 * sorted into one total order — Twilio's Timestamp first (never arrival order), then a fixed
 * tie-break — and walked through the transition function; duplicates collapse because every step
 * is idempotent. The same SET of events therefore always yields the same record: a late event
 * simply corrects it, a retried one changes nothing.
 *
 *   scheduled ──room-created / participant-connected──▶ waiting
 *   scheduled | waiting | interrupted ──a clinician and a patient or pet owner connected at once──▶ in-progress
 *   in-progress ──room-ended──▶ completed
 *   scheduled | waiting ──room-ended──▶ no-show
 *   scheduled | waiting ──cancelled (cancelledAt)──▶ cancelled
 *   completed, no-show, cancelled: final
 *
 * A consultation with an appointment window spans rooms (rejoining): a room that ends before
 * the window closes (and before the consultation was closed) is not the consultation's end —
 *   in-progress ──room-ended, may rejoin──▶ interrupted (billed so far; the next token opens a new room)
 *   scheduled | waiting ──room-ended, may rejoin──▶ unchanged (the window's close names a no-show)
 *   interrupted ──closed (closedAt: the window closed, or an explicit end)──▶ completed
 *   scheduled | waiting ──closed──▶ no-show
 * Sessions, recordings and billing sum over every room of the consultation.
 *
 * docs/lifecycle.md draws it, with the billing rule.
 */
import { computeBilling, type Billing } from './billing-rule.js';
import {
  factKey,
  isVideoEvent,
  type EventSource,
  type CompositionEvent,
  type ParticipantEvent,
  type RecordingEvent,
  type TrackEvent,
  type VideoEvent,
  type VideoEventError,
} from './consultation-event.js';
import { isCareRecipient } from './roles.js';

export type ConsultationStatus = 'scheduled' | 'waiting' | 'in-progress' | 'interrupted' | 'completed' | 'cancelled' | 'no-show';

export const FINAL_STATUSES: readonly ConsultationStatus[] = ['completed', 'no-show', 'cancelled'];

export interface ParticipantSession {
  readonly participantSid: string;
  readonly identity: string | undefined;
  readonly role: string | undefined;
  /** The room the session was in (absent in states stored before rooms were tracked). */
  readonly roomSid?: string | undefined;
  /** null when only the disconnect is known (its connect never arrived): kept, never billed. */
  readonly connectedAt: number | null;
  /** null while connected; the room's end closes every open session at room-ended. */
  readonly disconnectedAt: number | null;
  /**
   * True when connectedAt was not seen but inferred from the disconnect's ParticipantDuration
   * (its participant-connected callback never arrived).
   */
  readonly connectInferred?: boolean;
}

export interface RecordingState {
  readonly recordingSid: string;
  /** The room that recorded it (absent in states stored before rooms were tracked). */
  readonly roomSid?: string | undefined;
  readonly trackName: string | undefined;
  /** Whose track it is (PA…) and its kind (audio, video, data), as Twilio named them. */
  readonly participantSid: string | undefined;
  readonly kind: string | undefined;
  readonly status: 'started' | 'completed' | 'failed';
  readonly startedAt: number | null;
  readonly completedAt: number | null;
  readonly duration: number | undefined;
  readonly size: number | undefined;
  readonly mediaUri: string | undefined;
}

/**
 * A track a participant published (track-added … track-removed), for the billing evidence's
 * audio-only versus audio-video. Keyed by TrackSid.
 */
export interface TrackSpan {
  readonly trackSid: string;
  readonly participantSid: string;
  /** Twilio's TrackKind: audio, video or data. */
  readonly kind: string | undefined;
  readonly publishedAt: number | null;
  /** null while published (the session's end closes it for billing). */
  readonly unpublishedAt: number | null;
}

export interface CompositionState {
  readonly status: 'none' | 'enqueued' | 'started' | 'available' | 'failed';
  readonly compositionSid: string | undefined;
  readonly mediaUri: string | undefined;
  /** Distinct compositions that failed: each may trigger a bounded retry. */
  readonly failures: number;
}

/** One room's composition: each room that recorded is composed on its own (rejoining). */
export interface RoomCompositionState extends CompositionState {
  readonly roomSid: string;
}

/** A room's composition as the fold state keeps it: the failed SIDs (sorted) count its retries. */
export interface FoldedComposition {
  readonly status: CompositionState['status'];
  readonly compositionSid: string | undefined;
  readonly mediaUri: string | undefined;
  readonly failed: readonly string[];
}

export interface StatusChange {
  readonly status: ConsultationStatus;
  /** ms since the epoch; null for the initial status when no scheduled time is known. */
  readonly at: number | null;
  /**
   * What made the change when it was not a callback: a fact the reconciler read from Twilio's
   * REST API ('reconciled'), an operator's completion ('operator'), or a connect inferred from a
   * disconnect's ParticipantDuration ('inferred').
   */
  readonly source?: Exclude<EventSource, 'callback'> | 'inferred';
}

export type ConsultationEffect =
  | { readonly kind: 'request-composition'; readonly key: string; readonly attempt: number; readonly roomSid?: string }
  | { readonly kind: 'report-composition-failure'; readonly key: string; readonly roomSid?: string }
  | { readonly kind: 'record-billing'; readonly key: string; readonly billing: Billing };

export interface ConsultationRecord {
  readonly status: ConsultationStatus;
  /** The first moment a clinician and a patient or pet owner were connected at once. */
  readonly startedAt: number | null;
  /** The room-ended Timestamp (of the last room to end, once no room is live). */
  readonly endedAt: number | null;
  readonly sessions: readonly ParticipantSession[];
  readonly recordings: readonly RecordingState[];
  /** The tracks published, ordered by publication (billing evidence). */
  readonly tracks: readonly TrackSpan[];
  /** The latest room's composition (the last to end of those with one): what clients read before rooms. */
  readonly composition: CompositionState;
  /** Each room's composition, in the order the rooms ended. */
  readonly compositions: readonly RoomCompositionState[];
  /** Every status the consultation went through, in order, with the moment it did. */
  readonly timeline: readonly StatusChange[];
  /** The side effects the record requires, each under a key that makes it happen at most once. */
  readonly effects: readonly ConsultationEffect[];
}

/** What the fold needs to know about the consultation besides its events. */
export interface ConsultationFoldInput {
  readonly consultation: {
    readonly id: string;
    /** The consultation's current (latest) room. */
    readonly roomSid: string;
    /** Every room of the consultation, the current one included (rejoining); absent: roomSid alone. */
    readonly roomSids?: readonly string[] | undefined;
    /**
     * ms since the epoch: the appointment window's end. A room that ends before it may be followed
     * by another (rejoining); absent: no window, a room's end is the consultation's end.
     */
    readonly windowClosesAt?: number | undefined;
    /** ms since the epoch: the consultation was closed (its window closed, or it was ended on request): no room follows. */
    readonly closedAt?: number | undefined;
    /** Whether the room records (RecordParticipantsOnConnect): a composition is then requested. */
    readonly record: boolean;
    /** ms since the epoch; the initial timeline entry. */
    readonly scheduledAt?: number | undefined;
    /** ms since the epoch; a consultation not yet in progress then is cancelled. */
    readonly cancelledAt?: number | undefined;
    /** True when the consultation was cancelled before its room existed: it starts, and stays, cancelled. */
    readonly cancelled?: boolean | undefined;
    /** The tenant's billing unit, seconds; 60 when absent (the tenants' default). */
    readonly roundingSeconds?: number | undefined;
  };
  /** Every accepted callback of the room, in any order, duplicates allowed. Parse errors are skipped. */
  readonly events: readonly (VideoEvent | VideoEventError)[];
  /** Role of each identity a token was issued to for this consultation. */
  readonly roles: ReadonlyMap<string, string>;
}

/** Composition requests in all (the first and its retries after composition-failed), then reported. */
export const MAX_COMPOSITION_ATTEMPTS = 3;
export const DEFAULT_ROUNDING_SECONDS = 60;

/** A cancellation, placed among the events at cancelledAt. */
export interface CancelTrigger {
  readonly type: 'cancelled';
  readonly timestamp: number;
}

/** The consultation's close (window closed, or an explicit end), placed among the events at closedAt. */
export interface CloseTrigger {
  readonly type: 'closed';
  readonly timestamp: number;
}

export type LifecycleEvent = VideoEvent | CancelTrigger | CloseTrigger;

/**
 * What the transition looks at: the current status and the participant sessions as known (in the
 * fold: all of them, complete, so a session is "open at now" when it connected at or before now
 * and disconnected strictly after).
 */
export interface LifecycleState {
  readonly status: ConsultationStatus;
  readonly sessions: Iterable<ParticipantSession>;
  /** Whether a room that ends at this moment may be followed by another (rejoining); false when absent. */
  readonly mayRejoin?: ((now: number) => boolean) | undefined;
}

/**
 * Whether a room ending at `now` leaves the consultation open for a new room: it has a window,
 * the window is still open, and the consultation was not closed at or before `now`.
 *
 * @example mayRejoinAt({ windowClosesAt: 2_000 }, 1_000) // true
 */
export function mayRejoinAt(consultation: { windowClosesAt?: number | undefined; closedAt?: number | undefined }, now: number): boolean {
  if (consultation.windowClosesAt === undefined || now >= consultation.windowClosesAt) return false;
  return consultation.closedAt === undefined || now < consultation.closedAt;
}

/**
 * The state machine, one step. `now` is the moment the step takes effect (in the fold, the
 * event's Timestamp): a participant-connected makes the consultation in progress when a
 * clinician and a patient or pet owner have sessions open at `now`. Final statuses never change.
 *
 * @example
 * nextStatus({ status: 'in-progress', sessions: [] }, roomEnded, roomEnded.timestamp) // 'completed'
 * nextStatus({ status: 'waiting', sessions: [] }, roomEnded, roomEnded.timestamp)     // 'no-show'
 */
export function nextStatus(state: LifecycleState, event: LifecycleEvent, now: number): ConsultationStatus {
  const { status } = state;
  if (FINAL_STATUSES.includes(status)) return status;
  switch (event.type) {
    case 'cancelled':
      return status === 'in-progress' || status === 'interrupted' ? status : 'cancelled';
    case 'closed':
      if (status === 'interrupted') return 'completed';
      return status === 'in-progress' ? status : 'no-show';
    case 'room-ended':
      if (state.mayRejoin?.(now)) {
        // Another room may follow: the consultation goes on (still live in another room, or interrupted).
        if (status === 'in-progress') return bothSidesConnected(state.sessions, now) ? status : 'interrupted';
        return status;
      }
      return status === 'in-progress' || status === 'interrupted' ? 'completed' : 'no-show';
    case 'room-created':
      return status === 'scheduled' ? 'waiting' : status;
    case 'participant-connected':
      if (status !== 'in-progress' && bothSidesConnected(state.sessions, now)) return 'in-progress';
      return status === 'scheduled' ? 'waiting' : status;
    default:
      return status;
  }
}

/** Same-millisecond events: a connect before its disconnect, recordings settle before the room's end, compositions last. */
const TYPE_RANK: Record<LifecycleEvent['type'], number> = {
  'room-created': 0,
  'participant-connected': 1,
  'track-added': 2,
  'track-enabled': 2,
  'track-disabled': 2,
  'recording-started': 3,
  'track-removed': 4,
  'recording-completed': 5,
  'recording-failed': 5,
  'participant-disconnected': 6,
  cancelled: 7,
  'room-ended': 8,
  closed: 8.5,
  'composition-enqueued': 9,
  'composition-hook-failed': 9,
  'composition-started': 10,
  'composition-progress': 11,
  'composition-available': 12,
  'composition-failed': 12,
};

/**
 * The fold's total order: Timestamp, type rank, SequenceNumber, participant SID, recording or
 * composition SID, then the event's canonical form — so two different events never tie and the
 * input order can never show through.
 *
 * @example [...events].sort(compareEvents)
 */
export function compareEvents(a: LifecycleEvent, b: LifecycleEvent): number {
  return (
    a.timestamp - b.timestamp ||
    TYPE_RANK[a.type] - TYPE_RANK[b.type] ||
    (field(a, 'sequenceNumber') ?? -1) - (field(b, 'sequenceNumber') ?? -1) ||
    compareText(field(a, 'participantSid'), field(b, 'participantSid')) ||
    compareText(field(a, 'recordingSid') ?? field(a, 'compositionSid'), field(b, 'recordingSid') ?? field(b, 'compositionSid')) ||
    compareText(canonical(a), canonical(b))
  );
}

interface FoldState {
  status: ConsultationStatus;
  startedAt: number | null;
  endedAt: number | null;
  /** roomSid → its room-ended Timestamp. */
  readonly roomEnds: Map<string, number>;
  readonly sessions: Map<string, ParticipantSession>;
  readonly recordings: Map<string, RecordingState>;
  readonly tracks: Map<string, TrackSpan>;
  /** roomSid → that room's composition (its callbacks carry its RoomSid). */
  readonly compositions: Map<string, FoldedComposition>;
  readonly timeline: StatusChange[];
  lastTimestamp: number | null;
}

/**
 * A consultation's folded state, as plain JSON (the projector stores it with the consultation):
 * everything the fold needs to go on from where it stopped, and the greatest Timestamp it has
 * folded. The record and its effects are derived from it (`recordOf`).
 */
export interface ConsultationFoldState {
  readonly status: ConsultationStatus;
  readonly startedAt: number | null;
  /** The latest room-ended Timestamp of any of its rooms. */
  readonly endedAt: number | null;
  /** Each ended room's room-ended Timestamp (absent in states stored before rejoining: fold again). */
  readonly roomEnds?: Readonly<Record<string, number>>;
  /** The closedAt folded in (absent: none). */
  readonly closedAt?: number;
  readonly sessions: readonly ParticipantSession[];
  readonly recordings: readonly RecordingState[];
  /** Absent in a state stored before tracks were folded: the next fold starts again from the callbacks. */
  readonly tracks?: readonly TrackSpan[];
  /**
   * Each room's composition, by room SID. Absent in a state stored when one composition stood for
   * the whole consultation (`composition`, `failedCompositions`): the next fold starts again.
   */
  readonly roomCompositions?: Readonly<Record<string, FoldedComposition>>;
  /** @deprecated A state from before compositions were kept per room. */
  readonly composition?: Omit<CompositionState, 'failures'>;
  /** @deprecated A state from before compositions were kept per room. */
  readonly failedCompositions?: readonly string[];
  readonly timeline: readonly StatusChange[];
  /** The greatest event Timestamp folded in; null before the first. */
  readonly lastTimestamp: number | null;
  /** True when a fact not from a callback (reconciler, operator) was folded in: a callback may supersede it. */
  readonly facts?: true;
}

/**
 * Folds a consultation's events into its record. The result depends only on the SET of events:
 * any order, any duplicates, late events included.
 *
 * @example
 * foldConsultation({ consultation: { id: 'con_1', roomSid: 'RM1', record: true }, events, roles: new Map([['clin-1', 'clinician'], ['pt-1', 'patient']]) })
 * // { status: 'completed', startedAt, endedAt, sessions, recordings, composition, compositions, timeline,
 * //   effects: [{ kind: 'request-composition', key: 'composition:RM1', attempt: 0 }, { kind: 'record-billing', key: 'billing:con_1', billing }] }
 */
export function foldConsultation(input: ConsultationFoldInput): ConsultationRecord {
  return recordOf(foldConsultationState(input), input.consultation);
}

/** The full fold, as state: the same as stepping through the events in any batches. */
export function foldConsultationState(input: ConsultationFoldInput): ConsultationFoldState {
  const { consultation } = input;
  const state = startState(consultation);
  const events = ownEvents(input);
  const steps: LifecycleEvent[] = withoutSupersededFacts(events);
  if (consultation.cancelledAt !== undefined) steps.push({ type: 'cancelled', timestamp: consultation.cancelledAt });
  if (consultation.closedAt !== undefined) steps.push({ type: 'closed', timestamp: consultation.closedAt });
  walk(state, steps, input.roles, consultation, null);
  return frozen(state, events.some(isFact), consultation.closedAt);
}

/**
 * The full fold of no events for a consultation neither cancelled nor closed (and no scheduledAt
 * given, as the projector folds): the same whatever else the consultation is. Stored with a new
 * consultation, so that its first callbacks are stepped onto it rather than folded again.
 *
 * @example initialFoldState().timeline // [{ status: 'scheduled', at: null }]
 */
export function initialFoldState(): ConsultationFoldState {
  return frozen(startState({}), false, undefined);
}

/** What the fold starts from: nothing seen, scheduled (or cancelled, for ever). */
function startState(consultation: Pick<ConsultationFoldInput['consultation'], 'cancelled' | 'scheduledAt'>): FoldState {
  const initial: ConsultationStatus = consultation.cancelled ? 'cancelled' : 'scheduled';
  return {
    status: initial,
    startedAt: null,
    endedAt: null,
    roomEnds: new Map(),
    sessions: new Map(),
    recordings: new Map(),
    tracks: new Map(),
    compositions: new Map(),
    timeline: [{ status: initial, at: consultation.scheduledAt ?? null }],
    lastTimestamp: null,
  };
}

/**
 * One step of the incremental fold: the state so far and the events that arrived since →
 * the state after them, or null when they reach back to (or before) the state's last Timestamp
 * — a late or out-of-order event — and the caller must fold the consultation again from all its
 * events (`foldConsultationState`). When it returns a state, that state equals the full fold of
 * every event so far.
 *
 * Why "strictly later" suffices: the status walk judges who was connected at an event's moment
 * from the complete sessions; an event stamped strictly later can neither open nor close a
 * session at an earlier moment, so no earlier decision changes. A same-millisecond event can.
 */
export function stepConsultation(state: ConsultationFoldState, input: ConsultationFoldInput): ConsultationFoldState | null {
  // A cancelled consultation is cancelled from the full fold's start (its first status): a state
  // folded before the cancellation (a new consultation's initial state, say) cannot be stepped on.
  if ((input.consultation.cancelled ?? false) !== (state.timeline[0]?.status === 'cancelled')) return null;
  const steps: VideoEvent[] = ownEvents(input);
  if (steps.length === 0 && state.closedAt === input.consultation.closedAt) return state;
  if (input.consultation.cancelledAt !== undefined) return null; // a cancellation is placed among the events: fold again
  // A state from before rooms were tracked, or a close not yet folded in (it lies among the events): fold again.
  if (state.roomEnds === undefined || state.closedAt !== input.consultation.closedAt) return null;
  // A publication's span folds the same in any order (applyTrack), and decides no status: a
  // track-added or -removed at or before the last Timestamp is stepped, not folded again.
  if (state.lastTimestamp !== null && steps.some((event) => !isTrackSpanEvent(event) && event.timestamp <= state.lastTimestamp!))
    return null;
  // A fact (reconciler, operator) gives way to a callback of the same fact, which removes it from
  // the set: not a step. Nor is the real connect of a session whose connect was inferred.
  if (state.facts || steps.some(isFact)) return null;
  if (state.tracks === undefined) return null; // stored before tracks were folded
  if (state.roomCompositions === undefined) return null; // stored with one composition for every room
  const inferred = new Set(state.sessions.filter((session) => session.connectInferred).map((session) => session.participantSid));
  if (steps.some((event) => event.type === 'participant-connected' && inferred.has(event.participantSid))) return null;
  const working: FoldState = {
    status: state.status,
    startedAt: state.startedAt,
    endedAt: state.endedAt,
    roomEnds: new Map(Object.entries(state.roomEnds)),
    sessions: new Map(state.sessions.map((session) => [session.participantSid, session])),
    recordings: new Map(state.recordings.map((recording) => [recording.recordingSid, recording])),
    tracks: new Map(state.tracks.map((track) => [track.trackSid, track])),
    compositions: new Map(Object.entries(state.roomCompositions)),
    timeline: [...state.timeline],
    lastTimestamp: state.lastTimestamp,
  };
  // A connect inferred from a disconnect's ParticipantDuration lies before it: at or before the
  // state's last Timestamp, it could change an earlier decision — fold again.
  if (!walk(working, steps, input.roles, input.consultation, state.lastTimestamp)) return null;
  return frozen(working, false, state.closedAt);
}

/** The record (and the effects it requires) that a folded state stands for. */
export function recordOf(state: ConsultationFoldState, consultation: ConsultationFoldInput['consultation']): ConsultationRecord {
  const sessions = [...state.sessions].sort(
    (a, b) =>
      (a.connectedAt ?? a.disconnectedAt ?? 0) - (b.connectedAt ?? b.disconnectedAt ?? 0) ||
      compareText(a.participantSid, b.participantSid),
  );
  const recordings = [...state.recordings].sort((a, b) => compareText(a.recordingSid, b.recordingSid));
  const tracks = [...(state.tracks ?? [])].sort(
    (a, b) => (a.publishedAt ?? 0) - (b.publishedAt ?? 0) || compareText(a.trackSid, b.trackSid),
  );
  const compositions = roomCompositionsOf(state, consultation);
  const latest = compositions.at(-1);
  const composition: CompositionState = latest
    ? { status: latest.status, compositionSid: latest.compositionSid, mediaUri: latest.mediaUri, failures: latest.failures }
    : { status: 'none', compositionSid: undefined, mediaUri: undefined, failures: 0 };
  const effects = requiredEffects(consultation, state, recordings, compositions, sessions);
  return {
    status: state.status,
    startedAt: state.startedAt,
    // While a room is live (or may still follow, before the first has ended) the consultation has not ended.
    endedAt:
      state.status === 'in-progress' || state.status === 'scheduled' || state.status === 'waiting'
        ? openEndedAt(state, consultation)
        : state.endedAt,
    sessions,
    recordings,
    tracks,
    composition,
    compositions,
    timeline: state.timeline,
    effects,
  };
}

/**
 * Each room's composition, in the order the rooms ended (a room not yet ended last), then by SID.
 * A state from before compositions were kept per room held one: it is the current room's.
 */
function roomCompositionsOf(state: ConsultationFoldState, consultation: ConsultationFoldInput['consultation']): RoomCompositionState[] {
  const folded: Record<string, FoldedComposition> =
    state.roomCompositions ??
    (state.composition && state.composition.status !== 'none'
      ? { [consultation.roomSid]: { ...state.composition, failed: state.failedCompositions ?? [] } }
      : {});
  const endOf = (roomSid: string) => state.roomEnds?.[roomSid] ?? Number.POSITIVE_INFINITY;
  return Object.entries(folded)
    .sort(([a], [b]) => endOf(a) - endOf(b) || compareText(a, b))
    .map(([roomSid, composition]) => ({
      roomSid,
      status: composition.status,
      compositionSid: composition.compositionSid,
      mediaUri: composition.mediaUri,
      failures: composition.failed.length,
    }));
}

const isTrackSpanEvent = (event: VideoEvent) => event.type === 'track-added' || event.type === 'track-removed';

const isFact = (event: VideoEvent) => (event.source ?? 'callback') !== 'callback';

/** A consultation not yet ended shows no end while it may rejoin; without a window, as before: its room's end. */
function openEndedAt(state: ConsultationFoldState, consultation: ConsultationFoldInput['consultation']): number | null {
  return consultation.windowClosesAt === undefined ? state.endedAt : null;
}

/**
 * The rooms' own events (parse errors and other rooms' events are skipped), each once: a
 * redelivery that differs only by its SequenceNumber (Twilio's internal counter, not part of the
 * fact) is the same event, and only the copy with the lowest SequenceNumber is kept — otherwise
 * the copy would be walked again at another place among same-millisecond events, and the record
 * would depend on which copies arrived, not on the set of events.
 */
function ownEvents(input: ConsultationFoldInput): VideoEvent[] {
  const rooms = new Set(input.consultation.roomSids ?? [input.consultation.roomSid]);
  rooms.add(input.consultation.roomSid);
  const own = input.events.filter((event): event is VideoEvent => isVideoEvent(event) && rooms.has(event.roomSid));
  if (own.length < 2) return own;
  const kept = new Map<string, VideoEvent>();
  for (const event of own) {
    const key = canonical({ ...event, sequenceNumber: undefined });
    const other = kept.get(key);
    if (other === undefined || (event.sequenceNumber ?? -1) < (other.sequenceNumber ?? -1)) kept.set(key, event);
  }
  return kept.size === own.length ? own : [...kept.values()];
}

/**
 * Walks events (all later than what the state holds) in the fold's order, mutating the state.
 * Returns false, part-way, when a connect inferred here lies at or before `after`.
 */
function walk(
  state: FoldState,
  steps: LifecycleEvent[],
  roles: ReadonlyMap<string, string>,
  consultation: ConsultationFoldInput['consultation'],
  after: number | null,
): boolean {
  steps.sort(compareEvents);
  const inferredBefore = new Set([...state.sessions.values()].filter((session) => session.connectInferred).map((s) => s.participantSid));
  // Pass 1: sessions, recordings, composition. Pass 2: the status walk, which judges who was
  // connected from the complete sessions — so a clinician leaving at the very millisecond a
  // patient joins is not a meeting, whatever the tie-break order of the two events.
  for (const event of steps) if (event.type !== 'cancelled' && event.type !== 'closed') applyEvent(state, event, roles);
  const known = [...state.sessions.values()];
  // A connect known only from its disconnect's ParticipantDuration takes part in the walk as if
  // its callback had come.
  const moments: (LifecycleEvent & { inferred?: true })[] = [...steps];
  for (const session of known) {
    if (!session.connectInferred || session.connectedAt === null || inferredBefore.has(session.participantSid)) continue;
    if (after !== null && session.connectedAt <= after) return false;
    moments.push({
      type: 'participant-connected',
      timestamp: session.connectedAt,
      roomSid: session.roomSid ?? consultation.roomSid,
      participantSid: session.participantSid,
      inferred: true,
    });
  }
  moments.sort(compareEvents);
  const mayRejoin = (now: number) => mayRejoinAt(consultation, now);
  for (const event of moments) {
    const status = nextStatus({ status: state.status, sessions: known, mayRejoin }, event, event.timestamp);
    if (status === state.status) continue;
    // Rejoining keeps the first start: the consultation began when they first met.
    if (status === 'in-progress' && state.startedAt === null) state.startedAt = event.timestamp;
    state.status = status;
    const source = sourceOf(event);
    state.timeline.push(source === 'callback' ? { status, at: event.timestamp } : { status, at: event.timestamp, source });
  }
  const last = steps.at(-1);
  if (last && (state.lastTimestamp === null || last.timestamp > state.lastTimestamp)) state.lastTimestamp = last.timestamp;
  return true;
}

function frozen(state: FoldState, facts: boolean, closedAt: number | undefined): ConsultationFoldState {
  return {
    ...(facts ? { facts: true as const } : {}),
    status: state.status,
    startedAt: state.startedAt,
    endedAt: state.endedAt,
    roomEnds: Object.fromEntries([...state.roomEnds].sort(([a], [b]) => compareText(a, b))),
    ...(closedAt !== undefined ? { closedAt } : {}),
    sessions: [...state.sessions.values()],
    recordings: [...state.recordings.values()],
    // By SID, not arrival: a stepped late track event must leave the state the full fold makes.
    tracks: [...state.tracks.values()].sort((a, b) => compareText(a.trackSid, b.trackSid)),
    roomCompositions: Object.fromEntries([...state.compositions].sort(([a], [b]) => compareText(a, b))),
    timeline: state.timeline,
    lastTimestamp: state.lastTimestamp,
  };
}

/** Applies one event to sessions, recordings and composition. Idempotent: the same event twice is once. */
function applyEvent(state: FoldState, event: VideoEvent, roles: ReadonlyMap<string, string>): void {
  switch (event.type) {
    case 'participant-connected':
    case 'participant-disconnected':
      applyParticipant(state, event, roles);
      break;
    case 'room-ended':
      if (state.roomEnds.has(event.roomSid)) break;
      state.roomEnds.set(event.roomSid, event.timestamp);
      if (state.endedAt === null || event.timestamp > state.endedAt) state.endedAt = event.timestamp;
      // The room's end closes every session open in it (Twilio's own disconnects may come later, or never).
      for (const [sid, session] of state.sessions) {
        if (session.disconnectedAt === null && inRoom(session, event.roomSid))
          state.sessions.set(sid, { ...session, disconnectedAt: event.timestamp });
      }
      break;
    case 'recording-started':
    case 'recording-completed':
    case 'recording-failed':
      applyRecording(state, event);
      break;
    case 'composition-enqueued':
    case 'composition-started':
    case 'composition-progress':
    case 'composition-available':
    case 'composition-failed':
    case 'composition-hook-failed':
      applyComposition(state, event);
      break;
    case 'track-added':
    case 'track-removed':
      applyTrack(state, event);
      break;
    default:
      break; // room-created, track-enabled/-disabled change no session, recording or composition
  }
}

/** A publication's span; a track-removed without its track-added keeps an unknown start. */
function applyTrack(state: FoldState, event: TrackEvent): void {
  if (event.participantSid === undefined) return;
  const trackSid = event.trackSid ?? `${event.participantSid}/${event.trackKind ?? 'unknown'}`;
  const existing = state.tracks.get(trackSid);
  state.tracks.set(trackSid, {
    trackSid,
    participantSid: event.participantSid,
    kind: existing?.kind ?? event.trackKind,
    publishedAt: existing?.publishedAt ?? (event.type === 'track-added' ? event.timestamp : null),
    unpublishedAt: event.type === 'track-removed' ? (existing?.unpublishedAt ?? event.timestamp) : (existing?.unpublishedAt ?? null),
  });
}

function applyParticipant(state: FoldState, event: ParticipantEvent, roles: ReadonlyMap<string, string>): void {
  const existing = state.sessions.get(event.participantSid);
  const identity = existing?.identity ?? event.identity;
  const role = existing?.role ?? (identity === undefined ? undefined : roles.get(identity));
  const roomEnd = state.roomEnds.get(event.roomSid) ?? null;
  if (event.type === 'participant-connected') {
    // A connect stamped after its room's end belongs to no consultation time.
    if (roomEnd !== null && event.timestamp > roomEnd) return;
    state.sessions.set(event.participantSid, {
      participantSid: event.participantSid,
      identity,
      role,
      roomSid: event.roomSid,
      connectedAt: existing?.connectedAt ?? event.timestamp,
      disconnectedAt: existing?.disconnectedAt ?? null,
    });
    return;
  }
  if (existing?.disconnectedAt != null) return; // already closed: by itself, or by the room's end
  // Its connect never arrived: Twilio's ParticipantDuration (whole seconds) says when it was —
  // unless that is after its room's end: such a connect is ignored, inferred or not.
  const reported =
    existing?.connectedAt == null && event.participantDuration !== undefined ? event.timestamp - event.participantDuration * 1000 : null;
  const inferred = reported !== null && roomEnd !== null && reported > roomEnd ? null : reported;
  state.sessions.set(event.participantSid, {
    participantSid: event.participantSid,
    identity,
    role,
    roomSid: event.roomSid,
    connectedAt: existing?.connectedAt ?? inferred,
    disconnectedAt: roomEnd === null ? event.timestamp : Math.min(event.timestamp, roomEnd),
    ...(existing?.connectedAt == null && inferred !== null ? { connectInferred: true } : {}),
  });
}

function applyRecording(state: FoldState, event: RecordingEvent): void {
  const existing = state.recordings.get(event.recordingSid);
  const status = event.type === 'recording-started' ? 'started' : event.type === 'recording-completed' ? 'completed' : 'failed';
  if (existing && existing.status !== 'started' && status === 'started') return; // settled stays settled
  state.recordings.set(event.recordingSid, {
    recordingSid: event.recordingSid,
    roomSid: event.roomSid,
    trackName: event.trackName ?? existing?.trackName,
    participantSid: event.participantSid ?? existing?.participantSid,
    kind: event.kind ?? existing?.kind,
    status,
    startedAt: existing?.startedAt ?? (status === 'started' ? event.timestamp : null),
    completedAt: status === 'started' ? null : event.timestamp,
    duration: event.duration ?? existing?.duration,
    size: event.size ?? existing?.size,
    mediaUri: event.mediaUri ?? existing?.mediaUri,
  });
}

/** A composition callback changes its own room's composition only (Twilio names the room in it). */
function applyComposition(state: FoldState, event: CompositionEvent): void {
  const current = state.compositions.get(event.roomSid) ?? { status: 'none', compositionSid: undefined, mediaUri: undefined, failed: [] };
  const sid = event.compositionSid ?? current.compositionSid;
  switch (event.type) {
    case 'composition-available':
      state.compositions.set(event.roomSid, {
        ...current,
        status: 'available',
        compositionSid: sid,
        mediaUri: event.mediaUri ?? current.mediaUri,
      });
      return;
    case 'composition-failed':
    case 'composition-hook-failed': {
      const failedSid = event.compositionSid ?? `${event.type}@${event.timestamp}`;
      // Sorted: the state must not depend on the order the failures arrived in.
      const failed = current.failed.includes(failedSid) ? current.failed : [...current.failed, failedSid].sort(compareText);
      state.compositions.set(
        event.roomSid,
        current.status === 'available' ? { ...current, failed } : { ...current, status: 'failed', compositionSid: sid, failed },
      );
      return;
    }
    default:
      if (current.status === 'available') return;
      state.compositions.set(event.roomSid, {
        ...current,
        status: event.type === 'composition-enqueued' ? 'enqueued' : 'started',
        compositionSid: sid,
      });
  }
}

/**
 * - request-composition (`composition:<roomSid>`), for each room of the consultation: the room
 *   ended, it recorded, every recording of that room has settled and at least one completed. A
 *   room's failed composition is retried for that room under `composition:<roomSid>:retry-N`,
 *   then reported (`composition-failed:<roomSid>`), MAX_COMPOSITION_ATTEMPTS requests per room;
 *   another room's composition never stands for it.
 * - record-billing (`billing:<consultation id>`): the consultation completed, or was interrupted
 *   (a room ended, another may follow: billed so far, corrected as later rooms end). One key: one
 *   record, summed over every room.
 */
function requiredEffects(
  consultation: ConsultationFoldInput['consultation'],
  state: Pick<ConsultationFoldState, 'endedAt' | 'status' | 'roomEnds'>,
  recordings: readonly RecordingState[],
  compositions: readonly RoomCompositionState[],
  sessions: readonly ParticipantSession[],
): ConsultationEffect[] {
  const effects: ConsultationEffect[] = [];
  if (consultation.record) {
    // Rooms in the order they ended; a state from before rooms were tracked knows only its end.
    const ended = Object.entries(state.roomEnds ?? (state.endedAt !== null ? { [consultation.roomSid]: state.endedAt } : {})).sort(
      ([a, x], [b, y]) => x - y || compareText(a, b),
    );
    const requested: string[] = [];
    for (const [roomSid] of ended) {
      const own = recordings.filter((recording) => inRoom(recording, roomSid));
      const settled = own.length > 0 && own.every((recording) => recording.status !== 'started');
      if (!settled || !own.some((recording) => recording.status === 'completed')) continue;
      effects.push({ kind: 'request-composition', key: `composition:${roomSid}`, attempt: 0, ...roomOf(roomSid, consultation) });
      requested.push(roomSid);
    }
    for (const roomSid of requested) {
      const composition = compositions.find((candidate) => candidate.roomSid === roomSid);
      if (composition === undefined || composition.status === 'available') continue;
      const room = roomOf(roomSid, consultation);
      for (let attempt = 1; attempt <= Math.min(composition.failures, MAX_COMPOSITION_ATTEMPTS); attempt++) {
        if (attempt < MAX_COMPOSITION_ATTEMPTS)
          effects.push({ kind: 'request-composition', key: `composition:${roomSid}:retry-${attempt}`, attempt, ...room });
        else effects.push({ kind: 'report-composition-failure', key: `composition-failed:${roomSid}`, ...room });
      }
    }
  }
  if (state.status === 'completed' || state.status === 'interrupted') {
    const billing = computeBilling(sessions, { roundingSeconds: consultation.roundingSeconds ?? DEFAULT_ROUNDING_SECONDS });
    effects.push({ kind: 'record-billing', key: `billing:${consultation.id}`, billing });
  }
  return effects;
}

/** A room other than the consultation's own first is named in the effect (the outbox acts on it). */
function roomOf(roomSid: string, consultation: ConsultationFoldInput['consultation']): { roomSid?: string } {
  return roomSid === consultation.roomSid && (consultation.roomSids ?? []).length <= 1 ? {} : { roomSid };
}

/** Whether a session or recording was in the room (one from a state before rooms were tracked: any room). */
function inRoom(item: { readonly roomSid?: string | undefined }, roomSid: string): boolean {
  return item.roomSid === undefined || item.roomSid === roomSid;
}

/** Reconciled (or operator) facts for which a callback of the same fact exists are left out: the callback is Twilio's own word. */
function withoutSupersededFacts(events: readonly VideoEvent[]): VideoEvent[] {
  const sent = new Set(events.filter((event) => (event.source ?? 'callback') === 'callback').map(factKey));
  return events.filter((event) => (event.source ?? 'callback') === 'callback' || !sent.has(factKey(event)));
}

function sourceOf(event: LifecycleEvent & { inferred?: true }): EventSource | 'inferred' {
  if (event.inferred) return 'inferred';
  return event.type === 'cancelled' || event.type === 'closed' ? 'callback' : (event.source ?? 'callback');
}

function bothSidesConnected(sessions: Iterable<ParticipantSession>, now: number): boolean {
  let clinician = false;
  let recipient = false;
  for (const session of sessions) {
    const open =
      session.connectedAt !== null && session.connectedAt <= now && (session.disconnectedAt === null || session.disconnectedAt > now);
    if (!open) continue;
    if (session.role === 'clinician') clinician = true;
    if (isCareRecipient(session.role)) recipient = true;
  }
  return clinician && recipient;
}

function field(event: LifecycleEvent, name: 'sequenceNumber'): number | undefined;
function field(event: LifecycleEvent, name: 'participantSid' | 'recordingSid' | 'compositionSid'): string | undefined;
function field(event: LifecycleEvent, name: string): unknown {
  return (event as unknown as Record<string, unknown>)[name];
}

/** Code-unit order: unlike localeCompare, the same on every host and locale. */
function compareText(a: string | undefined, b: string | undefined): number {
  const x = a ?? '';
  const y = b ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The event as sorted [key, value] pairs, undefined fields left out. */
function canonical(event: LifecycleEvent): string {
  const entries = Object.entries(event).filter(([, value]) => value !== undefined);
  return JSON.stringify(entries.sort(([a], [b]) => compareText(a, b)));
}
