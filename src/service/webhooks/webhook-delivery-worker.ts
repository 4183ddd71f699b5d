/**
 * Delivers tenants' webhooks: fans new log events out to endpoints (webhook-fan-out.ts), then
 * claims due messages like the outbox worker does — a compare-and-set on a short lease renewed
 * by a heartbeat, so two instances never send the same message at once and a killed instance's
 * claims are taken over once the lease runs out — and sends each, signed the Standard Webhooks
 * way (every secret of a rotation's overlap), through the SSRF-safe request.
 *
 * 2xx = delivered. Anything else (status, timeout, refused address) is retried on the schedule
 * of core/outbound/webhook-retry-policy.ts (a 429/503's Retry-After honoured) until it gives up;
 * an endpoint failing without a success for `disableAfterMs` is disabled, with an alert and a
 * `webhook-endpoint.disabled` event in the tenant's log. Only the first pending message of each
 * (endpoint, consultation) is claimable, so a consultation's events arrive in sequence order.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { outboundPolicy, type OutboundPolicy } from '../../core/outbound/outbound-address-policy.js';
import { signWebhook } from '../../core/outbound/standard-webhook-signature.js';
import { isDelivered, nextAttemptAt, shouldDisable, type RetryPolicy } from '../../core/outbound/webhook-retry-policy.js';
import { appendTenantEvents } from '../../storage/event-log-repository.js';
import { GroupCommitter } from '../../storage/group-committer.js';
import type { Store } from '../../storage/store.js';
import type { StoreTransaction } from '../../storage/schema.js';
import {
  claimWebhookMessages,
  disableWebhookEndpoint,
  findDueWebhookMessages,
  finishWebhookAttempt,
  renewWebhookLease,
  webhookDeliveryContext,
  WebhookClaimLostError,
  type AttemptOutcome,
} from '../../storage/webhook-repository.js';
import { isStoreUnavailable } from '../../storage/store-errors.js';
import type { WebhooksConfig } from '../config.js';
import type { Metrics } from '../metrics.js';
import { sendWebhook } from '../outbound/webhook-request.js';
import { publicEvent } from '../routes/event-routes.js';
import { fanOutWebhooks } from './webhook-fan-out.js';

export interface WebhookDeliveryWorkerOptions {
  readonly store: Store;
  readonly config: WebhooksConfig;
  readonly sandbox: boolean;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  readonly clock?: () => Date;
  /** Called after an endpoint was disabled (its event committed): wakes the tenant's streams, alerts the operator. */
  readonly onTenantEvent?: (tenantId: string) => void;
  readonly onEndpointDisabled?: (endpoint: { readonly tenantId: string; readonly endpointId: string }) => void;
  readonly workerId?: string;
}

/** The SSRF policy the configuration gives (also used when an endpoint is saved). */
export function webhookPolicy(config: WebhooksConfig, sandbox: boolean): OutboundPolicy {
  return outboundPolicy({ allowList: config.allowAddresses, allowHttp: config.allowHttp, sandbox });
}

const WAKE_COALESCE_MS = 10;

export class WebhookDeliveryWorker {
  readonly workerId: string;
  private readonly policy: OutboundPolicy;
  private readonly retry: RetryPolicy;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private wakeRequested = false;
  private lastPollAt = -Infinity;
  private timerAt: number | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  /** Outcomes that finish together share one commit (one fsync on SQLite for a whole batch). */
  private readonly outcomes: GroupCommitter<RecordedOutcome, DisabledEndpoint | undefined>;

