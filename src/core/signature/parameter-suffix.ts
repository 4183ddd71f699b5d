/**
 * The parameter part of the string Twilio signs: for each POST parameter sorted by key, key +
 * value; a repeated key contributes its distinct values, sorted. Built once per request and
 * appended to every candidate URL, so trying several URLs costs HMACs only, not re-sorting.
 *
 * Sort order. Twilio documents "Unix-style case-sensitive sorting", i.e. byte order of the
 * UTF-8 string, and twilio-python sorts by code point (the same order). twilio-node sorts with
 * JavaScript's default sort — UTF-16 code units — which disagrees with byte order only when the
 * first difference puts an astral character (a surrogate pair, U+10000 and above) against a
 * character in U+E000–U+FFFF: `'\u{1F600}' < '\uFF01'` in UTF-16, the reverse in bytes.
 * We sign in byte order (the documented rule, Twilio's server is the truth) and, only when the
 * two orders really give different strings, let the verifier also try the UTF-16 string, so a
 * sender signing like twilio-node is not refused either. Twilio's own parameters are ASCII, so
 * in practice the second string never exists.
 */
import type { FormParam } from './twilio-signature.js';

export interface ParameterSuffix {
  /** Byte (code point) order — what Twilio documents. */
  readonly bytewise: string;
  /** UTF-16 code unit order (twilio-node), present only when it differs from `bytewise`. */
  readonly utf16?: string;
}

/** Any code unit at or above U+D800: only these can order differently in UTF-16 and UTF-8. */
const HIGH_CODE_UNIT = /[\uD800-\uFFFF]/;

/**
 * @example parameterSuffix([['b', '2'], ['a', '1'], ['a', '1']]) → { bytewise: 'a1b2' }
 *
 * `mayHoldHighCodeUnits: false` is a promise from the caller (the form parser knows when the
 * body was plain ASCII) that spares the scan.
 */
export function parameterSuffix(params: readonly FormParam[], mayHoldHighCodeUnits?: boolean): ParameterSuffix {
  const careful = mayHoldHighCodeUnits ?? params.some(([key, value]) => HIGH_CODE_UNIT.test(key) || HIGH_CODE_UNIT.test(value));
  if (!careful) {
    // Below U+D800, UTF-16 order is code point order is UTF-8 byte order: the native
    // comparison is exact and fast.
    return { bytewise: joinSortedNative(params) };
  }
  const pairs = params.slice();
  disagreed = false;
  pairs.sort(compareCodePointsNoting);
  const bytewise = join(pairs);
  if (!disagreed) return { bytewise };
  // Sorting is deterministic given the comparator's answers: if no comparison disagreed,
  // the UTF-16 sort would have produced the same order. It did disagree, so build that one too.
  const utf16 = join(params.slice().sort(compareNative));
  return utf16 === bytewise ? { bytewise } : { bytewise, utf16 };
}

/**
 * Callbacks of one kind carry the same keys in the same order, so the order that sorted the last
 * few parameter lists of each length is remembered and tried first. It is only used after
 * checking that it puts this list's keys in strictly increasing order — which proves it is the
 * sorted order (and that no key repeats) — so the cache can never change a result, only skip a
 * sort. Anything else (repeated keys, a new shape) is sorted.
 */
const recentOrders = new Map<number, Uint16Array[]>();
const ORDERS_PER_LENGTH = 4;
const MAX_CACHED_LENGTH = 64;

function joinSortedNative(params: readonly FormParam[]): string {
  const length = params.length;
  if (length <= MAX_CACHED_LENGTH) {
    const orders = recentOrders.get(length);
    if (orders !== undefined) {
      for (const order of orders) if (sortsStrictly(params, order)) return joinInOrder(params, order);
    }
  }
  const sorted = params.slice().sort(compareNative);
  if (length > 1 && length <= MAX_CACHED_LENGTH) remember(params, sorted);
  return join(sorted);
}

function sortsStrictly(params: readonly FormParam[], order: Uint16Array): boolean {
  let previous = params[order[0]!]![0];
  for (let i = 1; i < order.length; i++) {
    const key = params[order[i]!]![0];
    if (!(previous < key)) return false;
    previous = key;
  }
  return true;
}

function joinInOrder(params: readonly FormParam[], order: Uint16Array): string {
  let suffix = '';
  for (let i = 0; i < order.length; i++) {
    const pair = params[order[i]!]!;
    suffix += pair[0] + pair[1];
  }
  return suffix;
}

function remember(params: readonly FormParam[], sorted: readonly FormParam[]): void {
  // Only orders of distinct keys can be proven by sortsStrictly; others are not worth keeping.
  for (let i = 1; i < sorted.length; i++) if (sorted[i - 1]![0] === sorted[i]![0]) return;
  const order = new Uint16Array(sorted.length);
  for (let i = 0; i < sorted.length; i++) order[i] = params.indexOf(sorted[i]!);
  const orders = recentOrders.get(params.length) ?? [];
  orders.unshift(order);
  if (orders.length > ORDERS_PER_LENGTH) orders.pop();
  recentOrders.set(params.length, orders);
}

/** Pairs sorted by (key, value); identical pairs are adjacent and kept once. */
function join(pairs: readonly FormParam[]): string {
  let suffix = '';
  let previous: FormParam | undefined;
  for (const pair of pairs) {
    if (previous === undefined || previous[0] !== pair[0] || previous[1] !== pair[1]) suffix += pair[0] + pair[1];
    previous = pair;
  }
  return suffix;
}

function compareNative(a: FormParam, b: FormParam): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return 0;
}

let disagreed = false;

function compareCodePointsNoting(a: FormParam, b: FormParam): number {
  if (a[0] !== b[0]) return compareStrings(a[0], b[0]);
  if (a[1] !== b[1]) return compareStrings(a[1], b[1]);
  return 0;
}

/** Code point (= UTF-8 byte) order of two different strings; notes when UTF-16 order differs. */
function compareStrings(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates (astral code points) sort after U+E000–U+FFFF in code point order.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      if (x < y !== a.charCodeAt(i) < b.charCodeAt(i)) disagreed = true;
    }
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Code point order (equal to UTF-8 byte order) of two strings.
 *
 * @example compareCodePoints('\uFF01', '\u{1F600}') < 0   // whereas '\uFF01' > '\u{1F600}' in UTF-16
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const saved = disagreed;
  const result = compareStrings(a, b);
  disagreed = saved;
  return result;
}
