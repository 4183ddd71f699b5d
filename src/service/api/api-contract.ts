/**
 * The conventions every tenant API route follows, installed once before the routes register:
 * schema validation (validator-compiler.ts), the shared models, the OpenAPI document
 * (@fastify/swagger collects every route's schema), and per route — from its `config.scope` —
 * the bearer security requirement, the documented error answers and a tag. Every answer carries
 * `X-Request-Id`.
 */
import swagger from '@fastify/swagger';
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { TSchema } from 'typebox';
import { API_ERRORS, ErrorEnvelope } from './schemas/common.js';
import { createValidatorCompiler } from './validator-compiler.js';

export const OPENAPI_INFO = {
  title: 'Roomgate tenant API',
  version: '1',
  description:
    'Tenant-scoped API of Roomgate: consultations and their Twilio Video rooms, access tokens, recordings, billing, live events, ' +
    'erasure and audit. Authenticate with `Authorization: Bearer <api key>`; each operation names the scope it needs. Errors are ' +
    '`{"error":{"code","message","requestId"}}` with the codes of docs/errors.md. Lists page with `cursor` and `limit` and answer ' +
    '`{"data":[…],"nextCursor"}`. Times are RFC 3339 (UTC).',
} as const;

export async function registerApiContract(app: FastifyInstance, models: readonly TSchema[]): Promise<void> {
  app.setValidatorCompiler(createValidatorCompiler());
  for (const model of [ErrorEnvelope, ...models]) app.addSchema(model);

  // Not async: a hook with nothing to wait for costs no promise on every request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });

  app.addHook('onRoute', (route: RouteOptions) => {
    const scope = route.config?.scope;
    const schema = (route.schema ??= {}) as Record<string, unknown>;
    if (route.config?.operator === true) {
      schema.security = [{ operatorToken: [] }];
      schema.tags ??= ['operator'];
      schema.response = { ...API_ERRORS, ...(schema.response as object | undefined) };
      return;
    }
    if (!scope) {
      if (!schema.tags) schema.tags = [route.url.startsWith('/webhooks') ? 'webhook' : 'service'];
      return;
    }
    schema.security = [{ apiKey: [] }];
    schema.tags ??= [tagOf(route.url)];
    // GET routes also register their HEAD twin with the same schema object: note the scope once.
    const note = `Scope: \`${scope}\`.`;
    const description = typeof schema.description === 'string' ? schema.description : '';
    if (!description.includes(note)) schema.description = description ? `${description}\n\n${note}` : note;
    schema.response = { ...API_ERRORS, ...(schema.response as object | undefined) };
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: OPENAPI_INFO,
      servers: [{ url: '/' }],
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'A Roomgate API key (`rgk_…`); the scheme name is case-insensitive.' },
          operatorToken: { type: 'http', scheme: 'bearer', description: 'The platform operator’s token (ROOMGATE_OPERATOR_TOKEN).' },
        },
      },
      tags: [
        { name: 'consultations' },
        { name: 'billing' },
        { name: 'events' },
        { name: 'api-keys' },
        { name: 'privacy' },
        { name: 'audit' },
        { name: 'webhook', description: "Twilio's signed status callbacks." },
        { name: 'console', description: 'The operator console (/console) and its sign-in check.' },
        { name: 'operator', description: 'The platform operator’s view across tenants (ROOMGATE_OPERATOR_TOKEN).' },
        { name: 'service' },
      ],
    },
    // Shared models keep their names in components.schemas.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
}

function tagOf(url: string): string {
  const resource = url.split('/')[2] ?? 'service';
  if (resource === 'billing-records') return 'billing';
  if (resource === 'subjects') return 'privacy';
  if (resource === 'audit-log') return 'audit';
  return resource;
}
