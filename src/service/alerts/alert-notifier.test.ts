/**
 * Alert POSTs against a real local HTTP receiver, with SecurityMonitor driven directly on an
 * injected clock: one signed POST per window for a burst of refusals, a quarantine-rate alert,
 * no retries, no storm, and neither the secret, the signatures nor the URL ever in the logs.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { SecurityMonitor } from '../security-monitor.js';
import { AlertNotifier, signStandardWebhook } from './alert-notifier.js';

const SECRET = 'alert-secret-0123456789abcdef';
const WINDOW_MS = 60_000;

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** Verifies as a Standard Webhooks receiver would, independently of the code under test. */
function verifies(secret: string, received: Received): boolean {
  const id = String(received.headers['webhook-id']);
  const timestamp = String(received.headers['webhook-timestamp']);
  const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${id}.${timestamp}.${received.body}`).digest();
  return String(received.headers['webhook-signature'])
    .split(' ')
    .some((entry) => {
      const [version, signature] = entry.split(',');
      const candidate = Buffer.from(signature ?? '', 'base64');
      return version === 'v1' && candidate.length === expected.length && timingSafeEqual(candidate, expected);
    });
}

describe('alert notifier', () => {
  let server: Server;
  let url: string;
  let received: Received[] = [];
  let respond: (response: ServerResponse) => void = (response) => response.writeHead(204).end();
  let now: Date;
  let metrics: Metrics;
  let lines: string[];
  let monitor: SecurityMonitor;
  let notifier: AlertNotifier;
  const signatures: string[] = [];

  const build = (options: { timeoutMs?: number; targetUrl?: string } = {}) => {
    lines = [];
    const logger = createLogger({
      level: 'debug',
      destination: new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    });
    metrics = createMetrics();
    notifier = new AlertNotifier({
      url: options.targetUrl ?? url,
      secret: SECRET,
      logger,
      metrics,
      clock: () => now,
      minIntervalMs: WINDOW_MS,
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
    monitor = new SecurityMonitor({
      logger,
      metrics,
      clock: () => now,
      sink: { record: async () => undefined },
      alertThreshold: 5,
      quarantineAlertThreshold: 3,
      windowMs: WINDOW_MS,
      onAlert: (alert) => notifier.notify(alert),
    });
  };
  const refuse = () => monitor.refuse({ reason: 'signature-mismatch', remoteAddress: '203.0.113.7', path: '/webhooks/twilio/video' });
  const quarantine = () =>
    monitor.quarantine({ reason: 'identity-not-issued', remoteAddress: '203.0.113.7', path: '/webhooks/twilio/video' });
  const counter = async (name: string, labels: string) => {
    const text = await metrics.registry.metrics();
    return Number(new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  };
  const settle = async () => {
    await notifier.drain();
    await monitor.drain();
    for (const entry of received) signatures.push(String(entry.headers['webhook-signature']));
  };

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
        respond(response);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    // The path carries a token, as many alert URLs do: it must never be logged either.
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/T0KEN-in-the-path-42`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    received = [];
    respond = (response) => response.writeHead(204).end();
    now = new Date('2030-01-01T10:00:00.000Z');
    build();
  });

  it('signs as Standard Webhooks does (the spec known-answer vector)', () => {
    expect(
      signStandardWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}'),
    ).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('sends exactly one signed POST per window when a burst of refusals crosses the threshold', async () => {
    for (let i = 0; i < 50; i++) {
      refuse();
      now = new Date(now.getTime() + 500);
    }
    await settle();
    expect(received).toHaveLength(1);
    const [first] = received;
    expect(verifies(SECRET, first!)).toBe(true);
    expect(first!.headers['content-type']).toBe('application/json');
    expect(Number(first!.headers['webhook-timestamp'])).toBe(Date.parse('2030-01-01T10:00:02.000Z') / 1000);
    expect(JSON.parse(first!.body)).toEqual({
      type: 'security.alert',
      timestamp: '2030-01-01T10:00:02.000Z',
      data: { kind: 'callback-refusals', windowStart: '2030-01-01T10:00:00.000Z', count: 5, byReason: { 'signature-mismatch': 5 } },
    });
    // A tampered body no longer verifies.
    expect(verifies(SECRET, { ...first!, body: first!.body.replace('"count":5', '"count":4') })).toBe(false);

    // The next window: one more.
    now = new Date('2030-01-01T10:01:30.000Z');
    for (let i = 0; i < 20; i++) refuse();
    await settle();
    expect(received).toHaveLength(2);
    expect(verifies(SECRET, received[1]!)).toBe(true);
    expect(received[1]!.headers['webhook-id']).not.toBe(received[0]!.headers['webhook-id']);
    expect(await counter('roomgate_alert_deliveries_total', 'outcome="delivered"')).toBe(2);
    expect(await counter('roomgate_alerts_total', 'kind="callback-refusals"')).toBe(2);
  });

  it('raises one quarantine-rate alert when quarantines in a window exceed the threshold; single quarantines at most once per window', async () => {
    for (let i = 0; i < 10; i++) quarantine();
    await settle();
    const kinds = received.map((entry) => (JSON.parse(entry.body) as { data: { kind: string } }).data.kind);
    expect(kinds.sort()).toEqual(['quarantine', 'quarantine-rate']);
    const rate = received
      .map((entry) => JSON.parse(entry.body) as { data: { kind: string; count: number } })
      .find((entry) => entry.data.kind === 'quarantine-rate')!;
    expect(rate.data.count).toBe(4); // the first count above the threshold of 3
    expect(received.every((entry) => verifies(SECRET, entry))).toBe(true);
    expect(await counter('roomgate_alerts_total', 'kind="quarantine-rate"')).toBe(1);
    expect(await counter('roomgate_alerts_total', 'kind="quarantine"')).toBe(10);
    expect(await counter('roomgate_alert_deliveries_total', 'outcome="suppressed"')).toBe(9);
  });

  it('does not retry a refused POST, and counts it as failed', async () => {
    respond = (response) => response.writeHead(500).end();
    for (let i = 0; i < 10; i++) refuse();
    await settle();
    expect(received).toHaveLength(1);
    expect(await counter('roomgate_alert_deliveries_total', 'outcome="failed"')).toBe(1);
    expect(lines.join('')).toContain('alert POST refused by the receiver');
  });

  it('times out quickly, keeps one POST of a kind in flight, and survives an unreachable receiver', async () => {
    build({ timeoutMs: 200 });
    const hung: ServerResponse[] = [];
    respond = (response) => hung.push(response);
    notifier.notify({ kind: 'callback-refusals', windowStart: now.toISOString(), count: 5, byReason: {} });
    now = new Date(now.getTime() + 2 * WINDOW_MS); // a later window, but the first is still in flight
    notifier.notify({ kind: 'callback-refusals', windowStart: now.toISOString(), count: 5, byReason: {} });
    const started = Date.now();
    await settle();
    expect(Date.now() - started).toBeLessThan(2000);
    for (const response of hung) response.end();
    expect(received).toHaveLength(1);
    expect(await counter('roomgate_alert_deliveries_total', 'outcome="failed"')).toBe(1);
    expect(await counter('roomgate_alert_deliveries_total', 'outcome="suppressed"')).toBe(1);

    // Nothing listens there.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/hooks/T0KEN-in-the-path-42`;
    await new Promise((resolve) => closed.close(resolve));
    build({ targetUrl: deadUrl });
    notifier.notify({ kind: 'quarantine', windowStart: now.toISOString(), count: 1, byReason: {} });
    await settle();
    expect(await counter('roomgate_alert_deliveries_total', 'outcome="failed"')).toBe(1);
    expect(lines.join('')).toContain('alert POST failed');
  });

  it('never logs the secret, a signature or the URL', async () => {
    for (let i = 0; i < 10; i++) refuse();
    for (let i = 0; i < 10; i++) quarantine();
    await settle();
    const logs = lines.join('');
    expect(logs).toContain('alert POST delivered');
    expect(signatures.length).toBeGreaterThan(0);
    for (const forbidden of [SECRET, 'T0KEN-in-the-path-42', ...signatures, ...signatures.map((signature) => signature.slice(3))]) {
      expect(logs).not.toContain(forbidden);
    }
  });
});

