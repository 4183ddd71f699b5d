import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeBilling } from './billing-rule.js';
import type { VideoEvent } from './consultation-event.js';
import {
  foldConsultation,
  foldConsultationState,
  initialFoldState,
  nextStatus,
  recordOf,
  stepConsultation,
  type ConsultationFoldState,
  type ConsultationFoldInput,
  type ConsultationStatus,
  type ParticipantSession,
} from './consultation-state.js';

const ROOM = 'RM00000000000000000000000000000001';
const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const min = (n: number) => T0 + n * 60_000;

const roomEvent = (type: 'room-created' | 'room-ended', timestamp: number): VideoEvent => ({ type, timestamp, roomSid: ROOM });
const connect = (participantSid: string, identity: string, timestamp: number): VideoEvent => ({
  type: 'participant-connected',
  timestamp,
  roomSid: ROOM,
  participantSid,
  identity,
});
const disconnect = (participantSid: string, identity: string, timestamp: number): VideoEvent => ({
  type: 'participant-disconnected',
  timestamp,
  roomSid: ROOM,
  participantSid,
  identity,
});
const recording = (
  type: 'recording-started' | 'recording-completed' | 'recording-failed',
  recordingSid: string,
  timestamp: number,
  extra: object = {},
): VideoEvent => ({
  type,
  timestamp,
  roomSid: ROOM,
  recordingSid,
  ...extra,
});
const composition = (
  type: 'composition-enqueued' | 'composition-available' | 'composition-failed',
  compositionSid: string,
  timestamp: number,
  extra: object = {},
): VideoEvent => ({
  type,
  timestamp,
  roomSid: ROOM,
  compositionSid,
  ...extra,
});

const ROLES = new Map([
  ['clin-1', 'clinician'],
  ['pt-1', 'patient'],
  ['obs-1', 'observer'],
]);

const fold = (events: readonly VideoEvent[], consultation: Partial<ConsultationFoldInput['consultation']> = {}, roles = ROLES) =>
  foldConsultation({ consultation: { id: 'con_1', roomSid: ROOM, record: true, roundingSeconds: 60, ...consultation }, events, roles });

