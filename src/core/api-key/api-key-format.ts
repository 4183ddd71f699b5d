/**
 * Tenant API keys: `rgk_` + 16-char lookup id + 32-char secret + 6-char CRC-32 checksum, all
 * base62. The prefix lets secret scanners spot a leaked key; the checksum rejects typos and
 * random strings without a database lookup; only a SHA-256 of the secret is stored (the secret
 * has ~190 bits of entropy, so a slow hash adds nothing but latency).
 *
 * @example const { key } = generateApiKey(randomBytes); parseApiKey(key).ok === true
 */
import { createHash } from 'node:crypto';

export const API_KEY_PREFIX = 'rgk_';
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const LOOKUP_LENGTH = 16;
const SECRET_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
const KEY_PATTERN = new RegExp(`^${API_KEY_PREFIX}[0-9A-Za-z]{${LOOKUP_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH}}$`);

export interface GeneratedApiKey {
  /** The full key, shown once to its owner and never stored. */
  readonly key: string;
  readonly lookupId: string;
  readonly secretHash: string;
}

export type ParsedApiKey =
  | { readonly ok: true; readonly lookupId: string; readonly secretHash: string }
  | { readonly ok: false; readonly reason: 'malformed' | 'checksum' };

/** Makes a new key from a source of random bytes (node:crypto's randomBytes in production). */
export function generateApiKey(randomBytes: (size: number) => Buffer): GeneratedApiKey {
  const lookupId = base62(randomBytes(LOOKUP_LENGTH), LOOKUP_LENGTH);
  const secret = base62(randomBytes(SECRET_LENGTH), SECRET_LENGTH);
  const body = lookupId + secret;
  return { key: API_KEY_PREFIX + body + checksum(body), lookupId, secretHash: hashSecret(secret) };
}

/** Checks shape and checksum; no I/O. The caller looks `lookupId` up and compares the hash. */
export function parseApiKey(candidate: string): ParsedApiKey {
  if (!KEY_PATTERN.test(candidate)) return { ok: false, reason: 'malformed' };
  const body = candidate.slice(API_KEY_PREFIX.length, -CHECKSUM_LENGTH);
  if (checksum(body) !== candidate.slice(-CHECKSUM_LENGTH)) return { ok: false, reason: 'checksum' };
  return { ok: true, lookupId: body.slice(0, LOOKUP_LENGTH), secretHash: hashSecret(body.slice(LOOKUP_LENGTH)) };
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** One base62 character per random byte (modulo bias is irrelevant at this length). */
function base62(bytes: Buffer, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[bytes[i]! % 62];
  return out;
}

function checksum(body: string): string {
  let value = crc32(Buffer.from(body, 'ascii'));
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = ALPHABET[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
