/**
 * Delivers status callbacks as Twilio does: a form-encoded POST (or GET with the parameters in
 * the query) signed with the account's auth token over the callback URL and the sorted
 * parameters, with an `I-Twilio-Idempotency-Token` kept across retries. One queue per callback
 * URL and room, so one room's events leave in the order they happened. Retries follow the URL's
 * connection overrides (Twilio's defaults: one retry, 15 s in all).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { computeTwilioSignature, type FormParam } from '../core/signature/twilio-signature.js';
import { parseCallbackUrl, TWILIO_DEFAULT_OVERRIDES, type ConnectionOverrides, type RetryReason } from './connection-overrides.js';

/** One delivery attempt, as recorded in the sandbox's callback log. */
export interface CallbackAttempt {
  /** The URL requested (without its fragment; with the query for a GET). */
  readonly url: string;
  readonly event: string;
  /** 1 for the first attempt, 2 for the first retry… */
  readonly attempt: number;
  readonly idempotencyToken: string;
  /** The receiver's HTTP status, when it answered. */
  readonly status?: number;
  /** Why there was no answer: ECONNREFUSED, connect timeout, read timeout… */
  readonly error?: string;
  readonly at: string;
}

export interface CallbackSenderOptions {
  readonly authToken: string;
  /** Retries after the first attempt, unless the URL's `#rc=` says otherwise. Default 1, as Twilio. */
  readonly retries?: number;
  /** Pause before a retry. Default 250 ms. */
  readonly retryDelayMs?: number;
  readonly logger?: Logger;
  readonly userAgent?: string;
}

type Outcome = { status: number } | { error: string; reason: 'ct' | 'rt' };

export class CallbackSender {
  private readonly attempts: CallbackAttempt[] = [];
  private readonly queues = new Map<string, Promise<void>>();
  private pending = 0;
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  private readonly inFlight = new Set<http.ClientRequest>();
  private readonly retryTimers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  // keepAlive off: a sandbox that closes must not hold sockets to receivers open.
  private readonly httpAgent = new http.Agent({ keepAlive: false });
  private readonly httpsAgent = new https.Agent({ keepAlive: false });
  private readonly defaults: ConnectionOverrides;

  constructor(private readonly options: CallbackSenderOptions) {
    this.defaults = { ...TWILIO_DEFAULT_OVERRIDES, retryCount: options.retries ?? TWILIO_DEFAULT_OVERRIDES.retryCount };
  }

  /** Every attempt so far, oldest first. */
  get log(): readonly CallbackAttempt[] {
    return this.attempts;
  }

