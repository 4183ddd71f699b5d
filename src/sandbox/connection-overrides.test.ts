import { describe, expect, it } from 'vitest';
import { parseCallbackUrl, TWILIO_DEFAULT_OVERRIDES } from './connection-overrides.js';

describe('connection overrides', () => {
  it('leave a URL without a fragment as it is, with Twilio’s defaults', () => {
    expect(parseCallbackUrl('https://x.test/cb?a=1')).toEqual({ url: 'https://x.test/cb?a=1', overrides: TWILIO_DEFAULT_OVERRIDES });
    expect(TWILIO_DEFAULT_OVERRIDES).toMatchObject({ retryCount: 1, connectTimeoutMs: 5_000, readTimeoutMs: 15_000, totalTimeMs: 15_000 });
  });

  it('read rc, ct, rt, tt and rp from the fragment, clamped to Twilio’s ranges', () => {
    const { url, overrides } = parseCallbackUrl('https://x.test/cb?a=1#rc=9&ct=50&rt=3000&tt=99999&rp=rt,4xx');
    expect(url).toBe('https://x.test/cb?a=1');
    expect(overrides).toMatchObject({ retryCount: 5, connectTimeoutMs: 100, readTimeoutMs: 3_000, totalTimeMs: 15_000 });
    expect([...overrides.retryOn].sort()).toEqual(['4xx', 'rt']);
    expect([...parseCallbackUrl('https://x.test/#rp=all').overrides.retryOn].sort()).toEqual(['4xx', '5xx', 'ct', 'rt']);
    expect(parseCallbackUrl('https://x.test/#rc=abc').overrides.retryCount).toBe(1);
  });
});
