/**
 * Twilio Video access tokens: a JWT (HS256, signed with the API key secret) granting one
 * identity access to one room, for a bounded time. Shape per Twilio's SDKs (twilio-node
 * `jwt/AccessToken`): header `{typ:'JWT', alg:'HS256', cty:'twilio-fpa;v=1'}`; claims
 * `jti = <API key SID>-<unix now>`, `grants = {identity, video: {room}}`, `iat`, optional `nbf`,
 * `exp`, `iss = <API key SID>`, `sub = <Account SID>`. Pure: the clock is an input.
 */
import { createHmac } from 'node:crypto';

/** Twilio refuses tokens valid for longer than 24 hours. */
export const MAX_TTL_SECONDS = 24 * 3600;
/** Twilio's limit on an identity, in UTF-8 bytes. */
export const MAX_IDENTITY_BYTES = 128;

export interface VideoAccessTokenInput {
  readonly accountSid: string;
  readonly apiKeySid: string;
  readonly apiKeySecret: string;
  readonly identity: string;
  /** The one room the token opens (Twilio matches the room's UniqueName or SID). */
  readonly roomName: string;
  /** 1 to 86 400 seconds. */
  readonly ttlSeconds: number;
  /** The issuing instant: `iat`, `jti` and `exp` derive from it (whole seconds, floored). */
  readonly now: Date;
  /** Optional `nbf`: the token is not valid before this instant. */
  readonly notBefore?: Date;
}

/**
 * Signs a Video access token. Throws RangeError on a TTL outside 1 s–24 h or an invalid date,
 * TypeError on an empty credential, identity or room. The identity policy is the caller's check.
 *
 * @example
 * createVideoAccessToken({ accountSid: 'AC…', apiKeySid: 'SK…', apiKeySecret: '…',
 *   identity: 'pt_7f3a9c', roomName: 'rg-con_abc', ttlSeconds: 3600, now: clock() })
 * // 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImN0eSI6InR3aWxpby1mcGE7dj0xIn0.eyJqdGkiOi….…'
 */
export function createVideoAccessToken(input: VideoAccessTokenInput): string {
  for (const field of ['accountSid', 'apiKeySid', 'apiKeySecret', 'identity', 'roomName'] as const) {
    if (typeof input[field] !== 'string' || input[field].length === 0) throw new TypeError(`${field} is required`);
  }
  if (Buffer.byteLength(input.identity, 'utf8') > MAX_IDENTITY_BYTES)
    throw new RangeError(`identity must be at most ${MAX_IDENTITY_BYTES} bytes`);
  if (!Number.isInteger(input.ttlSeconds) || input.ttlSeconds < 1 || input.ttlSeconds > MAX_TTL_SECONDS) {
    throw new RangeError(`ttlSeconds must be an integer from 1 to ${MAX_TTL_SECONDS}`);
  }
  const now = unixSeconds(input.now, 'now');
  const nbf = input.notBefore === undefined ? undefined : unixSeconds(input.notBefore, 'notBefore');
  const header = { alg: 'HS256', typ: 'JWT', cty: 'twilio-fpa;v=1' };
  const payload = {
    jti: `${input.apiKeySid}-${now}`,
    grants: { identity: input.identity, video: { room: input.roomName } },
    ...(nbf === undefined ? {} : { nbf }),
    iat: now,
    exp: now + input.ttlSeconds,
    iss: input.apiKeySid,
    sub: input.accountSid,
  };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const signature = createHmac('sha256', input.apiKeySecret).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

function unixSeconds(date: Date, name: string): number {
  const ms = date instanceof Date ? date.getTime() : Number.NaN;
  if (!Number.isFinite(ms)) throw new RangeError(`${name} must be a valid Date`);
  return Math.floor(ms / 1000);
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
