/** Delivery as Twilio does it: retries on a refused connection, one token across attempts, overrides. */
import http from 'node:http';
import twilio from 'twilio';
import { afterEach, describe, expect, it } from 'vitest';
import { CallbackSender } from './callback-sender.js';
import { startCallbackReceiver, unusedPort, type CallbackReceiver } from './callback-receiver.js';
import { createSandboxCredentials } from './sandbox-credentials.js';
import { startSandbox, type Sandbox } from './sandbox-server.js';

const credentials = createSandboxCredentials();
const params = (event: string): [string, string][] => [
  ['AccountSid', credentials.accountSid],
  ['StatusCallbackEvent', event],
  ['Timestamp', '2026-01-01T00:00:00.000Z'],
];

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('callback delivery', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it('retries a refused connection once, with the same idempotency token, and delivers exactly once', async () => {
    const port = await unusedPort();
    const sandbox: Sandbox = await startSandbox({ ...credentials, callbackRetryDelayMs: 400 });
    cleanup.push(() => sandbox.close());
    const callback = `http://127.0.0.1:${port}/webhooks/twilio/video`;

    sandbox.state.createRoom({ uniqueName: 'retry-me', statusCallback: callback });
    // The first attempt finds nobody listening; the receiver starts before the retry.
    await until(() => sandbox.callbackLog.length === 1, 'the first attempt');
    expect(sandbox.callbackLog[0]).toMatchObject({ attempt: 1, error: 'ECONNREFUSED', event: 'room-created' });
    const receiver: CallbackReceiver = await startCallbackReceiver({ port });
    cleanup.push(() => receiver.close());
    await sandbox.idle();

    expect(receiver.received).toHaveLength(1);
    const [first, second] = sandbox.callbackLog;
    expect(sandbox.callbackLog).toHaveLength(2);
    expect(second).toMatchObject({ url: callback, event: 'room-created', attempt: 2, status: 204 });
    expect(second!.idempotencyToken).toBe(first!.idempotencyToken);
    expect(receiver.received[0]!.idempotencyToken).toBe(first!.idempotencyToken);
    const delivered = receiver.received[0]!;
    expect(twilio.validateRequest(credentials.authToken, delivered.signature!, delivered.url, delivered.values)).toBe(true);
  });

  it('gives up after the retries allowed, recording each attempt', async () => {
    const port = await unusedPort();
    const sender = new CallbackSender({ authToken: credentials.authToken, retries: 2, retryDelayMs: 10 });
    cleanup.push(() => sender.close());
    sender.send(`http://127.0.0.1:${port}/cb`, 'POST', params('room-created'));
    await sender.idle();
    expect(sender.log.map((a) => [a.attempt, a.error])).toEqual([
      [1, 'ECONNREFUSED'],
      [2, 'ECONNREFUSED'],
      [3, 'ECONNREFUSED'],
    ]);
  });

  it('retries a 5xx answer (Roomgate answers 503 when it wants a retry), not a 4xx', async () => {
    const receiver = await startCallbackReceiver({ status: 503 });
    cleanup.push(() => receiver.close());
    const sender = new CallbackSender({ authToken: credentials.authToken, retryDelayMs: 10 });
    cleanup.push(() => sender.close());
    sender.send(`${receiver.url}/a`, 'POST', params('room-created'));
    await sender.idle();
    receiver.answerWith(403);
    sender.send(`${receiver.url}/b`, 'POST', params('room-ended'));
    await sender.idle();
    expect(sender.log.map((a) => [a.event, a.attempt, a.status])).toEqual([
      ['room-created', 1, 503],
      ['room-created', 2, 503],
      ['room-ended', 1, 403],
    ]);
  });

  it('follows the URL fragment overrides, and neither sends nor signs the fragment', async () => {
    const receiver = await startCallbackReceiver({ status: 500 });
    cleanup.push(() => receiver.close());
    const sender = new CallbackSender({ authToken: credentials.authToken, retryDelayMs: 5 });
    cleanup.push(() => sender.close());
    sender.send(`${receiver.url}/cb?x=1#rc=3&rp=5xx`, 'POST', params('room-created'));
    sender.send(`${receiver.url}/cb2#rc=2&rp=ct`, 'POST', params('room-ended'));
    await sender.idle();
    // Different URLs are delivered in parallel: count per URL.
    const urls = receiver.received.map((c) => c.url);
    expect(urls.filter((url) => url === `${receiver.url}/cb?x=1`)).toHaveLength(4);
    expect(urls.filter((url) => url === `${receiver.url}/cb2`)).toHaveLength(1);
    expect(urls).toHaveLength(5);
    for (const c of receiver.received) expect(twilio.validateRequest(credentials.authToken, c.signature!, c.url, c.values)).toBe(true);
  });

  it('stops waiting for a receiver that never answers after the read timeout (rt)', async () => {
    const silent = http.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          silent.close(() => resolve());
          silent.closeAllConnections();
        }),
    );
    const { port } = silent.address() as { port: number };
    const sender = new CallbackSender({ authToken: credentials.authToken });
    cleanup.push(() => sender.close());
    const started = Date.now();
    sender.send(`http://127.0.0.1:${port}/cb#rt=200&rc=0`, 'POST', params('room-created'));
    await sender.idle();
    expect(sender.log).toEqual([expect.objectContaining({ attempt: 1, error: 'read timeout after 200 ms' })]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('keeps one URL’s callbacks in order while the first is being retried', async () => {
    const port = await unusedPort();
    const sender = new CallbackSender({ authToken: credentials.authToken, retryDelayMs: 300 });
    cleanup.push(() => sender.close());
    for (const event of ['room-created', 'participant-connected', 'room-ended'])
      sender.send(`http://127.0.0.1:${port}/cb`, 'POST', params(event));
    await until(() => sender.log.length === 1, 'the first attempt');
    const receiver = await startCallbackReceiver({ port });
    cleanup.push(() => receiver.close());
    await sender.idle();
    expect(receiver.received.map((c) => c.values.StatusCallbackEvent)).toEqual(['room-created', 'participant-connected', 'room-ended']);
  });
});
