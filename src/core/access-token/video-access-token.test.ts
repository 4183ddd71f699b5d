import { createHmac } from 'node:crypto';
import twilio from 'twilio';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createVideoAccessToken, MAX_TTL_SECONDS } from './video-access-token.js';

const input = {
  accountSid: 'AC' + '1'.repeat(32),
  apiKeySid: 'SK' + '2'.repeat(32),
  apiKeySecret: 'api-key-secret-value',
  identity: 'pt_7f3a9c',
  roomName: 'rg-con_abc',
  ttlSeconds: 3600,
  now: new Date('2026-05-01T10:00:00.000Z'),
};

const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;

describe('createVideoAccessToken', () => {
  afterEach(() => vi.useRealTimers());

  it('decodes to the same header and claims as the official twilio AccessToken', () => {
    vi.useFakeTimers();
    vi.setSystemTime(input.now);
    const reference = new twilio.jwt.AccessToken(input.accountSid, input.apiKeySid, input.apiKeySecret, { identity: input.identity, ttl: input.ttlSeconds });
    reference.addGrant(new twilio.jwt.AccessToken.VideoGrant({ room: input.roomName }));
    const [refHeader, refPayload] = reference.toJwt().split('.');
    const [header, payload, signature] = createVideoAccessToken(input).split('.');
    expect(decode(header!)).toEqual(decode(refHeader!));
    expect(decode(payload!)).toEqual(decode(refPayload!));
    expect(createHmac('sha256', input.apiKeySecret).update(`${header}.${payload}`).digest('base64url')).toBe(signature);
  });

  it('binds the identity to one room and expires after the TTL', () => {
    const payload = decode(createVideoAccessToken(input).split('.')[1]!);
    expect(payload.grants).toEqual({ identity: 'pt_7f3a9c', video: { room: 'rg-con_abc' } });
    expect((payload.exp as number) - (payload.iat as number)).toBe(3600);
  });

  it.each([0, -1, 1.5, MAX_TTL_SECONDS + 1])('refuses a TTL of %s', (ttlSeconds) => {
    expect(() => createVideoAccessToken({ ...input, ttlSeconds })).toThrow(RangeError);
  });
});
