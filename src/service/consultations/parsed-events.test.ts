/**
 * The projector's parsed events: a remembered event is exactly what parsing the stored text
 * gives; other text (an erasure's rewrite) is parsed afresh; what is shared cannot be changed.
 */
import { describe, expect, it } from 'vitest';
import { parseCallback, type CallbackParam, type ParsedCallback } from '../../core/webhook/callback-schema.js';
import { parseVideoEvent } from '../../core/consultation/video-event-from-callback.js';
import { rememberParsedCallback, videoEventOfParams } from './parsed-events.js';

const hex = (n: number) => n.toString(16).padStart(32, '0');

function connected(n: number, identity: string): CallbackParam[] {
  return [
    ['AccountSid', `AC${hex(1)}`],
    ['RoomSid', `RM${hex(n)}`],
    ['RoomName', `room-${n}`],
    ['RoomStatus', 'in-progress'],
    ['RoomType', 'group'],
    ['StatusCallbackEvent', 'participant-connected'],
    ['Timestamp', new Date(1_700_000_000_000 + n).toISOString()],
    ['SequenceNumber', String(n)],
    ['ParticipantSid', `PA${hex(n)}`],
    ['ParticipantIdentity', identity],
    ['ParticipantStatus', 'connected'],
  ];
}

describe('parsed events', () => {
  it('gives what parsing the stored text gives, remembered by the ingest or not', () => {
    for (let n = 1; n <= 50; n += 1) {
      const params = connected(n, `patient-${n}`);
      const text = JSON.stringify(params);
      const parsed = parseCallback(params);
      expect(parsed.ok).toBe(true);
      if (n % 2 === 0) rememberParsedCallback(text, parsed as ParsedCallback);
      // A copy of the text, as the database gives it back: the same key.
      expect(videoEventOfParams(` ${text}`.slice(1))).toEqual(parseVideoEvent(JSON.parse(text) as CallbackParam[]));
    }
  });

  it('parses rewritten text afresh: an erased identity never comes back from memory', () => {
    const original = connected(900, 'patient-jane');
    rememberParsedCallback(JSON.stringify(original), parseCallback(original) as ParsedCallback);
    const erased = connected(900, 'erased-7f3a');
    expect(videoEventOfParams(JSON.stringify(erased))).toMatchObject({ identity: 'erased-7f3a' });
  });

  it('answers undefined for text that is not a sound video event, and shares frozen events', () => {
    expect(videoEventOfParams(JSON.stringify([['StatusCallbackEvent', 'room-created']]))).toBeUndefined();
    const event = videoEventOfParams(JSON.stringify(connected(901, 'clinician-1')));
    expect(Object.isFrozen(event)).toBe(true);
  });
});
