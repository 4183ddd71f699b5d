import { randomFillSync } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'; // RFC 4648 base32, lower case
/** The same 32 characters in ASCII order: the time part of an id sorts as the time does. */
const SORTED = '234567abcdefghijklmnopqrstuvwxyz';

const RANDOM_BYTES = 10;
/**
 * Random bytes drawn a block at a time, as node's randomUUID does: one CSPRNG call per 256 ids
 * instead of a call and a Buffer per id.
 */
const pool = Buffer.alloc(RANDOM_BYTES * 256);
let used = pool.length;

/**
 * An unguessable id, time-ordered: `prefix_` + 26 base32 characters — 10 of the creation time
 * in milliseconds (50 bits, in an alphabet that sorts as the time does), then 16 random (80
 * bits), as a ULID. Example: newId('ten') → 'ten_23ocpumzcl…'.
 *
 * Time-ordered because every index on an id is a B-tree: ids that arrive in order are appended
 * to its last page, where random ids dirty a page each — on the inbox that was most of what a
 * commit wrote. 80 random bits stay unguessable; the time they reveal is the row's own.
 */
export function newId(prefix: string): string {
  let time = Date.now();
  let head = '';
  for (let digit = 0; digit < 10; digit++) {
    head = SORTED[time % 32]! + head;
    time = Math.floor(time / 32);
  }
  return `${prefix}_${head}${randomPart()}`;
}

function randomPart(): string {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const start = used;
  used += RANDOM_BYTES;
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (let at = start; at < start + RANDOM_BYTES; at++) {
    buffer = ((buffer << 8) | pool[at]!) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}
