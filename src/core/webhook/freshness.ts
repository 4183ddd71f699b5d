/** Why a signed callback's `Timestamp` is not acceptable, or 'fresh'. */
export type Freshness = 'fresh' | 'stale' | 'future';

/**
 * Checks Twilio's `Timestamp` — as the callback schema parsed it (ms since the epoch), so
 * freshness reads the same instant as the dedupe key and the fold — against the replay window:
 * older than `maxAgeMs` is a replay; more than `futureSkewMs` ahead is refused too (a forged
 * clock). A Timestamp missing, repeated or not in Twilio's format never gets here: the schema
 * quarantines that callback instead.
 *
 * @example checkFreshness(Date.parse('2026-01-01T10:00:00.000Z'), new Date('2026-01-01T10:05:00Z'), 900_000, 300_000) === 'fresh'
 */
export function checkFreshness(timestamp: number, now: Date, maxAgeMs: number, futureSkewMs: number): Freshness {
  const age = now.getTime() - timestamp;
  if (age > maxAgeMs) return 'stale';
  if (-age > futureSkewMs) return 'future';
  return 'fresh';
}