describe('foldConsultation', () => {
  // clinician 10:01–(room end 10:25), patient 10:02–10:17, recording RT1, room ends 10:25.
  const stream: VideoEvent[] = [
    roomEvent('room-created', T0),
    connect('PA1', 'clin-1', min(1)),
    connect('PA2', 'pt-1', min(2)),
    recording('recording-started', 'RT1', min(2), { trackName: 'audio' }),
    disconnect('PA2', 'pt-1', min(17)),
    roomEvent('room-ended', min(25)),
    recording('recording-completed', 'RT1', min(25) + 10_000, { mediaUri: '/media/RT1', duration: 900 }),
  ];

  it('walks scheduled → waiting → in-progress → completed, bills the overlap, requests one composition', () => {
    expect(fold([]).status).toBe('scheduled');
    expect(fold(stream.slice(0, 2)).status).toBe('waiting');
    expect(fold(stream.slice(0, 3)).status).toBe('in-progress');
    expect(fold(stream.slice(0, 5)).status).toBe('in-progress'); // until the room ends
    const record = fold(stream, { scheduledAt: T0 - 60_000 });
    expect(record.status).toBe('completed');
    expect(record.startedAt).toBe(min(2));
    expect(record.endedAt).toBe(min(25));
    expect(record.timeline).toEqual([
      { status: 'scheduled', at: T0 - 60_000 },
      { status: 'waiting', at: T0 },
      { status: 'in-progress', at: min(2) },
      { status: 'completed', at: min(25) },
    ]);
    // The room's end closes the clinician's open session.
    expect(record.sessions).toEqual([
      { participantSid: 'PA1', identity: 'clin-1', roomSid: ROOM, role: 'clinician', connectedAt: min(1), disconnectedAt: min(25) },
      { participantSid: 'PA2', identity: 'pt-1', roomSid: ROOM, role: 'patient', connectedAt: min(2), disconnectedAt: min(17) },
    ]);
    expect(record.recordings).toEqual([
      {
        recordingSid: 'RT1',
        roomSid: ROOM,
        trackName: 'audio',
        status: 'completed',
        startedAt: min(2),
        completedAt: min(25) + 10_000,
        duration: 900,
        size: undefined,
        mediaUri: '/media/RT1',
      },
    ]);
    expect(record.effects).toEqual([
      { kind: 'request-composition', key: `composition:${ROOM}`, attempt: 0 },
      {
        kind: 'record-billing',
        key: 'billing:con_1',
        billing: { billableSeconds: 900, roundedSeconds: 900, intervals: [{ start: min(2), end: min(17) }] },
      },
    ]);
  });

  it('bills up to the room end when nobody disconnected: room-ended closes every open interval', () => {
    const record = fold([
      connect('PA1', 'clin-1', min(0)),
      connect('PA2', 'pt-1', min(5)),
      roomEvent('room-ended', min(20)),
      disconnect('PA2', 'pt-1', min(20) + 3_000),
    ]);
    expect(record.sessions.map((s) => s.disconnectedAt)).toEqual([min(20), min(20)]);
    expect(record.effects).toContainEqual({
      kind: 'record-billing',
      key: 'billing:con_1',
      billing: { billableSeconds: 900, roundedSeconds: 900, intervals: [{ start: min(5), end: min(20) }] },
    });
  });

  it('does not bill the gap of a reconnect (a new ParticipantSid for the same identity)', () => {
    const record = fold([
      connect('PA1', 'clin-1', min(0)),
      connect('PA2', 'pt-1', min(0)),
      disconnect('PA2', 'pt-1', min(10)),
      connect('PA3', 'pt-1', min(12)),
      disconnect('PA3', 'pt-1', min(30)),
      disconnect('PA1', 'clin-1', min(30)),
      roomEvent('room-ended', min(35)),
    ]);
    expect(record.sessions).toHaveLength(3);
    expect(record.effects.find((e) => e.kind === 'record-billing')).toMatchObject({
      billing: { billableSeconds: 28 * 60, roundedSeconds: 28 * 60 },
    });
  });

  it('keeps a disconnect whose connect never arrived, with connectedAt unknown, and does not bill it', () => {
    const record = fold([connect('PA1', 'clin-1', min(0)), disconnect('PA2', 'pt-1', min(10)), roomEvent('room-ended', min(20))]);
    expect(record.sessions).toContainEqual({
      participantSid: 'PA2',
      identity: 'pt-1',
      role: 'patient',
      roomSid: ROOM,
      connectedAt: null,
      disconnectedAt: min(10),
    });
    expect(record.status).toBe('no-show');
    expect(record.effects.filter((e) => e.kind === 'record-billing')).toEqual([]);
  });

  it('is a no-show when the room ends without clinician and patient together; a recording is still composed', () => {
    const events = [
      roomEvent('room-created', T0),
      connect('PA1', 'clin-1', min(1)),
      recording('recording-started', 'RT1', min(1)),
      roomEvent('room-ended', min(10)),
      recording('recording-completed', 'RT1', min(10) + 1),
    ];
    const record = fold(events);
    expect(record.status).toBe('no-show');
    expect(record.startedAt).toBeNull();
    expect(record.effects).toEqual([{ kind: 'request-composition', key: `composition:${ROOM}`, attempt: 0 }]);
    expect(fold(events, { record: false }).effects).toEqual([]);
  });

  it('is a no-show when only an observer and a clinician met, or when the room ended unused', () => {
    expect(fold([connect('PA1', 'clin-1', min(0)), connect('PA2', 'obs-1', min(0)), roomEvent('room-ended', min(10))]).status).toBe(
      'no-show',
    );
    expect(fold([roomEvent('room-created', T0), roomEvent('room-ended', min(5))]).status).toBe('no-show');
  });

  it('does not count a clinician leaving at the very millisecond the patient joins as a meeting', () => {
    const record = fold([
      connect('PA1', 'clin-1', min(0)),
      disconnect('PA1', 'clin-1', min(10)),
      connect('PA2', 'pt-1', min(10)),
      roomEvent('room-ended', min(20)),
    ]);
    expect(record.status).toBe('no-show');
  });

  it('orders a connect before a disconnect of the same participant in the same millisecond', () => {
    const record = fold([disconnect('PA1', 'clin-1', min(0)), connect('PA1', 'clin-1', min(0)), roomEvent('room-ended', min(1))]);
    expect(record.sessions).toEqual([
      { participantSid: 'PA1', identity: 'clin-1', roomSid: ROOM, role: 'clinician', connectedAt: min(0), disconnectedAt: min(0) },
    ]);
  });

  it('ignores a connect stamped after the room ended, and clamps a late disconnect to the end', () => {
    const record = fold([
      connect('PA1', 'clin-1', min(0)),
      connect('PA2', 'pt-1', min(0)),
      roomEvent('room-ended', min(10)),
      connect('PA3', 'pt-1', min(11)),
      disconnect('PA4', 'obs-1', min(12)),
    ]);
    expect(record.sessions.map((s) => s.participantSid)).toEqual(['PA1', 'PA2', 'PA4']);
    expect(record.sessions.find((s) => s.participantSid === 'PA4')).toMatchObject({ connectedAt: null, disconnectedAt: min(10) });
    expect(record.status).toBe('completed');
  });

  it('waits for every recording to settle before composing, and composes when one failed and one completed', () => {
    const two = [...stream, recording('recording-started', 'RT2', min(3))];
    expect(fold(two).effects.map((e) => e.kind)).toEqual(['record-billing']);
    const settled = fold([...two, recording('recording-failed', 'RT2', min(26))]);
    expect(settled.effects.map((e) => e.kind)).toEqual(['request-composition', 'record-billing']);
    expect(settled.recordings.map((r) => r.status)).toEqual(['completed', 'failed']);
    expect(fold(stream.filter((e) => e.type !== 'recording-completed')).effects.map((e) => e.kind)).toEqual(['record-billing']);
    expect(fold(stream, { record: false }).effects.map((e) => e.kind)).toEqual(['record-billing']);
  });

  it('follows the composition to available, and a failure after it changes nothing', () => {
    const record = fold([
      ...stream,
      composition('composition-enqueued', 'CJ1', min(30)),
      composition('composition-available', 'CJ1', min(40), { mediaUri: '/media/CJ1' }),
      composition('composition-failed', 'CJ0', min(41)),
    ]);
    expect(record.composition).toEqual({ status: 'available', compositionSid: 'CJ1', mediaUri: '/media/CJ1', failures: 1 });
    expect(record.effects.map((e) => e.key)).toEqual([`composition:${ROOM}`, 'billing:con_1']);
  });

  it('retries a failed composition a bounded number of times, then reports it', () => {
    const failures = [1, 2, 3].map((n) => composition('composition-failed', `CJ${n}`, min(30) + n));
    const keys = (n: number) => fold([...stream, ...failures.slice(0, n)]).effects.map((e) => e.key);
    expect(keys(1)).toEqual([`composition:${ROOM}`, `composition:${ROOM}:retry-1`, 'billing:con_1']);
    expect(keys(3)).toEqual([
      `composition:${ROOM}`,
      `composition:${ROOM}:retry-1`,
      `composition:${ROOM}:retry-2`,
      `composition-failed:${ROOM}`,
      'billing:con_1',
    ]);
  });

  it('is cancelled when cancelled before it started, and stays so; a cancellation after the start is ignored', () => {
    const cancelled = fold(stream, { cancelledAt: T0 - 1 });
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.effects.filter((e) => e.kind === 'record-billing')).toEqual([]);
    expect(cancelled.timeline).toEqual([
      { status: 'scheduled', at: null },
      { status: 'cancelled', at: T0 - 1 },
    ]);
    expect(fold(stream, { cancelledAt: min(5) }).status).toBe('completed');
    expect(
      foldConsultation({
        consultation: { id: 'con_1', roomSid: ROOM, record: true, cancelled: true, roundingSeconds: 60 },
        events: stream,
        roles: ROLES,
      }).status,
    ).toBe('cancelled');
  });

  it('skips parse errors and events of other rooms', () => {
    const noise = [
      { error: 'Timestamp is missing' },
      { ...connect('PA9', 'pt-1', min(3)), roomSid: 'RM_other' },
      { ...roomEvent('room-ended', min(4)), roomSid: 'RM_other' },
    ];
    expect(
      foldConsultation({
        consultation: { id: 'con_1', roomSid: ROOM, record: true, roundingSeconds: 60 },
        events: [...noise, ...stream],
        roles: ROLES,
      }),
    ).toEqual(fold(stream));
  });

  it('track events change no status, session or billing; they are kept as publication spans', () => {
    const tracks: VideoEvent[] = [
      { type: 'track-added', timestamp: min(2), roomSid: ROOM, participantSid: 'PA1', trackSid: 'MT1', trackKind: 'audio' },
      { type: 'track-removed', timestamp: min(17), roomSid: ROOM, participantSid: 'PA2', trackSid: 'MT2' },
      { type: 'track-enabled', timestamp: min(3), roomSid: ROOM, participantSid: 'PA1', trackSid: 'MT1' },
    ];
    const withTracks = fold([...stream, ...tracks]);
    expect({ ...withTracks, tracks: [] }).toEqual({ ...fold(stream), tracks: [] });
    expect(withTracks.tracks).toEqual([
      { trackSid: 'MT2', participantSid: 'PA2', kind: undefined, publishedAt: null, unpublishedAt: min(17) },
      { trackSid: 'MT1', participantSid: 'PA1', kind: 'audio', publishedAt: min(2), unpublishedAt: null },
    ]);
  });
});

