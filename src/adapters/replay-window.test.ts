import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { VerifyResult } from '../core/signature/verifier.js';
import { DEFAULT_FUTURE_SKEW_MS, DEFAULT_MAX_AGE_MS, replayWindow } from './replay-window.js';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const verified = (params: [string, string][], json?: unknown): VerifyResult =>
  json === undefined ? { ok: true, secretId: 'primary', params } : { ok: true, secretId: 'primary', params, json };
const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs).toISOString();

describe('replayWindow', () => {
  it('accepts exactly the Timestamps within [now - maxAge, now + skew], any window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3_600_000 }),
        fc.integer({ min: 0, max: 3_600_000 }),
        fc.integer({ min: -7_200_000, max: 7_200_000 }),
        (maxAgeMs, futureSkewMs, offsetMs) => {
          const window = replayWindow({ maxAgeMs, futureSkewMs, now: () => NOW });
          const result = window(
            verified([
              ['AccountSid', 'AC1'],
              ['Timestamp', at(-offsetMs)],
            ]),
          );
          const expected = offsetMs > maxAgeMs ? 'replay-too-old' : -offsetMs > futureSkewMs ? 'timestamp-in-future' : undefined;
          expect(result.ok ? undefined : result.reason).toBe(expected);
          if (!result.ok) expect(result.claimedAccountSid).toBe('AC1');
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('defaults to 15 minutes old and 5 minutes ahead', () => {
    const window = replayWindow(undefined);
    const now = Date.now();
    const check = (offsetMs: number) => window(verified([['Timestamp', new Date(now + offsetMs).toISOString()]]));
    expect(DEFAULT_MAX_AGE_MS).toBe(900_000);
    expect(DEFAULT_FUTURE_SKEW_MS).toBe(300_000);
    expect(check(-14 * 60_000).ok).toBe(true);
    expect(check(-16 * 60_000)).toEqual({ ok: false, reason: 'replay-too-old' });
    expect(check(4 * 60_000).ok).toBe(true);
    expect(check(6 * 60_000)).toEqual({ ok: false, reason: 'timestamp-in-future' });
  });

  it('refuses a callback without a usable Timestamp; reads a JSON body’s top-level Timestamp', () => {
    const window = replayWindow({ now: () => NOW });
    expect(window(verified([['RoomSid', 'RM1']]))).toEqual({ ok: false, reason: 'missing-timestamp' });
    expect(window(verified([['Timestamp', 'yesterday']]))).toEqual({ ok: false, reason: 'missing-timestamp' });
    expect(window(verified([], { Timestamp: at(-1000) })).ok).toBe(true);
    expect(window(verified([], { Timestamp: at(-3_600_000) }))).toEqual({ ok: false, reason: 'replay-too-old' });
    expect(window(verified([], { event: 'x' }))).toEqual({ ok: false, reason: 'missing-timestamp' });
  });

  it('false turns it off; a failed signature passes through untouched', () => {
    const old = verified([['Timestamp', '2001-01-01T00:00:00Z']]);
    expect(replayWindow(false)(old)).toBe(old);
    const refused: VerifyResult = { ok: false, reason: 'signature-mismatch' };
    expect(replayWindow(undefined)(refused)).toBe(refused);
  });

  it('refuses a bad window at set-up', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('maxAgeMs', 'futureSkewMs'),
        fc.oneof(fc.integer({ max: -1 }), fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, '15m', null)),
        (name, value) => {
          expect(() => replayWindow({ [name]: value } as never)).toThrow(new RegExp(`replayWindow\\.${name}`));
        },
      ),
    );
  });
});
