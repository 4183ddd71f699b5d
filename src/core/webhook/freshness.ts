import { parseTwilioTimestamp } from './twilio-timestamp.js';

/** Why a signed callback's `Timestamp` is not acceptable, or 'fresh'. */
export type Freshness = 'fresh' | 'missing-timestamp' | 'stale' | 'future';

/**
 * Checks a `Timestamp` as received against the replay window (the adapters' step, for any
 * Twilio webhook): one in Twilio's format (twilio-timestamp.ts — the same rule the service's
 * callback schema applies) within the window is fresh; absent or in any other form it is
 * 'missing-timestamp'.
 *
 * @example checkFreshness('2026-01-01T10:00:00.000Z', new Date('2026-01-01T10:05:00Z'), 900_000, 300_000) === 'fresh'
 * @example checkFreshness('2026-01-01T11:00:00+01:00', new Date('2026-01-01T10:05:00Z'), 900_000, 300_000) === 'missing-timestamp'
 */
export function checkFreshness(timestamp: string | undefined, now: Date, maxAgeMs: number, futureSkewMs: number): Freshness {
  const at = timestamp === undefined ? undefined : parseTwilioTimestamp(timestamp);
  if (at === undefined) return 'missing-timestamp';
  return checkFreshnessAt(at, now, maxAgeMs, futureSkewMs);
}

/**
 * Checks an instant — a callback's `Timestamp` as the callback schema parsed it (ms since the
 * epoch), so freshness reads the same instant as the dedupe key and the fold — against the
 * replay window: older than `maxAgeMs` is a replay; more than `futureSkewMs` ahead is refused
 * too (a forged clock).
 *
 * @example checkFreshnessAt(Date.parse('2026-01-01T10:00:00.000Z'), new Date('2026-01-01T10:05:00Z'), 900_000, 300_000) === 'fresh'
 */
export function checkFreshnessAt(timestamp: number, now: Date, maxAgeMs: number, futureSkewMs: number): 'fresh' | 'stale' | 'future' {
  const age = now.getTime() - timestamp;
  if (age > maxAgeMs) return 'stale';
  if (-age > futureSkewMs) return 'future';
  return 'fresh';
}