  constructor(private readonly options: WebhookDeliveryWorkerOptions) {
    this.workerId = options.workerId ?? `webhooks-${randomUUID()}`;
    this.outcomes = new GroupCommitter({ store: options.store, maxBatch: 64, apply: (trx, items) => recordOutcomes(trx, items) });
    this.policy = webhookPolicy(options.config, options.sandbox);
    this.retry = options.config.retry;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** A change committed (or a slot freed): poll soon rather than at the next tick. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.wakeRequested = true;
      return;
    }
    // At most one poll per WAKE_COALESCE_MS for wake-ups: the commits of a burst share it.
    const at = Math.max(this.lastPollAt + WAKE_COALESCE_MS, performance.now());
    if (this.timerAt !== undefined && this.timerAt <= at) return;
    this.schedule(at - performance.now());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await Promise.all(this.inFlight);
    await this.outcomes.drain();
  }

  /** One pass, for tests and tools: fan out, deliver what is due, wait for it. Returns how many were sent. */
  async runOnce(): Promise<number> {
    await Promise.all(this.inFlight);
    const started = await this.poll();
    await Promise.all([...started, ...this.inFlight]);
    return started.length;
  }

  private now(): Date {
    return this.options.clock?.() ?? new Date();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = performance.now() + delayMs;
    this.timer = setTimeout(() => {
      this.timerAt = undefined;
      this.lastPollAt = performance.now();
      this.running = this.poll()
        .then((started) => {
          // Wake-ups that came during a poll that found nothing: one more poll shortly, not at
          // once — a burst of commits (thousands a second under ingest) must not become a busy loop.
          const again = started.length > 0 ? 0 : this.wakeRequested ? WAKE_COALESCE_MS : undefined;
          this.wakeRequested = false;
          this.running = undefined;
          this.schedule(again ?? this.options.config.pollIntervalMs);
        })
        .catch((error: unknown) => {
          this.running = undefined;
          this.options.logger.warn({ err: error }, 'webhook delivery poll failed; retrying');
          this.schedule(this.options.config.pollIntervalMs);
        });
    }, delayMs);
    this.timer.unref();
  }

  private async poll(): Promise<Promise<void>[]> {
    // Fan-out errors are the poll's (logged, retried at the next tick).
    await fanOutWebhooks(this.options.store, () => this.now());
    const free = this.options.config.concurrency - this.inFlight.size;
    // Claims go in batches (one commit each): while more than half the slots are busy, the
    // sends in flight finish first.
    if (free <= 0 || (this.inFlight.size > 0 && free < Math.ceil(this.options.config.concurrency / 2))) return [];
    const now = this.now().toISOString();
    const lockedUntil = new Date(this.now().getTime() + this.options.config.leaseMs).toISOString();
    const started: Promise<void>[] = [];
    const due = await findDueWebhookMessages(this.options.store.db, now, free);
    const claimed =
      due.length === 0
        ? []
        : await this.options.store.transaction((trx) => claimWebhookMessages(trx, { ids: due, workerId: this.workerId, now, lockedUntil }));
    for (const { messageId: id, attemptId } of claimed) {
      const running: Promise<void> = this.deliver(id, attemptId)
        .catch((error: unknown) =>
          this.options.logger.warn({ err: error, message: id }, 'webhook delivery not recorded; retried after the lease'),
        )
        .finally(() => {
          this.inFlight.delete(running);
          this.wake();
        });
      this.inFlight.add(running);
      started.push(running);
    }
    return started;
  }

  private async deliver(messageId: string, attemptId: string): Promise<void> {
    const { store, logger, config } = this.options;
    const heartbeat = setInterval(
      () => {
        const lockedUntil = new Date(this.now().getTime() + config.leaseMs).toISOString();
        renewWebhookLease(store.db, { id: messageId, workerId: this.workerId, lockedUntil }).catch((error: unknown) =>
          logger.warn({ err: error }, 'webhook lease not renewed; retrying at the next beat'),
        );
      },
      Math.max(50, Math.floor(config.leaseMs / 3)),
    );
    heartbeat.unref();
    try {
      await this.attempt(messageId, attemptId);
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async attempt(messageId: string, attemptId: string): Promise<void> {
    const { store, logger, config, metrics } = this.options;
    const context = await webhookDeliveryContext(store.db, messageId);
    if (!context) return;
    const started = this.now();
    const attempt = context.attempts + 1;
    const firstAttemptAt = context.first_attempt_at ?? started.toISOString();

    let responseStatus: number | null = null;
    let latencyMs: number | null = null;
    let retryAfterMs: number | undefined;
    let error: string | null = null;
    if (!context.event) {
      error = 'the event is no longer in the log (retention)';
    } else {
      const body = JSON.stringify(publicEvent(context.event));
      const secrets = [context.secret];
      if (context.previous_secret && context.previous_secret_until && context.previous_secret_until > started.toISOString()) {
        secrets.push(context.previous_secret);
      }
      const headers = signWebhook(context.event.id, started.getTime() / 1000, body, secrets);
      const outcome = await sendWebhook({
        url: context.url,
        headers: { ...headers },
        body,
        policy: this.policy,
        timeoutMs: config.timeoutMs,
      });
      latencyMs = outcome.latencyMs;
      if (outcome.kind === 'answered') {
        responseStatus = outcome.status;
        retryAfterMs = outcome.retryAfterMs;
        if (!isDelivered(outcome.status)) error = `answered ${outcome.status}`;
      } else {
        error = outcome.kind === 'refused' ? `refused: ${outcome.reason}` : outcome.reason;
      }
    }

    const finished = this.now();
    const delivered = error === null;
    const next =
      delivered || !context.event
        ? undefined
        : nextAttemptAt(
            {
              attempt,
              firstAttemptAt: Date.parse(firstAttemptAt),
              failedAt: finished.getTime(),
              ...(responseStatus !== null ? { status: responseStatus } : {}),
              ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
            },
            this.retry,
          );
    const nextAt = next === undefined ? null : new Date(next).toISOString();
    const failingSince = context.failing_since ?? (delivered ? null : finished.toISOString());
    const disable =
      !delivered && shouldDisable(failingSince ? Date.parse(failingSince) : undefined, finished.getTime(), config.disableAfterMs);

    const outcome: RecordedOutcome = {
      messageId,
      attemptId,
      endpointId: context.endpoint_id,
      workerId: this.workerId,
      attempts: attempt,
      firstAttemptAt,
      attemptStatus: delivered ? 'delivered' : nextAt ? 'retrying' : 'failed',
      messageStatus: delivered ? 'delivered' : nextAt ? 'pending' : 'failed',
      responseStatus,
      latencyMs,
      error: error?.slice(0, 500) ?? null,
      nextAttemptAt: nextAt,
      ...(delivered && context.failing_since ? { streak: 'ended' as const } : {}),
      ...(!delivered && !context.failing_since ? { streak: 'started' as const } : {}),
      now: finished.toISOString(),
      ...(disable && failingSince ? { disableSince: failingSince } : {}),
    };
    let disabled: DisabledEndpoint | undefined;
    for (let tries = 1; ; tries += 1) {
      try {
        disabled = await this.outcomes.submit(outcome);
        break;
      } catch (failure) {
        if (failure instanceof WebhookClaimLostError || (failure as { cause?: unknown }).cause instanceof WebhookClaimLostError) {
          logger.warn(
            { endpoint: context.endpoint_id, event: context.event_id },
            'webhook claim lost while sending (taken over after the lease)',
          );
          return;
        }
        // A deadlock with another instance's transaction (MySQL) is worth one more go at once.
        if (tries >= 3 || !isStoreUnavailable(failure)) throw failure;
      }
    }

    metrics?.webhookDeliveries.inc({ outcome: delivered ? 'delivered' : nextAt ? 'retrying' : 'failed' });
    // The URL is the tenant's and may carry a token in its path: logs name the endpoint by id.
    if (delivered) {
      logger.debug({ endpoint: context.endpoint_id, event: context.event_id, attempt, latencyMs }, 'webhook delivered');
    } else {
      logger.info(
        { endpoint: context.endpoint_id, event: context.event_id, attempt, responseStatus, error, nextAttemptAt: nextAt },
        'webhook attempt failed',
      );
    }
    if (disabled) {
      metrics?.alerts.inc({ kind: 'webhook-endpoint-disabled' });
      logger.error(
        { alert: 'webhook-endpoint-disabled', endpoint: context.endpoint_id, tenant: disabled.tenant_id, failingSince },
        'webhook endpoint disabled: failing without a success for too long',
      );
      this.options.onTenantEvent?.(disabled.tenant_id);
      this.options.onEndpointDisabled?.({ tenantId: disabled.tenant_id, endpointId: context.endpoint_id });
    }
  }
}

interface RecordedOutcome extends AttemptOutcome {
  /** Set when this failure makes the endpoint's failure streak too long: it is disabled in the same transaction. */
  readonly disableSince?: string;
}

type DisabledEndpoint = { tenant_id: string; url: string; failing_since: string | null };

/** One transaction for the outcomes that finished together; the endpoints this batch disabled, per item. */
async function recordOutcomes(trx: StoreTransaction, items: RecordedOutcome[]): Promise<(DisabledEndpoint | undefined)[]> {
  const results: (DisabledEndpoint | undefined)[] = [];
  for (const item of items) {
    await finishWebhookAttempt(trx, item);
    if (!item.disableSince) {
      results.push(undefined);
      continue;
    }
    const reason = `failing without a success since ${item.disableSince}`;
    const endpoint = await disableWebhookEndpoint(trx, { id: item.endpointId, reason, now: item.now });
    if (endpoint) {
      await appendTenantEvents(trx, [
        {
          tenantId: endpoint.tenant_id,
          consultationId: null,
          type: 'webhook-endpoint.disabled',
          at: item.now,
          data: { endpointId: item.endpointId, url: endpoint.url, reason, failingSince: endpoint.failing_since ?? item.disableSince },
        },
      ]);
    }
    results.push(endpoint);
  }
  return results;
}