describe('nextStatus', () => {
  const clinician: ParticipantSession = {
    participantSid: 'PA1',
    identity: 'clin-1',
    role: 'clinician',
    connectedAt: min(0),
    disconnectedAt: null,
  };
  const patient: ParticipantSession = {
    participantSid: 'PA2',
    identity: 'pt-1',
    role: 'patient',
    connectedAt: min(1),
    disconnectedAt: min(9),
  };
  const cases: ReadonlyArray<readonly [ConsultationStatus, VideoEvent['type'] | 'cancelled', number, ConsultationStatus]> = [
    ['scheduled', 'room-created', min(0), 'waiting'],
    ['scheduled', 'participant-connected', min(0), 'waiting'],
    ['waiting', 'participant-connected', min(1), 'in-progress'],
    ['scheduled', 'participant-connected', min(1), 'in-progress'],
    ['waiting', 'participant-connected', min(9), 'waiting'], // the patient has gone by then
    ['waiting', 'participant-disconnected', min(1), 'waiting'],
    ['in-progress', 'room-created', min(1), 'in-progress'],
    ['in-progress', 'room-ended', min(10), 'completed'],
    ['waiting', 'room-ended', min(10), 'no-show'],
    ['scheduled', 'room-ended', min(10), 'no-show'],
    ['scheduled', 'cancelled', min(0), 'cancelled'],
    ['waiting', 'cancelled', min(0), 'cancelled'],
    ['in-progress', 'cancelled', min(2), 'in-progress'],
    ['completed', 'participant-connected', min(1), 'completed'],
    ['no-show', 'participant-connected', min(1), 'no-show'],
    ['cancelled', 'room-ended', min(10), 'cancelled'],
    ['waiting', 'track-added', min(1), 'waiting'],
  ];
  it.each(cases)('%s + %s at %s → %s', (status, type, now, expected) => {
    const event = { type, timestamp: now, roomSid: ROOM, participantSid: 'PA2' } as VideoEvent;
    expect(nextStatus({ status, sessions: [clinician, patient] }, event, now)).toBe(expected);
  });
});

