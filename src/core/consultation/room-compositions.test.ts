/**
 * A consultation over several rooms composes each recorded room once, retries a room's failed
 * composition for that room alone, and keeps each composition with its own room — whatever the
 * order, duplication and batching of the callbacks. The outbox queues each effect key once, so
 * what Twilio is asked for is the union of the effects over every batch.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { VideoEvent } from './consultation-event.js';
import {
  MAX_COMPOSITION_ATTEMPTS,
  foldConsultation,
  foldConsultationState,
  recordOf,
  stepConsultation,
  type ConsultationEffect,
  type ConsultationFoldInput,
  type ConsultationFoldState,
  type ConsultationRecord,
} from './consultation-state.js';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const min = (n: number) => T0 + n * 60_000;
const ROOMS = ['RM00000000000000000000000000000001', 'RM00000000000000000000000000000002', 'RM00000000000000000000000000000003'];
const ROLES = new Map([
  ['clin-1', 'clinician'],
  ['pt-1', 'patient'],
]);

type Recording = 'recorded' | 'unrecorded' | 'recording-failed';
type Outcome = 'composes' | 'fails-then-composes' | 'fails-past-bound';

interface RoomSpec {
  readonly recording: Recording;
  readonly outcome: Outcome;
  /** Minutes after the room's end at which each of its composition's callbacks comes. */
  readonly delays: readonly number[];
}

/** Composition SIDs are per room and attempt, so a SID names the room it belongs to. */
const compositionSid = (room: number, attempt: number) => `CJ${room}${attempt}`.padEnd(34, '0');

/** One room: both sides meet in it; its recording; its composition's callbacks per attempt. */
function roomEvents(spec: RoomSpec, r: number): VideoEvent[] {
  const roomSid = ROOMS[r]!;
  const from = min(10 * r);
  const to = from + 5 * 60_000;
  const events: VideoEvent[] = [
    { type: 'room-created', timestamp: from - 1_000, roomSid },
    { type: 'participant-connected', timestamp: from, roomSid, participantSid: `PA${r}1`, identity: 'clin-1' },
    { type: 'participant-connected', timestamp: from, roomSid, participantSid: `PA${r}2`, identity: 'pt-1' },
    { type: 'room-ended', timestamp: to, roomSid },
  ];
  if (spec.recording !== 'unrecorded') {
    events.push({ type: 'recording-started', timestamp: from + 1_000, roomSid, recordingSid: `RT${r}` });
    const settled = spec.recording === 'recorded' ? 'recording-completed' : 'recording-failed';
    events.push({ type: settled, timestamp: to + 500, roomSid, recordingSid: `RT${r}` });
  }
  if (spec.recording !== 'recorded') return events;
  const failures = spec.outcome === 'composes' ? 0 : spec.outcome === 'fails-then-composes' ? 1 : MAX_COMPOSITION_ATTEMPTS;
  let at = to;
  for (let attempt = 0; attempt <= Math.min(failures, MAX_COMPOSITION_ATTEMPTS - 1); attempt++) {
    const sid = compositionSid(r, attempt);
    at += (spec.delays[attempt] ?? 1) * 60_000;
    events.push({ type: 'composition-enqueued', timestamp: at, roomSid, compositionSid: sid });
    events.push(
      attempt < failures
        ? { type: 'composition-failed', timestamp: at + 30_000, roomSid, compositionSid: sid }
        : {
            type: 'composition-available',
            timestamp: at + 30_000,
            roomSid,
            compositionSid: sid,
            mediaUri: `/v1/Compositions/${sid}/Media`,
          },
    );
  }
  return events;
}

const consultationOf = (rooms: number, closedAt?: number): ConsultationFoldInput['consultation'] => ({
  id: 'con_1',
  roomSid: ROOMS[rooms - 1]!,
  roomSids: ROOMS.slice(0, rooms),
  record: true,
  roundingSeconds: 60,
  windowClosesAt: min(120),
  ...(closedAt !== undefined ? { closedAt } : {}),
});

/** The room an effect acts on: named, or the consultation's own room. */
const targetOf = (effect: ConsultationEffect, consultation: ConsultationFoldInput['consultation']) =>
  effect.kind === 'record-billing' ? undefined : (effect.roomSid ?? consultation.roomSid);

