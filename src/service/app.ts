/**
 * buildApp(opts): the whole HTTP service as a Fastify instance that never listens — tests use
 * inject() or listen on port 0; server.ts listens. The one composition root, in named steps:
 * compose the services, create the HTTP server, decorate the context, account for requests,
 * handle errors, follow the listen address, register the routes, start and stop the parts.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { createTwilioVerifier, type TwilioVerifier } from '../core/signature/verifier.js';
import type { Store } from '../storage/store.js';
import { driverErrorOrigin, isStoreUnavailable, StoreConstraintError } from '../storage/store-errors.js';
import type { Config, TwilioAccountConfig } from './config.js';
import { ERRORS, HttpError, errorBody, type ErrorCode } from './errors.js';
import { bearerChallenge } from './auth/bearer-challenge.js';
import { describeSchemaRefusal, isSchemaRefusal, refusesResourcePath } from './api/validation-error.js';
import { registerApiContract } from './api/api-contract.js';
import { API_MODELS } from './api/schemas/models.js';
import { registerIdempotency } from './api/idempotency.js';
import { docsRoutes } from './api/docs-routes.js';
import { registerBrowserAndFairUse } from './api/browser-and-fair-use.js';
import { AuditLog } from './audit-log.js';
import { AlertNotifier } from './alerts/alert-notifier.js';
import { registerApiKeyAuth } from './auth/api-key-auth.js';
import { createLogger } from './logger.js';
import { lazyChildLogger } from './lazy-child-logger.js';
import { OneRequestLine } from './request-log.js';
import { collectPrivatePaths } from './private-paths.js';
import { createMetrics, type Metrics } from './metrics.js';
import { stopWithin } from './stop-within.js';
import { createLocalLiveEvents, type LiveEvent, type LiveEvents } from './live/live-events.js';
import { LiveStreamRegistry } from './live/live-stream-registry.js';
import { refuseNonObjectJsonBodies } from './json-object-body.js';
import { refuseUnstorableText } from './storable-text.js';
import { refuseNonDecimalQueryIntegers } from './canonical-integers.js';
import { answerOnSocket } from './raw-http-answer.js';
import { createOutboxHandlers, type OutboxAlert } from './outbox/outbox-handlers.js';
import { OutboxWorker } from './outbox/outbox-worker.js';
import { accessTokenRoutes } from './routes/access-token-routes.js';
import { tenantSettingsRoutes } from './routes/tenant-settings-routes.js';
import { lobbyRoutes } from './routes/lobby-routes.js';
import { consentRoutes } from './routes/consent-routes.js';
import { NoShowSchedule } from './no-shows/no-show-schedule.js';
import { apiKeyRoutes } from './routes/api-key-routes.js';
import { webhookEndpointRoutes } from './routes/webhook-endpoint-routes.js';
import { WebhookDeliveryWorker, webhookPolicy } from './webhooks/webhook-delivery-worker.js';
import { auditRoutes } from './routes/audit-routes.js';
import { consultationRoutes } from './routes/consultation-routes.js';
import { eventRoutes } from './routes/event-routes.js';
import { healthRoutes } from './routes/health-routes.js';
import { Readiness } from './readiness.js';
import { recordRoutes } from './routes/record-routes.js';
import { subjectRoutes } from './routes/subject-routes.js';
import { consoleRoutes } from './routes/console-routes.js';
import { operatorRoutes } from './routes/operator-routes.js';
import { webhookRoute, WEBHOOK_PATH } from './routes/webhook-route.js';
import { createTwilioRestClient, type TwilioRestClientOptions } from './twilio/twilio-rest-client.js';
import { SecurityMonitor } from './security-monitor.js';
import { securityEventSink } from './security-event-sink.js';
import { RetentionSchedule } from './retention/retention-schedule.js';
import { signingSecrets } from './signing-secrets.js';
import { createStoreIngest } from './webhook/store-ingest.js';
import { createThreadIngest } from './webhook/thread-ingest.js';
import { ProjectionWorker } from './consultations/projection-worker.js';
import { ProjectionThread, type Projection } from './consultations/projection-thread.js';
import type { ProjectionThreadData } from './consultations/projection-thread-messages.js';
import { Reconciler } from './reconcile/reconciler.js';
import { ReconcileSchedule } from './reconcile/reconcile-schedule.js';
import { createTwilioReader } from './reconcile/twilio-reader.js';

export interface AppOptions {
  readonly config: Config;
  readonly store: Store;
  readonly logger?: Logger;
  readonly clock?: () => Date;
  /** Cross-instance fan-out (PostgreSQL LISTEN/NOTIFY); in-process when absent. */
  readonly live?: LiveEvents;
  /** The registry to fill (server.ts makes it first, so live events can count their reconnects). */
  readonly metrics?: Metrics;
  /** Run the outbox worker inside this app (default true). */
  readonly outboxWorker?: boolean;
  /** Deliver tenants' webhooks from this app (default: with the outbox worker). */
  readonly webhookWorker?: boolean;
  readonly outboxPollIntervalMs?: number;
  /** Run retention on a timer inside this app (default off here; server.ts turns it on). */
  readonly retention?: boolean | { readonly intervalMs?: number; readonly firstRunDelayMs?: number };
  /** Run the reconciler on a timer (config.reconcile.intervalMs) under the lease (default off here; server.ts turns it on). */
  readonly reconcile?: boolean;
  /** Run the no-show sweep on a timer (default off here; server.ts turns it on). */
  readonly noShows?: boolean | { readonly intervalMs?: number };
  /**
   * Fold callbacks in a worker thread with its own connection to this database (server.ts, with
   * ROOMGATE_PROJECTION_THREAD on); absent: on this thread, through `store` (tests, embedding).
   */
  readonly projectionThread?: Omit<ProjectionThreadData, 'logLevel'> & {
    readonly restartDelayMs?: number;
    readonly stopTimeoutMs?: number;
  };
}

