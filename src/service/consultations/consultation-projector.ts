/**
 * Folds newly stored callbacks into their consultations' records, incrementally: each
 * consultation keeps its folded state (consultations.fold_state), the new callbacks are stepped
 * onto it by the pure fold in core (`stepConsultation`), and only what changed is written. A new
 * consultation starts with the state of no events (insertConsultations), so its first callbacks
 * are stepped too. A late or out-of-order callback (a Timestamp at or before the state's last),
 * or a missing state (erasure, a row from before migration 0007, a consultation created for a
 * room whose callbacks were already stored), folds that one consultation again from all its
 * accepted callbacks. Either way the record equals the full fold of every callback.
 *
 * Reads are set-based per batch (consultations, new callbacks, roles: one statement each), so a
 * callback costs a constant number of statements however long its room's history. Side effects
 * are queued in the outbox under the keys the fold gives them (the database keeps each to one);
 * the billing record is unique per consultation. Returns the live events, published after commit.
 */
import type { VideoEvent } from '../../core/consultation/consultation-event.js';
import { videoEventOfParams } from './parsed-events.js';
import {
  foldConsultationState,
  recordOf,
  stepConsultation,
  type ConsultationFoldInput,
  type ConsultationFoldState,
  type ConsultationRecord,
  type StatusChange,
} from '../../core/consultation/consultation-state.js';
import { statusHistoryJson } from '../../core/consultation/status-history.js';
import { billingSettingsOf, type BillingSettings } from './billing-settings.js';
import { billingEvidence } from '../../core/billing/billing-evidence.js';
import { canonicalJson } from '../../core/billing/canonical-json.js';
import { findBillingFields, upsertBillingRecord } from '../../storage/billing-repository.js';
import { appendTenantEvents } from '../../storage/event-log-repository.js';
import { findConsultationsForProjection, updateConsultation } from '../../storage/consultation-repository.js';
import { acceptedCallbacksOfRooms, markCallbacksProcessed, unfoldedCallbacksOfRooms } from '../../storage/inbox-repository.js';
import { listConsultationRooms, markRoomsEnded } from '../../storage/consultation-room-repository.js';
import { enqueueOutboxEntry, existingOutboxKeys } from '../../storage/outbox-repository.js';
import {
  deleteSessions,
  findIssuedRoles,
  insertSessions,
  listConsultationSessions,
  updateSession,
} from '../../storage/participant-repository.js';
import {
  ensureCompositionRow,
  findConsultationCompositions,
  insertRecordings,
  listConsultationRecordings,
  updateRecording,
  updateRoomComposition,
} from '../../storage/recording-repository.js';
import { lockFreeConsultations } from '../../storage/row-locks.js';
import type { StoreTransaction } from '../../storage/store.js';
import type { LiveEvent } from '../live/live-events.js';
import { projectConsent } from './consent-projection.js';

