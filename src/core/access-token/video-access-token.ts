/**
 * Twilio Video access tokens: a JWT (HS256, signed with the API key secret) granting one
 * identity access to one room, for a bounded time. Shape per Twilio's SDKs:
 * header `{typ:'JWT', alg:'HS256', cty:'twilio-fpa;v=1'}`; claims jti, grants, iat, exp, iss, sub.
 *
 * @example createVideoAccessToken({ accountSid, apiKeySid, apiKeySecret, identity: 'pt_1', roomName: 'rg-con_x', ttlSeconds: 3600, now: new Date() })
 */
import { createHmac } from 'node:crypto';

/** Twilio refuses tokens valid for longer than 24 hours. */
export const MAX_TTL_SECONDS = 24 * 3600;

export interface VideoAccessTokenInput {
  readonly accountSid: string;
  readonly apiKeySid: string;
  readonly apiKeySecret: string;
  readonly identity: string;
  readonly roomName: string;
  readonly ttlSeconds: number;
  readonly now: Date;
}

export function createVideoAccessToken(input: VideoAccessTokenInput): string {
  if (!Number.isInteger(input.ttlSeconds) || input.ttlSeconds < 1 || input.ttlSeconds > MAX_TTL_SECONDS) {
    throw new RangeError(`ttlSeconds must be an integer from 1 to ${MAX_TTL_SECONDS}`);
  }
  const now = Math.floor(input.now.getTime() / 1000);
  const header = { alg: 'HS256', typ: 'JWT', cty: 'twilio-fpa;v=1' };
  const payload = {
    jti: `${input.apiKeySid}-${now}`,
    grants: { identity: input.identity, video: { room: input.roomName } },
    iat: now,
    exp: now + input.ttlSeconds,
    iss: input.apiKeySid,
    sub: input.accountSid,
  };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const signature = createHmac('sha256', input.apiKeySecret).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
