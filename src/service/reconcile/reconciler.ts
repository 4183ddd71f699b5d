/**
 * The reconciler: Twilio delivers callbacks at least once, but not always. For a consultation
 * whose record is overdue (late callbacks held, a room quiet past the empty-room timeout, an
 * ended room never compared, a composition not available in time) it asks Twilio's REST API what
 * happened in each of its rooms (rejoining: every room, not only the current one), and what it
 * learns enters the record through the same fold as callbacks: synthetic inbox rows (`source:
 * reconciled`), one per fact, keyed so that writing a fact twice is a no-op, and superseded in
 * the fold by a callback of the same fact. Confirmed late callbacks are released. Effects keep
 * their keys (billing per consultation, composition per room): exactly once, whatever arrives
 * later. A change to a record raises an alert: callbacks are being lost.
 */
import type { Logger } from 'pino';
import { isVideoEvent, type VideoEvent } from '../../core/consultation/consultation-event.js';
import {
  planReconciliation,
  type ReconcileInput,
  type ReconcilePlan,
  type RestParticipant,
  type RestRecording,
} from '../../core/consultation/reconciled-facts.js';
import { parseVideoEvent } from '../../core/consultation/video-event-from-callback.js';
import { checkIdentity } from '../../core/identity/identity-policy.js';
import {
  findOverdueConsultations,
  insertReconciledFacts,
  loadConsultationForReconcile,
  loadIssuedIdentities,
  loadRoomInbox,
  markReconciled,
  reconciledRow,
  recordDigest,
  releaseHeldCallbacks,
  roomsWithCompositionWaiting,
  type OverdueReason,
} from '../../storage/reconcile-repository.js';
import { listConsultationRooms } from '../../storage/consultation-room-repository.js';
import { lockConsultations } from '../../storage/row-locks.js';
import type { Store } from '../../storage/store.js';
import type { ReconcileConfig } from '../config.js';
import { projectConsultations, type ProjectionResult } from '../consultations/consultation-projector.js';
import type { Metrics } from '../metrics.js';
import {
  TwilioApiError,
  type TwilioComposition,
  type TwilioParticipant,
  type TwilioRoom,
  type TwilioRoomRecording,
} from '../twilio/twilio-rest-client.js';
import type { TwilioReader } from './twilio-reader.js';

export type ReconcileOutcome =
  'unchanged' | 'changed' | 'would-change' | 'room-unknown' | 'retry-later' | 'account-mismatch' | 'no-room' | 'not-found' | 'failed';

export interface ConsultationReconciliation {
  readonly consultationId: string;
  readonly reason: OverdueReason | 'asked';
  readonly outcome: ReconcileOutcome;
  /** Facts added from the REST API, by event type. */
  readonly facts: readonly string[];
  /** Late callbacks confirmed and applied. */
  readonly confirmedLate: number;
  /** Late callbacks the REST API did not confirm (still held). */
  readonly unconfirmedLate: number;
  readonly error?: string;
}

export interface ReconcileReport {
  readonly dryRun: boolean;
  readonly consultations: readonly ConsultationReconciliation[];
}

export interface ReconcilerOptions {
  readonly store: Store;
  readonly twilio: TwilioReader;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly clock: () => Date;
  readonly config: ReconcileConfig;
  /** The account rooms were created under when a consultation does not say (before migration 0004). */
  readonly defaultAccountSid: () => string | undefined;
  /** After a commit that changed records: publish their live events, wake the outbox. */
  readonly onProjected?: (result: ProjectionResult) => void;
  /** A record was changed by reconciliation (callbacks are being lost). */
  readonly onChanged?: (change: ConsultationReconciliation) => void;
}

/** Overdue consultations handled per pass at most (the rest wait for the next one). */
const PASS_LIMIT = 500;

export class Reconciler {
  constructor(private readonly options: ReconcilerOptions) {}

  /** One pass: every overdue consultation, or just the one asked for. */
  async run(request: { consultationId?: string; dryRun?: boolean } = {}): Promise<ReconcileReport> {
    const dryRun = request.dryRun ?? false;
    const targets: [string, OverdueReason | 'asked'][] = request.consultationId
      ? [[request.consultationId, 'asked']]
      : [...(await this.overdue()).entries()];
    const consultations: ConsultationReconciliation[] = [];
    for (const [id, reason] of targets) consultations.push(await this.reconcileOne(id, reason, dryRun));
    return { dryRun, consultations };
  }

  private async overdue(): Promise<Map<string, OverdueReason>> {
    const now = this.options.clock().getTime();
    const { config } = this.options;
    const at = (ms: number) => new Date(ms).toISOString();
    return findOverdueConsultations(this.options.store.db, {
      quietBefore: at(now - config.quietMs),
      endedBefore: at(now - config.settleMs),
      // Older ended consultations were compared already, or predate reconciliation.
      endedAfter: at(now - 24 * 3_600_000),
      compositionBefore: at(now - config.compositionMs),
      limit: PASS_LIMIT,
    });
  }

