/**
 * A consultation's record as a pure fold of its room's events. Events are applied in Twilio's
 * Timestamp order (never arrival order), duplicates collapse, so the same SET of events always
 * yields the same record — a late event simply corrects it.
 *
 *   scheduled ──room-created / participant-connected──▶ waiting
 *   waiting ──clinician and care recipient connected at once──▶ in-progress
 *   in-progress ──room-ended──▶ completed        waiting ──room-ended──▶ no-show
 *   scheduled | waiting ──cancel (API)──▶ cancelled
 */
import { computeBilling, type Billing } from './billing-rule.js';
import type { VideoEvent, VideoEventType } from './consultation-event.js';
import { isCareRecipient } from './roles.js';

export type ConsultationStatus = 'scheduled' | 'waiting' | 'in-progress' | 'completed' | 'cancelled' | 'no-show';

export interface ParticipantSession {
  readonly participantSid: string;
  readonly identity: string | undefined;
  readonly role: string | undefined;
  /** null when only the disconnect is known (its connect never arrived): not billed. */
  readonly connectedAt: number | null;
  readonly disconnectedAt: number | null;
}

export interface RecordingState {
  readonly recordingSid: string;
  readonly trackName: string | undefined;
  readonly status: 'started' | 'completed' | 'failed';
  readonly startedAt: number | null;
  readonly completedAt: number | null;
  readonly duration: number | undefined;
  readonly size: number | undefined;
  readonly mediaUri: string | undefined;
}

export interface CompositionState {
  readonly status: 'none' | 'enqueued' | 'started' | 'available' | 'failed';
  readonly compositionSid: string | undefined;
  readonly mediaUri: string | undefined;
  /** composition-failed events seen: each may trigger a bounded retry. */
  readonly failures: number;
}

export type ConsultationEffect =
  | { readonly kind: 'request-composition'; readonly key: string; readonly attempt: number }
  | { readonly kind: 'report-composition-failure'; readonly key: string }
  | { readonly kind: 'record-billing'; readonly key: string; readonly billing: Billing };

export interface ConsultationRecord {
  readonly status: ConsultationStatus;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  readonly sessions: readonly ParticipantSession[];
  readonly recordings: readonly RecordingState[];
  readonly composition: CompositionState;
  /** The side effects the record requires, each with a key that makes it happen at most once. */
  readonly effects: readonly ConsultationEffect[];
}

export interface ConsultationFacts {
  readonly id: string;
  readonly roomSid: string;
  readonly record: boolean;
  readonly cancelled: boolean;
  /** Role of each identity issued a token for this consultation. */
  readonly roles: ReadonlyMap<string, string>;
  readonly roundingSeconds: number;
}

/** Composition requests in all (the first and its retries after composition-failed), then reported. */
export const MAX_COMPOSITION_ATTEMPTS = 3;

/** Same-millisecond events: a connect before its disconnect, the room's end last. */
const TYPE_RANK: Record<VideoEventType, number> = {
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
  'room-ended': 7,
  'composition-enqueued': 8,
  'composition-hook-failed': 8,
  'composition-started': 9,
  'composition-progress': 10,
  'composition-available': 11,
  'composition-failed': 11,
};

/** Deterministic order: Timestamp, then type rank, sequence number, then ids. */
export function compareEvents(a: VideoEvent, b: VideoEvent): number {
  return (
    a.at - b.at ||
    TYPE_RANK[a.type] - TYPE_RANK[b.type] ||
    (a.sequenceNumber ?? 0) - (b.sequenceNumber ?? 0) ||
    (a.participantSid ?? '').localeCompare(b.participantSid ?? '') ||
    (a.recordingSid ?? a.compositionSid ?? '').localeCompare(b.recordingSid ?? b.compositionSid ?? '')
  );
}

interface FoldState {
  status: ConsultationStatus;
  startedAt: number | null;
  endedAt: number | null;
  sessions: Map<string, ParticipantSession>;
  recordings: Map<string, RecordingState>;
  composition: CompositionState;
  compositionFailures: Set<string>;
}

