/**
 * The retry schedule, for generated failure sequences: retries keep coming for at least 24 h
 * (the schedule never gives up early), delays grow and never exceed the cap, jitter keeps them
 * within their step, a 429/503's Retry-After is honoured (up to the cap) and nothing else's is.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY, isDelivered, nextAttemptAt, shouldDisable } from './webhook-retry-policy.js';

const HOUR = 3_600_000;

describe('webhook retry policy', () => {
  it('retries for at least 24 hours, each delay within its jittered step and under the cap', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 0.999999, noNaN: true }), { minLength: 200, maxLength: 200 }), (randoms) => {
        const first = 1_700_000_000_000;
        let failedAt = first;
        let attempt = 1;
        for (;;) {
          const next = nextAttemptAt({ attempt, firstAttemptAt: first, failedAt }, DEFAULT_RETRY_POLICY, randoms[attempt % randoms.length]);
          if (next === undefined) break;
          const delay = next - failedAt;
          const step = Math.min(DEFAULT_RETRY_POLICY.maxDelayMs, DEFAULT_RETRY_POLICY.baseMs * 2 ** (attempt - 1));
          expect(delay).toBeGreaterThanOrEqual(step / 2);
          expect(delay).toBeLessThanOrEqual(step + 1);
          failedAt = next;
          attempt += 1;
        }
        // Gave up only once the next attempt would start more than retryForMs after the first.
        expect(failedAt - first).toBeGreaterThanOrEqual(24 * HOUR);
        expect(attempt).toBeGreaterThan(10);
      }),
      { numRuns: 50 },
    );
  });

  it("honours a 429/503's Retry-After up to the cap, and no other status's", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 3 * HOUR }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        (attempt, retryAfterMs, random) => {
          const base = { attempt, firstAttemptAt: 0, failedAt: 0, retryAfterMs };
          for (const status of [429, 503]) {
            const next = nextAttemptAt({ ...base, status }, DEFAULT_RETRY_POLICY, random)!;
            expect(next).toBeGreaterThanOrEqual(Math.min(retryAfterMs, DEFAULT_RETRY_POLICY.maxDelayMs));
            expect(next).toBeLessThanOrEqual(
              Math.max(DEFAULT_RETRY_POLICY.maxDelayMs, DEFAULT_RETRY_POLICY.baseMs * 2 ** (attempt - 1)) + 1,
            );
          }
          const plain = nextAttemptAt({ ...base, status: 500 }, DEFAULT_RETRY_POLICY, random)!;
          expect(plain).toBeLessThanOrEqual(DEFAULT_RETRY_POLICY.baseMs * 2 ** (attempt - 1) + 1);
        },
      ),
    );
  });

  it('counts 2xx as delivered, and disables an endpoint failing for the configured time', () => {
    expect([200, 201, 204, 299].every(isDelivered)).toBe(true);
    expect([undefined, 199, 301, 302, 400, 429, 500, 503].some(isDelivered)).toBe(false);
    expect(shouldDisable(undefined, 10 * HOUR, HOUR)).toBe(false);
    expect(shouldDisable(0, HOUR - 1, HOUR)).toBe(false);
    expect(shouldDisable(0, HOUR, HOUR)).toBe(true);
  });
});
