/**
 * Prometheus metrics, one registry per app instance (tests build several apps per process).
 * Labels never carry a secret: `secret` is the verifier's label ('AC…/primary'), not a token.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  return {
    registry,
    callbacks: new Counter({
      name: 'roomgate_callbacks_total',
      help: 'Signed callbacks by event type and outcome (stored, duplicate, quarantined, unmatched, late, unavailable).',
      labelNames: ['event', 'outcome'] as const,
      registers: [registry],
    }),
    refusals: new Counter({
      name: 'roomgate_webhook_refusals_total',
      help: 'Callbacks refused with 403, by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    verifications: new Counter({
      name: 'roomgate_signature_verifications_total',
      help: 'Verified callbacks by which configured secret matched (watch the previous token drain to zero before removing it).',
      labelNames: ['secret'] as const,
      registers: [registry],
    }),
    projectionFailures: new Counter({
      name: 'roomgate_projection_failures_total',
      help: 'Consultations that could not be folded (not for the store: a constraint their data breaks); the sweep retries them.',
      registers: [registry],
    }),
    projectionThreadRestarts: new Counter({
      name: 'roomgate_projection_thread_restarts_total',
      help: 'Times the projection thread ended without being asked to and was started again.',
      registers: [registry],
    }),
    sqliteThreadRestarts: new Counter({
      name: 'roomgate_sqlite_thread_restarts_total',
      help: 'Times the SQLite statement thread (ROOMGATE_SQLITE_THREAD=on) ended without being asked to and was started again.',
      registers: [registry],
    }),
    storeErrors: new Counter({
      name: 'roomgate_store_errors_total',
      help: 'Operations that failed because the store was unavailable.',
      labelNames: ['operation'] as const,
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: 'roomgate_http_request_duration_seconds',
      help: 'HTTP request latency by route and status.',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    alerts: new Counter({
      name: 'roomgate_alerts_total',
      help: 'Alerts raised, by kind.',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: 'roomgate_webhook_attempts_total',
      help: "Attempts to deliver tenants' webhooks, by outcome (delivered, retrying, failed: given up).",
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    alertDeliveries: new Counter({
      name: 'roomgate_alert_deliveries_total',
      help: 'Alert POSTs to ROOMGATE_ALERT_URL by outcome (delivered, failed, suppressed: one of the same kind was in flight or sent within the window).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    outboxDepth: new Gauge({
      name: 'roomgate_outbox_pending',
      help: 'Outbox entries not yet done.',
      registers: [registry],
    }),
    reconcileRuns: new Counter({
      name: 'roomgate_reconcile_runs_total',
      help: 'Reconciler passes by outcome (ran, not-leader: another instance holds the lease, failed).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    reconcileChecks: new Counter({
      name: 'roomgate_reconcile_consultations_total',
      help: 'Consultations compared with Twilio by outcome (unchanged, changed, room-unknown, account-mismatch, failed).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    reconciledFacts: new Counter({
      name: 'roomgate_reconciled_facts_total',
      help: 'Facts the reconciler added to records from the REST API (a lost callback each), and late callbacks it confirmed (event=late-confirmed).',
      labelNames: ['event'] as const,
      registers: [registry],
    }),
    twilioReads: new Counter({
      name: 'roomgate_reconcile_twilio_requests_total',
      help: 'REST reads the reconciler made, by HTTP status (or "network").',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    liveListenLost: new Counter({
      name: 'roomgate_live_listen_lost_total',
      help: 'PostgreSQL LISTEN connections for live events that were lost (each is re-made with backoff, for ever).',
      registers: [registry],
    }),
    liveListening: new Gauge({
      name: 'roomgate_live_listening',
      help: '1 while the PostgreSQL LISTEN connection for live events is in place, else 0 (always 0 on SQLite and MySQL, which do not use it).',
      registers: [registry],
    }),
    outboxOldestAgeSeconds: new Gauge({
      name: 'roomgate_outbox_oldest_pending_age_seconds',
      help: 'Age of the oldest outbox entry not yet done.',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
