import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loggedUrl } from './logged-url.js';

describe('loggedUrl', () => {
  it('keeps the path, drops the query string, masks a path segment holding an API key', () => {
    expect(loggedUrl('/v1/consultations')).toBe('/v1/consultations');
    expect(loggedUrl('/v1/events?key=rgk_abc&limit=2')).toBe('/v1/events?[redacted]');
    expect(loggedUrl('/v1/consultations/rgk_abc/end')).toBe('/v1/consultations/[redacted]/end');
    expect(loggedUrl('/v1/RGK%5Fabc')).toBe('/v1/[redacted]');
    expect(loggedUrl('/v1/%ZZrgk%5fabc')).toBe('/v1/[redacted]');
    expect(loggedUrl(undefined)).toBeUndefined();
  });

  it('never lets a key through, whatever surrounds it', () => {
    fc.assert(
      fc.property(fc.string(), fc.stringMatching(/^[A-Za-z0-9]{10,54}$/), fc.string(), (before, secret, after) => {
        const logged = loggedUrl(`/${encodeURIComponent(before)}rgk_${secret}${after}`) ?? '';
        expect(logged).not.toContain(secret);
      }),
    );
  });
});
