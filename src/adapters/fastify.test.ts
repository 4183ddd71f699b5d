/**
 * The Fastify plugin on a real Fastify app on 127.0.0.1, with real HTTP requests signed by the
 * official `twilio` package (http.request, so the path goes out byte for byte).
 */
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twilioWebhook } from './fastify.js';
import type { WebhookFailureReason } from './replay-window.js';

const TOKEN = 'fastify-token';
const secrets = [{ id: 'primary', algorithm: 'sha1' as const, secret: TOKEN }];
const PARAMS = { AccountSid: 'AC123', RoomSid: 'RM1', StatusCallbackEvent: 'participant-connected', Body: 'x + y é' };
const failures: WebhookFailureReason[] = [];

let app: FastifyInstance;
let port: number;

beforeAll(async () => {
  app = Fastify();
  const echo = async (request: { twilio?: unknown }) => request.twilio;
  app.register(async (scope) => {
    await scope.register(twilioWebhook, { secrets, bodyLimit: 1024, onFailure: (reason) => failures.push(reason) });
    scope.post('/cb', echo);
  });
  app.register(async (scope) => {
    await scope.register(twilioWebhook, { secrets, replayWindow: false });
    scope.post('/nowindow/cb', echo);
  });
  app.register(async (scope) => {
    await scope.register(twilioWebhook, { secrets, publicUrl: 'https://Api.Example.com:8443/telehealth' });
    scope.post('/public/cb', echo);
  });
  app.register(async (scope) => {
    await scope.register(twilioWebhook, { secrets, trustProxy: 'loopback' });
    scope.post('/proxied/cb', echo);
  });
  // Outside the guarded scopes: Fastify's own JSON parser, no guard.
  app.post('/api/echo', async (request) => request.body);
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
});

afterAll(() => app.close());

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

const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

/** A callback signed over `signedUrl`, with its Timestamp `age` minutes old. */
function callback(signedUrl: string, age = 0, overrides: Record<string, string> = {}) {
  const params = { ...PARAMS, Timestamp: minutesAgo(age), ...overrides };
  return { params, form: new URLSearchParams(params).toString(), signature: twilio.getExpectedTwilioSignature(TOKEN, signedUrl, params) };
}

describe('twilioWebhook (Fastify plugin)', () => {
  it("accepts a callback signed by twilio over the URL as sent, ' and + in the query included", async () => {
    const path = "/cb?tenant=o'brien&x=a+b";
    const { params, form, signature } = callback(`http://127.0.0.1:${port}${path}`);
    const response = await post(path, { 'x-twilio-signature': signature }, form);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ params: Object.entries(params), secretId: 'primary' });
  });

  it('refuses missing, forged and tampered callbacks with a generic 403', async () => {
    failures.length = 0;
    const { form, signature } = callback(`http://127.0.0.1:${port}/cb`);
    expect(await post('/cb', {}, form)).toEqual({ status: 403, body: 'Forbidden' });
    const forged = twilio.getExpectedTwilioSignature('wrong', `http://127.0.0.1:${port}/cb`, Object.fromEntries(new URLSearchParams(form)));
    expect(await post('/cb', { 'x-twilio-signature': forged }, form)).toEqual({ status: 403, body: 'Forbidden' });
    expect((await post('/cb', { 'x-twilio-signature': signature }, form.replace('RM1', 'RM2'))).status).toBe(403);
    expect(failures).toEqual(['missing-signature', 'signature-mismatch', 'signature-mismatch']);
  });

  it('refuses a genuine callback outside the replay window by default; replayWindow: false turns it off', async () => {
    failures.length = 0;
    const url = `http://127.0.0.1:${port}/cb`;
    const old = callback(url, 16);
    expect(await post('/cb', { 'x-twilio-signature': old.signature }, old.form)).toEqual({ status: 403, body: 'Forbidden' });
    const future = callback(url, -6);
    expect((await post('/cb', { 'x-twilio-signature': future.signature }, future.form)).status).toBe(403);
    expect(failures).toEqual(['replay-too-old', 'timestamp-in-future']);
    const untimed = { ...PARAMS };
    const missing = twilio.getExpectedTwilioSignature(TOKEN, url, untimed);
    expect((await post('/cb', { 'x-twilio-signature': missing }, new URLSearchParams(untimed).toString())).status).toBe(403);
    expect(failures.at(-1)).toBe('missing-timestamp');
    const replayed = callback(`http://127.0.0.1:${port}/nowindow/cb`, 600);
    expect((await post('/nowindow/cb', { 'x-twilio-signature': replayed.signature }, replayed.form)).status).toBe(200);
  });

  it('keeps raw bytes for JSON too (bodySHA256); 413 above bodyLimit; 415 for other media types', async () => {
    const body = `{"StatusCallbackEvent":"room-created","Timestamp":"${minutesAgo(0)}"}`;
    const path = `/cb?bodySHA256=${twilio.getExpectedBodyHash(body)}`;
    const signature = twilio.getExpectedTwilioSignature(TOKEN, `http://127.0.0.1:${port}${path}`, {});
    const json = { 'content-type': 'application/json', 'x-twilio-signature': signature };
    const accepted = await post(path, json, body);
    expect(accepted.status).toBe(200);
    expect(JSON.parse(accepted.body)).toEqual({ params: [], secretId: 'primary', json: JSON.parse(body) });
    expect((await post(path, json, body.replace('created', 'ended'))).status).toBe(403);
    const { signature: big } = callback(`http://127.0.0.1:${port}/cb`);
    expect((await post('/cb', { 'x-twilio-signature': big }, `a=${'x'.repeat(2048)}`)).status).toBe(413);
    expect((await post('/cb', { 'x-twilio-signature': big, 'content-type': 'text/plain' }, 'hello')).status).toBe(415);
  });

  it('rebuilds the URL from publicUrl, and from forwarded headers of a trusted proxy', async () => {
    const viaPublic = callback('https://Api.Example.com:8443/telehealth/public/cb?a=1');
    expect((await post('/public/cb?a=1', { 'x-twilio-signature': viaPublic.signature }, viaPublic.form)).status).toBe(200);
    const viaProxy = callback('https://hooks.example.com/proxied/cb');
    const headers = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'hooks.example.com', 'x-twilio-signature': viaProxy.signature };
    expect((await post('/proxied/cb', headers, viaProxy.form)).status).toBe(200);
    // The same headers on a scope that trusts no proxy: the connection's URL is used, and fails.
    const untrusted = { ...headers, 'x-twilio-signature': callback('https://hooks.example.com/cb').signature };
    expect((await post('/cb', untrusted, viaProxy.form)).status).toBe(403);
  });

  it('leaves the routes outside its scope alone: their parsers, no guard', async () => {
    const response = await post('/api/echo', { 'content-type': 'application/json' }, '{"a":1}');
    expect(response).toEqual({ status: 200, body: '{"a":1}' });
  });

  it('fails at registration on a bad option', async () => {
    const broken = Fastify();
    broken.register(twilioWebhook, { secrets, replayWindow: { maxAgeMs: -1 } });
    await expect(broken.ready()).rejects.toThrow(/replayWindow\.maxAgeMs/);
    const badProxy = Fastify();
    badProxy.register(twilioWebhook, { secrets, trustProxy: '10.0.0.0/33' });
    await expect(badProxy.ready()).rejects.toThrow(/10\.0\.0\.0\/33/);
  });
});
