/**
 * The local webhook receiver (`roomgate webhooks listen`, the demo's): a delivery signed by the
 * reference implementation verifies and gets 204; a forged or stale one gets 401 and is shown
 * as not verified.
 */
import { Webhook } from 'standardwebhooks';
import { afterAll, describe, expect, it } from 'vitest';
import { newWebhookSecret } from '../core/outbound/standard-webhook-signature.js';
import { startWebhookListener, type ListenedDelivery, type WebhookListener } from './webhook-listener.js';

describe('webhook listener', () => {
  let listener: WebhookListener | undefined;
  afterAll(async () => listener?.close());

  it('verifies Standard Webhooks deliveries and answers 204, else 401', async () => {
    const secret = newWebhookSecret();
    const seen: ListenedDelivery[] = [];
    listener = await startWebhookListener({ secrets: [secret], onDelivery: (delivery) => seen.push(delivery) });
    const body = JSON.stringify({ id: 'evt_1', sequence: 7, type: 'participant.joined', consultationId: 'con_1', data: {} });
    const send = async (signingSecret: string, at: Date) => {
      const headers = {
        'webhook-id': 'evt_1',
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': new Webhook(signingSecret).sign('evt_1', at, body),
        'content-type': 'application/json',
      };
      return (await fetch(listener!.url, { method: 'POST', headers, body })).status;
    };
    expect(await send(secret, new Date())).toBe(204);
    expect(await send(newWebhookSecret(), new Date())).toBe(401);
    expect(await send(secret, new Date(Date.now() - 600_000))).toBe(401);
    expect(seen.map((delivery) => delivery.verified)).toEqual([true, false, false]);
    expect(seen[0]).toMatchObject({ webhookId: 'evt_1', type: 'participant.joined', sequence: 7, consultationId: 'con_1' });
  });
});
