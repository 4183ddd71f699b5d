/**
 * Security alerts POSTed to ROOMGATE_ALERT_URL, signed like Standard Webhooks
 * (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp` (Unix seconds) and
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, so a receiver can use any
 * Standard Webhooks library to verify them.
 *
 * No retry storm: a short timeout, no retries, at most one POST of a kind in flight and at most
 * one per kind per window — the rest are counted as suppressed (the next alert of the window
 * that is sent, or the rate alert, covers them). Failures are logged and counted, never thrown.
 * Neither the secret, the signature nor the URL (alert URLs often carry a token) is ever logged.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { SecurityAlert } from '../security-monitor.js';

export interface AlertNotifierOptions {
  readonly url: string;
  /** ≥ 16 characters. `whsec_<base64>` is decoded as Standard Webhooks secrets are; anything else is used as UTF-8 bytes. */
  readonly secret: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly clock: () => Date;
  /** At most one POST per alert kind per this many ms (the alert window). */
  readonly minIntervalMs: number;
  readonly timeoutMs?: number;
}

export interface AlertPayload {
  readonly type: 'security.alert';
  /** When Roomgate raised the alert (ISO 8601). */
  readonly timestamp: string;
  readonly data: SecurityAlert;
}

/**
 * The Standard Webhooks signature header value for one message.
 * @example signStandardWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')
 *   === 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
 */
export function signStandardWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  return `v1,${createHmac('sha256', secretKey(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

function secretKey(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');
}

export class AlertNotifier {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly lastSent = new Map<string, number>();

  constructor(private readonly options: AlertNotifierOptions) {}

  /** Sends the alert unless one of its kind is in flight or was sent within the window. Never throws. */
  notify(alert: SecurityAlert): void {
    const { metrics, logger, clock, minIntervalMs } = this.options;
    const now = clock();
    const last = this.lastSent.get(alert.kind);
    if (this.inFlight.has(alert.kind) || (last !== undefined && now.getTime() - last < minIntervalMs)) {
      metrics.alertDeliveries.inc({ outcome: 'suppressed' });
      logger.debug({ alert: alert.kind }, 'alert POST suppressed: one of this kind was sent within the window');
      return;
    }
    this.lastSent.set(alert.kind, now.getTime());
    const delivery = this.deliver(alert, now).finally(() => this.inFlight.delete(alert.kind));
    this.inFlight.set(alert.kind, delivery);
  }

  /** Resolves when every POST in flight has been answered, failed or timed out. */
  async drain(): Promise<void> {
    await Promise.all(this.inFlight.values());
  }

  private async deliver(alert: SecurityAlert, now: Date): Promise<void> {
    const { url, secret, metrics, logger, timeoutMs = 5000 } = this.options;
    const body = JSON.stringify({ type: 'security.alert', timestamp: now.toISOString(), data: alert } satisfies AlertPayload);
    const id = `msg_${randomBytes(16).toString('hex')}`;
    const timestamp = Math.floor(now.getTime() / 1000);
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signStandardWebhook(secret, id, timestamp, body),
        },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body?.cancel().catch(() => undefined);
      if (!response.ok) {
        metrics.alertDeliveries.inc({ outcome: 'failed' });
        logger.error({ alert: alert.kind, status: response.status, webhookId: id }, 'alert POST refused by the receiver');
        return;
      }
      metrics.alertDeliveries.inc({ outcome: 'delivered' });
      logger.info({ alert: alert.kind, webhookId: id }, 'alert POST delivered');
    } catch (error) {
      metrics.alertDeliveries.inc({ outcome: 'failed' });
      // The message and code only: an error object could carry the request and its headers.
      const cause = (error as { cause?: { code?: unknown } }).cause;
      logger.error(
        { alert: alert.kind, webhookId: id, error: (error as Error).name, code: typeof cause?.code === 'string' ? cause.code : undefined },
        'alert POST failed',
      );
    }
  }
}
