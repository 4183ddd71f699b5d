import { randomBytes } from 'node:crypto';

/** Two-letter prefixes of the SIDs the sandbox mints. */
export type SidPrefix = 'AC' | 'SK' | 'RM' | 'PA' | 'MT' | 'RT' | 'CJ';

/**
 * A SID of Twilio's shape: a two-letter prefix and 32 lower-case hex digits
 * (AC account, SK API key, RM room, PA participant, MT track, RT recording, CJ composition).
 *
 * @example /^RM[0-9a-f]{32}$/.test(twilioSid('RM'))
 */
export function twilioSid(prefix: SidPrefix): string {
  return prefix + randomHex32();
}

/** 32 random lower-case hex digits (128 bits), the shape of an auth token or a SID's tail. */
export function randomHex32(): string {
  return randomBytes(16).toString('hex');
}