describe('alert configuration', () => {
  const base = { ROOMGATE_DATABASE_URL: 'sqlite::memory:' };
  it('is off unless both ROOMGATE_ALERT_URL and ROOMGATE_ALERT_SECRET are set', () => {
    expect(loadConfig(base).alertWebhook).toBeUndefined();
    expect(loadConfig(base).alertQuarantineThreshold).toBe(5);
    expect(
      loadConfig({
        ...base,
        ROOMGATE_ALERT_URL: 'https://alerts.example/h',
        ROOMGATE_ALERT_SECRET: SECRET,
        ROOMGATE_ALERT_QUARANTINES: '9',
      }),
    ).toMatchObject({
      alertWebhook: { url: 'https://alerts.example/h', secret: SECRET },
      alertQuarantineThreshold: 9,
    });
  });
  it('names the variable on a bad value, and never echoes the secret', () => {
    const attempt = (env: Record<string, string>) => {
      try {
        loadConfig({ ...base, ...env });
        return 'accepted';
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
    };
    expect(attempt({ ROOMGATE_ALERT_URL: 'https://alerts.example/h' })).toMatch(/^ROOMGATE_ALERT_SECRET: required/);
    expect(attempt({ ROOMGATE_ALERT_SECRET: SECRET })).toMatch(/^ROOMGATE_ALERT_URL: required/);
    expect(attempt({ ROOMGATE_ALERT_URL: 'ftp://alerts.example/h', ROOMGATE_ALERT_SECRET: SECRET })).toMatch(
      /^ROOMGATE_ALERT_URL: must be an http/,
    );
    const short = attempt({ ROOMGATE_ALERT_URL: 'https://alerts.example/h', ROOMGATE_ALERT_SECRET: 'short-secret-15' });
    expect(short).toMatch(/^ROOMGATE_ALERT_SECRET: must be at least 16 characters$/);
    expect(short).not.toContain('short-secret');
    expect(attempt({ ROOMGATE_ALERT_QUARANTINES: '0' })).toMatch(/^ROOMGATE_ALERT_QUARANTINES: must be an integer/);
  });
});