export interface RoomgateContext {
  readonly metrics: Metrics;
  readonly security: SecurityMonitor;
  readonly audit: AuditLog;
  readonly live: LiveEvents;
  readonly outbox: OutboxWorker;
  /** Delivers tenants' webhooks (`runOnce()` for one pass). */
  readonly webhooks: WebhookDeliveryWorker;
  /** The retention timer, when this app runs one. */
  readonly retention: RetentionSchedule | undefined;
  /** Compares overdue records with Twilio's REST API (`run()` for one pass, no lease). */
  readonly reconciler: Reconciler;
  /** The lease-holding timer around it (started only with the `reconcile` option). */
  readonly reconcileSchedule: ReconcileSchedule;
  /** Where callbacks are folded: a ProjectionThread or, in-process, a ProjectionWorker. */
  readonly projection: Projection;
  /** Swaps the accepted Twilio secrets at once (rotation); requests in flight keep theirs. */
  setAccounts(accounts: readonly TwilioAccountConfig[]): void;
  /** Waits for buffered work (group commits, projections, security and audit records) to be written. */
  drain(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    roomgate: RoomgateContext;
  }
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const parts = composeServices(options);
  const app = createHttpServer(options.config, parts.logger);
  decorateContext(app, parts);
  installRequestAccounting(app, parts);
  installErrorHandling(app, parts);
  followListenAddress(app, parts);
  await registerRoutes(app, parts);
  installLifecycle(app, parts, options);
  return app;
}

function twilioRestOptions(config: Config): TwilioRestClientOptions {
  return { baseUrl: config.apiBaseUrl, apiKeySid: config.apiKey?.sid ?? 'SK-not-configured', apiKeySecret: config.apiKey?.secret ?? '' };
}

/** The outbox worker's settings for the record thread: its own Twilio client, the same pace. */
function outboxThreadData(config: Config, options: AppOptions): NonNullable<ProjectionThreadData['outbox']> {
  return {
    twilio: twilioRestOptions(config),
    pollIntervalMs: options.outboxPollIntervalMs ?? 1000,
    leaseMs: config.outbox.leaseMs,
    concurrency: config.outbox.concurrency,
  };
}

