/**
 * The projector folds incrementally (a consultation's stored state + its new callbacks), and
 * folds a consultation again from all its callbacks when one arrives late. On every engine,
 * through real sockets, for any permutation, duplication and batching of a consultation's
 * callbacks, what the database ends up holding equals the full fold of all of them (core's
 * `foldConsultation`): status and times, sessions, recordings, billing, the composition request,
 * and the stored fold state itself. Also for a consultation over several rooms (rejoining, with an
 * appointment window, closed or not): callbacks of all its rooms interleaved, the close arriving
 * between any two batches.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VideoEvent } from '../../src/core/consultation/consultation-event.js';
import {
  MAX_COMPOSITION_ATTEMPTS,
  foldConsultation,
  recordOf as recordOfState,
  type ConsultationFoldState,
  type ConsultationRecord,
} from '../../src/core/consultation/consultation-state.js';
import { claimNextRoom, makeCurrentRoom } from '../../src/storage/consultation-room-repository.js';
import { cancelOpenConsultation, findConsultationsForProjection, updateConsultation } from '../../src/storage/consultation-repository.js';
import { loadConsultationView } from '../../src/service/consultations/consultation-view.js';
import { billingEvidence } from '../../src/core/billing/billing-evidence.js';
import { findBillingFields } from '../../src/storage/billing-repository.js';
import { canonicalJson } from '../../src/core/billing/canonical-json.js';
import { billingSettingsOf } from '../../src/service/consultations/billing-settings.js';
import { closeAndProject } from '../../src/service/consultations/consultation-close.js';
import { enginesUnderTest } from '../support/engines.js';
import { signFormList } from '../support/signed-callback.js';
import { randomHex, startTestService, type TestService } from '../support/test-service.js';
import { listen, type Listening } from '../support/webhook-http.js';

interface Consultation {
  readonly id: string;
  readonly roomSid: string;
  readonly roomName: string;
  /** Every room (rejoining), when more than one. */
  readonly roomSids?: readonly string[];
}

interface Scenario {
  readonly roles: Map<string, string>;
  readonly events: VideoEvent[];
}

/**
 * 2–4 participants (a clinician and a patient among them), 1–2 sessions each, recordings, the
 * room's end. An identity names its role (`patient-1`), so the same identity in several rooms has
 * one role. `scale` shrinks the room's seconds (several rooms must fit the replay window).
 */
function scenario(roomSid: string, t0: number, scale = 1) {
  const session = fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 200 }), fc.boolean());
  return fc
    .record({
      extra: fc.array(fc.constantFrom('patient', 'observer', 'interpreter', 'clinician'), { maxLength: 2 }),
      sessions: fc.array(fc.array(session, { minLength: 1, maxLength: 2 }), { minLength: 4, maxLength: 4 }),
      recordings: fc.integer({ min: 0, max: 2 }),
      endAt: fc.integer({ min: 250, max: 500 }),
      // Same-millisecond events (a leave and a join at once) are where incremental folds can go wrong.
      sameMillisecond: fc.boolean(),
    })
    .map(({ extra, sessions, recordings, endAt, sameMillisecond }): Scenario => {
      const roles = new Map<string, string>();
      const at = (seconds: number) => t0 + Math.round(seconds * (sameMillisecond ? 1000 : 997) * scale);
      const events: VideoEvent[] = [{ type: 'room-created', timestamp: t0, roomSid }];
      let sid = 0;
      ['clinician', 'patient', ...extra].forEach((role, index) => {
        const identity = `${role}-${index}`;
        roles.set(identity, role);
        for (const [start, length, leaves] of sessions[index]!) {
          const participantSid = `PA${roomSid.slice(2, 18)}${String(++sid).padStart(16, '0')}`;
          events.push({ type: 'participant-connected', timestamp: at(start), roomSid, participantSid, identity });
          if (leaves) events.push({ type: 'participant-disconnected', timestamp: at(start + length), roomSid, participantSid, identity });
        }
      });
      for (let r = 1; r <= recordings; r++) {
        // SIDs are unique across rooms (recordings.recording_sid is UNIQUE): the room's own digits.
        const recordingSid = `RT${roomSid.slice(2, 18)}${String(r).padStart(16, '0')}`;
        const who = { participantSid: `PA${roomSid.slice(2, 18)}${String(1).padStart(16, '0')}`, identity: 'clinician-0' };
        events.push({ type: 'recording-started', timestamp: t0 + 500 * r, roomSid, recordingSid, ...who, trackName: `audio-${r}` });
        events.push({ type: 'recording-completed', timestamp: at(endAt) + 900 * r, roomSid, recordingSid, ...who, duration: endAt });
      }
      events.push({ type: 'room-ended', timestamp: at(endAt), roomSid });
      return { roles, events };
    });
}

