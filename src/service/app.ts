/**
 * buildApp(opts): the whole HTTP service as a Fastify instance that never listens — tests use
 * inject() or listen on port 0; server.ts listens. Everything the routes need is composed here.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createTwilioVerifier, type TwilioVerifier } from '../core/signature/verifier.js';
import type { Store } from '../storage/store.js';
import { isStoreUnavailable } from '../storage/store-errors.js';
import type { Config, TwilioAccountConfig } from './config.js';
import { ERRORS, HttpError, errorBody, type ErrorCode } from './errors.js';
import { createLogger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { healthRoutes } from './routes/health-routes.js';
import { webhookRoute } from './routes/webhook-route.js';
import { SecurityMonitor } from './security-monitor.js';
import { securityEventSink } from './security-event-sink.js';
import { signingSecrets } from './signing-secrets.js';
import { createStoreIngest } from './webhook/store-ingest.js';

export interface AppOptions {
  readonly config: Config;
  readonly store: Store;
  readonly logger?: Logger;
  readonly clock?: () => Date;
}

export interface RoomgateContext {
  readonly metrics: Metrics;
  readonly security: SecurityMonitor;
  /** Swaps the accepted Twilio secrets at once (rotation); requests in flight keep theirs. */
  setAccounts(accounts: readonly TwilioAccountConfig[]): void;
  /** Waits for buffered work (group commits, security events) to be written. */
  drain(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    roomgate: RoomgateContext;
  }
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, store } = options;
  const clock = options.clock ?? (() => new Date());
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const metrics = createMetrics();

  let verifier: TwilioVerifier = createTwilioVerifier({ secrets: signingSecrets(config.accounts) });
  const security = new SecurityMonitor({
    logger,
    metrics,
    clock,
    sink: securityEventSink(store),
    alertThreshold: config.alertRefusalThreshold,
    windowMs: config.alertWindowMs,
  });
  const ingest = createStoreIngest({ store, clock, logger });

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    genReqId: () => randomUUID(),
    bodyLimit: 256 * 1024,
    disableRequestLogging: false,
  });

  app.decorate('roomgate', {
    metrics,
    security,
    setAccounts(accounts) {
      verifier = createTwilioVerifier({ secrets: signingSecrets(accounts) });
    },
    async drain() {
      await ingest.drain();
      await security.drain();
    },
  } satisfies RoomgateContext);

  app.addHook('onResponse', async (request, reply) => {
    metrics.requestDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const code = errorCodeOf(error);
    if (code === 'STORE_UNAVAILABLE') {
      metrics.storeErrors.inc({ operation: request.routeOptions.url ?? 'unknown' });
      request.log.error({ err: error }, 'store unavailable');
    } else if (code === 'INTERNAL') {
      request.log.error({ err: error }, 'unhandled error');
    }
    const message = error instanceof HttpError ? error.message : undefined;
    return reply.code(ERRORS[code].status).send(errorBody(code, request.id, message));
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(errorBody('NOT_FOUND', request.id)));

  await app.register(healthRoutes, { store, metrics });
  await app.register(webhookRoute, { config, verifier: () => verifier, ingest, security, metrics, clock });
  app.addHook('onClose', async () => {
    await ingest.close();
    await security.drain();
  });
  return app;
}

/** The one place errors become HTTP: typed errors by code, Fastify's own by status. */
function errorCodeOf(error: FastifyError): ErrorCode {
  if (error instanceof HttpError) return error.code;
  if (isStoreUnavailable(error)) return 'STORE_UNAVAILABLE';
  switch (error.statusCode) {
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 415:
      return 'UNSUPPORTED_MEDIA_TYPE';
    case 400:
      return 'BAD_REQUEST';
    default:
      return 'INTERNAL';
  }
}
