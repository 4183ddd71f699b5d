/**
 * No text a request carries may hold a character the stores cannot keep as sent: a NUL
 * (PostgreSQL refuses it in any text value, even in a WHERE clause — it answered 500) or an
 * unpaired surrogate (PostgreSQL and MariaDB would store U+FFFD instead, SQLite the code unit:
 * the same request would mean different things per engine). Checked on every route's declared
 * path parameters, query and JSON body, keys and values at any depth, after authentication and
 * before the route's schema: a path id holding one names nothing (404, as an unknown id), any
 * other field is refused with 422 naming it. The webhook declares none of these: its query is
 * part of the signed URL, and its body stays raw bytes.
 */
import type { FastifyInstance, preValidationAsyncHookHandler } from 'fastify';
import { isResourcePathField } from './api/validation-error.js';
import { HttpError } from './errors.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A NUL, or a surrogate without its pair. */
const unstorable = (text: string) => text.includes('\u0000') || LONE_SURROGATE.test(text);

export function refuseUnstorableText(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const schema = route.schema;
    const parts = (['params', 'querystring', 'body'] as const).filter((part) => schema?.[part] !== undefined);
    if (parts.length === 0) return;
    const refuseUnstorable: preValidationAsyncHookHandler = async (request) => {
      for (const part of parts) {
        const value = part === 'params' ? request.params : part === 'querystring' ? request.query : request.body;
        // Only what the JSON parser or the URL produced: an array or scalar body is the route's to refuse.
        if (value === null || typeof value !== 'object' || Array.isArray(value) || Buffer.isBuffer(value)) continue;
        const field = unstorableField(value);
        if (field === undefined) continue;
        if (part === 'params' && isResourcePathField(field)) throw new HttpError('NOT_FOUND');
        const label = part === 'params' ? `path parameter ${field}` : part === 'querystring' ? `query parameter ${field}` : field;
        throw new HttpError('VALIDATION_FAILED', `${label} holds a NUL or an unpaired surrogate, which no text may hold`, {
          details: { field },
        });
      }
    };
    const own = route.preValidation;
    route.preValidation = [refuseUnstorable, ...(own === undefined ? [] : Array.isArray(own) ? own : [own])];
  });
}

/**
 * The dotted path (as 422s name fields: `metadata.visit`, `items.0`) of the first key or string
 * holding an unstorable character, or undefined. Iterative, and the path is built only for what
 * it finds: a body nested tens of thousands of levels deep costs one pass, never the stack.
 */
export function unstorableField(root: object): string | undefined {
  const values: unknown[] = [root];
  const parents: number[] = [-1];
  const keys: string[] = [''];
  for (let at = 0; at < values.length; at++) {
    const value = values[at];
    if (typeof value === 'string') {
      if (unstorable(value)) return pathOf(parents, keys, at);
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      values.push(child);
      parents.push(at);
      keys.push(key);
      if (unstorable(key)) return pathOf(parents, keys, values.length - 1);
    }
  }
  return undefined;
}

function pathOf(parents: readonly number[], keys: readonly string[], at: number): string {
  const path: string[] = [];
  for (let node = at; node > 0; node = parents[node]!) path.push(keys[node]!);
  return path.reverse().join('.');
}