type CompositionOutcome = 'none' | 'composes' | 'fails-then-composes' | 'fails-past-bound';

/** A room's composition callbacks after its end: each attempt enqueued, then failed or available. */
function compositionEvents(roomSid: string, endedAt: number, outcome: CompositionOutcome): VideoEvent[] {
  const failures = { none: -1, composes: 0, 'fails-then-composes': 1, 'fails-past-bound': MAX_COMPOSITION_ATTEMPTS }[outcome];
  const events: VideoEvent[] = [];
  for (let attempt = 0; attempt <= Math.min(failures, MAX_COMPOSITION_ATTEMPTS - 1); attempt++) {
    const compositionSid = `CJ${roomSid.slice(2, 18)}${String(attempt).padStart(16, '0')}`;
    const at = endedAt + 5_000 * (attempt + 1);
    events.push({ type: 'composition-enqueued', timestamp: at, roomSid, compositionSid });
    events.push(
      attempt < failures
        ? { type: 'composition-failed', timestamp: at + 1_000, roomSid, compositionSid }
        : {
            type: 'composition-available',
            timestamp: at + 1_000,
            roomSid,
            compositionSid,
            mediaUri: `/v1/Compositions/${compositionSid}/Media`,
          },
    );
  }
  return events;
}

/** The event as Twilio's parameters. */
function params(event: VideoEvent, accountSid: string, roomName: string, sequence: number): [string, string][] {
  const out: [string, string][] = [
    ['AccountSid', accountSid],
    ['RoomName', roomName],
    ['RoomSid', event.roomSid],
    ['RoomStatus', event.type === 'room-ended' ? 'completed' : 'in-progress'],
    ['StatusCallbackEvent', event.type],
    ['Timestamp', new Date(event.timestamp).toISOString()],
    ['SequenceNumber', String(sequence)],
  ];
  if ('participantSid' in event && event.participantSid) out.push(['ParticipantSid', event.participantSid]);
  if ('identity' in event && event.identity) out.push(['ParticipantIdentity', event.identity]);
  if ('compositionSid' in event && event.compositionSid) out.push(['CompositionSid', event.compositionSid]);
  if (event.type === 'composition-available' && event.mediaUri) out.push(['MediaUri', event.mediaUri]);
  if ('recordingSid' in event) {
    out.push(['RecordingSid', event.recordingSid]);
    if (event.trackName) out.push(['TrackName', event.trackName]);
    if (event.duration !== undefined) out.push(['Duration', String(event.duration)]);
  }
  return out;
}

/**
 * How a callback is delivered again: as sent; its parameters in another order (the signature and
 * the event are the same); with another SequenceNumber (Twilio's internal counter: a distinct
 * inbox row, the same event); with its Timestamp written to the microsecond (another inbox row,
 * the same instant).
 */
type Redelivery = 'same' | 'reordered' | 'sequence' | 'timestamp';
const REDELIVERIES: readonly Redelivery[] = ['same', 'reordered', 'sequence', 'timestamp'];

function redelivered(list: [string, string][], how: Redelivery): [string, string][] {
  switch (how) {
    case 'same':
      return list;
    case 'reordered':
      return [...list].reverse();
    case 'sequence':
      return list.map(([name, value]) => [name, name === 'SequenceNumber' ? String(Number(value) + 1000) : value]);
    case 'timestamp':
      return list.map(([name, value]) => [name, name === 'Timestamp' ? value.replace(/Z$/, '000Z') : value]);
  }
}

