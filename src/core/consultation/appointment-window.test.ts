import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appointmentWindow, checkWindow, maxParticipantDurationSeconds, tokenTtlSeconds } from './appointment-window.js';

const at = '2026-03-01T10:00:00.000Z';
const base = Date.parse(at);

describe('appointment window', () => {
  it('is absent without a duration: tokens any time, no room bound', () => {
    const window = appointmentWindow({ scheduledAt: at, durationMinutes: null, joinEarlyMinutes: 5, graceMinutes: 5 });
    expect(window).toBeNull();
    expect(checkWindow(window, new Date(0))).toEqual({ ok: true });
    expect(tokenTtlSeconds(window, new Date(base), 3600)).toBe(3600);
    expect(maxParticipantDurationSeconds(window)).toBeUndefined();
  });

  it('opens early, closes after the grace, and uses the defaults when the tenant set none', () => {
    const window = appointmentWindow({ scheduledAt: at, durationMinutes: 30, joinEarlyMinutes: null, graceMinutes: null })!;
    expect(window.opensAt.toISOString()).toBe('2026-03-01T09:45:00.000Z');
    expect(window.closesAt.toISOString()).toBe('2026-03-01T10:45:00.000Z');
  });

  it('admits exactly [opensAt, closesAt); the token ends at closesAt; the room fits Twilio’s range', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1440 }),
        fc.integer({ min: 0, max: 240 }),
        fc.integer({ min: 0, max: 240 }),
        fc.integer({ min: -600, max: 2000 }),
        (duration, early, grace, offsetMinutes) => {
          const window = appointmentWindow({ scheduledAt: at, durationMinutes: duration, joinEarlyMinutes: early, graceMinutes: grace })!;
          const now = new Date(base + offsetMinutes * 60_000);
          const check = checkWindow(window, now);
          const inside = now >= window.opensAt && now < window.closesAt;
          expect(check.ok).toBe(inside);
          if (!check.ok) expect(check.reason).toBe(now < window.opensAt ? 'window-not-open' : 'window-closed');
          if (inside) {
            const ttl = tokenTtlSeconds(window, now, 3600);
            expect(ttl).toBeGreaterThan(0);
            expect(now.getTime() + ttl * 1000).toBeLessThanOrEqual(window.closesAt.getTime());
          }
          const max = maxParticipantDurationSeconds(window)!;
          expect(max).toBeGreaterThanOrEqual(600);
          expect(max).toBeLessThanOrEqual(86_400);
        },
      ),
    );
  });
});
