/**
 * Every JSON body the tenant API accepts is an object: an array, a string, a number or `null`
 * is refused with 422 (VALIDATION_FAILED) on every route, before the handler reads a field
 * from it — `[]` must not pass for "no fields given".
 */
import type { FastifyInstance } from 'fastify';
import { HttpError } from './errors.js';

export function refuseNonObjectJsonBodies(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    // Only the tenant API's routes (they declare a scope), and only bodies the JSON parser
    // produced: the webhook keeps raw Buffers, and an unknown path stays a 404.
    if (!request.routeOptions.config.scope) return;
    // No body at all reads as an empty object: the route's schema then names a missing field.
    if (request.body === undefined && request.routeOptions.schema?.body) request.body = {};
    if (request.body === undefined || Buffer.isBuffer(request.body)) return;
    const body: unknown = request.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new HttpError('VALIDATION_FAILED', 'the request body must be a JSON object');
    }
  });
}
