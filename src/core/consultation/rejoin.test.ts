/**
 * Rejoining: a consultation with an appointment window spans rooms. A room that ends inside the
 * window interrupts it (billed so far); the next room continues it; the window's close (or an
 * explicit end) completes it. Sessions, recordings and billing sum over its rooms, and the fold
 * still depends only on the SET of events — across rooms too.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeBilling } from './billing-rule.js';
import type { VideoEvent } from './consultation-event.js';
import {
  foldConsultation,
  foldConsultationState,
  recordOf,
  stepConsultation,
  type ConsultationFoldInput,
  type ConsultationFoldState,
} from './consultation-state.js';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const min = (n: number) => T0 + n * 60_000;
const ROOMS = ['RM00000000000000000000000000000001', 'RM00000000000000000000000000000002', 'RM00000000000000000000000000000003'];
const ROLES = new Map([
  ['clin-1', 'clinician'],
  ['pt-1', 'patient'],
]);

const room = (type: 'room-created' | 'room-ended', roomSid: string, timestamp: number): VideoEvent => ({ type, timestamp, roomSid });
const participant = (
  type: 'participant-connected' | 'participant-disconnected',
  roomSid: string,
  participantSid: string,
  identity: string,
  timestamp: number,
): VideoEvent => ({ type, timestamp, roomSid, participantSid, identity });

/** One room of a consultation: both sides join at `from`, the room ends at `to`. */
function meetingIn(roomSid: string, n: number, from: number, to: number): VideoEvent[] {
  return [
    room('room-created', roomSid, from - 1_000),
    participant('participant-connected', roomSid, `PA${n}1`, 'clin-1', from),
    participant('participant-connected', roomSid, `PA${n}2`, 'pt-1', from),
    room('room-ended', roomSid, to),
  ];
}

const windowed = (extra: Partial<ConsultationFoldInput['consultation']> = {}): ConsultationFoldInput['consultation'] => ({
  id: 'con_1',
  roomSid: ROOMS[2]!,
  roomSids: ROOMS,
  record: false,
  roundingSeconds: 60,
  windowClosesAt: min(60),
  ...extra,
});