/** The parts buildApp composes (step 1), handed to the other steps. */
export type Services = ReturnType<typeof composeServices>;

/** What can change while the app runs (rotation, the address it listens on). */
interface Settings {
  verifier: TwilioVerifier;
  accounts: readonly TwilioAccountConfig[];
  statusCallbackUrl: () => string;
}

/**
 * Step 1 of buildApp: the service's parts — monitoring, the record path (ingest → projection →
 * outbox), reconciliation, retention, live streams — wired to each other, nothing started.
 */
export function composeServices(options: AppOptions) {
  const { config, store } = options;
  const settings: Settings = {
    verifier: createTwilioVerifier({ secrets: signingSecrets(config.accounts) }),
    accounts: config.accounts,
    statusCallbackUrl: () => `${config.publicUrl ?? `http://${config.host}:${config.port}`}${WEBHOOK_PATH}`,
  };
  const clock = options.clock ?? (() => new Date());
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const metrics = options.metrics ?? createMetrics();

  const alerts = config.alertWebhook
    ? new AlertNotifier({ ...config.alertWebhook, logger, metrics, clock, minIntervalMs: config.alertWindowMs })
    : undefined;
  const security = new SecurityMonitor({
    logger,
    metrics,
    clock,
    sink: securityEventSink(store),
    alertThreshold: config.alertRefusalThreshold,
    windowMs: config.alertWindowMs,
    quarantineAlertThreshold: config.alertQuarantineThreshold,
    ...(alerts ? { onAlert: (alert) => alerts.notify(alert) } : {}),
  });
  const baseLive = options.live ?? createLocalLiveEvents();
  const webhooks = new WebhookDeliveryWorker({
    store,
    config: config.webhooks,
    sandbox: config.sandbox,
    logger,
    metrics,
    clock,
    onEndpointDisabled: () =>
      alerts?.notify({
        kind: 'webhook-endpoint-disabled',
        windowStart: clock().toISOString(),
        count: 1,
        byReason: { 'failing-too-long': 1 },
      }),
    onTenantEvent: (tenantId) => {
      // A wake-up only: streams read the event itself from the log.
      baseLive
        .publish([{ tenantId, consultationId: '', type: 'webhook-endpoint.disabled', at: clock().toISOString(), data: {} }])
        .catch((error: unknown) => logger.warn({ err: error }, 'could not publish live events'));
    },
  });
  // Whatever publishes a committed change also wakes the webhook worker (the log is its source).
  const live: LiveEvents = {
    publish: async (events) => {
      webhooks.wake();
      await baseLive.publish(events);
    },
    subscribe: (tenantId, listener) => baseLive.subscribe(tenantId, listener),
    close: () => baseLive.close(),
  };
  const audit = new AuditLog(store, logger, clock);
  const retention = options.retention
    ? new RetentionSchedule({
        store,
        logger,
        audit,
        clock,
        replayWindowMs: config.webhookMaxAgeMs + config.webhookFutureSkewMs,
        ...(typeof options.retention === 'object' ? options.retention : {}),
      })
    : undefined;
  const twilio = createTwilioRestClient(twilioRestOptions(config));
  // The outbox runs beside the folds in the record thread when there is one (its statements and
  // commits off this thread); else here. Its alerts reach the operator the same way from both.
  const outboxInThread = options.projectionThread !== undefined && options.outboxWorker !== false;
  const raiseOutboxAlert = (alert: OutboxAlert) => {
    metrics.alerts.inc({ kind: alert.kind });
    if (alert.kind === 'unconsented-recording')
      alerts?.notify({ kind: alert.kind, windowStart: clock().toISOString(), count: 1, byReason: { ...alert.byReason } });
  };
  const outbox = new OutboxWorker({
    store,
    logger,
    metrics,
    clock,
    pollIntervalMs: options.outboxPollIntervalMs ?? 1000,
    leaseMs: config.outbox.leaseMs,
    concurrency: config.outbox.concurrency,
    handlers: createOutboxHandlers({
      store,
      twilio,
      clock,
      logger,
      statusCallbackUrl: () => settings.statusCallbackUrl(),
      onAlert: raiseOutboxAlert,
    }),
  });
  const publishLive = (events: readonly LiveEvent[]) =>
    live.publish(events).catch((error: unknown) => logger.warn({ err: error }, 'could not publish live events'));
  const projectionThread = options.projectionThread
    ? new ProjectionThread({
        data: {
          commitDeadlineMs: config.commitDeadlineMs,
          ...options.projectionThread,
          logLevel: logger.level,
          ...(outboxInThread ? { outbox: outboxThreadData(config, options) } : {}),
        },
        logger,
        onLive: (events) => void publishLive(events),
        onOutbox: () => outbox.wake(),
        statusCallbackUrl: () => settings.statusCallbackUrl(),
        onOutboxAlert: raiseOutboxAlert,
        onOutboxGauge: (name, value) => metrics[name].set(value),
        onProjectionFailure: () => metrics.projectionFailures.inc(),
        onRestart: () => metrics.projectionThreadRestarts.inc(),
        ...(options.projectionThread.restartDelayMs ? { restartDelayMs: options.projectionThread.restartDelayMs } : {}),
        ...(options.projectionThread.stopTimeoutMs ? { stopTimeoutMs: options.projectionThread.stopTimeoutMs } : {}),
      })
    : undefined;
  const projection: Projection =
    projectionThread ??
    new ProjectionWorker({
      store,
      logger,
      live,
      clock,
      onOutbox: () => outbox.wake(),
      onProjectionFailure: () => metrics.projectionFailures.inc(),
    });
  /** Runs the outbox soon, wherever it runs: entries were queued on this thread. */
  const wakeOutbox = () => (outboxInThread ? projectionThread?.wakeOutbox() : outbox.wake());
  const reconciler = new Reconciler({
    store,
    twilio: createTwilioReader({ twilio, ratePerSecond: config.reconcile.ratePerSecond, metrics }),
    logger,
    metrics,
    clock,
    config: config.reconcile,
    defaultAccountSid: () => settings.accounts[0]?.accountSid,
    onProjected: (result) => {
      if (result.queuedEffects) wakeOutbox();
      if (result.live.length > 0) void publishLive(result.live);
    },
    onChanged: (change) => {
      audit.record({
        tenantId: null,
        actor: 'reconciler',
        action: 'consultation.reconciled',
        target: change.consultationId,
        outcome: change.outcome,
        detail: { reason: change.reason, facts: change.facts, confirmedLate: change.confirmedLate },
      });
      alerts?.notify({
        kind: 'reconciliation-changed-record',
        windowStart: clock().toISOString(),
        count: change.facts.length + change.confirmedLate,
        byReason: Object.fromEntries(
          [...new Set(change.facts)].map((event) => [event, change.facts.filter((fact) => fact === event).length]),
        ),
      });
    },
  });
  const reconcileSchedule = new ReconcileSchedule({
    store,
    reconciler,
    logger,
    metrics,
    clock,
    intervalMs: config.reconcile.intervalMs,
    leaseMs: config.reconcile.leaseMs,
  });
  const legacyAccountSid = () => settings.accounts[0]?.accountSid;
  const storeIngest = createStoreIngest({
    store,
    deadlineMs: config.commitDeadlineMs,
    clock,
    logger,
    onCommitted: (ids) => projection.markDirty(ids),
    onTenantEvents: (wakeUps) => void publishLive(wakeUps),
    legacyAccountSid,
  });
  // With the record thread, the inbox commit is made there (its connection; it folds what it
  // stored without a round trip), here only while no thread runs; the answer waits for the commit.
  const ingest = projectionThread
    ? createThreadIngest({
        channel: projectionThread,
        fallback: storeIngest,
        answerWithinMs: config.commitDeadlineMs + 1000,
        legacyAccountSid,
      })
    : storeIngest;

  const streams = new LiveStreamRegistry({
    store,
    clock,
    logger,
    maxPerKey: config.streamsPerKey,
    maxPerTenant: config.streamsPerTenant,
  });

  return {
    config,
    store,
    clock,
    logger,
    metrics,
    settings,
    alerts,
    security,
    live,
    audit,
    retention,
    twilio,
    outbox,
    wakeOutbox,
    webhooks,
    projection,
    reconciler,
    reconcileSchedule,
    ingest,
    streams,
  };
}

