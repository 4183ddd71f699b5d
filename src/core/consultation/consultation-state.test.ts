import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { VideoEvent } from './consultation-event.js';
import { foldConsultation, type ConsultationFacts } from './consultation-state.js';

const ROOM = 'RM00000000000000000000000000000001';
const T0 = Date.parse('2026-03-01T10:00:00.000Z');

function event(type: VideoEvent['type'], at: number, extra: Partial<VideoEvent> = {}): VideoEvent {
  return {
    type,
    at,
    sequenceNumber: undefined,
    roomSid: ROOM,
    participantSid: undefined,
    identity: undefined,
    recordingSid: undefined,
    trackName: undefined,
    compositionSid: undefined,
    mediaUri: undefined,
    duration: undefined,
    size: undefined,
    ...extra,
  };
}

const facts = (roles: Record<string, string>, record = true): ConsultationFacts => ({
  id: 'con_1',
  roomSid: ROOM,
  record,
  cancelled: false,
  roles: new Map(Object.entries(roles)),
  roundingSeconds: 60,
});

describe('foldConsultation', () => {
  const roles = { 'clin-1': 'clinician', 'pt-1': 'patient' };
  const stream = [
    event('room-created', T0),
    event('participant-connected', T0 + 60_000, { participantSid: 'PA1', identity: 'clin-1' }),
    event('participant-connected', T0 + 120_000, { participantSid: 'PA2', identity: 'pt-1' }),
    event('recording-started', T0 + 120_000, { recordingSid: 'RT1', trackName: 'audio' }),
    event('participant-disconnected', T0 + 1_020_000, { participantSid: 'PA2', identity: 'pt-1' }),
    event('room-ended', T0 + 1_500_000),
    event('recording-completed', T0 + 1_510_000, { recordingSid: 'RT1', mediaUri: '/media/RT1', duration: 900 }),
  ];

  it('walks scheduled → waiting → in-progress → completed, bills the overlap, requests one composition', () => {
    expect(foldConsultation(facts(roles), []).status).toBe('scheduled');
    expect(foldConsultation(facts(roles), stream.slice(0, 2)).status).toBe('waiting');
    expect(foldConsultation(facts(roles), stream.slice(0, 3)).status).toBe('in-progress');
    const record = foldConsultation(facts(roles), stream);
    expect(record.status).toBe('completed');
    expect(record.startedAt).toBe(T0 + 120_000);
    expect(record.endedAt).toBe(T0 + 1_500_000);
    // The room's end closes the clinician's open session.
    expect(record.sessions.map((s) => [s.identity, s.connectedAt, s.disconnectedAt])).toEqual([
      ['clin-1', T0 + 60_000, T0 + 1_500_000],
      ['pt-1', T0 + 120_000, T0 + 1_020_000],
    ]);
    expect(record.effects).toEqual([
      { kind: 'request-composition', key: `composition:${ROOM}`, attempt: 0 },
      { kind: 'record-billing', key: 'billing:con_1', billing: { billableSeconds: 900, roundedSeconds: 900, intervals: [{ start: T0 + 120_000, end: T0 + 1_020_000 }] } },
    ]);
  });

  it('waits for every recording to settle before composing', () => {
    const record = foldConsultation(facts(roles), stream.slice(0, 6));
    expect(record.effects.map((e) => e.kind)).toEqual(['record-billing']);
  });

  it('is a no-show when the room ends without clinician and patient together', () => {
    const record = foldConsultation(facts(roles), [stream[0]!, stream[1]!, event('room-ended', T0 + 600_000)]);
    expect(record.status).toBe('no-show');
    expect(record.effects).toEqual([]);
  });

  it('retries a failed composition a bounded number of times, then reports it', () => {
    const failures = [1, 2, 3].map((n) => event('composition-failed', T0 + 2_000_000 + n, { compositionSid: `CJ${n}` }));
    const kinds = (n: number) => foldConsultation(facts(roles), [...stream, ...failures.slice(0, n)]).effects.map((e) => e.key);
    expect(kinds(1)).toEqual([`composition:${ROOM}`, `composition:${ROOM}:retry-1`, 'billing:con_1']);
    expect(kinds(3)).toEqual([`composition:${ROOM}`, `composition:${ROOM}:retry-1`, `composition:${ROOM}:retry-2`, `composition-failed:${ROOM}`, 'billing:con_1']);
  });
});

/** A generated consultation: participants with roles, connect/disconnect times, optional recording, the room's end. */
const consultationArbitrary = fc
  .record({
    participants: fc.array(
      fc.record({
        role: fc.constantFrom('clinician', 'patient', 'pet-owner', 'observer'),
        sessions: fc.array(fc.tuple(fc.integer({ min: 0, max: 3_600 }), fc.integer({ min: 1, max: 3_600 }), fc.boolean()), { minLength: 1, maxLength: 3 }),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    recorded: fc.boolean(),
    endAt: fc.integer({ min: 3_600, max: 8_000 }),
  })
  .map(({ participants, recorded, endAt }) => {
    const roles: Record<string, string> = {};
    const events: VideoEvent[] = [event('room-created', T0)];
    let sid = 0;
    participants.forEach((participant, index) => {
      const identity = `id-${index}`;
      roles[identity] = participant.role;
      for (const [start, length, leaves] of participant.sessions) {
        const participantSid = `PA${++sid}`;
        events.push(event('participant-connected', T0 + start * 1000, { participantSid, identity }));
        if (leaves && start + length < endAt) events.push(event('participant-disconnected', T0 + (start + length) * 1000, { participantSid, identity }));
      }
    });
    if (recorded) {
      events.push(event('recording-started', T0 + 1000, { recordingSid: 'RT1' }));
      events.push(event('recording-completed', T0 + endAt * 1000 + 5000, { recordingSid: 'RT1', mediaUri: '/m' }));
    }
    events.push(event('room-ended', T0 + endAt * 1000));
    return { roles, events, recorded };
  });

describe('foldConsultation property', () => {
  it('any permutation of the stream, with any events duplicated, gives the same record and effects at most once', () => {
    fc.assert(
      fc.property(
        consultationArbitrary.chain((c) =>
          fc.tuple(fc.constant(c), fc.shuffledSubarray(c.events, { minLength: c.events.length, maxLength: c.events.length }), fc.array(fc.nat(c.events.length - 1), { maxLength: 6 })),
        ),
        ([c, shuffled, duplicates]) => {
          const f = facts(c.roles, c.recorded);
          const expected = foldConsultation(f, c.events);
          const delivered = [...shuffled, ...duplicates.map((i) => c.events[i]!)];
          const record = foldConsultation(f, delivered);
          expect(record).toEqual(expected);
          const keys = record.effects.map((e) => e.key);
          expect(new Set(keys).size).toBe(keys.length);
          expect(record.effects.filter((e) => e.kind === 'record-billing').length).toBe(record.status === 'completed' ? 1 : 0);
          const compositions = record.effects.filter((e) => e.kind === 'request-composition').length;
          expect(compositions).toBe(c.recorded ? 1 : 0);
        },
      ),
      { numRuns: 500 },
    );
  });
});
