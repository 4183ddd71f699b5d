/**
 * Strict application/x-www-form-urlencoded parsing: order and repeated keys kept, `+` is a
 * space, percent-escapes decoded as UTF-8. A body that is not valid UTF-8, or holds a broken
 * escape (`%ZZ`, a truncated `%4`, an escape sequence that is not UTF-8 such as `%FF` or an
 * encoded surrogate), is refused rather than silently mangled: the signature covers the decoded
 * values, so a lenient decoder (U+FFFD substitution) would let two bodies share one signature.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import type { FormParam } from './twilio-signature.js';

export type MalformedBodyCode = 'BODY_NOT_UTF8' | 'BODY_BAD_PERCENT_ESCAPE';

/** The body cannot be read as form data; `code` says why. Never carries the body itself. */
export class MalformedBodyError extends Error {
  override readonly name = 'MalformedBodyError';
  constructor(
    readonly code: MalformedBodyCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface ParsedForm {
  readonly params: FormParam[];
  /** True when every key and value is ASCII (then latin1 is an exact, cheaper encoding). */
  readonly ascii: boolean;
  /** False when no key or value holds a code unit ≥ U+D800 (see parameter-suffix.ts). */
  readonly highCodeUnits: boolean;
}

const NON_ASCII = /[^\x00-\x7f]/;
const HIGH_CODE_UNIT = /[\uD800-\uFFFF]/;

/**
 * @example parseFormBody(Buffer.from('a=1&b=x+y&a=%C3%A9')) → [['a','1'],['b','x y'],['a','é']]
 * @throws MalformedBodyError on invalid UTF-8 or an invalid percent-escape
 */
export function parseFormBody(body: Buffer): FormParam[] {
  return readFormBody(body).params;
}

/**
 * parseFormBody, also telling which characters occur — what the verifier's hot path uses to
 * skip scans. Linear in the body's length whatever its shape (no rescanning per pair).
 *
 * @example readFormBody(Buffer.from('To=%2B1415')) → { params: [['To', '+1415']], ascii: true, highCodeUnits: false }
 */
export function readFormBody(body: Buffer): ParsedForm {
  const asciiBody = isAscii(body);
  if (!asciiBody && !isUtf8(body)) throw new MalformedBodyError('BODY_NOT_UTF8', 'body is not valid UTF-8');
  // latin1 is the cheapest decoder and exact for ASCII.
  const text = body.toString(asciiBody ? 'latin1' : 'utf8');
  const found = { ascii: asciiBody, high: !asciiBody && HIGH_CODE_UNIT.test(text) };
  const params: FormParam[] = [];
  const length = text.length;
  // Positions of the next '=', '%' and '+' at or after `start` (-1: none left). Each is searched
  // once and remembered while it lies beyond the current pair, so parsing stays linear in the
  // body's length whatever its shape (a body of many '='-less pairs 'a&a&a…' rescans nothing).
  let nextEquals = -2;
  let nextPercent = -2;
  let nextPlus = -2;
  let start = 0;
  while (start < length) {
    let end = text.indexOf('&', start);
    if (end < 0) end = length;
    if (end > start) {
      if (nextEquals !== -1 && nextEquals < start) nextEquals = text.indexOf('=', start);
      if (nextPercent !== -1 && nextPercent < start) nextPercent = text.indexOf('%', start);
      if (nextPlus !== -1 && nextPlus < start) nextPlus = text.indexOf('+', start);
      const plain = (nextPercent < 0 || nextPercent >= end) && (nextPlus < 0 || nextPlus >= end);
      if (nextEquals < 0 || nextEquals > end) {
        const key = text.slice(start, end);
        params.push([plain ? key : decode(key, found), '']);
      } else {
        const key = text.slice(start, nextEquals);
        const value = text.slice(nextEquals + 1, end);
        params.push(plain ? [key, value] : [decode(key, found), decode(value, found)]);
      }
    }
    start = end + 1;
  }
  return { params, ascii: found.ascii, highCodeUnits: found.high };
}

function decode(component: string, found: { ascii: boolean; high: boolean }): string {
  const spaced = component.includes('+') ? component.replaceAll('+', ' ') : component;
  if (!spaced.includes('%')) return spaced;
  let decoded: string;
  try {
    // Throws URIError on a malformed escape and on escapes that are not UTF-8.
    decoded = decodeURIComponent(spaced);
  } catch (error) {
    throw new MalformedBodyError('BODY_BAD_PERCENT_ESCAPE', 'body holds an invalid percent-escape', { cause: error });
  }
  if (found.ascii && NON_ASCII.test(decoded)) {
    found.ascii = false;
    found.high ||= HIGH_CODE_UNIT.test(decoded);
  } else if (!found.ascii && !found.high && HIGH_CODE_UNIT.test(decoded)) {
    found.high = true;
  }
  return decoded;
}