/** Step 2: the Fastify instance — timeouts, limits, and the error envelope for what never reaches a route. */
export function createHttpServer(config: Config, logger: Logger): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Each request's child logger is made when it first writes (a callback answered 204 writes
    // only its request line, which needs none).
    childLoggerFactory: lazyChildLogger,
    // One line per request, when its response is sent (request-log.ts), instead of Fastify's two.
    logController: new OneRequestLine(logger),
    genReqId: () => randomUUID(),
    bodyLimit: 256 * 1024,
    // A path parameter may be an identity to erase, whatever Twilio accepted: an over-long one
    // reaches its route and gets 422, an over-long id 404 (api/validation-error.ts), whatever its
    // length — the request line is bounded by Node's header limit (431), not by the router.
    routerOptions: { maxParamLength: 16 * 1024 },
    // Ready once the projection thread has opened its own store and swept: a busy host (or a
    // thread compiled on the fly under tsx) needs longer than Fastify's 10 s; still bounded.
    pluginTimeout: 60_000,
    // Slow senders: the request line and headers, then the whole request, must arrive in time
    // (408 and close). Node checks every connectionsCheckingInterval, so that is kept a
    // fraction of the headers timeout. A live stream's request is complete once its headers are in.
    requestTimeout: config.requestTimeoutMs,
    http: {
      headersTimeout: config.headersTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(config.headersTimeoutMs / 4))),
    },
    // The router's own refusals (bad percent-encoding) get the same envelope.
    frameworkErrors: (_error, request, reply) =>
      (reply as FastifyReply).code(400).header('x-request-id', request.id).send(errorBody('BAD_REQUEST', request.id)),
    // What Node's HTTP parser itself refuses (bad method, NUL in the path, conflicting lengths,
    // oversized headers) gets the same envelope, with a request id of its own (no request exists).
    clientErrorHandler: (error, socket) => {
      const code = (error as { code?: string }).code;
      // A response already under way (its request's body timed out later) gets no second one.
      const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
      if (code === 'ECONNRESET' || inFlight) return socket.destroy();
      if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return answerOnSocket(socket, { code: 'REQUEST_TIMEOUT', requestId: randomUUID() });
      answerOnSocket(socket, { code: 'BAD_REQUEST', status: code === 'HPE_HEADER_OVERFLOW' ? 431 : 400, requestId: randomUUID() });
    },
  });
  // Only JSON bodies on the API (the webhook registers its own raw parsers): text/plain is 415.
  app.removeContentTypeParser('text/plain');
  refuseNonObjectJsonBodies(app);
  refuseUnstorableText(app);
  refuseNonDecimalQueryIntegers(app);

  return app;
}

