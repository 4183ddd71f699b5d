import { describe, expect, it } from 'vitest';
import { parseTwilioTimestamp } from './twilio-timestamp.js';

describe('parseTwilioTimestamp', () => {
  it.each([
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2000-02-29T23:59:59.999Z', Date.UTC(2000, 1, 29, 23, 59, 59, 999)],
    ['2026-04-30T10:00:00.5Z', Date.UTC(2026, 3, 30, 10, 0, 0, 500)],
    ['2026-12-31T10:00:00.123456789Z', Date.UTC(2026, 11, 31, 10, 0, 0, 123)],
    ['2026-02-29T00:00:00Z', undefined],
    ['2100-02-29T00:00:00Z', undefined],
    ['2026-04-31T00:00:00Z', undefined],
    ['2026-00-10T00:00:00Z', undefined],
    ['2026-13-10T00:00:00Z', undefined],
    ['2026-03-00T00:00:00Z', undefined],
  ] as const)('%s → %s', (value, expected) => {
    expect(parseTwilioTimestamp(value)).toBe(expected);
  });

  it('knows the last day of every month as Date.UTC counts them, leap years included', () => {
    for (let year = 1970; year <= 2400; year++) {
      for (let month = 1; month <= 12; month++) {
        const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
        const date = `${String(year)}-${String(month).padStart(2, '0')}`;
        expect(parseTwilioTimestamp(`${date}-${last}T00:00:00Z`)).toBe(Date.UTC(year, month - 1, last));
        if (last < 31) expect(parseTwilioTimestamp(`${date}-${last + 1}T00:00:00Z`)).toBeUndefined();
      }
    }
  });
});