const consultations = fc
  .record({
    rooms: fc.array(
      fc.record({
        recording: fc.constantFrom<Recording>('recorded', 'recorded', 'unrecorded', 'recording-failed'),
        outcome: fc.constantFrom<Outcome>('composes', 'fails-then-composes', 'fails-past-bound'),
        delays: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: MAX_COMPOSITION_ATTEMPTS, maxLength: MAX_COMPOSITION_ATTEMPTS }),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    closed: fc.boolean(),
  })
  .map(({ rooms, closed }) => ({
    rooms,
    events: rooms.flatMap(roomEvents),
    consultation: consultationOf(rooms.length),
    final: consultationOf(rooms.length, closed ? min(115) : undefined),
  }));

/** The events shuffled, some again, cut into 1–7 batches; the close becomes known at one of them. */
const deliveries = (events: readonly VideoEvent[]) =>
  fc
    .tuple(
      fc.shuffledSubarray([...events], { minLength: events.length, maxLength: events.length }),
      fc.array(fc.nat(events.length - 1), { maxLength: 6 }),
      fc.uniqueArray(fc.nat(events.length + 6), { maxLength: 6 }),
      fc.nat(7),
    )
    .map(([shuffled, duplicates, cuts, closeFrom]) => {
      const all = [...shuffled, ...duplicates.map((i) => events[i]!)];
      const points = [0, ...cuts.filter((cut) => cut < all.length).sort((a, b) => a - b), all.length];
      const batches = points.slice(1).map((end, i) => all.slice(points[i]!, end));
      return { batches, closeFrom: Math.min(closeFrom, batches.length - 1) };
    });

/** Folds the batches as the projector does (step, else fold again); every record on the way. */
function deliver(
  c: { events: readonly VideoEvent[]; consultation: ConsultationFoldInput['consultation']; final: ConsultationFoldInput['consultation'] },
  batches: readonly VideoEvent[][],
  closeFrom: number,
): { state: ConsultationFoldState; records: ConsultationRecord[] } {
  const stored: VideoEvent[] = [];
  const records: ConsultationRecord[] = [];
  let state: ConsultationFoldState | null = null;
  batches.forEach((batch, index) => {
    const consultation = index >= closeFrom ? c.final : c.consultation;
    stored.push(...batch);
    const stepped: ConsultationFoldState | null = state && stepConsultation(state, { consultation, events: batch, roles: ROLES });
    // Through JSON, as the projector stores it.
    state = JSON.parse(
      JSON.stringify(stepped ?? foldConsultationState({ consultation, events: stored, roles: ROLES })),
    ) as ConsultationFoldState;
    records.push(recordOf(state, consultation));
  });
  return { state: state!, records };
}

describe('property: compositions over several rooms', () => {
  it('one request per recorded room, retries for that room only, each composition in its own room, one bill; incremental equals full', () => {
    fc.assert(
      fc.property(
        consultations.chain((c) => fc.tuple(fc.constant(c), deliveries(c.events))),
        ([c, { batches, closeFrom }]) => {
          const { state, records } = deliver(c, batches, closeFrom);
          const full = foldConsultation({ consultation: c.final, events: c.events, roles: ROLES });
          expect(recordOf(state, c.final)).toEqual(full);

          // What the outbox was asked for: every key once, over every batch.
          const queued = new Map<string, { effect: ConsultationEffect; room: string | undefined }>();
          records.forEach((record, index) => {
            const consultation = index >= closeFrom ? c.final : c.consultation;
            for (const effect of record.effects) queued.set(effect.key, { effect, room: targetOf(effect, consultation) });
          });
          c.rooms.forEach((spec, r) => {
            const roomSid = ROOMS[r]!;
            const own = [...queued.values()].filter(({ room }) => room === roomSid);
            const requests = own.filter(({ effect }) => effect.kind === 'request-composition');
            const reports = own.filter(({ effect }) => effect.kind === 'report-composition-failure');
            if (spec.recording !== 'recorded') {
              expect(own, `room ${r + 1} recorded nothing: nothing to compose`).toEqual([]);
              return;
            }
            // Each effect of the room is keyed by the room, and by the attempt.
            for (const { effect } of own) expect(effect.key).toContain(roomSid);
            expect(requests.filter(({ effect }) => effect.kind === 'request-composition' && effect.attempt === 0)).toHaveLength(1);
            const retries = requests.filter(({ effect }) => effect.kind === 'request-composition' && effect.attempt > 0);
            const failures = spec.outcome === 'composes' ? 0 : spec.outcome === 'fails-then-composes' ? 1 : MAX_COMPOSITION_ATTEMPTS;
            expect(retries.length, `room ${r + 1}: retries only for its own failures`).toBeLessThanOrEqual(
              Math.min(failures, MAX_COMPOSITION_ATTEMPTS - 1),
            );
            if (spec.outcome === 'fails-past-bound') {
              expect(retries).toHaveLength(MAX_COMPOSITION_ATTEMPTS - 1);
              expect(reports).toHaveLength(1);
            } else expect(reports).toEqual([]);

            // The record keeps the room's composition, and only its own SIDs.
            const composition = full.compositions.find((candidate) => candidate.roomSid === roomSid);
            expect(composition?.status).toBe(spec.outcome === 'fails-past-bound' ? 'failed' : 'available');
            expect(composition?.compositionSid?.startsWith(`CJ${r}`)).toBe(true);
            expect(composition?.failures).toBe(failures);
            if (spec.outcome !== 'fails-past-bound')
              expect(composition?.compositionSid).toBe(compositionSid(r, spec.outcome === 'composes' ? 0 : 1));
          });
          // Never a composition for a room the consultation does not have.
          for (const { room } of queued.values()) if (room !== undefined) expect(c.final.roomSids).toContain(room);
          expect(full.compositions.map((composition) => composition.roomSid)).toEqual(
            ROOMS.filter((_, r) => c.rooms[r]?.recording === 'recorded'),
          );
          // `composition` stays the latest room's (what clients read before rooms).
          const latest = full.compositions.at(-1);
          if (latest) {
            const { roomSid: _room, ...rest } = latest;
            expect(full.composition).toEqual(rest);
          } else expect(full.composition.status).toBe('none');
          // Still one bill for the consultation, at every step.
          for (const record of records)
            expect(record.effects.filter((effect) => effect.kind === 'record-billing').length).toBeLessThanOrEqual(1);
          expect(full.effects.filter((effect) => effect.kind === 'record-billing').map((effect) => effect.key)).toEqual(['billing:con_1']);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('two rooms, the first room’s composition fails', () => {
  const rooms: RoomSpec[] = [
    { recording: 'recorded', outcome: 'fails-past-bound', delays: [30, 1, 1] },
    { recording: 'recorded', outcome: 'composes', delays: [1] },
  ];
  const events = rooms.flatMap(roomEvents);

  it('retries and reports the first room, and composes the second once', () => {
    const record = foldConsultation({ consultation: consultationOf(2), events, roles: ROLES });
    expect(record.effects.filter((effect) => effect.kind !== 'record-billing')).toEqual([
      { kind: 'request-composition', key: `composition:${ROOMS[0]}`, attempt: 0, roomSid: ROOMS[0] },
      { kind: 'request-composition', key: `composition:${ROOMS[1]}`, attempt: 0, roomSid: ROOMS[1] },
      { kind: 'request-composition', key: `composition:${ROOMS[0]}:retry-1`, attempt: 1, roomSid: ROOMS[0] },
      { kind: 'request-composition', key: `composition:${ROOMS[0]}:retry-2`, attempt: 2, roomSid: ROOMS[0] },
      { kind: 'report-composition-failure', key: `composition-failed:${ROOMS[0]}`, roomSid: ROOMS[0] },
    ]);
    expect(record.compositions.map(({ roomSid, status, compositionSid: sid }) => [roomSid, status, sid])).toEqual([
      [ROOMS[0], 'failed', compositionSid(0, 2)],
      [ROOMS[1], 'available', compositionSid(1, 0)],
    ]);
  });

  it('a stored state from before compositions were kept per room is folded again, not stepped', () => {
    const state = foldConsultationState({ consultation: consultationOf(2), events: events.slice(0, 6), roles: ROLES });
    const { roomCompositions: _per, ...old } = state;
    const legacy = { ...old, composition: { status: 'none', compositionSid: undefined, mediaUri: undefined }, failedCompositions: [] };
    expect(
      stepConsultation(legacy as ConsultationFoldState, { consultation: consultationOf(2), events: events.slice(6), roles: ROLES }),
    ).toBeNull();
    // …and its record still reads (the projector compares against it).
    expect(recordOf(legacy as ConsultationFoldState, consultationOf(2)).compositions).toEqual([]);
  });
});
