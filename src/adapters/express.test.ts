/**
 * The Express guard on a real Express app on 127.0.0.1, with real HTTP requests signed by the
 * official `twilio` package. http.request (not fetch) so the path goes out byte for byte — a
 * `'` in the query stays a `'`, as Twilio sends it.
 */
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twilioWebhookGuard } from './express.js';

const TOKEN = 'express-token';
const PREVIOUS = 'previous-token';
const secrets = [
  { id: 'primary', algorithm: 'sha1' as const, secret: TOKEN },
  { id: 'previous', algorithm: 'sha1' as const, secret: PREVIOUS },
];
const PARAMS = {
  AccountSid: 'AC123',
  RoomSid: 'RM1',
  StatusCallbackEvent: 'participant-connected',
  ParticipantIdentity: 'pt-1',
  Body: 'x + y é',
  Timestamp: new Date().toISOString(),
};
const form = new URLSearchParams(PARAMS).toString();
const failures: string[] = [];

let server: ReturnType<express.Express['listen']>;
let port: number;

beforeAll(async () => {
  const app = express();
  const raw = express.raw({ type: ['application/x-www-form-urlencoded', 'application/json'] });
  const echo: express.RequestHandler = (req, res) => void res.json(req.twilio);
  app.post('/raw/cb', raw, twilioWebhookGuard({ secrets, onFailure: (reason) => failures.push(reason) }), echo);
  app.post('/self/cb', twilioWebhookGuard({ secrets }), echo);
  app.post('/parsed/cb', express.urlencoded({ extended: false }), twilioWebhookGuard({ secrets }), echo);
  app.post('/proxied/cb', raw, twilioWebhookGuard({ secrets, trustProxy: 'loopback' }), echo);
  app.post('/untrusted/cb', raw, twilioWebhookGuard({ secrets, trustProxy: '10.0.0.0/8' }), echo);
  app.post('/small/cb', twilioWebhookGuard({ secrets, maxBodyBytes: 16 }), echo);
  app.post(
    '/window/cb',
    raw,
    twilioWebhookGuard({ secrets, replayWindow: { maxAgeMs: 60_000 }, onFailure: (r) => failures.push(r) }),
    echo,
  );
  app.post('/nowindow/cb', raw, twilioWebhookGuard({ secrets, replayWindow: false }), echo);
  // Mounted under a router behind a proxy that strips /telehealth: the public URL restores it.
  const router = express.Router();
  router.post('/cb', raw, twilioWebhookGuard({ secrets, publicUrl: 'https://Api.Example.com:8443/telehealth' }), echo);
  app.use('/mounted', router);
  app.use(((error, _req, res, _next) => void res.status(500).send(String(error.message))) as express.ErrorRequestHandler);
  await new Promise<void>((resolve) => {
    server = app.listen(0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function post(path: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const sign = (token: string, url: string, params: Record<string, string> = PARAMS) => twilio.getExpectedTwilioSignature(token, url, params);

describe('twilioWebhookGuard (Express)', () => {
  it("accepts a callback signed by twilio over the URL as sent, ' and + in the query included", async () => {
    const path = "/raw/cb?tenant=o'brien&x=a+b";
    const url = `http://127.0.0.1:${port}${path}`;
    const response = await post(path, { 'x-twilio-signature': sign(TOKEN, url) }, form);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ params: Object.entries(PARAMS), secretId: 'primary' });
  });

  it('accepts the previous token and reports it', async () => {
    const response = await post('/raw/cb', { 'x-twilio-signature': sign(PREVIOUS, `http://127.0.0.1:${port}/raw/cb`) }, form);
    expect(JSON.parse(response.body)).toMatchObject({ secretId: 'previous' });
  });

  it('refuses a forged or missing signature with a generic 403', async () => {
    const forged = await post('/raw/cb', { 'x-twilio-signature': sign('wrong', `http://127.0.0.1:${port}/raw/cb`) }, form);
    expect(forged).toEqual({ status: 403, body: 'Forbidden' });
    const missing = await post('/raw/cb', {}, form);
    expect(missing).toEqual({ status: 403, body: 'Forbidden' });
    expect(failures).toEqual(['signature-mismatch', 'missing-signature']);
    // A body changed after signing.
    const tampered = await post(
      '/raw/cb',
      { 'x-twilio-signature': sign(TOKEN, `http://127.0.0.1:${port}/raw/cb`) },
      form.replace('pt-1', 'pt-2'),
    );
    expect(tampered.status).toBe(403);
  });

  it('reads the raw body itself when no parser ran; 413 beyond its limit', async () => {
    const response = await post('/self/cb', { 'x-twilio-signature': sign(TOKEN, `http://127.0.0.1:${port}/self/cb`) }, form);
    expect(response.status).toBe(200);
    expect((await post('/small/cb', { 'x-twilio-signature': sign(TOKEN, `http://127.0.0.1:${port}/small/cb`) }, form)).status).toBe(413);
  });

  it('refuses to guess after express.urlencoded consumed the body (500, says why)', async () => {
    const response = await post('/parsed/cb', { 'x-twilio-signature': sign(TOKEN, `http://127.0.0.1:${port}/parsed/cb`) }, form);
    expect(response.status).toBe(500);
    expect(response.body).toContain('express.raw');
  });

  it('believes X-Forwarded-Proto/-Host from a trusted proxy only', async () => {
    const publicUrl = 'https://hooks.example.com/proxied/cb';
    const headers = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'hooks.example.com', 'x-twilio-signature': sign(TOKEN, publicUrl) };
    expect((await post('/proxied/cb', headers, form)).status).toBe(200);
    const untrusted = { ...headers, 'x-twilio-signature': sign(TOKEN, 'https://hooks.example.com/untrusted/cb') };
    expect((await post('/untrusted/cb', untrusted, form)).status).toBe(403);
  });

  it('rebuilds the URL from publicUrl (host case, port, stripped prefix) under a mounted router', async () => {
    const signedUrl = 'https://Api.Example.com:8443/telehealth/mounted/cb?a=1';
    expect((await post('/mounted/cb?a=1', { 'x-twilio-signature': sign(TOKEN, signedUrl) }, form)).status).toBe(200);
  });

  it('accepts a JSON body signed through bodySHA256', async () => {
    const body = `{"StatusCallbackEvent":"room-created","RoomSid":"RM1","Timestamp":"${new Date().toISOString()}"}`;
    const path = `/raw/cb?bodySHA256=${twilio.getExpectedBodyHash(body)}`;
    const signature = twilio.getExpectedTwilioSignature(TOKEN, `http://127.0.0.1:${port}${path}`, {});
    const response = await post(path, { 'content-type': 'application/json', 'x-twilio-signature': signature }, body);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ params: [], secretId: 'primary', json: JSON.parse(body) });
    expect(
      (await post(path, { 'content-type': 'application/json', 'x-twilio-signature': signature }, body.replace('RM1', 'RM2'))).status,
    ).toBe(403);
  });

  it('refuses a genuine callback outside the replay window (on by default), configurable, or off', async () => {
    const send = (path: string, minutesAgo: number) => {
      const params = { ...PARAMS, Timestamp: new Date(Date.now() - minutesAgo * 60_000).toISOString() };
      const url = `http://127.0.0.1:${port}${path}`;
      return post(path, { 'x-twilio-signature': sign(TOKEN, url, params) }, new URLSearchParams(params).toString());
    };
    failures.length = 0;
    expect(await send('/raw/cb', 16)).toEqual({ status: 403, body: 'Forbidden' });
    expect(await send('/raw/cb', -6)).toEqual({ status: 403, body: 'Forbidden' });
    expect((await send('/raw/cb', 14)).status).toBe(200);
    expect((await send('/window/cb', 2)).status).toBe(403);
    expect((await send('/window/cb', 0.5)).status).toBe(200);
    expect((await send('/nowindow/cb', 600)).status).toBe(200);
    expect(failures).toEqual(['replay-too-old', 'timestamp-in-future', 'replay-too-old']);
  });
});
