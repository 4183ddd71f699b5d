/**
 * A local receiver of Roomgate's outbound webhooks (`roomgate webhooks listen`, and the one
 * `roomgate demo` registers): node:http on loopback; each delivery is verified the Standard
 * Webhooks way (core/outbound/standard-webhook-signature.ts) against the secrets it is given,
 * answered 204 when it verifies and 401 when it does not, and handed to `onDelivery`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook } from '../core/outbound/standard-webhook-signature.js';

export interface ListenedDelivery {
  readonly webhookId: string;
  readonly verified: boolean;
  readonly type: string;
  readonly sequence: number | undefined;
  readonly consultationId: string | null;
  readonly body: string;
}

export interface WebhookListener {
  readonly url: string;
  /** The secrets deliveries are verified with (set once the endpoint exists, or from --secret). */
  secrets: string[];
  close(): Promise<void>;
}

const MAX_BODY = 256 * 1024;

export async function startWebhookListener(options: {
  readonly port?: number;
  readonly host?: string;
  readonly secrets?: readonly string[];
  /** Seconds since the epoch, for the timestamp tolerance (the demo passes the sandbox's clock). */
  readonly nowSeconds?: () => number;
  readonly onDelivery: (delivery: ListenedDelivery) => void;
}): Promise<WebhookListener> {
  const listener = { url: '', secrets: [...(options.secrets ?? [])] } as WebhookListener & { url: string };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) request.destroy();
      else chunks.push(chunk);
    });
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const header = (name: string) => {
        const value = request.headers[name];
        return typeof value === 'string' ? value : undefined;
      };
      const headers = {
        'webhook-id': header('webhook-id'),
        'webhook-timestamp': header('webhook-timestamp'),
        'webhook-signature': header('webhook-signature'),
      };
      const now = options.nowSeconds?.() ?? Date.now() / 1000;
      const verified = request.method === 'POST' && verifyWebhook(body, headers, listener.secrets, now);
      let event: { type?: unknown; sequence?: unknown; consultationId?: unknown } = {};
      try {
        event = JSON.parse(body) as typeof event;
      } catch {
        // shown as unknown
      }
      options.onDelivery({
        webhookId: headers['webhook-id'] ?? '',
        verified,
        type: typeof event.type === 'string' ? event.type : 'unknown',
        sequence: typeof event.sequence === 'number' ? event.sequence : undefined,
        consultationId: typeof event.consultationId === 'string' ? event.consultationId : null,
        body,
      });
      response.writeHead(verified ? 204 : 401).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const address = server.address() as AddressInfo;
  listener.url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/webhooks`;
  listener.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return listener;
}
