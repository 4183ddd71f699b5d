/**
 * Strict application/x-www-form-urlencoded parsing: order and repeated keys kept, `+` is a
 * space, percent-escapes decoded as UTF-8. A body that is not valid UTF-8, or holds a broken
 * escape, is refused rather than silently mangled (the signature covers the decoded values).
 */
import { isUtf8 } from 'node:buffer';
import type { FormParam } from './twilio-signature.js';

export class MalformedBodyError extends Error {
  override readonly name = 'MalformedBodyError';
  readonly code = 'MALFORMED_BODY';
}

/** @example parseFormBody(Buffer.from('a=1&b=x+y&a=%C3%A9')) → [['a','1'],['b','x y'],['a','é']] */
export function parseFormBody(body: Buffer): FormParam[] {
  if (!isUtf8(body)) throw new MalformedBodyError('body is not valid UTF-8');
  const text = body.toString('utf8');
  const params: FormParam[] = [];
  if (text.length === 0) return params;
  for (const pair of text.split('&')) {
    if (pair.length === 0) continue;
    const separator = pair.indexOf('=');
    const key = separator < 0 ? pair : pair.slice(0, separator);
    const value = separator < 0 ? '' : pair.slice(separator + 1);
    params.push([decode(key), decode(value)]);
  }
  return params;
}

function decode(component: string): string {
  const spaced = component.includes('+') ? component.replaceAll('+', ' ') : component;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    throw new MalformedBodyError('body holds an invalid percent-escape');
  }
}
