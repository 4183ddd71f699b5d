/**
 * A tenant's webhook receiver for tests: a real HTTP server on loopback that verifies every
 * delivery with the reference implementation (the `standardwebhooks` package), records it, and
 * answers what the test's `answer` says — so a test can make it fail, throttle or hang.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedDelivery {
  readonly webhookId: string;
  readonly timestamp: string;
  readonly signature: string;
  readonly body: string;
  readonly event: { id: string; sequence: number; type: string; consultationId: string | null; data: Record<string, unknown> };
  /** Which of the receiver's secrets verified it (indexes into `secrets`). */
  readonly verifiedWith: number[];
  readonly status: number;
  readonly receivedAt: number;
}

export interface WebhookReceiver {
  readonly url: string;
  /** Every delivery, in arrival order (also the failed ones). */
  readonly deliveries: ReceivedDelivery[];
  /** The deliveries answered 2xx, deduplicated by webhook-id (the first of each). */
  accepted(): ReceivedDelivery[];
  /** The secrets a delivery is verified with (set after the endpoint is created). */
  secrets: string[];
  close(): Promise<void>;
}

export type Answer = (delivery: {
  webhookId: string;
  attemptOfId: number;
  index: number;
}) => number | { status: number; headers?: Record<string, string> } | 'hang';

export async function startWebhookReceiver(answer: Answer = () => 204, path = '/hooks'): Promise<WebhookReceiver> {
  const deliveries: ReceivedDelivery[] = [];
  const perId = new Map<string, number>();
  const hanging = new Set<http.ServerResponse>();
  const receiver: WebhookReceiver = {
    url: '',
    deliveries,
    secrets: [],
    accepted() {
      const seen = new Set<string>();
      return deliveries.filter((delivery) => {
        if (delivery.status < 200 || delivery.status > 299 || delivery.verifiedWith.length === 0 || seen.has(delivery.webhookId))
          return false;
        seen.add(delivery.webhookId);
        return true;
      });
    },
    async close() {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = {
        'webhook-id': String(request.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(request.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(request.headers['webhook-signature'] ?? ''),
      };
      const verifiedWith = receiver.secrets.flatMap((secret, index) => {
        try {
          new Webhook(secret).verify(body, headers);
          return [index];
        } catch {
          return [];
        }
      });
      const attemptOfId = (perId.get(headers['webhook-id']) ?? 0) + 1;
      perId.set(headers['webhook-id'], attemptOfId);
      const decided = answer({ webhookId: headers['webhook-id'], attemptOfId, index: deliveries.length });
      const record = (status: number) =>
        deliveries.push({
          webhookId: headers['webhook-id'],
          timestamp: headers['webhook-timestamp'],
          signature: headers['webhook-signature'],
          body,
          event: JSON.parse(body) as ReceivedDelivery['event'],
          verifiedWith,
          status,
          receivedAt: Date.now(),
        });
      if (decided === 'hang') {
        record(0);
        hanging.add(response);
        return;
      }
      const { status, headers: extra = {} } = typeof decided === 'number' ? { status: decided } : decided;
      record(status);
      response.writeHead(status, extra).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (receiver as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return receiver;
}

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Environment for a service whose webhooks reach a loopback receiver over http, with a short retry schedule. */
export const FAST_WEBHOOKS_ENV: Record<string, string> = {
  ROOMGATE_WEBHOOK_ALLOW_HTTP: '1',
  ROOMGATE_WEBHOOK_ALLOW_ADDRESSES: '127.0.0.1',
  ROOMGATE_WEBHOOK_RETRY_BASE: '20ms',
  ROOMGATE_WEBHOOK_RETRY_MAX_DELAY: '100ms',
  ROOMGATE_WEBHOOK_POLL: '50ms',
  ROOMGATE_WEBHOOK_TIMEOUT: '2s',
};
