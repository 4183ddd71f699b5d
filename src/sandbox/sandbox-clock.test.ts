import { describe, expect, it } from 'vitest';
import { SandboxClock } from './sandbox-clock.js';

describe('sandbox clock', () => {
  it('follows the injected clock, moved forward by advance and set, never back', () => {
    let base = Date.parse('2026-01-01T00:00:00Z');
    const clock = new SandboxClock(() => new Date(base));
    expect(clock.advance(1_500).toISOString()).toBe('2026-01-01T00:00:01.500Z');
    base += 1_000;
    expect(clock.now().toISOString()).toBe('2026-01-01T00:00:02.500Z');
    expect(clock.set(new Date('2026-01-01T01:00:00Z')).toISOString()).toBe('2026-01-01T01:00:00.000Z');
    expect(() => clock.set(new Date('2025-01-01T00:00:00Z'))).toThrow(RangeError);
    expect(() => clock.advance(-1)).toThrow(RangeError);
  });
});
