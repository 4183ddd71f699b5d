import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resplits, type Param } from '../../../test/support/resplit.js';
import {
  COMPOSITION_EVENT_TYPES,
  PARTICIPANT_EVENT_TYPES,
  RECORDING_EVENT_TYPES,
  ROOM_EVENT_TYPES,
  TRACK_EVENT_TYPES,
  eventDedupeKey,
  type VideoEventType,
} from '../consultation/consultation-event.js';
import { documentedFields, parseCallback, readJsonCallback, requiredFields } from './callback-schema.js';
import { parseTwilioTimestamp } from './twilio-timestamp.js';

const EVENTS: readonly VideoEventType[] = [
  ...ROOM_EVENT_TYPES,
  ...PARTICIPANT_EVENT_TYPES,
  ...TRACK_EVENT_TYPES,
  ...RECORDING_EVENT_TYPES,
  ...COMPOSITION_EVENT_TYPES,
];

const hex32 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes) => Buffer.from(bytes).toString('hex'));
const sid = (prefix: string) => hex32.map((hex) => prefix + hex);
const identity = fc
  .tuple(fc.constantFrom('clin', 'pt', 'owner', 'interp'), fc.nat({ max: 9999 }), fc.constantFrom('', '.a', '_b', ':c', '-d'))
  .map(([role, n, tail]) => `${role}-${n}${tail}`);
const timestamp = fc
  .date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true })
  .map((date) => date.toISOString());
const digits = fc.nat({ max: 100_000 }).map(String);

/** A genuine callback of `event` as Twilio sends it: every documented field, realistic values. */
function genuine(event: VideoEventType): fc.Arbitrary<Param[]> {
  const values: Record<string, fc.Arbitrary<string>> = {
    AccountSid: sid('AC'),
    RoomName: hex32.map((hex) => `rg-con_${hex.slice(0, 26)}`),
    RoomSid: sid('RM'),
    RoomStatus: fc.constantFrom('in-progress', 'completed'),
    RoomType: fc.constantFrom('group', 'group-small'),
    StatusCallbackEvent: fc.constant(event),
    Timestamp: timestamp,
    SequenceNumber: digits,
    RoomDuration: digits,
    ParticipantSid: sid('PA'),
    ParticipantStatus: fc.constantFrom('connected', 'disconnected'),
    ParticipantIdentity: identity,
    ParticipantDuration: digits,
    TrackSid: sid('MT'),
    TrackKind: fc.constantFrom('audio', 'video', 'data'),
    TrackName: hex32.map((hex) => `audio-${hex.slice(0, 8)}`),
    RecordingSid: sid('RT'),
    SourceSid: sid('MT'),
    RecordingUri: sid('RT').map((rt) => `/v1/Recordings/${rt}`),
    Container: fc.constantFrom('mka', 'mkv'),
    Codec: fc.constantFrom('OPUS', 'VP8', 'H264'),
    Type: fc.constantFrom('audio', 'video'),
    OffsetFromTwilioVideoEpoch: digits,
    MediaUri: sid('RT').map((rt) => `/v1/Recordings/${rt}/Media`),
    Duration: digits,
    Size: digits,
    MediaExternalLocation: fc.constant(''),
    FailedOperation: fc.constantFrom('media-upload', 'composition'),
    CompositionSid: sid('CJ'),
    CompositionUri: sid('CJ').map((cj) => `/v1/Compositions/${cj}`),
    PercentageDone: fc.integer({ min: 0, max: 100 }).map(String),
    SecondsRemaining: digits,
    ErrorMessage: fc.constant('Room has no recordings to compose'),
  };
  const names = documentedFields(event);
  return fc.tuple(...names.map((name) => values[name]!)).map((list) => list.map((value, index) => [names[index]!, value] as Param));
}

const anyGenuine = fc.constantFrom(...EVENTS).chain(genuine);
const fields = (params: readonly Param[]) => Object.fromEntries(params) as Record<string, string>;

