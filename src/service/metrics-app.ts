/**
 * The metrics listener: `GET /metrics` (Prometheus text) on its own address
 * (ROOMGATE_METRICS_HOST/PORT, loopback by default), never on the public port — the series
 * carry AccountSid labels and traffic shape. Like buildApp, it never listens itself.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';

export function buildMetricsApp(options: { metrics: Metrics; logger: Logger }): FastifyInstance {
  // A scrape every few seconds is not worth a log line; warnings and errors still are.
  const app = Fastify({ loggerInstance: options.logger.child({ component: 'metrics' }, { level: 'warn' }) as FastifyBaseLogger });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.metrics.registry.contentType);
    return options.metrics.registry.metrics();
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'only /metrics is served here' }));
  return app;
}