/** The pure transition: one event applied to the state. Mutates only the state it is given. */
export function applyEvent(state: FoldState, event: VideoEvent, facts: ConsultationFacts): void {
  switch (event.type) {
    case 'room-created':
      if (state.status === 'scheduled') state.status = 'waiting';
      break;
    case 'participant-connected': {
      if (!event.participantSid) break;
      const existing = state.sessions.get(event.participantSid);
      state.sessions.set(event.participantSid, {
        participantSid: event.participantSid,
        identity: event.identity,
        role: event.identity ? facts.roles.get(event.identity) : undefined,
        connectedAt: existing?.connectedAt ?? event.at,
        disconnectedAt: existing?.disconnectedAt ?? null,
      });
      if (state.status === 'scheduled') state.status = 'waiting';
      if (state.endedAt === null && state.startedAt === null && bothSidesConnected(state, event.at)) {
        state.startedAt = event.at;
        state.status = 'in-progress';
      }
      break;
    }
    case 'participant-disconnected': {
      if (!event.participantSid) break;
      const existing = state.sessions.get(event.participantSid);
      if (existing?.disconnectedAt != null) break;
      state.sessions.set(event.participantSid, {
        participantSid: event.participantSid,
        identity: event.identity ?? existing?.identity,
        role: existing?.role ?? (event.identity ? facts.roles.get(event.identity) : undefined),
        connectedAt: existing?.connectedAt ?? null,
        disconnectedAt: event.at,
      });
      break;
    }
    case 'room-ended':
      if (state.endedAt !== null) break;
      state.endedAt = event.at;
      // A room that ends closes every open interval.
      for (const [sid, session] of state.sessions) {
        if (session.disconnectedAt === null) state.sessions.set(sid, { ...session, disconnectedAt: event.at });
      }
      break;
    case 'recording-started':
    case 'recording-completed':
    case 'recording-failed': {
      if (!event.recordingSid) break;
      const existing = state.recordings.get(event.recordingSid);
      const status = event.type === 'recording-started' ? 'started' : event.type === 'recording-completed' ? 'completed' : 'failed';
      if (existing && existing.status !== 'started' && status === 'started') {
        state.recordings.set(event.recordingSid, { ...existing, startedAt: existing.startedAt ?? event.at });
        break;
      }
      state.recordings.set(event.recordingSid, {
        recordingSid: event.recordingSid,
        trackName: event.trackName ?? existing?.trackName,
        status,
        startedAt: existing?.startedAt ?? (status === 'started' ? event.at : null),
        completedAt: status === 'started' ? null : event.at,
        duration: event.duration ?? existing?.duration,
        size: event.size ?? existing?.size,
        mediaUri: event.mediaUri ?? existing?.mediaUri,
      });
      break;
    }
    case 'composition-enqueued':
    case 'composition-started':
    case 'composition-progress':
      if (state.composition.status === 'available') break;
      state.composition = {
        ...state.composition,
        status: event.type === 'composition-enqueued' ? 'enqueued' : 'started',
        compositionSid: event.compositionSid ?? state.composition.compositionSid,
      };
      break;
    case 'composition-available':
      state.composition = { ...state.composition, status: 'available', compositionSid: event.compositionSid, mediaUri: event.mediaUri };
      break;
    case 'composition-failed':
    case 'composition-hook-failed':
      state.compositionFailures.add(event.compositionSid ?? `at-${event.at}`);
      if (state.composition.status !== 'available') {
        state.composition = { ...state.composition, status: 'failed', compositionSid: event.compositionSid ?? state.composition.compositionSid };
      }
      break;
    default:
      break; // track events change nothing in the record
  }
}

/**
 * @example foldConsultation(facts, events).status === 'completed' once room-ended is among the events
 * and a clinician and a patient were connected at once.
 */
export function foldConsultation(facts: ConsultationFacts, events: readonly VideoEvent[]): ConsultationRecord {
  const state: FoldState = {
    status: facts.cancelled ? 'cancelled' : 'scheduled',
    startedAt: null,
    endedAt: null,
    sessions: new Map(),
    recordings: new Map(),
    composition: { status: 'none', compositionSid: undefined, mediaUri: undefined, failures: 0 },
    compositionFailures: new Set(),
  };
  for (const event of [...events].sort(compareEvents)) {
    if (event.roomSid !== undefined && event.roomSid !== facts.roomSid) continue;
    applyEvent(state, event, facts);
  }
  const sessions = [...state.sessions.values()].sort(
    (a, b) => (a.connectedAt ?? a.disconnectedAt ?? 0) - (b.connectedAt ?? b.disconnectedAt ?? 0) || a.participantSid.localeCompare(b.participantSid),
  );
  const recordings = [...state.recordings.values()].sort((a, b) => a.recordingSid.localeCompare(b.recordingSid));
  const composition = { ...state.composition, failures: state.compositionFailures.size };
  const billing = computeBilling(sessions, { roundingSeconds: facts.roundingSeconds });

  let status = state.status;
  if (state.endedAt !== null && status !== 'cancelled') status = billing.billableSeconds > 0 || state.startedAt !== null ? 'completed' : 'no-show';

  const effects: ConsultationEffect[] = [];
  const allRecordingsSettled = recordings.length > 0 && recordings.every((recording) => recording.status !== 'started');
  const anyRecordingCompleted = recordings.some((recording) => recording.status === 'completed');
  if (facts.record && state.endedAt !== null && allRecordingsSettled && anyRecordingCompleted) {
    effects.push({ kind: 'request-composition', key: `composition:${facts.roomSid}`, attempt: 0 });
    const retries = Math.min(composition.failures, MAX_COMPOSITION_ATTEMPTS);
    for (let attempt = 1; attempt <= retries && composition.status !== 'available'; attempt++) {
      if (attempt < MAX_COMPOSITION_ATTEMPTS) effects.push({ kind: 'request-composition', key: `composition:${facts.roomSid}:retry-${attempt}`, attempt });
      else effects.push({ kind: 'report-composition-failure', key: `composition-failed:${facts.roomSid}` });
    }
  }
  if (status === 'completed') effects.push({ kind: 'record-billing', key: `billing:${facts.id}`, billing });

  return { status, startedAt: state.startedAt, endedAt: state.endedAt, sessions, recordings, composition, effects };
}

function bothSidesConnected(state: FoldState, at: number): boolean {
  let clinician = false;
  let recipient = false;
  for (const session of state.sessions.values()) {
    const open = session.connectedAt !== null && session.connectedAt <= at && (session.disconnectedAt === null || session.disconnectedAt > at);
    if (!open) continue;
    if (session.role === 'clinician') clinician = true;
    if (isCareRecipient(session.role)) recipient = true;
  }
  return clinician && recipient;
}