/** Step 3: `app.roomgate`, what tests, the CLI and server.ts reach the running parts through. */
export function decorateContext(app: FastifyInstance, parts: Services): void {
  const { metrics, security, audit, live, outbox, webhooks, retention, reconciler, reconcileSchedule, settings, ingest, projection } =
    parts;
  app.decorate('roomgate', {
    metrics,
    security,
    audit,
    live,
    outbox,
    webhooks,
    retention,
    reconciler,
    reconcileSchedule,
    projection,
    setAccounts(next) {
      settings.verifier = createTwilioVerifier({ secrets: signingSecrets(next) });
      settings.accounts = next;
    },
    async drain() {
      await ingest.drain();
      await projection.idle();
      await security.drain();
      await audit.drain();
    },
  } satisfies RoomgateContext);
}

/** Step 4: every response is measured, and an API key's use audited (buffered, off the request path). */
export function installRequestAccounting(app: FastifyInstance, { metrics, audit }: Services): void {
  // Not async: nothing to wait for, so no promise per request.
  app.addHook('onResponse', (request, reply, done) => {
    metrics.requestDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    // API key use, off the request path (buffered): which key, which route, what it got.
    if (request.tenant) {
      audit.record({
        tenantId: request.tenant.id,
        actor: request.tenant.apiKeyId,
        action: 'api.request',
        target: `${request.method} ${request.routeOptions.url ?? 'unmatched'}`,
        outcome: String(reply.statusCode),
        detail: { requestId: request.id },
      });
    }
    done();
  });
}

