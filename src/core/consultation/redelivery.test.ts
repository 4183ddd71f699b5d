/**
 * What the other property tests' generators do not make: a callback redelivered with another
 * SequenceNumber (stored twice: the inbox key includes it), among same-millisecond events;
 * composition callbacks; connects lost (inferred from ParticipantDuration) and disconnects
 * stamped after the room's end; two rooms. The record depends only on the distinct events, and
 * the incremental fold equals the full fold.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { VideoEvent } from './consultation-event.js';
import {
  foldConsultation,
  foldConsultationState,
  initialFoldState,
  recordOf,
  stepConsultation,
  type ConsultationFoldInput,
  type ConsultationFoldState,
} from './consultation-state.js';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const ROOMS = ['RM00000000000000000000000000000001', 'RM00000000000000000000000000000002'];
const ROLES = new Map([
  ['clin-1', 'clinician'],
  ['pt-1', 'patient'],
  ['obs-1', 'observer'],
]);

/** Events of up to 2 rooms with sessions, recordings, compositions, lost connects with durations, track spans. */
const gen = fc
  .record({
    rooms: fc.array(
      fc.record({
        sessions: fc.array(
          fc.tuple(
            fc.constantFrom('clin-1', 'pt-1', 'obs-1'),
            fc.integer({ min: 0, max: 400 }),
            fc.integer({ min: 1, max: 300 }),
            fc.constantFrom('leaves', 'stays', 'lost-connect', 'late-leave'),
          ),
          { minLength: 1, maxLength: 5 },
        ),
        length: fc.integer({ min: 100, max: 500 }),
        recordings: fc.array(fc.constantFrom('completed', 'failed', 'started', 'completed-late'), { maxLength: 2 }),
        compositions: fc.array(fc.tuple(fc.constantFrom('enqueued', 'started', 'available', 'failed', 'hook-failed'), fc.nat(50)), {
          maxLength: 3,
        }),
        ends: fc.boolean(),
      }),
      { minLength: 1, maxLength: 2 },
    ),
    window: fc.option(fc.integer({ min: 0, max: 1500 }), { nil: undefined }),
    record: fc.boolean(),
    msJitter: fc.boolean(),
  })
  .map(({ rooms, window, record, msJitter }) => {
    const events: VideoEvent[] = [];
    let start = 0;
    let sid = 0;
    const at = (s: number, salt: number) => T0 + s * 1000 + (msJitter ? salt % 3 : 0);
    const roomSids: string[] = [];
    rooms.forEach((spec, r) => {
      const roomSid = ROOMS[r]!;
      roomSids.push(roomSid);
      events.push({ type: 'room-created', timestamp: at(start, 0), roomSid });
      const end = at(start + spec.length, 1);
      for (const [identity, from, length, how] of spec.sessions) {
        const participantSid = `PA${r}${++sid}`;
        const c = at(start + Math.min(from, spec.length), sid);
        if (how !== 'lost-connect') events.push({ type: 'participant-connected', timestamp: c, roomSid, participantSid, identity });
        events.push({ type: 'track-added', timestamp: c, roomSid, participantSid, identity, trackSid: `MT${sid}`, trackKind: 'audio' });
        if (how === 'leaves' || how === 'lost-connect') {
          const d = c + length * 1000;
          events.push({
            type: 'participant-disconnected',
            timestamp: d,
            roomSid,
            participantSid,
            identity,
            participantDuration: Math.round((d - c) / 1000),
          });
        }
        if (how === 'late-leave' && spec.ends) {
          const d = end + length * 1000;
          events.push({
            type: 'participant-disconnected',
            timestamp: d,
            roomSid,
            participantSid,
            identity,
            participantDuration: Math.round((d - c) / 1000),
          });
        }
      }
      spec.recordings.forEach((how, i) => {
        const recordingSid = `RT${r}${i}`;
        events.push({ type: 'recording-started', timestamp: at(start + 1, i), roomSid, recordingSid });
        if (how === 'completed') events.push({ type: 'recording-completed', timestamp: end - 10, roomSid, recordingSid, duration: 5 });
        if (how === 'completed-late')
          events.push({ type: 'recording-completed', timestamp: end + 5000, roomSid, recordingSid, duration: 5 });
        if (how === 'failed') events.push({ type: 'recording-failed', timestamp: end + 300, roomSid, recordingSid });
      });
      if (spec.ends) events.push({ type: 'room-ended', timestamp: end, roomSid });
      spec.compositions.forEach(([how, k], i) => {
        const compositionSid = how === 'hook-failed' ? undefined : `CJ${r}${i}`;
        events.push({
          type: `composition-${how}` as VideoEvent['type'],
          timestamp: end + 10_000 + k * 1000,
          roomSid,
          ...(compositionSid ? { compositionSid } : {}),
        } as VideoEvent);
      });
      start += spec.length + 30;
    });
    const consultation: ConsultationFoldInput['consultation'] = {
      id: 'con_1',
      roomSid: roomSids.at(-1)!,
      roomSids,
      record,
      roundingSeconds: 60,
      ...(window !== undefined ? { windowClosesAt: T0 + window * 1000 } : {}),
    };
    return { consultation, events };
  });