describe('a consultation over several rooms', () => {
  const threeRooms = [
    ...meetingIn(ROOMS[0]!, 1, min(0), min(5)),
    ...meetingIn(ROOMS[1]!, 2, min(7), min(17)),
    ...meetingIn(ROOMS[2]!, 3, min(20), min(30)),
  ];

  it('is interrupted as each room ends inside the window, billed so far, and completed when it closes: one bill, summed', () => {
    const interrupted = foldConsultation({ consultation: windowed(), events: threeRooms, roles: ROLES });
    expect(interrupted.status).toBe('interrupted');
    expect(interrupted.startedAt).toBe(min(0));
    expect(interrupted.endedAt).toBe(min(30));
    expect(interrupted.timeline.map((change) => change.status)).toEqual([
      'scheduled',
      'waiting',
      'in-progress',
      'interrupted',
      'in-progress',
      'interrupted',
      'in-progress',
      'interrupted',
    ]);
    const bills = interrupted.effects.filter((effect) => effect.kind === 'record-billing');
    expect(bills).toHaveLength(1);
    expect(bills[0]).toMatchObject({ key: 'billing:con_1', billing: { billableSeconds: (5 + 10 + 10) * 60 } });

    const completed = foldConsultation({ consultation: windowed({ closedAt: min(60) }), events: threeRooms, roles: ROLES });
    expect(completed.status).toBe('completed');
    expect(completed.timeline.at(-1)).toEqual({ status: 'completed', at: min(60) });
    expect(completed.effects.filter((effect) => effect.kind === 'record-billing')).toEqual(bills);
  });

  it('is live (no end, no bill) while a later room is in progress', () => {
    const live = threeRooms.slice(0, -1);
    const record = foldConsultation({ consultation: windowed(), events: live, roles: ROLES });
    expect(record.status).toBe('in-progress');
    expect(record.endedAt).toBeNull();
    expect(record.effects).toEqual([]);
  });

  it('completes at a room end that no room may follow: at or after the window’s close, or after an explicit end', () => {
    const late = foldConsultation({ consultation: windowed({ windowClosesAt: min(25) }), events: threeRooms, roles: ROLES });
    expect(late.status).toBe('completed');
    expect(late.timeline.at(-1)).toEqual({ status: 'completed', at: min(30) });
    const ended = foldConsultation({ consultation: windowed({ closedAt: min(29) }), events: threeRooms, roles: ROLES });
    expect(ended.status).toBe('completed');
    expect(ended.timeline.at(-1)).toEqual({ status: 'completed', at: min(30) });
  });

  it('without a window keeps today’s behaviour: the first room’s end completes it, later rooms’ events are not its own', () => {
    const record = foldConsultation({
      consultation: { id: 'con_1', roomSid: ROOMS[0]!, record: false, roundingSeconds: 60 },
      events: threeRooms,
      roles: ROLES,
    });
    expect(record.status).toBe('completed');
    expect(record.endedAt).toBe(min(5));
    expect(record.sessions).toHaveLength(2);
  });

  it('a room that ends unused inside the window leaves it waiting (a token opens another); the close names the no-show', () => {
    const unused = [room('room-created', ROOMS[0]!, min(-30)), room('room-ended', ROOMS[0]!, min(-25))];
    expect(foldConsultation({ consultation: windowed(), events: unused, roles: ROLES }).status).toBe('waiting');
    expect(foldConsultation({ consultation: windowed({ closedAt: min(60) }), events: unused, roles: ROLES }).status).toBe('no-show');
    // …and a meeting in the next room is a visit.
    const met = [...unused, ...meetingIn(ROOMS[1]!, 2, min(1), min(10))];
    const record = foldConsultation({ consultation: windowed({ closedAt: min(60) }), events: met, roles: ROLES });
    expect(record.status).toBe('completed');
    expect(record.startedAt).toBe(min(1));
  });

  it('a room’s end closes only its own sessions; a connect after its own room’s end is dropped', () => {
    const events = [
      ...meetingIn(ROOMS[0]!, 1, min(0), min(5)),
      room('room-created', ROOMS[1]!, min(6)),
      participant('participant-connected', ROOMS[1]!, 'PA21', 'clin-1', min(6)),
      participant('participant-connected', ROOMS[0]!, 'PA19', 'pt-1', min(6)),
    ];
    const record = foldConsultation({ consultation: windowed(), events, roles: ROLES });
    expect(record.sessions.map((session) => [session.participantSid, session.roomSid, session.disconnectedAt])).toEqual([
      ['PA11', ROOMS[0], min(5)],
      ['PA12', ROOMS[0], min(5)],
      ['PA21', ROOMS[1], null],
    ]);
  });

  it('requests a composition for each room that recorded, naming the room', () => {
    const recorded = [
      ...threeRooms.slice(0, 8),
      { type: 'recording-started', timestamp: min(0), roomSid: ROOMS[0]!, recordingSid: 'RT1' },
      { type: 'recording-completed', timestamp: min(5) + 1, roomSid: ROOMS[0]!, recordingSid: 'RT1' },
      { type: 'recording-started', timestamp: min(7), roomSid: ROOMS[1]!, recordingSid: 'RT2' },
      { type: 'recording-completed', timestamp: min(17) + 1, roomSid: ROOMS[1]!, recordingSid: 'RT2' },
    ] as VideoEvent[];
    const record = foldConsultation({ consultation: windowed({ record: true }), events: recorded, roles: ROLES });
    expect(record.effects.filter((effect) => effect.kind === 'request-composition')).toEqual([
      { kind: 'request-composition', key: `composition:${ROOMS[0]}`, attempt: 0, roomSid: ROOMS[0] },
      { kind: 'request-composition', key: `composition:${ROOMS[1]}`, attempt: 0, roomSid: ROOMS[1] },
    ]);
  });
});

// ── Property: over several rooms, the incremental fold equals the full fold ─────────────────

interface MultiRoom {
  readonly consultation: ConsultationFoldInput['consultation'];
  readonly events: VideoEvent[];
  readonly roles: Map<string, string>;
  /** The close, known from this batch on (as the sweep or an explicit end sets it); none when undefined. */
  readonly closedAt: number | undefined;
}