/** Step 5: the one error handler (errors become the envelope) and the 404. */
export function installErrorHandling(app: FastifyInstance, { metrics }: Services): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (refusesResourcePath(error)) return reply.code(404).send(errorBody('NOT_FOUND', request.id));
    if (isSchemaRefusal(error)) {
      const refusal = describeSchemaRefusal(error);
      return reply.code(422).send(errorBody('VALIDATION_FAILED', request.id, refusal.message, { field: refusal.field }));
    }
    const code = errorCodeOf(error);
    if (code === 'STORE_UNAVAILABLE') {
      metrics.storeErrors.inc({ operation: request.routeOptions.url ?? 'unknown' });
      // The driver's code (a lock wait, a deadlock, a refused connection…) says which 503 it was.
      request.log.error({ err: error, driverError: driverErrorOrigin(error) }, 'store unavailable');
    } else if (code === 'INTERNAL') {
      request.log.error({ err: error }, 'unhandled error');
    }
    const message = error instanceof HttpError ? error.message : undefined;
    const details = error instanceof HttpError ? error.details : {};
    const challenge = bearerChallenge(code, request.headers.authorization, details.scope);
    if (challenge) reply.header('www-authenticate', challenge);
    // Twilio retries a 503 anyway; other clients learn when it is worth it.
    if (ERRORS[code].status === 503) void reply.header('retry-after', '1');
    return reply.code(ERRORS[code].status).send(errorBody(code, request.id, message, details));
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(errorBody('NOT_FOUND', request.id)));
}

/** Step 6: until a public URL is configured, callbacks go to the address this instance listens on. */
export function followListenAddress(app: FastifyInstance, { config, settings }: Services): void {
  app.addHook('onListen', async () => {
    const address = app.server.address();
    if (!config.publicUrl && address && typeof address === 'object') {
      settings.statusCallbackUrl = () =>
        `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}${WEBHOOK_PATH}`;
    }
  });
}

/** Step 7: the API contract, authentication, and every route family. */
export async function registerRoutes(app: FastifyInstance, parts: Services): Promise<void> {
  const { config, store, clock, metrics, security, audit, live, twilio, ingest, streams, settings } = parts;
  collectPrivatePaths(app);
  await registerApiContract(app, API_MODELS);
  const authenticate = registerApiKeyAuth(app, { store, clock });
  await registerBrowserAndFairUse(app, { corsOrigins: config.corsOrigins, rateLimitPerMinute: config.rateLimitPerMinute });
  registerIdempotency(app, { store, clock });
  await app.register(docsRoutes);
  const readiness = new Readiness({ store, committer: () => ingest.health(), deadlineMs: config.commitDeadlineMs, clock });
  await app.register(healthRoutes, { readiness, sandbox: config.sandbox });
  await app.register(webhookRoute, { config, verifier: () => settings.verifier, ingest, security, metrics, clock });
  await app.register(consultationRoutes, {
    store,
    twilio,
    clock,
    statusCallbackUrl: () => settings.statusCallbackUrl(),
    accountSid: () => settings.accounts[0]?.accountSid,
  });
  await app.register(recordRoutes, { store, twilio });
  await app.register(subjectRoutes, { store, audit, settle: async () => void (await Promise.all([security.drain(), audit.drain()])) });
  await app.register(eventRoutes, { live, store, authenticate, streams, wsMaxPayloadBytes: config.wsMaxPayloadBytes });
  await app.register(auditRoutes, { store });
  await app.register(apiKeyRoutes, { store, audit, clock });
  await app.register(webhookEndpointRoutes, {
    store,
    audit,
    clock,
    policy: webhookPolicy(config.webhooks, config.sandbox),
    secretOverlapMs: config.webhooks.secretOverlapMs,
    onQueued: () => parts.webhooks.wake(),
  });
  await app.register(lobbyRoutes, { store, clock, audit });
  await app.register(tenantSettingsRoutes, { store, audit });
  await app.register(consentRoutes, { store, clock, audit, onOutbox: parts.wakeOutbox });
  await app.register(consoleRoutes);
  await app.register(operatorRoutes, {
    store,
    clock,
    operatorToken: config.operatorToken,
    secrets: () => signingSecrets(settings.accounts),
    publicUrl: config.publicUrl,
  });
  const account = config.accounts[0];
  if (account && config.apiKey) {
    await app.register(accessTokenRoutes, {
      store,
      clock,
      accountSid: account.accountSid,
      apiKey: config.apiKey,
      ttlSeconds: 3600,
      audit,
      rooms: { twilio, statusCallbackUrl: () => settings.statusCallbackUrl() },
    });
  }
}

