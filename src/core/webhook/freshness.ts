/** Why a signed callback's `Timestamp` is not acceptable, or 'fresh'. */
export type Freshness = 'fresh' | 'missing-timestamp' | 'stale' | 'future';

/**
 * Checks Twilio's `Timestamp` (UTC ISO 8601) against the replay window: older than `maxAgeMs`
 * is a replay; more than `futureSkewMs` ahead is refused too (a forged clock).
 *
 * @example checkFreshness('2026-01-01T10:00:00.000Z', new Date('2026-01-01T10:05:00Z'), 900_000, 300_000) === 'fresh'
 */
export function checkFreshness(timestamp: string | undefined, now: Date, maxAgeMs: number, futureSkewMs: number): Freshness {
  if (!timestamp || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/.test(timestamp)) {
    return 'missing-timestamp';
  }
  const at = Date.parse(timestamp);
  if (Number.isNaN(at)) return 'missing-timestamp';
  const age = now.getTime() - at;
  if (age > maxAgeMs) return 'stale';
  if (-age > futureSkewMs) return 'future';
  return 'fresh';
}