// ── Property: the record depends only on the SET of events ──────────────────────────────────

interface Generated {
  readonly roles: Map<string, string>;
  readonly events: VideoEvent[];
  readonly recorded: boolean;
}

/** 1–4 participants with roles, 1–3 sessions each at random times, optional recording, the room's end. */
function consultationArbitrary(options: { guaranteeMeeting: boolean }) {
  const session = fc.tuple(fc.integer({ min: 0, max: 3_600 }), fc.integer({ min: 1, max: 3_600 }), fc.boolean());
  const participant = fc.record({
    role: fc.constantFrom('clinician', 'patient', 'pet-owner', 'caregiver', 'interpreter', 'observer'),
    sessions: fc.array(session, { minLength: 1, maxLength: 3 }),
  });
  return fc
    .record({
      participants: fc.array(participant, { minLength: 1, maxLength: 4 }),
      meeting: fc.tuple(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: 1, max: 600 }), fc.constantFrom('patient', 'pet-owner')),
      recorded: fc.boolean(),
      recordings: fc.integer({ min: 1, max: 2 }),
      endAt: fc.integer({ min: 3_600, max: 8_000 }),
      msJitter: fc.boolean(),
    })
    .map(({ participants, meeting, recorded, recordings, endAt, msJitter }): Generated => {
      const all = options.guaranteeMeeting
        ? [
            ...participants.slice(0, 2),
            { role: 'clinician', sessions: [[meeting[0], meeting[1], true] as [number, number, boolean]] },
            { role: meeting[2], sessions: [[meeting[0], meeting[1], true] as [number, number, boolean]] },
          ]
        : participants;
      const roles = new Map<string, string>();
      const time = (seconds: number, salt: number) => T0 + seconds * 1000 + (msJitter ? salt % 7 : 0);
      const events: VideoEvent[] = [roomEvent('room-created', T0)];
      let sid = 0;
      all.forEach((p, index) => {
        const identity = `id-${index}`;
        roles.set(identity, p.role);
        for (const [start, length, leaves] of p.sessions) {
          const participantSid = `PA${++sid}`;
          events.push(connect(participantSid, identity, time(start, sid)));
          // Its tracks (billing evidence): audio, and video for every other session.
          for (const kind of sid % 2 === 0 ? ['audio', 'video'] : ['audio']) {
            const track = { roomSid: ROOM, participantSid, trackSid: `MT${sid}${kind}`, trackKind: kind };
            events.push({ type: 'track-added', timestamp: time(start, sid), ...track });
            if (leaves) events.push({ type: 'track-removed', timestamp: time(start + length, sid + 3), ...track });
          }
          if (leaves) events.push(disconnect(participantSid, identity, time(start + length, sid + 3)));
        }
      });
      if (recorded) {
        for (let r = 1; r <= recordings; r++) {
          events.push(recording('recording-started', `RT${r}`, T0 + 1000 * r));
          events.push(recording('recording-completed', `RT${r}`, T0 + endAt * 1000 + 5000 * r, { mediaUri: `/m/${r}`, duration: endAt }));
        }
      }
      events.push(roomEvent('room-ended', T0 + endAt * 1000));
      return { roles, events, recorded };
    });
}