  private async reconcileOne(id: string, reason: OverdueReason | 'asked', dryRun: boolean): Promise<ConsultationReconciliation> {
    const { store, logger, metrics } = this.options;
    const result = (outcome: ReconcileOutcome, plan?: ReconcilePlan, error?: string): ConsultationReconciliation => ({
      consultationId: id,
      reason,
      outcome,
      facts: plan?.facts.map((fact) => fact.event) ?? [],
      confirmedLate: plan?.confirmed.length ?? 0,
      unconfirmedLate: plan?.unconfirmed.length ?? 0,
      ...(error ? { error } : {}),
    });
    try {
      const consultation = await loadConsultationForReconcile(store.db, id);
      if (!consultation) return result('not-found');
      const now = this.options.clock();
      if (!consultation.room_sid) return result('no-room');
      const currentSid = consultation.room_sid;
      const accountSid = consultation.account_sid ?? this.options.defaultAccountSid();
      // Every room of the consultation, oldest first (rejoining): a callback lost for an earlier
      // room counts as much as one of the current room. (No rooms rows: the current one alone.)
      const rooms = (await listConsultationRooms(store.db, [id])).flatMap(({ roomSid, endedAt }) =>
        roomSid !== null && roomSid !== currentSid ? [{ roomSid, endedAt }] : [],
      );
      const waiting = consultation.record ? await roomsWithCompositionWaiting(store.db, id) : new Set<string>();
      const issued = await loadIssuedIdentities(store.db, id);
      const planned: { roomSid: string; accountSid: string; plan: ReconcilePlan }[] = [];
      for (const { roomSid, endedAt } of [...rooms, { roomSid: currentSid, endedAt: null }]) {
        const current = roomSid === currentSid;
        const inbox = await loadRoomInbox(store.db, roomSid);
        const known: VideoEvent[] = [];
        const held: { id: string; event: VideoEvent }[] = [];
        for (const row of inbox) {
          const event = parseVideoEvent(JSON.parse(row.params) as [string, string][]);
          if (!isVideoEvent(event)) continue;
          if (row.held === 'late') held.push({ id: row.id, event });
          else known.push(event);
        }

        // An ended room whose every session closed by its own disconnect, every recording settled,
        // with nothing held and no composition waiting, has nothing Twilio could add: no REST read. (The current room
        // counts as ended when the consultation does; an earlier one when its end is known.)
        const ended = current ? reason === 'ended' : endedAt !== null || known.some((event) => event.type === 'room-ended');
        if (ended && held.length === 0 && !missesDisconnects(known) && !missesRecordingEnds(known) && !waiting.has(roomSid)) continue;

        let room;
        try {
          room = await this.options.twilio.fetchRoom(roomSid);
        } catch (error) {
          if (!(error instanceof TwilioApiError && error.status === 404)) throw error;
          // An earlier room Twilio no longer knows adds nothing; the others are still read.
          if (!current) continue;
          // Twilio answers 404 for a room fetched right after it ended (twilio-node #593): try
          // again at a later pass; long after, the room is unknown to Twilio (an operator can
          // finish the consultation: `roomgate consultation complete`). Nothing is written.
          // (A lost room-ended leaves no ended_at: the room's last callback says when it was alive.)
          const lastActivity = Math.max(
            Date.parse(consultation.updated_at),
            consultation.ended_at ? Date.parse(consultation.ended_at) : 0,
            ...inbox.map((row) => Date.parse(row.received_at)),
          );
          const recent = now.getTime() - lastActivity < this.options.config.settleMs;
          const outcome = recent ? 'retry-later' : 'room-unknown';
          metrics.reconcileChecks.inc({ outcome });
          if (!dryRun && outcome === 'room-unknown') await markReconciled(store.db, id, now.toISOString());
          return result(outcome);
        }
        // Any room of another account: nothing of the consultation is written.
        if (accountSid === undefined || (room.account_sid !== undefined && room.account_sid !== accountSid)) {
          metrics.reconcileChecks.inc({ outcome: 'account-mismatch' });
          logger.error({ alert: 'reconcile-account-mismatch', consultationId: id, roomSid }, 'the room belongs to another Twilio account');
          return result('account-mismatch');
        }
        const participants = await this.options.twilio.listParticipants(roomSid);
        const compositions = consultation.record ? await this.options.twilio.listCompositions(roomSid) : [];
        // A lost recording-completed would keep the room's composition from ever being requested.
        const recordings = consultation.record ? await this.options.twilio.listRecordings(roomSid) : [];
        const roomPlan = planReconciliation({
          accountSid,
          ...fromRest(room, participants, compositions),
          recordings: recordings.map(recordingFromRest),
          known,
          held,
          stuckBefore: now.getTime() - 2 * this.options.config.compositionMs,
          admits: (identity) => checkIdentity(identity).ok && issued.has(identity),
        });
        planned.push({ roomSid, accountSid, plan: roomPlan });
      }
      if (planned.length === 0) {
        if (!dryRun) await markReconciled(store.db, id, now.toISOString());
        metrics.reconcileChecks.inc({ outcome: 'unchanged' });
        return result('unchanged');
      }
      const plan: ReconcilePlan = {
        facts: planned.flatMap((room) => room.plan.facts),
        confirmed: planned.flatMap((room) => room.plan.confirmed),
        unconfirmed: planned.flatMap((room) => room.plan.unconfirmed),
      };
      const changes = plan.facts.length + plan.confirmed.length;
      if (dryRun) return result(changes > 0 ? 'would-change' : 'unchanged', plan);

      const stamp = now.toISOString();
      const { changed, projection } = await store.transaction(async (trx) => {
        await lockConsultations(trx, [id]);
        const before = await recordDigest(trx, id);
        const rows = planned.flatMap(({ roomSid, accountSid, plan: own }) =>
          own.facts.map((fact) =>
            reconciledRow({ roomSid, accountSid, fact: fact.fact, event: fact.event, params: fact.params, now: stamp }),
          ),
        );
        const inserted = await insertReconciledFacts(trx, rows);
        const released = await releaseHeldCallbacks(trx, plan.confirmed);
        await markReconciled(trx, id, stamp);
        const projection = inserted + released > 0 ? await projectConsultations(trx, [id], stamp) : undefined;
        return { changed: projection !== undefined && (await recordDigest(trx, id)) !== before, projection };
      });
      if (projection) this.options.onProjected?.(projection);
      for (const fact of plan.facts) metrics.reconciledFacts.inc({ event: fact.event });
      if (plan.confirmed.length > 0) metrics.reconciledFacts.inc({ event: 'late-confirmed' }, plan.confirmed.length);
      const outcome = changed ? 'changed' : 'unchanged';
      metrics.reconcileChecks.inc({ outcome });
      const report = result(outcome, plan);
      if (changed) {
        metrics.alerts.inc({ kind: 'reconciliation-changed-record' });
        logger.warn(
          { alert: 'reconciliation-changed-record', consultationId: id, facts: report.facts, confirmedLate: report.confirmedLate },
          'reconciliation changed a record: callbacks are being lost or delayed',
        );
        this.options.onChanged?.(report);
      }
      return report;
    } catch (error) {
      metrics.reconcileChecks.inc({ outcome: 'failed' });
      logger.warn({ err: error, consultationId: id }, 'reconciliation of a consultation failed; next pass');
      return result('failed', undefined, error instanceof Error ? error.message : String(error));
    }
  }
}

