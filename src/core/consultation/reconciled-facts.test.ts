/**
 * Facts from the REST API in the fold: a disconnect whose connect is missing uses its
 * ParticipantDuration; a reconciled fact gives way to the callback of the same fact (so a late
 * callback changes the record at most to what Twilio sent, and never doubles an effect); and the
 * planner turns REST state into exactly the missing facts and confirms late callbacks only when
 * REST shows the same fact at the same moment.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseVideoEvent } from './video-event-from-callback.js';
import { isVideoEvent, type VideoEvent } from './consultation-event.js';
import { foldConsultation } from './consultation-state.js';
import { planReconciliation, type ReconcileInput } from './reconciled-facts.js';

const ACCOUNT = `AC${'1'.repeat(32)}`;
const ROOM = `RM${'2'.repeat(32)}`;
const CLIN = `PA${'3'.repeat(32)}`;
const PAT = `PA${'4'.repeat(32)}`;
const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const min = (n: number) => T0 + n * 60_000;
const roles = new Map([
  ['clin-1', 'clinician'],
  ['pat-1', 'patient'],
]);
const foldFacts = (events: readonly VideoEvent[]) =>
  foldConsultation({ consultation: { id: 'con_1', roomSid: ROOM, record: false, roundingSeconds: 60 }, events, roles });

const connect = (sid: string, identity: string, at: number): VideoEvent => ({
  type: 'participant-connected',
  timestamp: at,
  roomSid: ROOM,
  participantSid: sid,
  identity,
});
const disconnect = (sid: string, identity: string, at: number, duration?: number): VideoEvent => ({
  type: 'participant-disconnected',
  timestamp: at,
  roomSid: ROOM,
  participantSid: sid,
  identity,
  participantDuration: duration,
});
const ended = (at: number): VideoEvent => ({ type: 'room-ended', timestamp: at, roomSid: ROOM });

describe('the fold with missing and reconciled facts', () => {
  it('infers a missing connect from ParticipantDuration, and the consultation still starts and bills', () => {
    const record = foldFacts([disconnect(CLIN, 'clin-1', min(20), 20 * 60), disconnect(PAT, 'pat-1', min(20), 15 * 60), ended(min(21))]);
    expect(record.status).toBe('completed');
    expect(record.startedAt).toBe(min(5));
    expect(record.sessions.map((s) => s.connectedAt)).toEqual([min(0), min(5)]);
    expect(record.timeline.find((entry) => entry.status === 'in-progress')?.source).toBe('inferred');
    const billing = record.effects.find((effect) => effect.kind === 'record-billing');
    expect(billing?.kind === 'record-billing' && billing.billing.billableSeconds).toBe(15 * 60);
  });

  it('keeps connectedAt null without a ParticipantDuration (never billed)', () => {
    const record = foldFacts([connect(PAT, 'pat-1', min(0)), disconnect(CLIN, 'clin-1', min(20)), ended(min(21))]);
    expect(record.status).toBe('no-show');
    expect(record.sessions.find((s) => s.participantSid === CLIN)?.connectedAt).toBeNull();
  });

  it('lets a callback supersede the reconciled copy of its fact, whatever the order and duplicates', () => {
    const genuine = [
      connect(CLIN, 'clin-1', min(0) + 123),
      connect(PAT, 'pat-1', min(1) + 456),
      disconnect(PAT, 'pat-1', min(11) + 789),
      ended(min(12) + 5),
    ];
    const reconciled = genuine.map((event) => ({
      ...event,
      timestamp: Math.floor(event.timestamp / 1000) * 1000,
      source: 'reconciled' as const,
    }));
    const expected = foldFacts(genuine);
    fc.assert(
      fc.property(fc.subarray(reconciled.map((_, i) => i)), fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 12 }), (kept, order) => {
        const pool = [...genuine, ...kept.map((i) => reconciled[i]!)];
        const shuffled = order.length ? order.map((i) => pool[i % pool.length]!).concat(pool) : pool;
        const record = foldFacts(shuffled);
        expect({ ...record, timeline: undefined }).toEqual({ ...expected, timeline: undefined });
      }),
    );
    // Only reconciled facts: the same status and billing, to REST's precision.
    const fromRest = foldFacts(reconciled);
    expect(fromRest.status).toBe('completed');
    expect(fromRest.timeline.at(-1)).toEqual({ status: 'completed', at: min(12) + 0, source: 'reconciled' });
    expect(fromRest.effects.filter((e) => e.kind === 'record-billing')).toHaveLength(1);
  });
});

describe('planReconciliation', () => {
  const base = (overrides: Partial<ReconcileInput> = {}): ReconcileInput => ({
    accountSid: ACCOUNT,
    room: { sid: ROOM, uniqueName: 'rg-con_1', status: 'completed', createdAt: min(0), endedAt: min(12), duration: 720 },
    participants: [
      { sid: CLIN, identity: 'clin-1', status: 'disconnected', startedAt: min(0), endedAt: min(12), duration: 720 },
      { sid: PAT, identity: 'pat-1', status: 'disconnected', startedAt: min(1), endedAt: min(11), duration: 600 },
      { sid: `PA${'9'.repeat(32)}`, identity: 'intruder', status: 'disconnected', startedAt: min(2), endedAt: min(3), duration: 60 },
    ],
    compositions: [],
    known: [],
    held: [],
    stuckBefore: min(0),
    admits: (identity) => roles.has(identity),
    ...overrides,
  });

  it('writes every missing fact as a callback the schema accepts, and none for an identity never issued', () => {
    const plan = planReconciliation(base());
    expect(plan.facts.map((f) => f.fact).sort()).toEqual(
      [
        'room-created',
        `participant-connected ${CLIN}`,
        `participant-connected ${PAT}`,
        `participant-disconnected ${CLIN}`,
        `participant-disconnected ${PAT}`,
        'room-ended',
      ].sort(),
    );
    const events = plan.facts.map((f) => parseVideoEvent(f.params));
    expect(events.every(isVideoEvent)).toBe(true);
    const record = foldFacts(events.filter(isVideoEvent));
    expect(record.status).toBe('completed');
    expect(record.sessions.map((s) => [s.connectedAt, s.disconnectedAt])).toEqual([
      [min(0), min(12)],
      [min(1), min(11)],
    ]);
  });

  it('writes nothing the record knows already', () => {
    const known = [
      connect(CLIN, 'clin-1', min(0)),
      connect(PAT, 'pat-1', min(1)),
      disconnect(PAT, 'pat-1', min(11)),
      { type: 'room-created', timestamp: min(0), roomSid: ROOM } as VideoEvent,
    ];
    expect(
      planReconciliation(base({ known }))
        .facts.map((f) => f.fact)
        .sort(),
    ).toEqual([`participant-disconnected ${CLIN}`, 'room-ended'].sort());
  });

  it('confirms a late callback only when REST shows the same fact within a second', () => {
    const held = [
      { id: 'a', event: connect(CLIN, 'clin-1', min(0) + 400) },
      { id: 'b', event: connect(PAT, 'pat-1', min(1) - 5 * 60_000) }, // a moved Timestamp
      { id: 'c', event: connect(PAT, 'someone-else', min(1)) }, // another identity
      { id: 'd', event: ended(min(12) + 999) },
      { id: 'e', event: { ...ended(min(12)), roomSid: `RM${'5'.repeat(32)}` } }, // another room
    ];
    const plan = planReconciliation(base({ held }));
    expect(plan.confirmed).toEqual(['a', 'd']);
    expect(plan.unconfirmed).toEqual(['b', 'c', 'e']);
    // A confirmed one is not written again as a reconciled fact.
    expect(plan.facts.map((f) => f.fact)).not.toContain(`participant-connected ${CLIN}`);
    expect(plan.facts.map((f) => f.fact)).not.toContain('room-ended');
  });

  it('reads a completed composition as available, a failed or stuck one as failed', () => {
    const sid = (n: number) => `CJ${String(n).repeat(32)}`;
    const plan = planReconciliation(
      base({
        participants: [],
        compositions: [
          { sid: sid(1), status: 'completed', createdAt: min(13), completedAt: min(15), duration: 700, size: 1000 },
          { sid: sid(2), status: 'failed', createdAt: min(13), completedAt: min(14), duration: null, size: null },
          { sid: sid(3), status: 'enqueued', createdAt: min(13), completedAt: null, duration: null, size: null },
          { sid: sid(4), status: 'enqueued', createdAt: min(40), completedAt: null, duration: null, size: null },
        ],
        stuckBefore: min(30),
      }),
    );
    expect(plan.facts.filter((f) => f.event.startsWith('composition')).map((f) => f.fact)).toEqual([
      `composition-available ${sid(1)}`,
      `composition-failed ${sid(2)}`,
      `composition-failed ${sid(3)}`,
    ]);
    expect(plan.facts.map((f) => parseVideoEvent(f.params)).every(isVideoEvent)).toBe(true);
  });
});
