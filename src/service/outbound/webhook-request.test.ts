/**
 * One webhook POST against real local receivers: a host name that resolves to a refused address
 * is refused at connect time (the receiver sees nothing); the allow-list opens it; a redirect is
 * an answer, never followed; a large body is read only to the limit; a silent receiver times
 * out; Retry-After is read; the receiver verifies the signature with the standardwebhooks package.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { outboundPolicy } from '../../core/outbound/outbound-address-policy.js';
import { newWebhookSecret, signWebhook } from '../../core/outbound/standard-webhook-signature.js';
import { sendWebhook } from './webhook-request.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function receiver(handle: (request: IncomingMessage, response: ServerResponse, body: string) => void) {
  const requests: { headers: IncomingMessage['headers']; body: string }[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      requests.push({ headers: request.headers, body });
      handle(request, response, body);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, requests };
}

const loopbackAllowed = outboundPolicy({ allowHttp: true, allowList: '127.0.0.1/32, ::1/128' });

describe('sending one webhook', () => {
  it('refuses a host name that resolves to loopback at connect time, and reaches it once allow-listed; the signature verifies', async () => {
    const target = await receiver((_request, response) => response.writeHead(204).end());
    const refused = await sendWebhook({
      url: `http://localhost:${target.port}/hook`,
      headers: {},
      body: '{}',
      policy: outboundPolicy({ allowHttp: true }),
    });
    expect(refused).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/^refused address (127\.0\.0\.1|::1)$/) });
    expect(target.requests).toHaveLength(0);

    const secret = newWebhookSecret();
    const body = JSON.stringify({ type: 'consultation.status', data: { from: 'waiting', to: 'in-progress' } });
    const headers = signWebhook('evt_1', Math.floor(Date.now() / 1000), body, [secret]);
    const sent = await sendWebhook({ url: `http://127.0.0.1:${target.port}/hook`, headers: { ...headers }, body, policy: loopbackAllowed });
    expect(sent).toMatchObject({ kind: 'answered', status: 204 });
    expect(target.requests).toHaveLength(1);
    const received = target.requests[0]!;
    expect(new Webhook(secret).verify(received.body, received.headers as Record<string, string>)).toEqual(JSON.parse(body));
  });

  it('never follows a redirect, reads a large answer only to the limit, and reads Retry-After', async () => {
    const elsewhere = await receiver((_request, response) => response.writeHead(200).end());
    const redirecting = await receiver((_request, response) =>
      response.writeHead(302, { location: `http://127.0.0.1:${elsewhere.port}/` }).end(),
    );
    const redirected = await sendWebhook({
      url: `http://127.0.0.1:${redirecting.port}/`,
      headers: {},
      body: '{}',
      policy: loopbackAllowed,
    });
    expect(redirected).toMatchObject({ kind: 'answered', status: 302 });
    expect(elsewhere.requests).toHaveLength(0);

    const chatty = await receiver((_request, response) => {
      response.writeHead(200);
      response.end('x'.repeat(1_000_000));
    });
    const answered = await sendWebhook({
      url: `http://127.0.0.1:${chatty.port}/`,
      headers: {},
      body: '{}',
      policy: loopbackAllowed,
      maxResponseBytes: 1024,
    });
    expect(answered.kind).toBe('answered');
    if (answered.kind === 'answered') expect(answered.body.length).toBeLessThanOrEqual(1024);

    const busy = await receiver((_request, response) => response.writeHead(429, { 'retry-after': '120' }).end());
    expect(await sendWebhook({ url: `http://127.0.0.1:${busy.port}/`, headers: {}, body: '{}', policy: loopbackAllowed })).toMatchObject({
      kind: 'answered',
      status: 429,
      retryAfterMs: 120_000,
    });
  });

  it('gives up on a receiver that does not answer, and refuses literal private addresses and plain http before connecting', async () => {
    const silent = await receiver(() => undefined);
    expect(
      await sendWebhook({ url: `http://127.0.0.1:${silent.port}/`, headers: {}, body: '{}', policy: loopbackAllowed, timeoutMs: 200 }),
    ).toMatchObject({ kind: 'failed', reason: 'no answer within 200 ms' });
    for (const url of ['https://169.254.169.254/', 'https://[::1]/', 'https://2130706433/', 'http://93.184.216.34/']) {
      expect(await sendWebhook({ url, headers: {}, body: '{}', policy: outboundPolicy() }), url).toMatchObject({ kind: 'refused' });
    }
  });
});