/** The generated events shuffled, with any of them delivered again. */
const deliveries = (c: Generated) =>
  fc.tuple(
    fc.shuffledSubarray(c.events, { minLength: c.events.length, maxLength: c.events.length }),
    fc.array(fc.nat(c.events.length - 1), { maxLength: 8 }),
  );

function foldGenerated(c: Generated, events: readonly VideoEvent[]) {
  return foldConsultation({
    consultation: { id: 'con_1', roomSid: ROOM, record: c.recorded, roundingSeconds: 60 },
    events,
    roles: c.roles,
  });
}

describe('foldConsultation properties', () => {
  it('any permutation of the stream, with any events duplicated, gives the same record; effects at most once', () => {
    fc.assert(
      fc.property(
        consultationArbitrary({ guaranteeMeeting: false }).chain((c) => fc.tuple(fc.constant(c), deliveries(c))),
        ([c, [shuffled, duplicates]]) => {
          const expected = foldGenerated(c, c.events);
          const record = foldGenerated(c, [...shuffled, ...duplicates.map((i) => c.events[i]!)]);
          expect(record).toEqual(expected);
          const keys = record.effects.map((e) => e.key);
          expect(new Set(keys).size).toBe(keys.length);
          // Completed exactly when a clinician and a patient or pet owner overlapped.
          const overlap = computeBilling(record.sessions, { roundingSeconds: 60 });
          expect(record.status).toBe(overlap.intervals.length > 0 ? 'completed' : 'no-show');
          expect(record.effects.filter((e) => e.kind === 'record-billing')).toHaveLength(record.status === 'completed' ? 1 : 0);
          expect(record.effects.filter((e) => e.kind === 'request-composition')).toHaveLength(c.recorded ? 1 : 0);
          // Every session is closed by the room's end.
          expect(record.sessions.every((s) => s.disconnectedAt !== null && s.disconnectedAt <= record.endedAt!)).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('a consultation where clinician and patient met: exactly one billing record and one composition request when recorded', () => {
    fc.assert(
      fc.property(
        consultationArbitrary({ guaranteeMeeting: true }).chain((c) => fc.tuple(fc.constant(c), deliveries(c))),
        ([c, [shuffled, duplicates]]) => {
          const record = foldGenerated(c, [...shuffled, ...duplicates.map((i) => c.events[i]!)]);
          expect(record).toEqual(foldGenerated(c, c.events));
          expect(record.status).toBe('completed');
          expect(record.startedAt).not.toBeNull();
          const billing = record.effects.filter((e) => e.kind === 'record-billing');
          expect(billing).toHaveLength(1);
          expect(billing[0]).toMatchObject({ key: 'billing:con_1' });
          expect(record.effects.filter((e) => e.kind === 'request-composition')).toEqual(
            c.recorded ? [{ kind: 'request-composition', key: `composition:${ROOM}`, attempt: 0 }] : [],
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});

// ── Property: the incremental fold equals the full fold ─────────────────────────────────────

/**
 * The projector's algorithm, in memory: batches arrive one after another; each is stepped onto
 * the stored state, or — when it reaches back in time, or nothing is stored — the consultation
 * is folded again from every event stored so far. The state also goes through JSON, as stored.
 */
function projectInBatches(c: Generated, batches: readonly (readonly VideoEvent[])[], start: ConsultationFoldState | null = null) {
  const consultation = { id: 'con_1', roomSid: ROOM, record: c.recorded, roundingSeconds: 60 };
  const stored: VideoEvent[] = [];
  let state: ConsultationFoldState | null = start && (JSON.parse(JSON.stringify(start)) as ConsultationFoldState);
  let refolds = 0;
  for (const batch of batches) {
    stored.push(...batch);
    const stepped: ConsultationFoldState | null = state && stepConsultation(state, { consultation, events: batch, roles: c.roles });
    if (!stepped) refolds++;
    state = JSON.parse(
      JSON.stringify(stepped ?? foldConsultationState({ consultation, events: stored, roles: c.roles })),
    ) as ConsultationFoldState;
  }
  return { record: recordOf(state!, consultation), refolds };
}

/** The deliveries cut into 1–6 batches at random points. */
const batched = (c: Generated) =>
  deliveries(c).chain(([shuffled, duplicates]) => {
    const all = [...shuffled, ...duplicates.map((i) => c.events[i]!)];
    return fc.uniqueArray(fc.nat(all.length), { maxLength: 5 }).map((cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), all.length];
      return points.slice(1).map((end, i) => all.slice(points[i]!, end));
    });
  });

describe('the incremental fold', () => {
  it('for any permutation, duplication and batching of the events, equals the full fold of all of them', () => {
    fc.assert(
      fc.property(
        fc
          .boolean()
          .chain((guaranteeMeeting) => consultationArbitrary({ guaranteeMeeting }))
          .chain((c) => fc.tuple(fc.constant(c), batched(c))),
        ([c, batches]) => {
          expect(projectInBatches(c, batches).record).toEqual(foldGenerated(c, c.events));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('also with lost connects (inferred from ParticipantDuration) and reconciled facts, callbacks superseding them', () => {
    fc.assert(
      fc.property(
        consultationArbitrary({ guaranteeMeeting: true })
          .chain((c) =>
            fc.tuple(
              fc.constant(c),
              fc.array(fc.boolean(), { minLength: c.events.length, maxLength: c.events.length }),
              fc.array(fc.constantFrom('keep', 'fact', 'fact-and-callback'), { minLength: c.events.length, maxLength: c.events.length }),
            ),
          )
          .map(([c, lost, facts]): Generated => {
            // Each disconnect says how long its session lasted; some connects never arrive; some
            // events come as reconciled facts, alone or beside the callback that supersedes them.
            const connects = new Map(
              c.events
                .filter((e) => e.type === 'participant-connected')
                .map((e) => [(e as { participantSid: string }).participantSid, e.timestamp]),
            );
            const events = c.events.flatMap((event, index): VideoEvent[] => {
              let e = event;
              if (e.type === 'participant-disconnected') {
                const connectedAt = connects.get(e.participantSid);
                if (connectedAt !== undefined) e = { ...e, participantDuration: Math.round((e.timestamp - connectedAt) / 1000) };
              }
              if (e.type === 'participant-connected' && lost[index]) return [];
              if (facts[index] === 'fact') return [{ ...e, source: 'reconciled' }];
              if (facts[index] === 'fact-and-callback') return [{ ...e, source: 'reconciled' }, e];
              return [e];
            });
            return { ...c, events };
          })
          .chain((c) => fc.tuple(fc.constant(c), batched(c))),
        ([c, batches]) => {
          expect(projectInBatches(c, batches).record).toEqual(foldGenerated(c, c.events));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('events in Timestamp order, one at a time, never refold', () => {
    fc.assert(
      fc.property(consultationArbitrary({ guaranteeMeeting: true }), (c) => {
        // Distinct Timestamps: a same-millisecond pair is refolded by design.
        const byTime = new Map(c.events.map((event) => [event.timestamp, event]));
        const ordered = [...byTime.values()].sort((a, b) => a.timestamp - b.timestamp);
        const { record, refolds } = projectInBatches(
          c,
          ordered.map((event) => [event]),
        );
        expect(refolds).toBe(1); // the first, with nothing stored yet
        expect(record).toEqual(foldGenerated(c, ordered));
      }),
      { numRuns: 200 },
    );
  });

  it('from the state a new consultation is stored with, equals the full fold, for any permutation, duplication and batching', () => {
    fc.assert(
      fc.property(
        fc
          .boolean()
          .chain((guaranteeMeeting) => consultationArbitrary({ guaranteeMeeting }))
          .chain((c) => fc.tuple(fc.constant(c), batched(c))),
        ([c, batches]) => {
          expect(projectInBatches(c, batches, initialFoldState()).record).toEqual(foldGenerated(c, c.events));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('from the state a new consultation is stored with, events in Timestamp order never refold, not even the first', () => {
    fc.assert(
      fc.property(consultationArbitrary({ guaranteeMeeting: true }), (c) => {
        const byTime = new Map(c.events.map((event) => [event.timestamp, event]));
        const ordered = [...byTime.values()].sort((a, b) => a.timestamp - b.timestamp);
        const { record, refolds } = projectInBatches(
          c,
          ordered.map((event) => [event]),
          initialFoldState(),
        );
        expect(refolds).toBe(0);
        expect(record).toEqual(foldGenerated(c, ordered));
      }),
      { numRuns: 100 },
    );
  });

  it('the initial state is the full fold of no events, whatever the consultation (neither cancelled nor closed)', () => {
    const consultations: ConsultationFoldInput['consultation'][] = [
      { id: 'con_1', roomSid: ROOM, record: true },
      { id: 'con_2', roomSid: 'RM2', roomSids: ['RM1', 'RM2'], record: false, roundingSeconds: 15, windowClosesAt: min(30) },
    ];
    for (const consultation of consultations) {
      expect(initialFoldState()).toEqual(foldConsultationState({ consultation, events: [], roles: new Map() }));
      expect(JSON.stringify(initialFoldState())).toBe(
        JSON.stringify(foldConsultationState({ consultation, events: [], roles: new Map() })),
      );
    }
  });

  it('a cancelled consultation is not stepped from a state folded before its cancellation: the caller refolds', () => {
    const consultation = { id: 'con_1', roomSid: ROOM, record: true, roundingSeconds: 60, cancelled: true };
    const events = [roomEvent('room-created', min(0)), connect('PA1', 'clin-1', min(1))];
    expect(stepConsultation(initialFoldState(), { consultation, events, roles: ROLES })).toBeNull();
    const refolded = foldConsultationState({ consultation, events, roles: ROLES });
    expect(refolded.status).toBe('cancelled');
    // Folded cancelled, it is stepped on again, and stays cancelled.
    const stepped = stepConsultation(refolded, { consultation, events: [roomEvent('room-ended', min(5))], roles: ROLES });
    expect(stepped).toEqual(foldConsultationState({ consultation, events: [...events, roomEvent('room-ended', min(5))], roles: ROLES }));
  });

  it('a late event (earlier Timestamp than the state has seen) is not stepped: the caller refolds', () => {
    const consultation = { id: 'con_1', roomSid: ROOM, record: true, roundingSeconds: 60 };
    const state = foldConsultationState({
      consultation,
      events: [connect('PA1', 'clin-1', min(1)), connect('PA2', 'pt-1', min(5))],
      roles: ROLES,
    });
    expect(stepConsultation(state, { consultation, events: [disconnect('PA1', 'clin-1', min(3))], roles: ROLES })).toBeNull();
    expect(stepConsultation(state, { consultation, events: [disconnect('PA1', 'clin-1', min(5))], roles: ROLES })).toBeNull();
    const later = stepConsultation(state, { consultation, events: [roomEvent('room-ended', min(20))], roles: ROLES });
    expect(later?.status).toBe('completed');
    expect(later?.lastTimestamp).toBe(min(20));
  });
});
