import { describe, expect, it } from 'vitest';
import { checkFreshness } from './freshness.js';
import { parseTwilioTimestamp } from './twilio-timestamp.js';

const now = new Date('2026-03-01T12:00:00.000Z');
const maxAge = 15 * 60_000;
const skew = 5 * 60_000;

describe('checkFreshness', () => {
  it.each([
    ['2026-03-01T12:00:00.000Z', 'fresh'],
    ['2026-03-01T11:45:00.000Z', 'fresh'],
    ['2026-03-01T11:44:59.999Z', 'stale'],
    ['2026-03-01T12:05:00Z', 'fresh'],
    ['2026-03-01T12:05:00.001Z', 'future'],
  ] as const)('%s → %s', (timestamp, expected) => {
    expect(checkFreshness(parseTwilioTimestamp(timestamp)!, now, maxAge, skew)).toBe(expected);
  });
});
