/**
 * The alert POST wired into the app: a burst of forged callbacks through the webhook endpoint
 * reaches a real local receiver as one signed POST, and neither the alert secret nor the URL
 * reaches the logs.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../support/engines.js';
import { startTestService, type TestService } from '../support/test-service.js';

const SECRET = 'ops-alert-secret-fedcba9876543210';

for (const engine of enginesUnderTest()) {
  describe(`alert POST from the app on ${engine.name}`, () => {
    let receiver: Server;
    let service: TestService;
    const received: { headers: IncomingMessage['headers']; body: string }[] = [];

    beforeAll(async () => {
      receiver = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
          response.writeHead(204).end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts/secret-path-token`;
      service = await startTestService(engine, {
        env: { ROOMGATE_ALERT_URL: url, ROOMGATE_ALERT_SECRET: SECRET, ROOMGATE_ALERT_REFUSALS: '3' },
      });
    });
    afterAll(async () => {
      await service?.close();
      receiver.closeAllConnections();
      await new Promise((resolve) => receiver.close(resolve));
    });

    it('sends one signed POST for a burst of refused callbacks', async () => {
      for (let i = 0; i < 10; i++) {
        const response = await service.app.inject({
          method: 'POST',
          url: '/webhooks/twilio/video',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'bm90LWEtc2lnbmF0dXJlLWF0LWFsbA==' },
          payload: 'AccountSid=AC00&StatusCallbackEvent=room-ended',
        });
        expect(response.statusCode).toBe(403);
      }
      const deadline = Date.now() + 5000;
      while (received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      await new Promise((resolve) => setTimeout(resolve, 100)); // a second POST would arrive by now
      expect(received).toHaveLength(1);
      const [post] = received;
      const signed = `${String(post!.headers['webhook-id'])}.${String(post!.headers['webhook-timestamp'])}.${post!.body}`;
      expect(post!.headers['webhook-signature']).toBe(`v1,${createHmac('sha256', SECRET).update(signed).digest('base64')}`);
      expect(JSON.parse(post!.body)).toMatchObject({ type: 'security.alert', data: { kind: 'callback-refusals', count: 3 } });
      const metrics = await service.metricsText();
      expect(metrics).toMatch(/^roomgate_alert_deliveries_total\{outcome="delivered"\} 1$/m);
      await service.app.roomgate.drain();
      const logs = service.logs();
      for (const forbidden of [SECRET, 'secret-path-token', String(post!.headers['webhook-signature'])])
        expect(logs).not.toContain(forbidden);
    });
  });
}