/** True when a participant connected but its disconnect is not known (the room's end closed it). */
function missesDisconnects(events: readonly VideoEvent[]): boolean {
  return startsWithoutEnd(
    events,
    ['participant-connected'],
    ['participant-disconnected'],
    (e) => (e as { participantSid: string }).participantSid,
  );
}

/** True when a recording started but neither its completion nor its failure is known. */
function missesRecordingEnds(events: readonly VideoEvent[]): boolean {
  return startsWithoutEnd(
    events,
    ['recording-started'],
    ['recording-completed', 'recording-failed'],
    (e) => (e as { recordingSid: string }).recordingSid,
  );
}

/** Whether something (named by `id`) has a start event among these and no end event. */
function startsWithoutEnd(
  events: readonly VideoEvent[],
  starts: readonly string[],
  ends: readonly string[],
  id: (event: VideoEvent) => string,
): boolean {
  const ended = new Set(events.filter((e) => ends.includes(e.type)).map(id));
  return events.some((e) => starts.includes(e.type) && !ended.has(id(e)));
}

function recordingFromRest(r: TwilioRoomRecording): RestRecording {
  return {
    sid: r.sid,
    status: r.status,
    createdAt: ms(r.date_created),
    duration: r.duration ?? null,
    size: r.size ?? null,
    participantSid: r.grouping_sids?.participant_sid ?? null,
    trackName: r.track_name ?? null,
    sourceSid: r.source_sid ?? null,
    kind: r.type ?? null,
    container: r.container ?? null,
    codec: r.codec ?? null,
  };
}

/** The REST resources in the pure planner's terms (dates in ms). */
function fromRest(
  room: TwilioRoom,
  participants: readonly TwilioParticipant[],
  compositions: readonly TwilioComposition[],
): Pick<ReconcileInput, 'room' | 'participants' | 'compositions'> {
  return {
    room: {
      sid: room.sid,
      uniqueName: room.unique_name,
      status: room.status,
      createdAt: ms(room.date_created),
      endedAt: ms(room.end_time),
      duration: room.duration ?? null,
    },
    participants: participants.map((p): RestParticipant => ({
      sid: p.sid,
      identity: p.identity,
      status: p.status,
      startedAt: ms(p.start_time),
      endedAt: ms(p.end_time),
      duration: p.duration,
    })),
    compositions: compositions.map((c) => ({
      sid: c.sid,
      status: c.status,
      createdAt: ms(c.date_created),
      completedAt: ms(c.date_completed),
      duration: c.duration ?? null,
      size: c.size ?? null,
    })),
  };
}

function ms(value: string | null | undefined): number | null {
  if (!value) return null;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : at;
}
