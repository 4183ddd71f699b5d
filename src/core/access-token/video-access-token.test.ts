import { createHmac } from 'node:crypto';
import twilio from 'twilio';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createVideoAccessToken, MAX_TTL_SECONDS, type VideoAccessTokenInput } from './video-access-token.js';

const input: VideoAccessTokenInput = {
  accountSid: 'AC' + '1'.repeat(32),
  apiKeySid: 'SK' + '2'.repeat(32),
  apiKeySecret: 'api-key-secret-value',
  identity: 'pt_7f3a9c',
  roomName: 'rg-con_abc',
  ttlSeconds: 3600,
  now: new Date('2026-05-01T10:00:00.750Z'),
};

const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;

/** The official SDK's token for the same inputs; it reads Date.now(), so the clock is pinned. */
function referenceToken(options: VideoAccessTokenInput): string {
  vi.useFakeTimers();
  vi.setSystemTime(options.now);
  const token = new twilio.jwt.AccessToken(options.accountSid, options.apiKeySid, options.apiKeySecret, {
    identity: options.identity,
    ttl: options.ttlSeconds,
    ...(options.notBefore ? { nbf: Math.floor(options.notBefore.getTime() / 1000) } : {}),
  });
  token.addGrant(new twilio.jwt.AccessToken.VideoGrant({ room: options.roomName }));
  return token.toJwt();
}

describe('createVideoAccessToken', () => {
  afterEach(() => vi.useRealTimers());

  it.each([
    ['one hour', input],
    [
      '24 hours, another room and identity',
      { ...input, ttlSeconds: MAX_TTL_SECONDS, roomName: 'RM' + 'a'.repeat(32), identity: 'owner:8812a' },
    ],
    ['one second, with nbf', { ...input, ttlSeconds: 1, notBefore: new Date('2026-05-01T10:05:00Z') }],
  ])('decodes to the same header and claims as the official twilio AccessToken (%s)', (_name, options) => {
    const [refHeader, refPayload] = referenceToken(options).split('.');
    const token = createVideoAccessToken(options);
    const [header, payload, signature] = token.split('.');
    expect(token.split('.')).toHaveLength(3);
    expect(decode(header!)).toEqual(decode(refHeader!));
    expect(decode(payload!)).toEqual(decode(refPayload!));
    expect(createHmac('sha256', options.apiKeySecret).update(`${header}.${payload}`).digest('base64url')).toBe(signature);
  });

  it('binds the identity to one room, with Twilio claims and the TTL', () => {
    const [header, payload] = createVideoAccessToken(input).split('.');
    expect(decode(header!)).toEqual({ typ: 'JWT', alg: 'HS256', cty: 'twilio-fpa;v=1' });
    const now = Math.floor(input.now.getTime() / 1000);
    expect(decode(payload!)).toEqual({
      jti: `${input.apiKeySid}-${now}`,
      grants: { identity: 'pt_7f3a9c', video: { room: 'rg-con_abc' } },
      iat: now,
      exp: now + 3600,
      iss: input.apiKeySid,
      sub: input.accountSid,
    });
  });

  it('is a function of its inputs alone (no clock read)', () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2031-01-01T00:00:00Z'));
    const a = createVideoAccessToken(input);
    vi.setSystemTime(new Date('2020-01-01T00:00:00Z'));
    expect(createVideoAccessToken(input)).toBe(a);
  });

  it('does not verify with another secret', () => {
    const [header, payload, signature] = createVideoAccessToken(input).split('.');
    expect(createHmac('sha256', 'other-secret').update(`${header}.${payload}`).digest('base64url')).not.toBe(signature);
  });

  it.each([0, -1, 1.5, Number.NaN, MAX_TTL_SECONDS + 1])('refuses a TTL of %s', (ttlSeconds) => {
    expect(() => createVideoAccessToken({ ...input, ttlSeconds })).toThrow(RangeError);
  });

  it('refuses an invalid date, empty fields and an identity over 128 bytes', () => {
    expect(() => createVideoAccessToken({ ...input, now: new Date('nope') })).toThrow(RangeError);
    expect(() => createVideoAccessToken({ ...input, notBefore: new Date('nope') })).toThrow(RangeError);
    for (const field of ['accountSid', 'apiKeySid', 'apiKeySecret', 'identity', 'roomName'] as const) {
      expect(() => createVideoAccessToken({ ...input, [field]: '' })).toThrow(TypeError);
    }
    expect(() => createVideoAccessToken({ ...input, identity: 'x'.repeat(129) })).toThrow(RangeError);
  });
});
