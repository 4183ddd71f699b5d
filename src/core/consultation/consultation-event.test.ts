import { describe, expect, it } from 'vitest';
import { eventDedupeKey, isVideoEvent, parseVideoEvent } from './consultation-event.js';

const base = { AccountSid: 'AC1', RoomSid: 'RM1', RoomName: 'rg-con_1', RoomStatus: 'in-progress', RoomType: 'group', SequenceNumber: '3' };

describe('parseVideoEvent', () => {
  it('parses a participant event with Twilio names', () => {
    expect(
      parseVideoEvent({
        ...base,
        StatusCallbackEvent: 'participant-disconnected',
        Timestamp: '2026-03-01T10:20:00.250Z',
        ParticipantSid: 'PA1',
        ParticipantIdentity: 'pt_1',
        ParticipantStatus: 'disconnected',
        ParticipantDuration: '1200',
      }),
    ).toEqual({
      type: 'participant-disconnected',
      timestamp: Date.parse('2026-03-01T10:20:00.250Z'),
      sequenceNumber: 3,
      roomSid: 'RM1',
      accountSid: 'AC1',
      participantSid: 'PA1',
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
        StatusCallbackEvent: 'recording-completed',
        Timestamp: '2026-03-01T10:30:05Z',
        RecordingSid: 'RT1',
        TrackName: 'audio',
        MediaUri: '/v1/Recordings/RT1/Media',
        Duration: '900',
        Size: '1024',
      }),
    ).toMatchObject({
      type: 'recording-completed',
      recordingSid: 'RT1',
      trackName: 'audio',
      mediaUri: '/v1/Recordings/RT1/Media',
      duration: 900,
      size: 1024,
    });
    expect(
      parseVideoEvent({
        ...base,
        StatusCallbackEvent: 'track-added',
        Timestamp: '2026-03-01T10:00:00Z',
        ParticipantSid: 'PA1',
        TrackSid: 'MT1',
        TrackKind: 'audio',
      }),
    ).toMatchObject({
      type: 'track-added',
      trackSid: 'MT1',
      trackKind: 'audio',
    });
    expect(
      parseVideoEvent({
        AccountSid: 'AC1',
        RoomSid: 'RM1',
        StatusCallbackEvent: 'composition-available',
        Timestamp: '2026-03-01T10:40:00Z',
        CompositionSid: 'CJ1',
        MediaUri: '/v1/Compositions/CJ1/Media',
        Duration: '900',
      }),
    ).toMatchObject({ type: 'composition-available', compositionSid: 'CJ1', mediaUri: '/v1/Compositions/CJ1/Media', duration: 900 });
    expect(
      parseVideoEvent({
        RoomSid: 'RM1',
        StatusCallbackEvent: 'composition-progress',
        Timestamp: '2026-03-01T10:40:00+02:00',
        CompositionSid: 'CJ1',
        PercentageDone: '40',
      }),
    ).toMatchObject({
      timestamp: Date.parse('2026-03-01T08:40:00Z'),
      percentageDone: 40,
    });
    expect(
      parseVideoEvent({ RoomSid: 'RM1', StatusCallbackEvent: 'composition-hook-failed', Timestamp: '2026-03-01T10:40:00Z' }),
    ).toMatchObject({ type: 'composition-hook-failed' });
  });

  it.each([
    [{ StatusCallbackEvent: 'call-completed', Timestamp: '2026-03-01T10:00:00Z', RoomSid: 'RM1' }, /StatusCallbackEvent/],
    [{ Timestamp: '2026-03-01T10:00:00Z', RoomSid: 'RM1' }, /StatusCallbackEvent/],
    [{ StatusCallbackEvent: 'room-ended', RoomSid: 'RM1' }, /Timestamp/],
    [{ StatusCallbackEvent: 'room-ended', Timestamp: 'March 1, 2026', RoomSid: 'RM1' }, /Timestamp/],
    [{ StatusCallbackEvent: 'room-ended', Timestamp: '2026-13-45T10:00:00Z', RoomSid: 'RM1' }, /Timestamp/],
    [{ StatusCallbackEvent: 'room-ended', Timestamp: '2026-03-01T10:00:00Z' }, /RoomSid/],
    [{ StatusCallbackEvent: 'room-ended', Timestamp: '2026-03-01T10:00:00Z', RoomSid: 'RM1', SequenceNumber: 'x' }, /SequenceNumber/],
    [{ StatusCallbackEvent: 'participant-connected', Timestamp: '2026-03-01T10:00:00Z', RoomSid: 'RM1' }, /ParticipantSid/],
    [{ StatusCallbackEvent: 'recording-started', Timestamp: '2026-03-01T10:00:00Z', RoomSid: 'RM1' }, /RecordingSid/],
    [{ StatusCallbackEvent: 'composition-available', Timestamp: '2026-03-01T10:00:00Z', RoomSid: 'RM1' }, /CompositionSid/],
  ])('says why %j is not an event', (params, reason) => {
    const result = parseVideoEvent(params);
    expect(isVideoEvent(result)).toBe(false);
    expect(result).toEqual({ error: expect.stringMatching(reason) });
  });

  it('isVideoEvent tells events from errors', () => {
    const event = parseVideoEvent({ ...base, StatusCallbackEvent: 'room-created', Timestamp: '2026-03-01T10:00:00Z' });
    expect(isVideoEvent(event)).toBe(true);
    expect(isVideoEvent({ error: 'x' })).toBe(false);
    expect(isVideoEvent(undefined)).toBe(false);
    expect(isVideoEvent({ type: 'room-created', timestamp: Number.NaN })).toBe(false);
  });
});

describe('eventDedupeKey', () => {
  const connected = {
    ...base,
    StatusCallbackEvent: 'participant-connected',
    Timestamp: '2026-03-01T10:00:00Z',
    ParticipantSid: 'PA1',
    ParticipantIdentity: 'pt_1',
  };

  it('is 64 hex characters, and the same for the same event whatever else changes', () => {
    const key = eventDedupeKey(connected);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    // A retry carries the same parameters; a status field Twilio may fill differently is not part of the key.
    expect(eventDedupeKey({ ...connected, RoomStatus: 'completed' })).toBe(key);
    expect(eventDedupeKey(Object.fromEntries(Object.entries(connected).reverse()))).toBe(key);
  });

  it('differs when the event differs', () => {
    const key = eventDedupeKey(connected);
    const changes: Record<string, string>[] = [
      { StatusCallbackEvent: 'participant-disconnected' },
      { ParticipantSid: 'PA2' },
      { Timestamp: '2026-03-01T10:00:01Z' },
      { SequenceNumber: '4' },
      { RoomSid: 'RM2' },
      { AccountSid: 'AC2' },
      { TrackSid: 'MT1' },
      { RecordingSid: 'RT1' },
    ];
    for (const change of changes) {
      expect(eventDedupeKey({ ...connected, ...change }), JSON.stringify(change)).not.toBe(key);
    }
    const progress = {
      RoomSid: 'RM1',
      CompositionSid: 'CJ1',
      StatusCallbackEvent: 'composition-progress',
      Timestamp: '2026-03-01T10:40:00Z',
    };
    expect(eventDedupeKey({ ...progress, PercentageDone: '10' })).not.toBe(eventDedupeKey({ ...progress, PercentageDone: '20' }));
  });

  it('keeps field boundaries: moving text from one field to the next is another key', () => {
    expect(eventDedupeKey({ RoomSid: 'RM1a', StatusCallbackEvent: 'b' })).not.toBe(
      eventDedupeKey({ RoomSid: 'RM1', StatusCallbackEvent: 'ab' }),
    );
  });
});
