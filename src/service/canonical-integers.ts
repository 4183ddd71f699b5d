/**
 * A query integer is written in decimal digits: `limit=20`, `after=0`. Ajv's coercion would take
 * anything `Number()` reads — `limit=0x10`, `limit=1e1`, `limit=+5`, `limit=%205` all answered
 * 200 as 16, 10, 5 and 5 — so the raw text is checked first, on every route whose query schema
 * declares integers, and anything else is refused with 422 naming the parameter, as `abc` is.
 */
import type { FastifyInstance, preValidationAsyncHookHandler } from 'fastify';
import { HttpError } from './errors.js';

const DECIMAL = /^-?[0-9]+$/;

export function refuseNonDecimalQueryIntegers(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const properties = (route.schema?.querystring as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties;
    const names = Object.entries(properties ?? {})
      .filter(([, schema]) => schema.type === 'integer')
      .map(([name]) => name);
    if (names.length === 0) return;
    const refuseNonDecimal: preValidationAsyncHookHandler = async (request) => {
      const query = request.query as Record<string, unknown> | undefined;
      for (const name of names) {
        const value = query?.[name];
        for (const text of Array.isArray(value) ? value : [value]) {
          if (typeof text === 'string' && !DECIMAL.test(text)) {
            throw new HttpError('VALIDATION_FAILED', `${name} must be integer`, { details: { field: name } });
          }
        }
      }
    };
    const own = route.preValidation;
    route.preValidation = [refuseNonDecimal, ...(own === undefined ? [] : Array.isArray(own) ? own : [own])];
  });
}