export interface ProjectionResult {
  readonly live: LiveEvent[];
  /** True when new outbox entries were queued (the worker is woken after commit). */
  readonly queuedEffects: boolean;
  /** Consultations folded again from all their callbacks in this batch (late, out-of-order, cancelled or closed since, or no state stored). */
  readonly refolded: number;
  /** Consultations whose row another transaction holds: not folded now, to be tried again later. */
  readonly skipped?: readonly string[];
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

type ConsultationRow = Awaited<ReturnType<typeof findConsultationsForProjection>>[number];

export async function projectConsultations(
  trx: StoreTransaction,
  consultationIds: readonly string[],
  now: string,
): Promise<ProjectionResult> {
  // Another instance may be projecting the same consultation from callbacks this transaction
  // cannot see yet: only a consultation whose row lock we hold is folded (row-locks.ts); one
  // held elsewhere is skipped and folded later, once the holder has committed.
  const ids = await lockFreeConsultations(trx, consultationIds);
  const locked = new Set(ids);
  const skipped = consultationIds.filter((id) => !locked.has(id));
  const consultations = (await findConsultationsForProjection(trx, ids))
    .filter((row): row is ConsultationRow & { room_sid: string } => row.room_sid !== null)
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  // Every room of each consultation (rejoining): the current one, and those before it.
  const roomsOf = new Map<string, string[]>(consultations.map((row) => [row.id, [row.room_sid]]));
  for (const room of await listConsultationRooms(
    trx,
    consultations.map((row) => row.id),
  )) {
    const rooms = roomsOf.get(room.consultationId)!;
    if (room.roomSid !== null && !rooms.includes(room.roomSid)) rooms.push(room.roomSid);
  }
  const fresh = await unfoldedCallbacksOfRooms(trx, [...roomsOf.values()].flat());
  const eventsByRoom = new Map<string, VideoEvent[]>();
  // Whose recording each new recording callback is about (the consent check reads it).
  const identityOfRecording = new Map<string, string>();
  for (const callback of fresh) {
    const event = eventOf(callback);
    if (!event) continue;
    if ('recordingSid' in event && event.identity !== undefined) identityOfRecording.set(event.recordingSid, event.identity);
    const list = eventsByRoom.get(callback.room_sid!) ?? [];
    list.push(event);
    eventsByRoom.set(callback.room_sid!, list);
  }
  const eventsOf = (id: string) => roomsOf.get(id)!.flatMap((roomSid) => eventsByRoom.get(roomSid) ?? []);
  await markCallbacksProcessed(
    trx,
    fresh.map((callback) => callback.id),
    now,
  );

  // Roles of the identities the new events name (a refold looks up its own).
  const roles = await rolesOf(
    trx,
    consultations.map((row) => ({ id: row.id, events: eventsOf(row.id) })),
  );

  const live: LiveEvent[] = [];
  let queuedEffects = false;
  let refolded = 0;
  for (const row of consultations) {
    const events = eventsOf(row.id);
    const previous = row.fold_state === null ? null : (JSON.parse(row.fold_state) as ConsultationFoldState);
    const closedAt = row.closed_at === null ? undefined : Date.parse(row.closed_at);
    // Nothing new: no callback, and no close the state has not folded in yet.
    if (previous && events.length === 0 && previous.closedAt === closedAt) continue;
    const consultation: ConsultationFoldInput['consultation'] = {
      id: row.id,
      roomSid: row.room_sid,
      roomSids: roomsOf.get(row.id)!,
      record: Boolean(row.record),
      cancelled: row.status === 'cancelled',
      roundingSeconds: row.billing_rounding_seconds,
      ...(row.window_closes_at !== null ? { windowClosesAt: Date.parse(row.window_closes_at) } : {}),
      ...(closedAt !== undefined ? { closedAt } : {}),
    };
    let next = previous && stepConsultation(previous, { consultation, events, roles: roles.get(row.id) ?? new Map() });
    if (!next) {
      next = await refold(trx, consultation);
      refolded++;
    }
    const settings = billingSettingsOf(row);
    const record = recordOf(next, consultation);
    // The previous billing columns only when this record bills: nothing else compares against them.
    // A state stored with one composition for every room says nothing per room: the tables do.
    const before =
      previous?.roomCompositions !== undefined
        ? imageOfState(previous, row, consultation, settings, hasBillingEffect(record))
        : await imageOfTables(trx, row);
    const result = await writeRecord(trx, row, before, previous, next, record, now, settings, identityOfRecording);
    live.push(...result.live);
    queuedEffects ||= result.queuedEffects;
  }
  // The durable event log: in this transaction, so an event exists exactly when its change does.
  await appendTenantEvents(trx, live);
  return { live, queuedEffects, refolded, skipped };
}

/**
 * The same schema parse that admitted the callback (one reading of every field); a fact the
 * reconciler read from Twilio's REST API (or an operator's) is marked so, and gives way to a
 * callback of the same fact.
 */
function eventOf(row: { params: string; source: string }): VideoEvent | undefined {
  const event = videoEventOfParams(row.params);
  if (!event) return undefined;
  return row.source !== 'callback' ? ({ ...event, source: row.source } as VideoEvent) : event;
}

/** The consultation folded from all its accepted callbacks: a late event, or no stored state. */
async function refold(trx: StoreTransaction, consultation: ConsultationFoldInput['consultation']): Promise<ConsultationFoldState> {
  const callbacks = await acceptedCallbacksOfRooms(trx, consultation.roomSids ?? [consultation.roomSid]);
  const events = callbacks.map(eventOf).filter((event): event is VideoEvent => event !== undefined);
  const roles = await rolesOf(trx, [{ id: consultation.id, events }]);
  return foldConsultationState({ consultation, events, roles: roles.get(consultation.id) ?? new Map() });
}

/** identity → role per consultation, for the identities these events name. */
async function rolesOf(
  trx: StoreTransaction,
  wanted: readonly { id: string; events: readonly VideoEvent[] }[],
): Promise<Map<string, Map<string, string>>> {
  const identities = new Set<string>();
  const consultationIds: string[] = [];
  for (const { id, events } of wanted) {
    let any = false;
    for (const event of events) {
      if (event.type !== 'participant-connected' && event.type !== 'participant-disconnected') continue;
      if (event.identity === undefined) continue;
      identities.add(event.identity);
      any = true;
    }
    if (any) consultationIds.push(id);
  }
  const result = new Map<string, Map<string, string>>();
  for (const row of await findIssuedRoles(trx, consultationIds, [...identities])) {
    const roles = result.get(row.consultation_id) ?? new Map<string, string>();
    roles.set(row.identity, row.role);
    result.set(row.consultation_id, roles);
  }
  return result;
}

/** What the tables hold for a consultation, in the shape the writes compare against. */
interface Image {
  readonly status: string;
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly sessions: ReadonlyMap<string, { identity: string; connected_at: string; disconnected_at: string | null }>;
  /** created_at undefined: as stored, unknown here (the recording's start was never seen). */
  readonly recordings: ReadonlyMap<string, RecordingImage>;
  /** roomSid → that room's composition row. */
  readonly compositions: ReadonlyMap<string, { status: string; composition_sid: string | null; media_uri: string | null }>;
  readonly billing: { billable_seconds: number; rounded_seconds: number; intervals: string; evidence: string | null } | undefined;
  /** The outbox keys known to exist; undefined: ask the outbox. */
  readonly outboxKeys: ReadonlySet<string> | undefined;
  /** Rooms whose end is recorded; undefined: mark every ended room (a no-op for those marked). */
  readonly roomEnds?: Readonly<Record<string, number>> | undefined;
}

interface RecordingImage {
  readonly track_name: string | null;
  readonly participant_sid: string | null;
  readonly kind: string | null;
  readonly status: string;
  readonly duration: number | null;
  readonly size: number | null;
  readonly media_uri: string | null;
  readonly created_at: string | undefined;
  readonly completed_at: string | null;
}

const sessionFields = (session: ConsultationRecord['sessions'][number]) => ({
  identity: session.identity ?? '',
  connected_at: iso(session.connectedAt)!,
  disconnected_at: iso(session.disconnectedAt),
});

const recordingFields = (recording: ConsultationRecord['recordings'][number]) => ({
  track_name: recording.trackName ?? null,
  participant_sid: recording.participantSid ?? null,
  kind: recording.kind ?? null,
  status: recording.status,
  duration: recording.duration ?? null,
  size: recording.size ?? null,
  media_uri: recording.mediaUri ?? null,
  completed_at: iso(recording.completedAt),
});

const hasBillingEffect = (record: ConsultationRecord) => record.effects.some((effect) => effect.kind === 'record-billing');

type BillingFields = NonNullable<Image['billing']>;

/** The billing record's columns, with its evidence (core/billing: how the time was measured, the suggested code). */
const billingFields = (record: ConsultationRecord, settings: BillingSettings): BillingFields | undefined => {
  const effect = record.effects.find((candidate) => candidate.kind === 'record-billing');
  if (!effect || effect.kind !== 'record-billing') return undefined;
  const evidence = billingEvidence({ sessions: record.sessions, tracks: record.tracks, billing: effect.billing, ...settings });
  return {
    billable_seconds: effect.billing.billableSeconds,
    rounded_seconds: effect.billing.roundedSeconds,
    intervals: JSON.stringify(effect.billing.intervals.map((interval) => ({ start: iso(interval.start), end: iso(interval.end) }))),
    evidence: canonicalJson(evidence),
  };
};

/**
 * The tables as the stored state wrote them (state and rows commit together); the billing
 * columns only `withBilling` (undefined otherwise: the evidence is the costly part).
 */
function imageOfState(
  state: ConsultationFoldState,
  row: ConsultationRow,
  consultation: ConsultationFoldInput['consultation'],
  settings: BillingSettings,
  withBilling: boolean,
): Image {
  const record = recordOf(state, consultation);
  return {
    status: row.status,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    sessions: new Map(record.sessions.filter((session) => session.connectedAt !== null).map((s) => [s.participantSid, sessionFields(s)])),
    recordings: new Map(
      record.recordings.map((recording) => [
        recording.recordingSid,
        { ...recordingFields(recording), created_at: iso(recording.startedAt) ?? undefined },
      ]),
    ),
    compositions: new Map(
      record.compositions.map((composition) => [
        composition.roomSid,
        { status: composition.status, composition_sid: composition.compositionSid ?? null, media_uri: composition.mediaUri ?? null },
      ]),
    ),
    billing: withBilling ? billingFields(record, settings) : undefined,
    outboxKeys: new Set(record.effects.filter((effect) => effect.kind !== 'record-billing').map((effect) => effect.key)),
    roomEnds: state.roomEnds,
  };
}

/** The tables as they are: when no state is stored, the writes compare against the rows. */
async function imageOfTables(trx: StoreTransaction, row: ConsultationRow): Promise<Image> {
  const [sessions, recordings, compositions, billing] = await Promise.all([
    listConsultationSessions(trx, row.id),
    listConsultationRecordings(trx, row.id),
    findConsultationCompositions(trx, row.id),
    findBillingFields(trx, row.id),
  ]);
  return {
    status: row.status,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    sessions: new Map(sessions.map((session) => [session.participant_sid, session])),
    recordings: new Map(recordings.map((recording) => [recording.recording_sid, recording])),
    compositions: new Map(compositions.map((composition) => [composition.room_sid, composition])),
    billing,
    outboxKeys: undefined,
  };
}

/** True when every field of `next` equals the same field of `previous`. */
function same(previous: object | undefined, next: Record<string, unknown>): boolean {
  return previous !== undefined && Object.entries(next).every(([key, value]) => (previous as Record<string, unknown>)[key] === value);
}

async function writeRecord(
  trx: StoreTransaction,
  row: ConsultationRow & { room_sid: string },
  before: Image,
  previous: ConsultationFoldState | null,
  state: ConsultationFoldState,
  record: ConsultationRecord,
  now: string,
  settings: BillingSettings,
  identityOfRecording: ReadonlyMap<string, string>,
): Promise<{ live: LiveEvent[]; queuedEffects: boolean }> {
  const id = row.id;
  const startedAt = iso(record.startedAt);
  const endedAt = iso(record.endedAt);
  // A no-show named when the appointment window closed (no-show sweep) is final: callbacks that
  // arrive later (the room's end) update the fold state, never that status. So is a cancellation
  // (POST …/cancel, or a room Twilio could not create): the room-ended its completion causes, or
  // a callback stored before it and folded after, leaves the status, its end (the cancel's moment)
  // and the status history as the cancel left them — the API closes that history with the
  // cancellation at the row's update (consultation-view.ts).
  const cancelled = row.status === 'cancelled';
  const statusChanged =
    !row.no_show_missing && !cancelled && (before.status !== record.status || before.startedAt !== startedAt || before.endedAt !== endedAt);
  // The state is written whenever it changed (it holds the last Timestamp); the status history
  // when the timeline did (the stored state's was written with it); the status fields, the
  // version and updated_at only when the record's status changed.
  const foldState = JSON.stringify(state);
  const historyChanged = !cancelled && (previous === null || !sameTimeline(previous.timeline, record.timeline));
  if (foldState !== row.fold_state || historyChanged || statusChanged)
    await updateConsultation(trx, id, {
      fold_state: foldState,
      ...(historyChanged ? { status_history: statusHistoryJson(record.timeline) } : {}),
      ...(statusChanged
        ? { status: record.status, started_at: startedAt, ended_at: endedAt, updated_at: now, version: row.version + 1 }
        : {}),
    });

  // Only what changed is written: most callbacks touch one session or one recording.
  const keep = new Set<string>();
  // New rows go in one INSERT per table (a consultation's first fold often has them all).
  const newSessions: { participantSid: string; fields: ReturnType<typeof sessionFields> }[] = [];
  for (const session of record.sessions) {
    if (session.connectedAt === null) continue;
    keep.add(session.participantSid);
    const fields = sessionFields(session);
    const previous = before.sessions.get(session.participantSid);
    if (same(previous, fields)) continue;
    if (previous) await updateSession(trx, id, session.participantSid, fields);
    else newSessions.push({ participantSid: session.participantSid, fields });
  }
  await insertSessions(trx, id, newSessions);
  await deleteSessions(
    trx,
    id,
    [...before.sessions.keys()].filter((sid) => !keep.has(sid)),
  );

  const newRecordings: ConsultationRecord['recordings'][number][] = [];
  const recordingRows: Parameters<typeof insertRecordings>[2][number][] = [];
  for (const recording of record.recordings) {
    const previous = before.recordings.get(recording.recordingSid);
    const started = iso(recording.startedAt);
    // The start, when known, is the row's created_at; else the row keeps its own (or now, new).
    const fields = { ...recordingFields(recording), ...(started ? { created_at: started } : {}) };
    if (same(previous, fields)) continue;
    if (previous) await updateRecording(trx, recording.recordingSid, fields);
    else {
      recordingRows.push({ recordingSid: recording.recordingSid, fields: { ...fields, created_at: started ?? now } });
      newRecordings.push(recording);
    }
  }
  await insertRecordings(trx, id, recordingRows);
  // Recording that follows consent: rules on joins and leaves (all-parties), unconsented recordings flagged.
  const consent = await projectConsent(trx, {
    consultation: row,
    before: before.sessions,
    record,
    newRecordings,
    identityOfRecording,
    now,
  });

  // Each room's composition in its own row: a callback of one room never writes another's.
  for (const composition of record.compositions) {
    const stored = before.compositions.get(composition.roomSid);
    const unchanged =
      composition.status === 'none' ||
      (stored?.status === composition.status &&
        stored.media_uri === (composition.mediaUri ?? null) &&
        (!composition.compositionSid || stored.composition_sid === composition.compositionSid));
    if (unchanged) continue;
    await ensureCompositionRow(trx, id, composition.roomSid, now);
    await updateRoomComposition(trx, id, composition.roomSid, {
      status: composition.status,
      ...(composition.compositionSid ? { composition_sid: composition.compositionSid } : {}),
      media_uri: composition.mediaUri ?? null,
      updated_at: now,
    });
  }

  // Rooms whose end the fold has now seen (a token request opens the next room after it).
  const ended = Object.entries(state.roomEnds ?? {}).filter(([roomSid]) => before.roomEnds?.[roomSid] === undefined);
  if (ended.length > 0) await markRoomsEnded(trx, id, Object.fromEntries(ended.map(([roomSid, at]) => [roomSid, iso(at)!])));

  // The same sessions and tracks (the step leaves those it does not touch as they were) bill the
  // same: the stored state's billing columns are this record's too.
  const billing =
    previous !== null &&
    before.billing !== undefined &&
    hasBillingEffect(record) &&
    sameItems(previous.sessions, state.sessions) &&
    sameItems(previous.tracks, state.tracks)
      ? before.billing
      : billingFields(record, settings);
  // A consultation back in progress in a later room (rejoining) bills nothing in its state, yet
  // its record exists: the tables say whether this is its first record or a correction.
  const billedBefore = billing && !before.billing ? await findBillingFields(trx, id) : before.billing;
  // Still one record: a late event, or a later room's end, that changes the overlap corrects it in place.
  if (billing && !same(billedBefore, billing)) {
    await upsertBillingRecord(trx, { consultationId: id, tenantId: row.tenant_id, now, fields: billing });
  }

  let queuedEffects = false;
  const wanted = record.effects.filter((effect) => effect.kind !== 'record-billing' && !before.outboxKeys?.has(effect.key));
  if (wanted.length > 0) {
    const known = await existingOutboxKeys(
      trx,
      wanted.map((effect) => effect.key),
    );
    for (const effect of wanted) {
      if (known.has(effect.key)) continue;
      // A composition is per room: the effect names its room when the consultation had several.
      const payload = { consultationId: id, roomSid: ('roomSid' in effect && effect.roomSid) || row.room_sid };
      queuedEffects = (await enqueueOutboxEntry(trx, { kind: effect.kind, key: effect.key, payload, now })) || queuedEffects;
    }
  }

  const billed = billing === undefined ? 'no' : billedBefore === undefined ? 'recorded' : same(billedBefore, billing) ? 'no' : 'corrected';
  return {
    live: [...liveEvents(row, before, record, billed, now), ...consent.live],
    queuedEffects: queuedEffects || consent.queuedEffects,
  };
}

function sameTimeline(previous: readonly StatusChange[], next: readonly StatusChange[]): boolean {
  return (
    previous.length === next.length &&
    previous.every(
      (change, index) => change.status === next[index]!.status && change.at === next[index]!.at && change.source === next[index]!.source,
    )
  );
}

/** The same objects, in the same order (none undefined: a state from before tracks were folded). */
function sameItems<T>(previous: readonly T[] | undefined, next: readonly T[] | undefined): boolean {
  return (
    previous !== undefined && next !== undefined && previous.length === next.length && previous.every((item, index) => item === next[index])
  );
}

function liveEvents(
  row: ConsultationRow,
  before: Image,
  record: ConsultationRecord,
  billed: 'no' | 'recorded' | 'corrected',
  at: string,
): LiveEvent[] {
  const base = { tenantId: row.tenant_id, consultationId: row.id, at };
  const live: LiveEvent[] = [];
  // A no-show the sweep named has had its events: the fold's later view of it adds none.
  const statusMoved = !row.no_show_missing && before.status !== record.status;
  if (statusMoved) live.push({ ...base, type: 'consultation.status', data: { from: before.status, to: record.status } });
  if (statusMoved && record.status === 'no-show')
    live.push({ ...base, type: 'consultation.no_show', data: { endedAt: iso(record.endedAt) } });
  for (const session of record.sessions) {
    const previous = before.sessions.get(session.participantSid);
    if (!previous && session.connectedAt !== null)
      live.push({
        ...base,
        type: 'participant.joined',
        data: { identity: session.identity, role: session.role, at: iso(session.connectedAt) },
      });
    if (session.disconnectedAt !== null && !previous?.disconnected_at)
      live.push({ ...base, type: 'participant.left', data: { identity: session.identity, at: iso(session.disconnectedAt) } });
  }
  for (const recording of record.recordings) {
    if (recording.status === 'completed' && before.recordings.get(recording.recordingSid)?.status !== 'completed') {
      live.push({ ...base, type: 'recording.available', data: { recordingSid: recording.recordingSid } });
    }
  }
  for (const composition of record.compositions) {
    if (composition.status === 'available' && before.compositions.get(composition.roomSid)?.status !== 'available')
      live.push({
        ...base,
        type: 'composition.available',
        data: { compositionSid: composition.compositionSid, roomSid: composition.roomSid },
      });
  }
  const billing = record.effects.find((effect) => effect.kind === 'record-billing');
  if (billing && billing.kind === 'record-billing' && billed !== 'no')
    live.push({
      ...base,
      type: billed === 'recorded' ? 'billing.recorded' : 'billing.corrected',
      data: { billableSeconds: billing.billing.billableSeconds, roundedSeconds: billing.billing.roundedSeconds },
    });
  return live;
}