/** What the tables hold, in the fold's own terms. */
async function stored(service: TestService, consultation: Consultation) {
  const db = service.store.db;
  const row = await db
    .selectFrom('consultations')
    .select(['status', 'started_at', 'ended_at', 'fold_state', 'status_history'])
    .where('id', '=', consultation.id)
    .executeTakeFirstOrThrow();
  const sessions = await db
    .selectFrom('participant_sessions')
    .select(['participant_sid', 'identity', 'connected_at', 'disconnected_at'])
    .where('consultation_id', '=', consultation.id)
    .orderBy('participant_sid')
    .execute();
  const recordings = await db
    .selectFrom('recordings')
    .select(['recording_sid', 'status', 'track_name', 'duration', 'completed_at'])
    .where('consultation_id', '=', consultation.id)
    .orderBy('recording_sid')
    .execute();
  const billing = await db
    .selectFrom('billing_records')
    .select(['billable_seconds', 'rounded_seconds', 'intervals'])
    .where('consultation_id', '=', consultation.id)
    .execute();
  const rooms = consultation.roomSids ?? [consultation.roomSid];
  const outbox = await db
    .selectFrom('outbox')
    .select('dedupe_key')
    .where((eb) => eb.or(rooms.map((roomSid) => eb('dedupe_key', 'like', `%${roomSid}%`))))
    .execute();
  return { row, sessions, recordings, billing, outbox: outbox.map((entry) => entry.dedupe_key).sort() };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

async function storedEvidence(service: TestService, consultationId: string) {
  return (await findBillingFields(service.store.db, consultationId))?.evidence;
}

/** The billing evidence of the full fold's record, under the consultation's billing settings. */
async function expectedEvidence(service: TestService, consultationId: string, record: ConsultationRecord) {
  const [row] = await findConsultationsForProjection(service.store.db, [consultationId]);
  const effect = record.effects.find((candidate) => candidate.kind === 'record-billing');
  if (!row || effect?.kind !== 'record-billing') return undefined;
  return canonicalJson(
    billingEvidence({ sessions: record.sessions, tracks: record.tracks, billing: effect.billing, ...billingSettingsOf(row) }),
  );
}

/** The same shape, from the full fold. */
function expected(record: ConsultationRecord) {
  const billing = record.effects.find((effect) => effect.kind === 'record-billing');
  return {
    row: { status: record.status, started_at: iso(record.startedAt), ended_at: iso(record.endedAt) },
    sessions: record.sessions
      .filter((session) => session.connectedAt !== null)
      .map((session) => ({
        participant_sid: session.participantSid,
        identity: session.identity,
        connected_at: iso(session.connectedAt),
        disconnected_at: iso(session.disconnectedAt),
      }))
      .sort((a, b) => (a.participant_sid < b.participant_sid ? -1 : 1)),
    recordings: record.recordings.map((recording) => ({
      recording_sid: recording.recordingSid,
      status: recording.status,
      track_name: recording.trackName ?? null,
      duration: recording.duration ?? null,
      completed_at: iso(recording.completedAt),
    })),
    billing:
      billing?.kind === 'record-billing'
        ? [
            {
              billable_seconds: billing.billing.billableSeconds,
              rounded_seconds: billing.billing.roundedSeconds,
              intervals: JSON.stringify(
                billing.billing.intervals.map((interval) => ({ start: iso(interval.start), end: iso(interval.end) })),
              ),
            },
          ]
        : [],
    outbox: record.effects
      .filter((effect) => effect.kind !== 'record-billing')
      .map((effect) => effect.key)
      .sort(),
    history: record.timeline.map((change) => ({ status: change.status, at: iso(change.at) })),
  };
}

for (const engine of enginesUnderTest()) {
  describe(`incremental projection on ${engine.name}`, () => {
    let service: TestService;
    let http: Listening;
    let tenantId: string;

    beforeAll(async () => {
      service = await startTestService(engine);
      http = await listen(service);
      ({ tenantId } = await service.seedTenant());
    });
    afterAll(async () => service?.close());

    /**
     * Seeds a consultation, delivers the batches (each one's callbacks at once; an entry is an
     * event's index, or an index and how it is delivered again), returns what is stored and expected.
     */
    async function deliver(s: Scenario, roomSid: string, batches: readonly (readonly (number | readonly [number, Redelivery])[])[]) {
      const consultation = await service.seedConsultation(tenantId, { roomSid, identities: Object.fromEntries(s.roles) });
      const request = (entry: number | readonly [number, Redelivery]) => {
        const [index, how] = typeof entry === 'number' ? [entry, 'same' as const] : entry;
        const list = redelivered(params(s.events[index]!, service.accountSid, consultation.roomName, index), how);
        return signFormList(http.webhookUrl, service.authToken, list);
      };
      for (const batch of batches) {
        const statuses = await Promise.all(batch.map((entry) => http.post(request(entry))));
        expect(statuses.every((status) => status === 204)).toBe(true);
        await service.app.roomgate.drain();
      }
      const record = foldConsultation({
        consultation: { id: consultation.id, roomSid, record: true, roundingSeconds: 60 },
        events: s.events,
        roles: s.roles,
      });
      return { actual: await stored(service, consultation), want: expected(record), record, consultation };
    }

    it('for any permutation, duplication (also redelivered in another form) and batching of the callbacks, the database holds the full fold', async () => {
      const t0 = Date.now() - 10 * 60_000;
      await fc.assert(
        fc.asyncProperty(
          fc
            .constant(null)
            .chain(() => {
              const roomSid = `RM${randomHex(16)}`;
              return scenario(roomSid, t0).map((s) => ({ s, roomSid }));
            })
            .chain(({ s, roomSid }) =>
              fc
                .tuple(
                  fc.shuffledSubarray(
                    s.events.map((_, index) => index),
                    { minLength: s.events.length, maxLength: s.events.length },
                  ),
                  fc.array(fc.tuple(fc.nat(s.events.length - 1), fc.constantFrom(...REDELIVERIES)), { maxLength: 5 }),
                  fc.uniqueArray(fc.nat(s.events.length + 5), { maxLength: 5 }),
                )
                .map(([order, duplicates, cuts]) => {
                  const all: (number | readonly [number, Redelivery])[] = [...order, ...duplicates];
                  const points = [0, ...cuts.filter((cut) => cut < all.length).sort((a, b) => a - b), all.length];
                  return { s, roomSid, batches: points.slice(1).map((end, i) => all.slice(points[i]!, end)) };
                }),
            ),
          async ({ s, roomSid, batches }) => {
            const { actual, want, record, consultation } = await deliver(s, roomSid, batches);
            expect({
              row: { status: actual.row.status, started_at: actual.row.started_at, ended_at: actual.row.ended_at },
              sessions: actual.sessions,
              recordings: actual.recordings,
            }).toEqual({ row: want.row, sessions: want.sessions, recordings: want.recordings });
            // A billing record and an outbox entry, once written, are corrected in place but never
            // withdrawn (a financial record; a request Twilio may already have): the full fold's are
            // there, and a billing record exactly as the full fold computes it when it bills.
            if (want.billing.length > 0) expect(actual.billing).toEqual(want.billing);
            // …with the full fold's evidence (how the time was measured), however it was stepped.
            if (want.billing.length > 0)
              expect(await storedEvidence(service, consultation.id)).toBe(await expectedEvidence(service, consultation.id, record));
            expect(actual.outbox).toEqual(expect.arrayContaining(want.outbox));
            // The stored state is the full fold's, and so is the status history.
            const state = JSON.parse(actual.row.fold_state!) as ConsultationFoldState;
            expect(recordOfState(state, { id: '', roomSid, record: true, roundingSeconds: 60 }).sessions).toEqual(record.sessions);
            expect(state.status).toBe(record.status);
            expect(JSON.parse(actual.row.status_history!)).toEqual(want.history);
          },
        ),
        // No shrinking: each run seeds its own consultation, and a shrunk run is no clearer.
        { numRuns: engine.name === 'sqlite' ? 25 : 12, endOnFailure: true },
      );
    }, 300_000);

    it('over several rooms (rejoining): any permutation, duplication and batching across rooms, the close at any batch — the full fold', async () => {
      const t0 = Date.now() - 10 * 60_000;
      // Each room ~150 s (scaled), one after another 200 s apart: three rooms fit the replay window.
      const roomSpacing = 200_000;
      const multi = fc
        .record({
          rooms: fc.integer({ min: 1, max: 3 }),
          lastLive: fc.boolean(),
          window: fc.integer({ min: 0, max: 700 }),
          closed: fc.option(fc.integer({ min: 0, max: 700 }), { nil: undefined }),
          // Each room's composition (a room that recorded and ended): Twilio's callbacks per attempt.
          outcomes: fc.array(fc.constantFrom<CompositionOutcome>('none', 'composes', 'fails-then-composes', 'fails-past-bound'), {
            minLength: 3,
            maxLength: 3,
          }),
        })
        .chain(({ rooms, lastLive, window, closed, outcomes }) => {
          const roomSids = Array.from({ length: rooms }, () => `RM${randomHex(16)}`);
          return fc.tuple(...roomSids.map((roomSid, r) => scenario(roomSid, t0 + r * roomSpacing, 0.3))).map((parts) => {
            const roles = new Map(parts.flatMap((part) => [...part.roles]));
            const events = parts.flatMap((part, r) => {
              if (r === rooms - 1 && lastLive) return part.events.filter((event) => event.type !== 'room-ended');
              const ended = part.events.find((event) => event.type === 'room-ended')!;
              const recorded = part.events.some((event) => event.type === 'recording-completed');
              return [...part.events, ...(recorded ? compositionEvents(roomSids[r]!, ended.timestamp, outcomes[r]!) : [])];
            });
            return {
              outcomes,
              roomSids,
              s: { roles, events },
              windowClosesAt: t0 + window * 1000,
              closedAt: closed === undefined ? undefined : t0 + closed * 1000,
            };
          });
        })
        .chain((m) =>
          fc
            .tuple(
              fc.shuffledSubarray(
                m.s.events.map((_, index) => index),
                { minLength: m.s.events.length, maxLength: m.s.events.length },
              ),
              fc.array(fc.nat(m.s.events.length - 1), { maxLength: 5 }),
              fc.uniqueArray(fc.nat(m.s.events.length + 5), { maxLength: 5 }),
              fc.nat(6),
            )
            .map(([order, duplicates, cuts, closeAfter]) => {
              const all = [...order, ...duplicates];
              const points = [0, ...cuts.filter((cut) => cut < all.length).sort((a, b) => a - b), all.length];
              const batches = points.slice(1).map((end, i) => all.slice(points[i]!, end));
              return { ...m, batches, closeAfter: Math.min(closeAfter, batches.length - 1) };
            }),
        );
      await fc.assert(
        fc.asyncProperty(multi, async ({ outcomes, roomSids, s, windowClosesAt, closedAt, batches, closeAfter }) => {
          // The consultation and its rooms, as the API and the token route leave them.
          const seeded = await service.seedConsultation(tenantId, { roomSid: roomSids[0]!, identities: Object.fromEntries(s.roles) });
          const db = service.store.db;
          await updateConsultation(db, seeded.id, { window_closes_at: new Date(windowClosesAt).toISOString() });
          const roomNames = [seeded.roomName];
          for (let r = 1; r < roomSids.length; r++) {
            const roomName = `${seeded.roomName}-${r + 1}`;
            roomNames.push(roomName);
            await claimNextRoom(db, { consultationId: seeded.id, sequence: r + 1, roomName, now: new Date().toISOString() });
            await makeCurrentRoom(db, seeded.id, { roomName, roomSid: roomSids[r]! });
          }
          const consultation = { ...seeded, roomSid: roomSids.at(-1)!, roomSids };
          const nameOf = new Map(roomSids.map((roomSid, r) => [roomSid, roomNames[r]!]));
          const requests = s.events.map((event, index) =>
            signFormList(http.webhookUrl, service.authToken, params(event, service.accountSid, nameOf.get(event.roomSid)!, index)),
          );
          for (const [index, batch] of batches.entries()) {
            const statuses = await Promise.all(batch.map((i) => http.post(requests[i]!)));
            expect(statuses.every((status) => status === 204)).toBe(true);
            await service.app.roomgate.drain();
            if (index === closeAfter && closedAt !== undefined) {
              const now = new Date().toISOString();
              await service.store.transaction((trx) => closeAndProject(trx, seeded.id, new Date(closedAt).toISOString(), now));
            }
          }
          const input = {
            id: seeded.id,
            roomSid: consultation.roomSid,
            roomSids,
            record: true,
            roundingSeconds: 60,
            windowClosesAt,
            ...(closedAt !== undefined ? { closedAt } : {}),
          };
          const record = foldConsultation({ consultation: input, events: s.events, roles: s.roles });
          const actual = await stored(service, consultation);
          const want = expected(record);
          expect({
            row: { status: actual.row.status, started_at: actual.row.started_at, ended_at: actual.row.ended_at },
            sessions: actual.sessions,
            recordings: actual.recordings,
          }).toEqual({ row: want.row, sessions: want.sessions, recordings: want.recordings });
          if (want.billing.length > 0) expect(actual.billing).toEqual(want.billing);
          expect(actual.billing.length).toBeLessThanOrEqual(1);
          expect(actual.outbox).toEqual(expect.arrayContaining(want.outbox));
          const state = JSON.parse(actual.row.fold_state!) as ConsultationFoldState;
          expect(recordOfState(state, input).sessions).toEqual(record.sessions);
          expect(state.status).toBe(record.status);
          expect(JSON.parse(actual.row.status_history!)).toEqual(want.history);
          // A composition row per room, each with its own room's SID; retries only for the room that failed.
          const compositions = await db
            .selectFrom('compositions')
            .select(['room_sid', 'composition_sid', 'status', 'media_uri'])
            .where('consultation_id', '=', seeded.id)
            .orderBy('room_sid')
            .execute();
          expect(compositions).toEqual(
            [...record.compositions]
              .sort((a, b) => (a.roomSid < b.roomSid ? -1 : 1))
              .map((c) => ({
                room_sid: c.roomSid,
                composition_sid: c.compositionSid ?? null,
                status: c.status,
                media_uri: c.mediaUri ?? null,
              })),
          );
          for (const row of compositions) expect(row.composition_sid?.slice(2, 18)).toBe(row.room_sid.slice(2, 18));
          roomSids.forEach((roomSid, r) => {
            const retries = actual.outbox.filter((key) => key.startsWith(`composition:${roomSid}:retry-`));
            const reported = actual.outbox.includes(`composition-failed:${roomSid}`);
            const outcome = s.events.some((event) => event.roomSid === roomSid && event.type.startsWith('composition-'))
              ? outcomes[r]!
              : 'none';
            const bound = { none: 0, composes: 0, 'fails-then-composes': 1, 'fails-past-bound': MAX_COMPOSITION_ATTEMPTS - 1 }[outcome];
            expect(retries.length, `room ${r + 1} (${outcome}): retries`).toBeLessThanOrEqual(bound);
            expect(reported, `room ${r + 1} (${outcome}): reported`).toBe(outcome === 'fails-past-bound');
          });
        }),
        { numRuns: engine.name === 'sqlite' ? 20 : 8, endOnFailure: true },
      );
    }, 300_000);

    it('a consultation cancelled through the API keeps its end and status history when its room\u2019s callbacks are folded after the cancel', async () => {
      // POST …/cancel completes the room at Twilio, then marks the row: the room-ended that the
      // completion causes (and a callback stored before the cancel, folded after it) arrive later.
      const roomSid = `RM${randomHex(16)}`;
      const t0 = Date.now() - 5 * 60_000;
      const clinician = { participantSid: `PA${randomHex(16)}`, identity: 'clinician-0' };
      const events: VideoEvent[] = [
        { type: 'room-created', timestamp: t0, roomSid },
        { type: 'participant-connected', timestamp: t0 + 10_000, roomSid, ...clinician },
        { type: 'room-ended', timestamp: t0 + 30_000, roomSid },
      ];
      const { consultation } = await deliver({ roles: new Map([['clinician-0', 'clinician']]), events }, roomSid, [[0]]);
      const cancelledAt = new Date(t0 + 20_000).toISOString();
      expect(await cancelOpenConsultation(service.store.db, tenantId, consultation.id, cancelledAt)).toBe(true);
      const atCancel = await loadConsultationView(service.store, tenantId, consultation.id);
      expect(atCancel).toMatchObject({ status: 'cancelled', endedAt: cancelledAt });
      expect(atCancel!.statusHistory.map((entry) => [entry.status, entry.at])).toEqual([
        ['scheduled', atCancel!.createdAt],
        ['waiting', new Date(t0).toISOString()],
        ['cancelled', cancelledAt],
      ]);
      for (const index of [1, 2]) {
        const request = signFormList(
          http.webhookUrl,
          service.authToken,
          params(events[index]!, service.accountSid, consultation.roomName, index),
        );
        expect(await http.post(request)).toBe(204);
        await service.app.roomgate.drain();
      }
      const after = await loadConsultationView(service.store, tenantId, consultation.id);
      expect(after).toMatchObject({ status: 'cancelled', endedAt: cancelledAt, updatedAt: atCancel!.updatedAt });
      expect(after!.statusHistory).toEqual(atCancel!.statusHistory);
    });

    it('a late callback (earlier Timestamp than the state has seen) refolds the consultation: the meeting that never was', async () => {
      // In order, the clinician seems present when the patient joins at 60 s; their disconnect,
      // stamped the same millisecond, arrives after it, and only a refold from all callbacks
      // undoes the in-progress status: the room then ends a no-show, and nobody is billed.
      const roomSid = `RM${randomHex(16)}`;
      const t0 = Date.now() - 5 * 60_000;
      const clinician = { participantSid: `PA${'1'.padStart(32, '0')}`, identity: 'clinician-0' };
      const patient = { participantSid: `PA${'2'.padStart(32, '0')}`, identity: 'patient-1' };
      const events: VideoEvent[] = [
        { type: 'room-created', timestamp: t0, roomSid },
        { type: 'participant-connected', timestamp: t0 + 1_000, roomSid, ...clinician },
        { type: 'participant-connected', timestamp: t0 + 60_000, roomSid, ...patient },
        { type: 'participant-disconnected', timestamp: t0 + 60_000, roomSid, ...clinician },
        { type: 'room-ended', timestamp: t0 + 120_000, roomSid },
      ];
      const roles = new Map([
        ['clinician-0', 'clinician'],
        ['patient-1', 'patient'],
      ]);
      const { actual, want, consultation } = await deliver({ roles, events }, roomSid, [[0], [1], [2]]);
      expect(actual.row.status).toBe('in-progress');
      const late = signFormList(http.webhookUrl, service.authToken, params(events[3]!, service.accountSid, consultation.roomName, 3));
      expect(await http.post(late)).toBe(204);
      await service.app.roomgate.drain();
      expect((await stored(service, consultation)).row.status).toBe('waiting');
      const end = signFormList(http.webhookUrl, service.authToken, params(events[4]!, service.accountSid, consultation.roomName, 4));
      expect(await http.post(end)).toBe(204);
      await service.app.roomgate.drain();
      Object.assign(actual, await stored(service, consultation));
      expect(want.row.status).toBe('no-show');
      expect(actual.row.status).toBe('no-show');
      expect(actual.billing).toEqual([]);
      expect(actual.sessions).toEqual(want.sessions);
    });
  });
}
