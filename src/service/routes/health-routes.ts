import type { FastifyInstance } from 'fastify';
import type { Store } from '../../storage/store.js';

/**
 * Liveness and readiness (the store answers); no key required. `twilio` says whether the
 * built-in sandbox stands in for Twilio. `/metrics` is not here: it has its own listener
 * (metrics-app.ts).
 */
export async function healthRoutes(app: FastifyInstance, options: { store: Store; sandbox: boolean }): Promise<void> {
  const twilio = options.sandbox ? 'sandbox' : 'twilio';
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await options.store.ping();
      return { status: 'ready', twilio };
    } catch {
      return reply.code(503).send({ status: 'unavailable', reason: 'store', twilio });
    }
  });
}
