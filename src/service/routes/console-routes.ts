/**
 * The operator console (/console): one HTML page and its bundled script and style, built by
 * `npm run build` (console/build.mjs → dist/console/) and served by Roomgate itself with a
 * strict Content-Security-Policy (only this origin's script, style and API; no inline code, no
 * framing). `GET /v1/console/session` is the tenant's sign-in check (scope console:read).
 */
import { readFile } from 'node:fs/promises';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { withErrors } from '../api/schemas/common.js';
import { HttpError } from '../errors.js';

/** dist/console, from src/service/routes (tsx) and dist/service/routes (node) alike. */
export const CONSOLE_DIR = new URL('../../../dist/console/', import.meta.url);

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const ASSETS: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

export async function consoleRoutes(root: FastifyInstance, options: { dir?: URL } = {}): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const dir = options.dir ?? CONSOLE_DIR;
  const cache = new Map<string, Buffer>();
  const file = async (name: string): Promise<Buffer> => {
    const cached = cache.get(name);
    if (cached) return cached;
    try {
      const content = await readFile(new URL(name, dir));
      cache.set(name, content);
      return content;
    } catch {
      throw new HttpError('NOT_FOUND', 'The console is not built: run `npm run build`.');
    }
  };
  const send = (reply: FastifyReply, type: string, body: Buffer) =>
    reply
      .type(type)
      .header('content-security-policy', CONSOLE_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cross-origin-opener-policy', 'same-origin')
      .header('cache-control', 'no-cache')
      .send(body);

  const html = {
    summary: 'The operator console (HTML).',
    tags: ['console'],
    response: { 200: { description: 'The page.', content: { 'text/html': { schema: { type: 'string' } } } } },
  } as const;
  app.get('/console', { schema: html }, async (_request, reply) => send(reply, 'text/html; charset=utf-8', await file('index.html')));
  app.get('/console/', { schema: { ...html, hide: true } }, async (_request, reply) =>
    send(reply, 'text/html; charset=utf-8', await file('index.html')),
  );
  app.get(
    '/console/assets/:name',
    {
      schema: {
        summary: "The console's script and style.",
        tags: ['console'],
        params: Type.Object({ name: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
        response: {
          200: {
            description: 'The bundled script or style sheet.',
            content: { 'text/javascript': { schema: { type: 'string' } }, 'text/css': { schema: { type: 'string' } } },
          },
          404: Type.Ref('ErrorEnvelope'),
        },
      },
    },
    async (request, reply) => {
      const type = ASSETS[request.params.name];
      if (!type) throw new HttpError('NOT_FOUND');
      return send(reply, type, await file(request.params.name));
    },
  );

  app.get(
    '/v1/console/session',
    {
      config: { scope: 'console:read' },
      schema: {
        summary: 'Who the console is signed in as: the tenant and the scopes of the key.',
        description: 'The console signs in with this call; each page then needs its own scope (consultations:read, billing:read, …).',
        response: withErrors({ 200: Type.Ref('ConsoleSession') }),
      },
    },
    async (request, reply) => {
      void reply.header('cache-control', 'no-store');
      const { tenant } = request;
      return { tenant: { id: tenant.id, slug: tenant.slug, kind: tenant.kind }, key: { id: tenant.apiKeyId, scopes: [...tenant.scopes] } };
    },
  );
}
