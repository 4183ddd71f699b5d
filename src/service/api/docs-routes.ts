/** The published contract: the OpenAPI document and its reference page, both without a key. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { DOCS_PAGE } from './docs-page.js';

export const OPENAPI_PATH = '/v1/openapi.json';

export async function docsRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    OPENAPI_PATH,
    {
      schema: {
        summary: 'This document (OpenAPI 3.1).',
        tags: ['service'],
        response: { 200: Type.Object({}, { additionalProperties: true }) },
      },
    },
    async (_request, reply) => reply.header('cache-control', 'no-cache').type('application/json').send(JSON.stringify(app.swagger())),
  );
  app.get('/docs', { schema: { summary: 'The reference page (HTML).', tags: ['service'] } }, async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline'")
      .send(DOCS_PAGE),
  );
}
