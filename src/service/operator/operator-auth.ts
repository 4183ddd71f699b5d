/**
 * The platform operator's bearer token (ROOMGATE_OPERATOR_TOKEN) on the routes that declare
 * `config: { operator: true }`. Unset → every such route answers 401, as a wrong token does.
 * Compared as SHA-256 digests in constant time, so neither its length nor a prefix leaks.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** true: the route is the platform operator's (Bearer ROOMGATE_OPERATOR_TOKEN), not a tenant's. */
    operator?: boolean;
  }
}

const digest = (value: string) => createHash('sha256').update(value).digest();

export function registerOperatorAuth(app: FastifyInstance, token: string | undefined): void {
  const expected = token === undefined ? undefined : digest(token);
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.operator !== true) return;
    const match = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '');
    if (!expected || !match || !timingSafeEqual(digest(match[1]!), expected)) {
      throw new HttpError('UNAUTHENTICATED', 'A valid operator token is required.');
    }
  });
}
