/**
 * Wraps `app.inject()` so that every answer a test receives is checked against
 * docs/openapi.json (openapi-responses.ts): an answer the document does not describe fails the
 * test that received it, naming the operation, the status and what did not match.
 */
import type { FastifyInstance, InjectOptions } from 'fastify';
import { createOpenApiChecker } from './openapi-responses.js';

let shared: ReturnType<typeof createOpenApiChecker> | undefined;

export function checkAnswersAgainstDocument(app: FastifyInstance): void {
  const check = (shared ??= createOpenApiChecker());
  const inject = app.inject.bind(app) as (options: InjectOptions | string) => Promise<Awaited<ReturnType<FastifyInstance['inject']>>>;
  const checked = async (options: InjectOptions | string) => {
    const response = await inject(options);
    const request = typeof options === 'string' ? { method: 'GET', url: options } : options;
    const url = typeof request.url === 'string' ? request.url : ((request.path as string | undefined) ?? '/');
    const problem = check({
      method: request.method ?? 'GET',
      url,
      status: response.statusCode,
      contentType: response.headers['content-type'] as string | undefined,
      body: response.body,
    });
    if (problem) throw new Error(`answer does not match docs/openapi.json: ${problem}`);
    return response;
  };
  (app as unknown as { inject: typeof checked }).inject = checked;
}