/** Shuffled, some delivered again — as sent, or with another SequenceNumber — cut into batches. */
const deliveries = (events: VideoEvent[]) =>
  fc
    .tuple(
      fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }),
      fc.array(fc.tuple(fc.nat(events.length - 1), fc.option(fc.nat(1000), { nil: undefined })), { maxLength: 6 }),
      fc.uniqueArray(fc.nat(events.length + 6), { maxLength: 6 }),
    )
    .map(([shuffled, dups, cuts]) => {
      const all = [...shuffled, ...dups.map(([i, seq]) => (seq === undefined ? events[i]! : { ...events[i]!, sequenceNumber: seq }))];
      const points = [0, ...cuts.filter((cut) => cut < all.length).sort((a, b) => a - b), all.length];
      return points.slice(1).map((end, i) => all.slice(points[i]!, end));
    });

describe('redeliveries and the events the other generators lack', () => {
  it('incremental equals full, with variant duplicates, compositions, lost connects, late leaves', () => {
    fc.assert(
      fc.property(
        gen.chain((c) => fc.tuple(fc.constant(c), deliveries(c.events), fc.boolean())),
        ([c, batches, fromInitial]) => {
          const stored: VideoEvent[] = [];
          let state: ConsultationFoldState | null = fromInitial ? initialFoldState() : null;
          for (const batch of batches) {
            stored.push(...batch);
            const stepped = state && stepConsultation(state, { consultation: c.consultation, events: batch, roles: ROLES });
            state = JSON.parse(
              JSON.stringify(stepped ?? foldConsultationState({ consultation: c.consultation, events: stored, roles: ROLES })),
            ) as ConsultationFoldState;
          }
          const full = foldConsultation({ consultation: c.consultation, events: c.events, roles: ROLES });
          const withVariants = foldConsultation({ consultation: c.consultation, events: stored, roles: ROLES });
          expect(withVariants).toEqual(full);
          expect(recordOf(state!, c.consultation)).toEqual(full);
          const keys = full.effects.map((e) => e.key);
          expect(new Set(keys).size).toBe(keys.length);
          for (const s of full.sessions)
            if (s.connectedAt !== null && s.disconnectedAt !== null) expect(s.connectedAt).toBeLessThanOrEqual(s.disconnectedAt);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a redelivery with another SequenceNumber is the same event: same-millisecond composition callbacks', () => {
    const consultation = { id: 'con_1', roomSid: ROOMS[0]!, record: true, roundingSeconds: 60 };
    const at = T0 + 60_000;
    const hookFailed: VideoEvent = { type: 'composition-hook-failed', timestamp: at, roomSid: ROOMS[0]! };
    const enqueued: VideoEvent = { type: 'composition-enqueued', timestamp: at, roomSid: ROOMS[0]!, compositionSid: 'CJ01' };
    const distinct = [hookFailed, enqueued];
    const full = foldConsultation({ consultation, events: distinct, roles: ROLES });
    expect(full.composition.status).toBe('enqueued');
    // The hook-failed again, SequenceNumber 0 (the first had none): not walked again after the enqueued.
    const again = [...distinct, { ...hookFailed, sequenceNumber: 0 }];
    expect(foldConsultation({ consultation, events: again, roles: ROLES })).toEqual(full);
    const state = stepConsultation(foldConsultationState({ consultation, events: distinct, roles: ROLES }), {
      consultation,
      events: [{ ...hookFailed, sequenceNumber: 0 }],
      roles: ROLES,
    });
    expect(state).toBeNull(); // at the state's last Timestamp: folded again, from the distinct events
  });

  it('a connect inferred from ParticipantDuration after its room ended is ignored, like a connect stamped then', () => {
    const consultation = { id: 'con_1', roomSid: ROOMS[0]!, record: false, roundingSeconds: 60 };
    const end = T0 + 100_000;
    const events: VideoEvent[] = [
      { type: 'room-created', timestamp: T0, roomSid: ROOMS[0]! },
      { type: 'participant-connected', timestamp: end + 1, roomSid: ROOMS[0]!, participantSid: 'PA1', identity: 'clin-1' },
      { type: 'room-ended', timestamp: end, roomSid: ROOMS[0]! },
      // Its connect (at end + 1 ms, after the end) is dropped; its duration would put it there again.
      {
        type: 'participant-disconnected',
        timestamp: end + 1_001,
        roomSid: ROOMS[0]!,
        participantSid: 'PA1',
        identity: 'clin-1',
        participantDuration: 1,
      },
    ];
    const record = foldConsultation({ consultation, events, roles: ROLES });
    expect(record.sessions).toEqual([
      { participantSid: 'PA1', identity: 'clin-1', role: 'clinician', roomSid: ROOMS[0]!, connectedAt: null, disconnectedAt: end },
    ]);
  });
});
