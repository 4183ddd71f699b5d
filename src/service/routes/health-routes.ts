import type { FastifyInstance } from 'fastify';
import type { Store } from '../../storage/store.js';
import type { Metrics } from '../metrics.js';

/** Liveness, readiness (the store answers) and Prometheus metrics; no key required. */
export async function healthRoutes(app: FastifyInstance, options: { store: Store; metrics: Metrics }): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await options.store.ping();
      return { status: 'ready' };
    } catch {
      return reply.code(503).send({ status: 'unavailable', reason: 'store' });
    }
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.metrics.registry.contentType);
    return options.metrics.registry.metrics();
  });
}
