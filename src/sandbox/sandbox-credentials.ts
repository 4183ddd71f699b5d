import { randomHex32, twilioSid } from './twilio-ids.js';

/** The sandbox account: what Twilio would give a customer (account + auth token, API key + secret). */
export interface SandboxCredentials {
  readonly accountSid: string;
  readonly authToken: string;
  readonly apiKeySid: string;
  readonly apiKeySecret: string;
}

/**
 * Fresh Twilio-shaped credentials: `AC` + 32 hex, a 32-hex auth token, `SK` + 32 hex and a
 * 32-hex secret, all from the CSPRNG.
 */
export function createSandboxCredentials(): SandboxCredentials {
  return Object.freeze({
    accountSid: twilioSid('AC'),
    authToken: randomHex32(),
    apiKeySid: twilioSid('SK'),
    apiKeySecret: randomHex32(),
  });
}

/** True when every field has Twilio's shape (used to refuse a damaged credentials file). */
export function isSandboxCredentials(value: unknown): value is SandboxCredentials {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.accountSid === 'string' &&
    /^AC[0-9a-f]{32}$/.test(v.accountSid) &&
    typeof v.authToken === 'string' &&
    /^[0-9a-f]{32}$/.test(v.authToken) &&
    typeof v.apiKeySid === 'string' &&
    /^SK[0-9a-f]{32}$/.test(v.apiKeySid) &&
    typeof v.apiKeySecret === 'string' &&
    v.apiKeySecret.length >= 16
  );
}