  /**
   * Queues one callback and returns at once: delivery is asynchronous, as with Twilio.
   * `configuredUrl` is the StatusCallback as given, fragment overrides included.
   */
  send(configuredUrl: string, method: 'POST' | 'GET', params: readonly FormParam[]): void {
    if (this.closed) return;
    const { url, overrides } = parseCallbackUrl(configuredUrl, this.defaults);
    this.pending += 1;
    // One queue per URL and room: one room's events leave in order, rooms do not wait for each other.
    const queue = `${url}\u0000${params.find(([key]) => key === 'RoomSid')?.[1] ?? ''}`;
    const previous = this.queues.get(queue) ?? Promise.resolve();
    const next = previous
      .then(() => this.deliver(url, method, overrides, params))
      .catch((error: unknown) => this.options.logger?.error({ err: error }, 'sandbox callback delivery crashed'))
      .finally(() => {
        this.pending -= 1;
        if (this.queues.get(queue) === next) this.queues.delete(queue);
        if (this.pending === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      });
    this.queues.set(queue, next);
  }

  /** Resolves when every queued callback has been delivered or given up. */
  idle(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops what is queued, aborts what is in flight, and frees the sockets. */
  async close(): Promise<void> {
    this.closed = true;
    for (const request of this.inFlight) request.destroy(new Error('sandbox closed'));
    for (const entry of this.retryTimers) {
      clearTimeout(entry.timer);
      entry.resolve();
    }
    await this.idle();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private async deliver(url: string, method: 'POST' | 'GET', overrides: ConnectionOverrides, params: readonly FormParam[]): Promise<void> {
    const event = params.find(([key]) => key === 'StatusCallbackEvent')?.[1] ?? 'unknown';
    const idempotencyToken = randomUUID();
    const form = new URLSearchParams(params as FormParam[] as [string, string][]).toString();
    // A GET carries the parameters in the query, and the signature covers that full URL alone.
    const requestUrl = method === 'GET' ? `${url}${url.includes('?') ? '&' : '?'}${form}` : url;
    const signature =
      method === 'GET'
        ? computeTwilioSignature(this.options.authToken, requestUrl, [])
        : computeTwilioSignature(this.options.authToken, url, params);
    const deadline = Date.now() + overrides.totalTimeMs;

    for (let attempt = 1; attempt <= 1 + overrides.retryCount && !this.closed; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      const outcome = await this.attempt(
        requestUrl,
        method,
        method === 'POST' ? form : undefined,
        {
          'x-twilio-signature': signature,
          'i-twilio-idempotency-token': idempotencyToken,
        },
        Math.min(overrides.connectTimeoutMs, remaining),
        Math.min(overrides.readTimeoutMs, remaining),
      );
      const at = new Date().toISOString();
      let retryReason: RetryReason | undefined;
      if ('status' in outcome) {
        this.attempts.push({ url: requestUrl, event, attempt, idempotencyToken, status: outcome.status, at });
        if (outcome.status >= 500) retryReason = '5xx';
        else if (outcome.status >= 400) retryReason = '4xx';
        this.options.logger?.debug({ url: requestUrl, event, attempt, status: outcome.status }, 'sandbox callback answered');
      } else {
        this.attempts.push({ url: requestUrl, event, attempt, idempotencyToken, error: outcome.error, at });
        retryReason = outcome.reason;
        this.options.logger?.warn({ url: requestUrl, event, attempt, error: outcome.error }, 'sandbox callback not delivered');
      }
      if (!retryReason || !overrides.retryOn.has(retryReason)) return;
      await this.pause(Math.min(this.options.retryDelayMs ?? 250, Math.max(0, deadline - Date.now())));
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.retryTimers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.retryTimers.add(entry);
    });
  }

  private attempt(
    url: string,
    method: 'POST' | 'GET',
    body: string | undefined,
    signed: Record<string, string>,
    connectTimeoutMs: number,
    readTimeoutMs: number,
  ): Promise<Outcome> {
    return new Promise((resolve) => {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        resolve({ error: 'invalid callback URL', reason: 'ct' });
        return;
      }
      const secure = target.protocol === 'https:';
      if (!secure && target.protocol !== 'http:') {
        resolve({ error: `unsupported scheme ${target.protocol}`, reason: 'ct' });
        return;
      }
      let settled = false;
      let connected = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.inFlight.delete(request);
        resolve(outcome);
      };
      const headers: Record<string, string> = {
        ...signed,
        'user-agent': this.options.userAgent ?? 'TwilioProxy/1.1 (roomgate-sandbox)',
        accept: '*/*',
        'cache-control': 'max-age=259200',
      };
      if (body !== undefined) {
        headers['content-type'] = 'application/x-www-form-urlencoded; charset=utf-8';
        headers['content-length'] = String(Buffer.byteLength(body));
      }
      const request = (secure ? https : http).request(target, { method, headers, agent: secure ? this.httpsAgent : this.httpAgent });
      this.inFlight.add(request);
      timer = setTimeout(() => request.destroy(new Error(`connect timeout after ${connectTimeoutMs} ms`)), connectTimeoutMs);
      request.on('socket', (socket) => {
        const onConnect = () => {
          connected = true;
          clearTimeout(timer);
          timer = setTimeout(() => request.destroy(new Error(`read timeout after ${readTimeoutMs} ms`)), readTimeoutMs);
        };
        if (secure) socket.once('secureConnect', onConnect);
        else if ((socket as { connecting?: boolean }).connecting) socket.once('connect', onConnect);
        else onConnect();
      });
      request.on('response', (response) => {
        response.resume();
        response.on('end', () => finish({ status: response.statusCode ?? 0 }));
        response.on('error', (error) => finish({ error: error.message, reason: 'rt' }));
      });
      request.on('error', (error: NodeJS.ErrnoException) =>
        finish({ error: error.code ?? error.message, reason: connected ? 'rt' : 'ct' }),
      );
      request.end(body);
    });
  }
}
