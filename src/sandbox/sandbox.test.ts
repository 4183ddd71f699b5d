import http from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from './sandbox-server.js';
import { createSandboxCredentials } from './twilio-ids.js';

interface Captured {
  url: string;
  signature: string;
  token: string | undefined;
  params: Record<string, string>;
}

/** A real HTTP receiver standing in for Roomgate. */
async function startReceiver(status = 204) {
  const captured: Captured[] = [];
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      captured.push({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${request.url}`,
        signature: String(request.headers['x-twilio-signature']),
        token: request.headers['i-twilio-idempotency-token'] as string | undefined,
        params: Object.fromEntries(new URLSearchParams(body)),
      });
      response.statusCode = status;
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/twilio/video?tenant=t1`;
  return { url, captured, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('sandbox Twilio', () => {
  const credentials = createSandboxCredentials();
  let sandbox: Sandbox;
  const rest = (method: string, path: string, form?: Record<string, string>, auth = `${credentials.apiKeySid}:${credentials.apiKeySecret}`) =>
    fetch(`${sandbox.url}${path}`, {
      method,
      headers: { authorization: `Basic ${Buffer.from(auth).toString('base64')}`, ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });

  beforeAll(async () => {
    sandbox = await startSandbox({ ...credentials, callbackRetryDelayMs: 50 });
  });
  afterAll(() => sandbox.close());

  it('refuses REST calls without valid Basic auth, with a Twilio error body', async () => {
    const response = await rest('GET', '/v1/Rooms/RMx', undefined, `${credentials.apiKeySid}:wrong`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: 20003, status: 401 });
    expect((await rest('GET', '/v1/Rooms/RM00000000000000000000000000000000')).status).toBe(404);
  });

  it('signs every callback of a full consultation as Twilio does (verified by the official twilio package)', async () => {
    const receiver = await startReceiver();
    try {
      const created = await rest('POST', '/v1/Rooms', { UniqueName: 'rg-test-1', StatusCallback: receiver.url, RecordParticipantsOnConnect: 'true', Type: 'group' });
      expect(created.status).toBe(201);
      const room = (await created.json()) as { sid: string; unique_name: string; status: string };
      expect(room).toMatchObject({ unique_name: 'rg-test-1', status: 'in-progress' });
      expect(room.sid).toMatch(/^RM[0-9a-f]{32}$/);
      expect((await rest('POST', '/v1/Rooms', { UniqueName: 'rg-test-1' })).status).toBe(400);

      sandbox.connect(room.sid, 'clin-1');
      sandbox.connect('rg-test-1', 'pt-1');
      sandbox.disconnect(room.sid, 'pt-1');
      const completed = await rest('POST', `/v1/Rooms/${room.sid}`, { Status: 'completed' });
      expect(await completed.json()).toMatchObject({ status: 'completed' });
      const composition = (await (await rest('POST', '/v1/Compositions', { RoomSid: room.sid, StatusCallback: receiver.url })).json()) as { sid: string };
      expect(composition.sid).toMatch(/^CJ[0-9a-f]{32}$/);
      expect(await (await rest('GET', `/v1/Compositions?RoomSid=${room.sid}`)).json()).toMatchObject({ compositions: [{ sid: composition.sid }] });
      await sandbox.idle();

      for (const callback of receiver.captured) {
        expect(twilio.validateRequest(credentials.authToken, callback.signature, callback.url, callback.params)).toBe(true);
        expect(callback.params.AccountSid).toBe(credentials.accountSid);
        expect(Date.parse(callback.params.Timestamp!)).not.toBeNaN();
        expect(callback.token).toBeTruthy();
      }
      const events = receiver.captured.map((callback) => callback.params.StatusCallbackEvent);
      expect(events.filter((event) => event === 'participant-connected')).toHaveLength(2);
      expect(events.filter((event) => event === 'recording-started')).toHaveLength(4);
      expect(events.filter((event) => event === 'recording-completed')).toHaveLength(4);
      expect(events.slice(-4)).toEqual(['composition-enqueued', 'composition-started', 'composition-progress', 'composition-available']);
      expect(events[0]).toBe('room-created');
      const roomEvents = receiver.captured.filter((callback) => callback.params.RoomName);
      expect(roomEvents.map((callback) => Number(callback.params.SequenceNumber))).toEqual(roomEvents.map((_, index) => index));
      const disconnect = receiver.captured.find((callback) => callback.params.StatusCallbackEvent === 'participant-disconnected')!;
      expect(Object.keys(disconnect.params)).toEqual(expect.arrayContaining(['ParticipantSid', 'ParticipantStatus', 'ParticipantIdentity', 'ParticipantDuration']));
      const ended = receiver.captured.find((callback) => callback.params.StatusCallbackEvent === 'room-ended')!;
      expect(ended.params).toMatchObject({ RoomStatus: 'completed' });
      expect(ended.params.RoomDuration).toMatch(/^\d+$/);
      const recording = receiver.captured.find((callback) => callback.params.StatusCallbackEvent === 'recording-completed')!;
      expect(Object.keys(recording.params)).toEqual(expect.arrayContaining(['RecordingSid', 'SourceSid', 'RecordingUri', 'Container', 'Codec', 'Type', 'TrackName', 'MediaUri', 'Duration', 'Size']));
    } finally {
      await receiver.close();
    }
  });

  it('refuses a composition for a room still in progress', async () => {
    const room = (await (await rest('POST', '/v1/Rooms', { UniqueName: 'rg-open' })).json()) as { sid: string };
    const response = await rest('POST', '/v1/Compositions', { RoomSid: room.sid });
    expect(response.status).toBe(400);
  });

  it('retries a callback whose connection failed, with the same idempotency token', async () => {
    // Reserve a port, close it: the first attempt is refused; then listen there before the retry.
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const slow = await startSandbox({ ...credentials, callbackRetryDelayMs: 300 });
    const tokens: string[] = [];
    const late = http.createServer((request, response) => {
      tokens.push(String(request.headers['i-twilio-idempotency-token']));
      request.resume();
      response.end();
    });
    try {
      slow.state.createRoom({ uniqueName: 'retry', statusCallback: `http://127.0.0.1:${port}/cb` });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await new Promise<void>((resolve) => late.listen(port, '127.0.0.1', resolve));
      await slow.idle();
      expect(slow.callbackLog.map((attempt) => [attempt.attempt, attempt.status ?? 'refused'])).toEqual([
        [1, 'refused'],
        [2, 200],
      ]);
      expect(new Set(slow.callbackLog.map((attempt) => attempt.idempotencyToken)).size).toBe(1);
      expect(tokens).toEqual([slow.callbackLog[0]!.idempotencyToken]);
    } finally {
      await slow.close();
      await new Promise<void>((resolve) => late.close(() => resolve()));
    }
  });
});
