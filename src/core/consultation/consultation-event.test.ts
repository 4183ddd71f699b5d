import { describe, expect, it } from 'vitest';
import { eventDedupeKey, isVideoEvent } from './consultation-event.js';

const base = { AccountSid: 'AC1', RoomSid: 'RM1', RoomName: 'rg-con_1', RoomStatus: 'in-progress', RoomType: 'group', SequenceNumber: '3' };

describe('isVideoEvent', () => {
  it('tells events from errors', () => {
    expect(isVideoEvent({ type: 'room-created', timestamp: 1, roomSid: 'RM1' })).toBe(true);
    expect(isVideoEvent({ error: 'x' })).toBe(false);
    expect(isVideoEvent(undefined)).toBe(false);
    expect(isVideoEvent({ type: 'room-created', timestamp: Number.NaN })).toBe(false);
    expect(isVideoEvent({ type: 'call-completed', timestamp: 1 })).toBe(false);
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
