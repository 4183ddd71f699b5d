/**
 * Every JSON body the tenant API accepts is an object: an array, a string, a number or `null`
 * is refused with 422 (VALIDATION_FAILED) on every route, before the handler reads a field
 * from it — `[]` must not pass for "no fields given".
 */
import type { FastifyInstance, preValidationAsyncHookHandler } from 'fastify';
import { HttpError } from './errors.js';

export function refuseNonObjectJsonBodies(app: FastifyInstance): void {
  const refuseNonObject: preValidationAsyncHookHandler = async (request) => {
    // No body at all reads as an empty object: the route's schema then names a missing field.
    if (request.body === undefined && request.routeOptions.schema?.body) request.body = {};
    if (request.body === undefined || Buffer.isBuffer(request.body)) return;
    const body: unknown = request.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new HttpError('VALIDATION_FAILED', 'the request body must be a JSON object');
    }
  };
  // Only on the tenant API's routes (they declare a scope), first among their own hooks (where a
  // global hook would run), and only bodies the JSON parser produced: the webhook keeps raw
  // Buffers and gets no hook at all, and an unknown path stays a 404.
  app.addHook('onRoute', (route) => {
    if (!route.config?.scope) return;
    const own = route.preValidation;
    route.preValidation = [refuseNonObject, ...(own === undefined ? [] : Array.isArray(own) ? own : [own])];
  });
}
