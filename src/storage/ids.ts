import { randomFillSync } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'; // RFC 4648 base32, lower case

const ID_BYTES = 16;
/**
 * Random bytes drawn a block at a time, as node's randomUUID does: one CSPRNG call per 256 ids
 * instead of a call and a Buffer per id (ids are made on the HTTP thread for every callback).
 */
const pool = Buffer.alloc(ID_BYTES * 256);
let used = pool.length;

/**
 * A random, unguessable id: `prefix_` + 26 base32 characters (128 random bits).
 * Example: newId('ten') → 'ten_3x7q…'. Ids sort in no particular order; timestamps order rows.
 */
export function newId(prefix: string): string {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const start = used;
  used += ID_BYTES;
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (let at = start; at < start + ID_BYTES; at++) {
    buffer = (buffer << 8) | pool[at]!;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return `${prefix}_${out}`;
}