/** 1–3 rooms one after another; in each, 1–3 participants (shared identities) with sessions; the last room may still be live. */
const multiRoom = fc
  .record({
    rooms: fc.array(
      fc.record({
        length: fc.integer({ min: 30, max: 900 }),
        gap: fc.integer({ min: 0, max: 300 }),
        sessions: fc.array(
          fc.tuple(
            fc.constantFrom('clin-1', 'pt-1', 'obs-1', 'clin-2'),
            fc.integer({ min: 0, max: 900 }),
            fc.integer({ min: 1, max: 900 }),
            fc.boolean(),
          ),
          { minLength: 1, maxLength: 4 },
        ),
        recorded: fc.boolean(),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    lastEnds: fc.boolean(),
    window: fc.option(fc.integer({ min: 0, max: 2_400 }), { nil: undefined }),
    closed: fc.option(fc.integer({ min: 0, max: 2_400 }), { nil: undefined }),
    msJitter: fc.boolean(),
    record: fc.boolean(),
  })
  .map(({ rooms, lastEnds, window, closed, msJitter, record }) => {
    const roles = new Map([
      ['clin-1', 'clinician'],
      ['clin-2', 'clinician'],
      ['pt-1', 'patient'],
      ['obs-1', 'observer'],
    ]);
    const events: VideoEvent[] = [];
    const roomSids: string[] = [];
    let start = 0;
    let sid = 0;
    const at = (seconds: number, salt: number) => T0 + seconds * 1000 + (msJitter ? salt % 5 : 0);
    rooms.forEach((spec, r) => {
      const roomSid = ROOMS[r]!;
      roomSids.push(roomSid);
      events.push(room('room-created', roomSid, at(start, 0)));
      for (const [identity, from, length, leaves] of spec.sessions) {
        const participantSid = `PA${r}${++sid}`;
        const connectAt = Math.min(start + from, start + spec.length);
        events.push(participant('participant-connected', roomSid, participantSid, identity, at(connectAt, sid)));
        if (leaves)
          events.push(participant('participant-disconnected', roomSid, participantSid, identity, at(connectAt + length, sid + 2)));
      }
      if (spec.recorded) {
        events.push({ type: 'recording-started', timestamp: at(start + 1, r), roomSid, recordingSid: `RT${r}` });
        events.push({ type: 'recording-completed', timestamp: at(start + spec.length, r) + 500, roomSid, recordingSid: `RT${r}` });
      }
      if (r < rooms.length - 1 || lastEnds) events.push(room('room-ended', roomSid, at(start + spec.length, 1)));
      start += spec.length + spec.gap;
    });
    const consultation: ConsultationFoldInput['consultation'] = {
      id: 'con_1',
      roomSid: roomSids.at(-1)!,
      roomSids,
      record,
      roundingSeconds: 60,
      ...(window !== undefined ? { windowClosesAt: T0 + window * 1000 } : {}),
    };
    return { consultation, events, roles, closedAt: closed === undefined ? undefined : T0 + closed * 1000 };
  });

/** The events shuffled, some again, cut into 1–6 batches; the close becomes known at one of them. */
const multiRoomDeliveries = (c: Omit<MultiRoom, 'closedAt'> & { closedAt: number | undefined }) =>
  fc
    .tuple(
      fc.shuffledSubarray(c.events, { minLength: c.events.length, maxLength: c.events.length }),
      fc.array(fc.nat(c.events.length - 1), { maxLength: 6 }),
      fc.uniqueArray(fc.nat(c.events.length + 6), { maxLength: 5 }),
      fc.nat(6),
    )
    .map(([shuffled, duplicates, cuts, closeFrom]) => {
      const all = [...shuffled, ...duplicates.map((i) => c.events[i]!)];
      const points = [0, ...cuts.filter((cut) => cut < all.length).sort((a, b) => a - b), all.length];
      const batches = points.slice(1).map((end, i) => all.slice(points[i]!, end));
      return { batches, closeFrom: Math.min(closeFrom, batches.length - 1) };
    });

describe('property: several rooms', () => {
  it('for any permutation, duplication and batching across rooms (the close arriving at any batch), incremental equals full', () => {
    fc.assert(
      fc.property(
        multiRoom.chain((c) => fc.tuple(fc.constant(c), multiRoomDeliveries(c))),
        ([c, { batches, closeFrom }]) => {
          const final = { ...c.consultation, ...(c.closedAt !== undefined ? { closedAt: c.closedAt } : {}) };
          const stored: VideoEvent[] = [];
          let state: ConsultationFoldState | null = null;
          batches.forEach((batch, index) => {
            const consultation = index >= closeFrom ? final : c.consultation;
            stored.push(...batch);
            const stepped: ConsultationFoldState | null = state && stepConsultation(state, { consultation, events: batch, roles: c.roles });
            state = JSON.parse(
              JSON.stringify(stepped ?? foldConsultationState({ consultation, events: stored, roles: c.roles })),
            ) as ConsultationFoldState;
          });
          const full = foldConsultation({ consultation: final, events: c.events, roles: c.roles });
          expect(recordOf(state!, final)).toEqual(full);
          // The bill is the overlap summed over every room, once.
          const bills = full.effects.filter((effect) => effect.kind === 'record-billing');
          expect(bills.length).toBeLessThanOrEqual(1);
          if (bills[0]?.kind === 'record-billing') expect(bills[0].billing).toEqual(computeBilling(full.sessions, { roundingSeconds: 60 }));
          // Final only when no room may follow.
          if (full.status === 'interrupted') expect(final.windowClosesAt).toBeDefined();
        },
      ),
      { numRuns: 500 },
    );
  });
});