describe('parseCallback', () => {
  it('accepts every genuine callback of every event type, and reads each field once', () => {
    fc.assert(
      fc.property(anyGenuine, (params) => {
        const parsed = parseCallback(params);
        expect(parsed.ok, JSON.stringify(parsed)).toBe(true);
        if (!parsed.ok) return;
        const sent = fields(params);
        expect(parsed.event).toBe(sent.StatusCallbackEvent);
        expect(parsed.accountSid).toBe(sent.AccountSid);
        expect(parsed.roomSid).toBe(sent.RoomSid);
        expect(parsed.timestamp).toBe(Date.parse(sent.Timestamp!));
        // Empty optional fields (MediaExternalLocation) count as absent; the rest are read as sent.
        expect(parsed.fields).toEqual(Object.fromEntries(params.filter(([, value]) => value !== '')));
        // The dedupe key from the parse is the key of the event as sent.
        expect(eventDedupeKey(parsed.fields)).toBe(eventDedupeKey(sent));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps parameters Twilio may add, in any order', () => {
    const withExtra = fc
      .tuple(anyGenuine, fc.constantFrom('ApiVersion', 'MediaRegion', 'StatusCallbackMethod'), fc.string())
      .chain(([params, name, value]) => fc.shuffledSubarray([...params, [name, value] as Param], { minLength: params.length + 1 }));
    fc.assert(
      fc.property(withExtra, (params) => {
        expect(parseCallback(params).ok).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('quarantines EVERY copy whose name/value boundary moved (same string-to-sign)', () => {
    let copies = 0;
    fc.assert(
      fc.property(anyGenuine, (params) => {
        for (const copy of resplits(params)) {
          copies += 1;
          const parsed = parseCallback(copy.params);
          expect(parsed.ok, copy.label).toBe(false);
          if (parsed.ok) return;
          expect(parsed.reason, copy.label).toMatch(/^schema-/);
        }
      }),
      { numRuns: 80 },
    );
    expect(copies).toBeGreaterThan(1000);
  });

  it('names the damaged field of the issue example', () => {
    const params: Param[] = [
      ['AccountSid', `AC${'1'.repeat(32)}`],
      ['ParticipantIdentity', 'x1'],
      ['ParticipantSid', `PA${'2'.repeat(32)}`],
      ['RoomName', 'rg-1'],
      ['RoomSid', `RM${'3'.repeat(32)}`],
      ['SequenceNumber', '7'],
      ['StatusCallbackEvent', 'participant-connected'],
      ['Timestamp', '2026-03-01T10:00:00.000Z'],
    ];
    expect(parseCallback(params).ok).toBe(true);
    const moved = (name: string, to: Param) => params.map((param) => (param[0] === name ? to : param));
    expect(parseCallback(moved('ParticipantIdentity', ['ParticipantIdentityx1', '']))).toMatchObject({
      ok: false,
      reason: 'schema-resplit:ParticipantIdentity',
    });
    expect(parseCallback(moved('SequenceNumber', ['SequenceNumber7', '']))).toMatchObject({ reason: 'schema-resplit:SequenceNumber' });
    expect(parseCallback(moved('SequenceNumber', ['Sequence', 'Number7']))).toMatchObject({ reason: 'schema-resplit:SequenceNumber' });
    // A resplit keeps what is still sound, for the quarantined row (never the damaged field).
    const kept = parseCallback(moved('ParticipantIdentity', ['ParticipantIdentityx1', '']));
    expect(kept.fields).toMatchObject({ RoomSid: `RM${'3'.repeat(32)}`, ParticipantSid: `PA${'2'.repeat(32)}` });
    expect(kept.fields.ParticipantIdentity).toBeUndefined();
    expect(kept.timestamp).toBe(Date.parse('2026-03-01T10:00:00.000Z'));
  });

  it('quarantines any documented field given twice, and any needed field missing or empty', () => {
    fc.assert(
      fc.property(anyGenuine, fc.nat(), fc.string(), (params, pick, extra) => {
        const event = fields(params).StatusCallbackEvent as VideoEventType;
        const name = params[pick % params.length]![0];
        expect(parseCallback([...params, [name, extra]])).toMatchObject({ ok: false, reason: `schema-repeated-field:${name}` });
        const required = requiredFields(event);
        const needed = required[pick % required.length]!;
        expect(parseCallback(params.filter(([key]) => key !== needed))).toMatchObject({ reason: `schema-missing-field:${needed}` });
        expect(parseCallback(params.map(([key, value]) => [key, key === needed ? '' : value] as Param))).toMatchObject({
          reason: `schema-empty-field:${needed}`,
        });
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ['AccountSid', `AX${'1'.repeat(32)}`],
    ['AccountSid', `AC${'1'.repeat(31)}`],
    ['AccountSid', `AC${'1'.repeat(33)}`],
    ['AccountSid', `AC${'g'.repeat(32)}`],
    ['RoomSid', `PA${'1'.repeat(32)}`],
    ['RoomSid', 'RM1'],
    ['ParticipantSid', `PA${'1'.repeat(30)} 1`],
    ['Timestamp', '2026-03-01T11:00:00+0100'],
    ['Timestamp', '2026-03-01T11:00:00+01:00'],
    ['Timestamp', '2026-03-01T10:00:00.000z'],
    ['Timestamp', '2026-03-01t10:00:00Z'],
    ['Timestamp', '2026-03-01 10:00:00Z'],
    ['Timestamp', '2026-03-01T10:00Z'],
    ['Timestamp', '2026-02-30T10:00:00Z'],
    ['Timestamp', '2026-03-01T24:00:00Z'],
    ['Timestamp', '2026-03-01T23:59:60Z'],
    ['Timestamp', '2026-03-01T10:00:00.Z'],
    ['Timestamp', '2026-03-01T10:00:00.1234567890Z'],
    ['Timestamp', '1969-12-31T23:59:59Z'],
    ['Timestamp', '+02026-03-01T10:00:00Z'],
    ['Timestamp', 'March 1, 2026'],
    ['Timestamp', '1772359200'],
    ['SequenceNumber', '-1'],
    ['SequenceNumber', '01'],
    ['SequenceNumber', '1.0'],
    ['SequenceNumber', ' 1'],
    ['SequenceNumber', '2147483648'],
    ['RoomName', 'rg-\u0000'],
    ['RoomName', 'r'.repeat(257)],
  ])('quarantines %s=%j as malformed', (name, value) => {
    const params: Param[] = fc.sample(genuine('participant-connected'), { numRuns: 1, seed: 1 })[0]!;
    expect(parseCallback(params).ok).toBe(true);
    const parsed = parseCallback(params.map(([key, old]) => [key, key === name ? value : old] as Param));
    expect(parsed).toMatchObject({ ok: false, reason: `schema-malformed-field:${name}` });
    expect(parsed.fields[name]).toBeUndefined();
  });

  it('checks the fields the fold reads when present (durations, sizes, media links, track names, kinds)', () => {
    const [completed] = fc.sample(genuine('recording-completed'), { numRuns: 1, seed: 2 }) as [Param[]];
    const set = (name: string, value: string) => completed.map(([key, old]) => [key, key === name ? value : old] as Param);
    expect(parseCallback(set('Duration', '2147483648'))).toMatchObject({ reason: 'schema-malformed-field:Duration' });
    expect(parseCallback(set('Size', '9007199254740992'))).toMatchObject({ reason: 'schema-malformed-field:Size' });
    expect(parseCallback(set('MediaUri', 'x'.repeat(2049)))).toMatchObject({ reason: 'schema-malformed-field:MediaUri' });
    expect(parseCallback(set('TrackName', 'a\nb'))).toMatchObject({ reason: 'schema-malformed-field:TrackName' });
    // A recording's kind is stored in a varchar(16): longer, or holding a NUL, it is malformed.
    expect(parseCallback(set('Type', 'x'.repeat(17)))).toMatchObject({ reason: 'schema-malformed-field:Type' });
    expect(parseCallback(set('Type', 'a\u0000b'))).toMatchObject({ reason: 'schema-malformed-field:Type' });
    expect(parseCallback(set('Type', 'data')).ok).toBe(true);
    // Absent or empty, they are simply unknown.
    expect(parseCallback(set('Duration', '')).ok).toBe(true);
    expect(parseCallback(completed.filter(([key]) => key !== 'Size')).ok).toBe(true);
    const [progress] = fc.sample(genuine('composition-progress'), { numRuns: 1, seed: 3 }) as [Param[]];
    expect(parseCallback(progress.map(([key, old]) => [key, key === 'PercentageDone' ? '101' : old] as Param))).toMatchObject({
      reason: 'schema-malformed-field:PercentageDone',
    });
  });

  it('names no event it does not know, and knows the StatusCallbackEvent is needed', () => {
    const [created] = fc.sample(genuine('room-created'), { numRuns: 1, seed: 4 }) as [Param[]];
    const without = created.filter(([key]) => key !== 'StatusCallbackEvent');
    expect(parseCallback([...without, ['StatusCallbackEvent', 'call-completed']])).toMatchObject({ reason: 'schema-unknown-event' });
    expect(parseCallback(without)).toMatchObject({ reason: 'schema-missing-field:StatusCallbackEvent' });
    expect(parseCallback([...without, ['StatusCallbackEvent', '']])).toMatchObject({ reason: 'schema-empty-field:StatusCallbackEvent' });
  });

  it('gives reasons from a closed vocabulary of at most 64 characters, whatever it is sent', () => {
    const reasons = new Set<string>();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }))),
        (params) => {
          const parsed = parseCallback(params);
          if (!parsed.ok) reasons.add(parsed.reason);
        },
      ),
      { numRuns: 500 },
    );
    for (const reason of reasons) {
      expect(reason.length).toBeLessThanOrEqual(64);
      expect(reason).toMatch(/^schema-(unknown-event|(resplit|repeated-field|missing-field|empty-field|malformed-field):[A-Za-z]+)$/);
    }
  });
});

describe('readJsonCallback', () => {
  const [created] = fc.sample(genuine('room-created'), { numRuns: 1, seed: 5 }) as [Param[]];
  const json = Object.fromEntries(created) as Record<string, unknown>;

  it('reads a JSON object like the form it stands for', () => {
    const read = readJsonCallback({ ...json, SequenceNumber: 7, Extra: true });
    expect(read.parsed.ok).toBe(true);
    expect(read.parsed.fields.SequenceNumber).toBe('7');
    expect(read.params).toContainEqual(['Extra', 'true']);
  });

  it('quarantines a non-scalar value, and keeps it as JSON text', () => {
    expect(readJsonCallback({ ...json, Timestamp: { at: 1 } }).parsed).toMatchObject({ ok: false, reason: 'schema-non-scalar:Timestamp' });
    expect(readJsonCallback({ ...json, RoomSid: [json.RoomSid, json.RoomSid] }).parsed).toMatchObject({
      reason: 'schema-non-scalar:RoomSid',
    });
    expect(readJsonCallback({ ...json, AccountSid: null }).parsed).toMatchObject({ reason: 'schema-non-scalar:AccountSid' });
    const extra = readJsonCallback({ ...json, Nested: { a: 1 } });
    expect(extra.parsed).toMatchObject({ reason: 'schema-non-scalar' });
    expect(extra.params).toContainEqual(['Nested', '{"a":1}']);
    // What is still sound is kept for the quarantined row.
    expect(extra.parsed.fields.RoomSid).toBe(json.RoomSid);
  });

  it('quarantines a value nested deeper than JSON.stringify can write, and keeps a marker for it', () => {
    const deep = JSON.parse(
      `{"Deep":${'['.repeat(20_000)}${']'.repeat(20_000)},"Timestamp":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`,
    ) as object;
    const read = readJsonCallback({ ...json, ...deep });
    expect(read.parsed).toMatchObject({ ok: false, reason: 'schema-non-scalar:Timestamp' });
    expect(read.params).toContainEqual(['Deep', '[nested too deep]']);
    expect(read.params).toContainEqual(['Timestamp', '[nested too deep]']);
  });

  it('quarantines a body that is not an object', () => {
    for (const body of [[], 'x', 1, null, [json]])
      expect(readJsonCallback(body).parsed).toMatchObject({ ok: false, reason: 'schema-not-an-object' });
  });
});

describe('parseTwilioTimestamp', () => {
  it.each([
    ['2026-03-01T10:00:00Z', Date.UTC(2026, 2, 1, 10)],
    ['2026-03-01T10:00:00.1Z', Date.UTC(2026, 2, 1, 10, 0, 0, 100)],
    ['2026-03-01T10:00:00.123Z', Date.UTC(2026, 2, 1, 10, 0, 0, 123)],
    ['2026-03-01T10:00:00.123999999Z', Date.UTC(2026, 2, 1, 10, 0, 0, 123)],
    ['2024-02-29T23:59:59Z', Date.UTC(2024, 1, 29, 23, 59, 59)],
  ])('reads %s', (value, ms) => {
    expect(parseTwilioTimestamp(value)).toBe(ms);
  });

  it('reads what Date#toISOString writes, to the millisecond', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }),
        (date) => {
          expect(parseTwilioTimestamp(date.toISOString())).toBe(date.getTime());
        },
      ),
    );
  });

  it.each(['2023-02-29T10:00:00Z', '2026-04-31T10:00:00Z', '2026-00-10T10:00:00Z', '2026-03-01T10:60:00Z', ''])('refuses %j', (value) => {
    expect(parseTwilioTimestamp(value)).toBeUndefined();
  });
});
