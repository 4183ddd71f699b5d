import { describe, expect, it } from 'vitest';
import { isVideoEvent } from './consultation-event.js';
import { parseVideoEvent } from './video-event-from-callback.js';

const sid = (prefix: string, digit: string) => prefix + digit.repeat(32);
const AC = sid('AC', '1');
const RM = sid('RM', '2');
const PA = sid('PA', '3');
const RT = sid('RT', '4');
const MT = sid('MT', '5');
const CJ = sid('CJ', '6');
const base = { AccountSid: AC, RoomSid: RM, RoomName: 'rg-con_1', RoomStatus: 'in-progress', RoomType: 'group', SequenceNumber: '3' };
const participant = { ParticipantSid: PA, ParticipantIdentity: 'pt_1' };

describe('parseVideoEvent', () => {
  it('parses a participant event with Twilio names', () => {
    expect(
      parseVideoEvent({
        ...base,
        ...participant,
        StatusCallbackEvent: 'participant-disconnected',
        Timestamp: '2026-03-01T10:20:00.250Z',
        ParticipantStatus: 'disconnected',
        ParticipantDuration: '1200',
      }),
    ).toEqual({
      type: 'participant-disconnected',
      timestamp: Date.parse('2026-03-01T10:20:00.250Z'),
      sequenceNumber: 3,
      roomSid: RM,
      accountSid: AC,
      participantSid: PA,
      identity: 'pt_1',
      participantDuration: 1200,
    });
  });

  it('parses room, recording, track and composition events', () => {
    expect(
      parseVideoEvent({ ...base, StatusCallbackEvent: 'room-ended', Timestamp: '2026-03-01T10:30:00Z', RoomDuration: '1800' }),
    ).toMatchObject({ type: 'room-ended', roomDuration: 1800 });
    expect(
      parseVideoEvent({
        ...base,
        ...participant,
        StatusCallbackEvent: 'recording-completed',
        Timestamp: '2026-03-01T10:30:05Z',
        RecordingSid: RT,
        TrackName: 'audio',
        MediaUri: `/v1/Recordings/${RT}/Media`,
        Duration: '900',
        Size: '1024',
      }),
    ).toMatchObject({ type: 'recording-completed', recordingSid: RT, trackName: 'audio', duration: 900, size: 1024 });
    expect(
      parseVideoEvent({
        ...base,
        ...participant,
        StatusCallbackEvent: 'track-added',
        Timestamp: '2026-03-01T10:00:00Z',
        TrackSid: MT,
        TrackKind: 'audio',
      }),
    ).toMatchObject({ type: 'track-added', trackSid: MT, trackKind: 'audio' });
    const composition = { AccountSid: AC, RoomSid: RM, CompositionSid: CJ, Timestamp: '2026-03-01T10:40:00Z' };
    expect(
      parseVideoEvent({
        ...composition,
        StatusCallbackEvent: 'composition-available',
        MediaUri: `/v1/Compositions/${CJ}/Media`,
        Duration: '900',
      }),
    ).toMatchObject({ type: 'composition-available', compositionSid: CJ, duration: 900, sequenceNumber: undefined });
    expect(parseVideoEvent({ ...composition, StatusCallbackEvent: 'composition-progress', PercentageDone: '40' })).toMatchObject({
      timestamp: Date.parse('2026-03-01T10:40:00Z'),
      percentageDone: 40,
    });
    expect(
      parseVideoEvent({ AccountSid: AC, RoomSid: RM, StatusCallbackEvent: 'composition-hook-failed', Timestamp: '2026-03-01T10:40:00Z' }),
    ).toMatchObject({ type: 'composition-hook-failed', compositionSid: undefined });
  });

  it('reads a parameter list, and says why a callback is not an event: the schema reason', () => {
    const list: [string, string][] = Object.entries({ ...base, StatusCallbackEvent: 'room-created', Timestamp: '2026-03-01T10:00:00Z' });
    expect(isVideoEvent(parseVideoEvent(list))).toBe(true);
    expect(parseVideoEvent([...list, ['Timestamp', '2026-03-01T07:00:00Z']])).toEqual({ error: 'schema-repeated-field:Timestamp' });
    expect(parseVideoEvent({ ...base, StatusCallbackEvent: 'room-ended', Timestamp: '2026-03-01T10:40:00+02:00' })).toEqual({
      error: 'schema-malformed-field:Timestamp',
    });
    expect(parseVideoEvent({ ...base, StatusCallbackEvent: 'call-completed', Timestamp: '2026-03-01T10:00:00Z' })).toEqual({
      error: 'schema-unknown-event',
    });
  });
});
