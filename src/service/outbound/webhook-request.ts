/**
 * One outbound webhook POST, SSRF-safe (core/outbound/outbound-address-policy.ts): the URL is
 * checked first; the address a host name resolves to is checked by the connection's own
 * `lookup`, at connect time, so a name that resolves (or re-resolves) to a refused address is
 * never connected to. Redirects are answers, never followed. The response body is read to a
 * small limit and then dropped; the whole exchange has one deadline.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { checkWebhookUrl, isRefusedAddress, type OutboundPolicy } from '../../core/outbound/outbound-address-policy.js';

export interface WebhookRequest {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly policy: OutboundPolicy;
  /** Deadline for connect, send and answer together. Default 10 s. */
  readonly timeoutMs?: number;
  /** Bytes of the response body read at most. Default 4096. */
  readonly maxResponseBytes?: number;
}

export type WebhookOutcome =
  | {
      readonly kind: 'answered';
      readonly status: number;
      readonly latencyMs: number;
      /** Retry-After in ms (seconds or an HTTP date), when the answer carried one. */
      readonly retryAfterMs?: number;
      /** The first bytes of the body (at most maxResponseBytes). */
      readonly body: string;
    }
  | { readonly kind: 'refused'; readonly reason: string; readonly latencyMs: number }
  | { readonly kind: 'failed'; readonly reason: string; readonly latencyMs: number };

export class RefusedAddressError extends Error {
  constructor(readonly address: string) {
    super(`refused address ${address}`);
  }
}

/** A `lookup` for http(s).request that fails when any address of the name is refused. */
export function safeLookup(policy: OutboundPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      // One refused address refuses the name: a rebinding name may offer a public one first.
      const refused = addresses.find((entry) => isRefusedAddress(entry.address, policy));
      if (refused) return callback(new RefusedAddressError(refused.address), '', 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new Error(`no address for ${hostname}`), '', 0);
      callback(null, first.address, first.family);
    });
  };
}

export function sendWebhook(request: WebhookRequest): Promise<WebhookOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const verdict = checkWebhookUrl(request.url, request.policy);
  if (!verdict.ok) return Promise.resolve({ kind: 'refused', reason: verdict.reason, latencyMs: 0 });
  const url = verdict.url;
  const limit = request.maxResponseBytes ?? 4096;
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: WebhookOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      outgoing.destroy();
      resolve(outcome);
    };
    const outgoing = client.request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'Roomgate-Webhooks/1', ...request.headers },
        lookup: safeLookup(request.policy),
        // No pooled sockets: each delivery connects (and so looks up and checks) again.
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () =>
          settle({
            kind: 'answered',
            status: response.statusCode ?? 0,
            latencyMs: elapsed(),
            body: Buffer.concat(chunks).toString('utf8').slice(0, limit),
            ...retryAfter(response.headers['retry-after']),
          });
        response.on('data', (chunk: Buffer) => {
          if (size >= limit) return done();
          chunks.push(chunk.subarray(0, limit - size));
          size += Math.min(chunk.length, limit - size);
          if (size >= limit) done();
        });
        response.on('end', done);
        response.on('error', done);
      },
    );
    const deadline = setTimeout(
      () => settle({ kind: 'failed', reason: `no answer within ${request.timeoutMs ?? 10_000} ms`, latencyMs: elapsed() }),
      request.timeoutMs ?? 10_000,
    );
    outgoing.on('error', (error) =>
      settle(
        error instanceof RefusedAddressError
          ? { kind: 'refused', reason: error.message, latencyMs: elapsed() }
          : { kind: 'failed', reason: (error as NodeJS.ErrnoException).code ?? error.message, latencyMs: elapsed() },
      ),
    );
    outgoing.end(request.body);
  });
}

function retryAfter(value: string | undefined): { retryAfterMs?: number } {
  if (!value) return {};
  if (/^\d+$/.test(value.trim())) return { retryAfterMs: Number(value.trim()) * 1000 };
  const at = Date.parse(value);
  return Number.isNaN(at) ? {} : { retryAfterMs: Math.max(0, at - Date.now()) };
}
