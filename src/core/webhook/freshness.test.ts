import { describe, expect, it } from 'vitest';
import { checkFreshness, checkFreshnessAt } from './freshness.js';

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
    // One Timestamp rule with the callback schema: Twilio's UTC form only.
    ['2026-03-01T13:00:00+01:00', 'missing-timestamp'],
    ['2026-03-01T13:00:00+0100', 'missing-timestamp'],
    [undefined, 'missing-timestamp'],
    ['', 'missing-timestamp'],
    ['yesterday', 'missing-timestamp'],
    ['2026-02-30T99:00:00Z', 'missing-timestamp'],
  ] as const)('%s → %s', (timestamp, expected) => {
    expect(checkFreshness(timestamp, now, maxAge, skew)).toBe(expected);
  });

  it('checkFreshnessAt judges an instant the schema parsed', () => {
    expect(checkFreshnessAt(now.getTime() - maxAge, now, maxAge, skew)).toBe('fresh');
    expect(checkFreshnessAt(now.getTime() - maxAge - 1, now, maxAge, skew)).toBe('stale');
    expect(checkFreshnessAt(now.getTime() + skew + 1, now, maxAge, skew)).toBe('future');
  });
});
