import type { FastifyInstance } from 'fastify';
import type { Readiness } from '../readiness.js';

/**
 * Liveness and readiness; no key required. Ready means a callback could be stored now
 * (readiness.ts): the committer's recent success, or a real write. `twilio` says whether the
 * built-in sandbox stands in for Twilio. `/metrics` is not here: it has its own listener
 * (metrics-app.ts).
 */
export async function healthRoutes(app: FastifyInstance, options: { readiness: Readiness; sandbox: boolean }): Promise<void> {
  const twilio = options.sandbox ? 'sandbox' : 'twilio';
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const verdict = await options.readiness.check();
    if (verdict.ready) return { status: 'ready', twilio };
    return reply
      .code(503)
      .header('retry-after', '1')
      .send({ status: 'unavailable', reason: verdict.basis === 'stuck-commit' ? 'committer' : 'store', twilio });
  });
}
