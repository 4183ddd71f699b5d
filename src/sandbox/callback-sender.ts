/**
 * Delivers status callbacks as Twilio does: form-encoded POST, signed with the account's auth
 * token over the callback URL and the sorted parameters, an I-Twilio-Idempotency-Token kept
 * across retries, one queue per callback URL so one room's events leave in order. Retries on a
 * connection failure (Twilio's default: once) and — an assumption, see the README — on a 5xx.
 */
import { randomUUID } from 'node:crypto';
import { computeTwilioSignature, type FormParam } from '../core/signature/twilio-signature.js';

export interface CallbackAttempt {
  readonly url: string;
  readonly event: string;
  readonly attempt: number;
  readonly idempotencyToken: string;
  readonly status?: number;
  readonly error?: string;
}

export interface CallbackSenderOptions {
  readonly authToken: string;
  /** Retries after the first attempt. Default 1, as Twilio. */
  readonly retries?: number;
  readonly retryDelayMs?: number;
  readonly timeoutMs?: number;
}

export class CallbackSender {
  readonly log: CallbackAttempt[] = [];
  private readonly queues = new Map<string, Promise<void>>();
  private pending = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: CallbackSenderOptions) {}

  /** Queues one callback; resolves at once (delivery is asynchronous, as with Twilio). */
  send(statusCallback: string, params: readonly FormParam[]): void {
    // Sign the URL exactly as it will be requested: fetch sends the WHATWG-serialised form.
    const url = new URL(statusCallback.split('#')[0]!).href;
    this.pending += 1;
    const previous = this.queues.get(url) ?? Promise.resolve();
    const next = previous.then(() => this.deliver(url, params)).finally(() => {
      this.pending -= 1;
      if (this.pending === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    });
    this.queues.set(url, next);
  }

  /** Resolves when every queued callback has been delivered or given up. */
  idle(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async deliver(url: string, params: readonly FormParam[]): Promise<void> {
    const event = params.find(([key]) => key === 'StatusCallbackEvent')?.[1] ?? 'unknown';
    const idempotencyToken = randomUUID();
    const body = new URLSearchParams(params as [string, string][]).toString();
    const signature = computeTwilioSignature(this.options.authToken, url, params);
    const attempts = 1 + (this.options.retries ?? 1);
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'x-twilio-signature': signature,
            'i-twilio-idempotency-token': idempotencyToken,
            'user-agent': 'TwilioProxy/1.1 (roomgate-sandbox)',
          },
          body,
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 15_000),
        });
        await response.arrayBuffer();
        this.log.push({ url, event, attempt, idempotencyToken, status: response.status });
        if (response.status < 500) return;
      } catch (error) {
        this.log.push({ url, event, attempt, idempotencyToken, error: (error as Error).cause ? String((error as Error & { cause: Error }).cause.message) : (error as Error).message });
      }
      if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs ?? 500));
    }
  }
}