/** Step 8: what starts once the app is ready, and what stops, in order, when it closes. */
export function installLifecycle(app: FastifyInstance, parts: Services, options: AppOptions): void {
  const { projection, streams, outbox, webhooks, retention, reconcileSchedule, ingest, alerts, security, audit, live } = parts;
  app.addHook('onReady', async () => projection.start());
  app.addHook('onReady', async () => streams.start());
  // With a record thread, the outbox runs there (started and stopped with it).
  if (options.outboxWorker !== false && !options.projectionThread) app.addHook('onReady', async () => outbox.start());
  if (options.webhookWorker ?? options.outboxWorker !== false) app.addHook('onReady', async () => webhooks.start());
  if (retention) app.addHook('onReady', async () => retention.start());
  if (options.reconcile) app.addHook('onReady', async () => reconcileSchedule.start());
  const noShows = options.noShows
    ? new NoShowSchedule({
        store: parts.store,
        twilio: parts.twilio,
        clock: parts.clock,
        logger: parts.logger,
        ...(typeof options.noShows === 'object' ? options.noShows : {}),
      })
    : undefined;
  if (noShows) app.addHook('onReady', async () => noShows.start());
  // A request still in flight when the stop begins is answered with `Connection: close`: its
  // keep-alive connection (Twilio's, a client's) would otherwise stay open and idle, and the
  // server's close wait for it past ROOMGATE_SHUTDOWN_TIMEOUT (idle ones are closed only once, at
  // the start of the stop).
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onClose', async () => {
    await streams.stop();
    await ingest.close();
    // Folds and background work wait at most STOP_GRACE_MS, side by side: a fold, a poll or a
    // write stuck on a silent database (up to the query timeout) must not hold the shutdown past
    // ROOMGATE_SHUTDOWN_TIMEOUT. What is cut off is left as a crash would leave it (the next
    // start folds what is unfolded, leases expire, transactions roll back).
    const { logger } = parts;
    await stopWithin(
      'folds and background workers',
      [projection.stop(), outbox.stop(), webhooks.stop(), reconcileSchedule.stop(), noShows?.stop(), retention?.stop()],
      logger,
    );
    await stopWithin('alert, security and audit writes', [alerts?.drain(), security.drain(), audit.drain()], logger, 500);
    if (!options.live) await live.close();
  });
}

/** The one place errors become HTTP: typed errors by code, Fastify's own by status. */
function errorCodeOf(error: FastifyError): ErrorCode {
  if (error instanceof HttpError) return error.code;
  if (isStoreUnavailable(error)) return 'STORE_UNAVAILABLE';
  if (error instanceof StoreConstraintError) return 'CONFLICT';
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
