import { randomBytes } from 'node:crypto';

/** A SID of Twilio's shape: two-letter prefix and 32 hex digits (RM room, PA participant, RT recording, CJ composition, MT track). */
export function twilioSid(prefix: 'AC' | 'SK' | 'RM' | 'PA' | 'RT' | 'CJ' | 'MT'): string {
  return prefix + randomBytes(16).toString('hex');
}

export interface SandboxCredentials {
  readonly accountSid: string;
  readonly authToken: string;
  readonly apiKeySid: string;
  readonly apiKeySecret: string;
}

/** Fresh Twilio-shaped credentials for a sandbox account. */
export function createSandboxCredentials(): SandboxCredentials {
  return {
    accountSid: twilioSid('AC'),
    authToken: randomBytes(16).toString('hex'),
    apiKeySid: twilioSid('SK'),
    apiKeySecret: randomBytes(16).toString('hex'),
  };
}
