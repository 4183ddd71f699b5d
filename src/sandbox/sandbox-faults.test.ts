/**
 * The sandbox's Twilio failure modes, through its control API as a developer drives them: a
 * callback dropped, held and released late (in reverse order), duplicated; REST 429 with
 * Retry-After and 5xx; 404 for a room fetched right after it ended; a composition stuck in
 * `enqueued`. And its rooms survive a restart (kept in the data directory): the same room is
 * still there, still in progress, its name still taken, the clock not gone back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTwilioRestClient } from '../service/twilio/twilio-rest-client.js';
import { createTwilioReader } from '../service/reconcile/twilio-reader.js';
import { startCallbackReceiver, type CallbackReceiver } from './callback-receiver.js';
import { createSandboxCredentials } from './sandbox-credentials.js';
import { startSandbox, type Sandbox } from './sandbox-server.js';

const credentials = createSandboxCredentials();
const auth = `Basic ${Buffer.from(`${credentials.apiKeySid}:${credentials.apiKeySecret}`).toString('base64')}`;
const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
});

async function call(sandbox: Sandbox, method: string, path: string, form?: Record<string, string>) {
  const response = await fetch(`${sandbox.url}${path}`, {
    method,
    headers: { authorization: auth, ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
  return { status: response.status, headers: response.headers, json: (await response.json().catch(() => ({}))) as Record<string, any> };
}

async function start(options: { stateFile?: string; clock?: () => Date } = {}): Promise<Sandbox> {
  const sandbox = await startSandbox({ ...credentials, ...options, compositionStepMs: 1 });
  opened.push(sandbox);
  return sandbox;
}

async function receiver(): Promise<CallbackReceiver> {
  const r = await startCallbackReceiver();
  opened.push(r);
  return r;
}

describe('sandbox callback faults (control API)', () => {
  it('drops, holds and releases late in reverse order, and duplicates', async () => {
    const sandbox = await start();
    const r = await receiver();
    const room = await call(sandbox, 'POST', '/v1/Rooms', { UniqueName: 'faulty', StatusCallback: `${r.url}/cb` });
    expect(room.status).toBe(201);
    expect(
      (await call(sandbox, 'POST', '/_sandbox/Faults/Callbacks', { Action: 'drop', Events: 'participant-disconnected', Room: 'faulty' }))
        .status,
    ).toBe(201);
    expect(
      (
        await call(sandbox, 'POST', '/_sandbox/Faults/Callbacks', {
          Action: 'hold',
          Events: 'participant-connected,track-added',
          Count: '3',
        })
      ).status,
    ).toBe(201);
    expect((await call(sandbox, 'POST', '/_sandbox/Faults/Callbacks', { Action: 'duplicate', Events: 'room-ended' })).status).toBe(201);
    await call(sandbox, 'POST', '/_sandbox/Rooms/faulty/Participants', { Identity: 'clin-1', Tracks: 'audio' });
    await call(sandbox, 'POST', '/_sandbox/Rooms/faulty/Participants', { Identity: 'pat-1', Tracks: 'audio' });
    await call(sandbox, 'POST', '/_sandbox/Clock', { AdvanceSeconds: '1200' });
    await call(sandbox, 'POST', '/_sandbox/Rooms/faulty/Participants/pat-1/Disconnect');
    await call(sandbox, 'POST', `/_sandbox/Rooms/${room.json.sid}/End`);
    await call(sandbox, 'POST', '/_sandbox/Idle');
    const events = () => r.received.map((c) => c.values.StatusCallbackEvent);
    expect(events()).not.toContain('participant-disconnected');
    expect(events().filter((e) => e === 'participant-connected')).toEqual([]);
    expect(events().filter((e) => e === 'room-ended')).toHaveLength(2);
    const faults = await call(sandbox, 'GET', '/_sandbox/Faults');
    expect(faults.json.held).toBe(3);

    const before = r.received.length;
    expect((await call(sandbox, 'POST', '/_sandbox/Callbacks/Release', { Order: 'reverse' })).json).toEqual({ released: 3 });
    await call(sandbox, 'POST', '/_sandbox/Idle');
    const released = r.received.slice(before).map((c) => [c.values.StatusCallbackEvent, c.values.ParticipantIdentity]);
    expect(released).toEqual([
      ['participant-connected', 'pat-1'],
      ['track-added', 'clin-1'],
      ['participant-connected', 'clin-1'],
    ]);
    // Stamped when they happened: twenty minutes before the room ended.
    const late = r.received.slice(before).map((c) => Date.parse(c.values.Timestamp!));
    const ended = Date.parse(r.received.find((c) => c.values.StatusCallbackEvent === 'room-ended')!.values.Timestamp!);
    expect(late.every((at) => ended - at >= 1_200_000)).toBe(true);

    expect((await call(sandbox, 'DELETE', '/_sandbox/Faults')).json).toEqual({ cleared: true });
    expect((await call(sandbox, 'POST', '/_sandbox/Faults/Callbacks', { Action: 'explode' })).status).toBe(400);
  });
});

describe('sandbox REST faults (control API)', () => {
  it('answers 429 with Retry-After, 503, and 404 for a room that just ended, then recovers', async () => {
    let now = Date.parse('2026-03-01T10:00:00.000Z');
    const sandbox = await start({ clock: () => new Date(now) });
    const room = (await call(sandbox, 'POST', '/v1/Rooms', { UniqueName: 'rest-faults' })).json;
    await call(sandbox, 'POST', '/_sandbox/Faults/Rest', { Status: '429', Path: 'Participants', Count: '1', RetryAfter: '2' });
    await call(sandbox, 'POST', '/_sandbox/Faults/Rest', { Status: '503', Path: 'Compositions', Count: '1' });
    const limited = await call(sandbox, 'GET', `/v1/Rooms/${room.sid}/Participants`);
    expect([limited.status, limited.headers.get('retry-after'), limited.json.code]).toEqual([429, '2', 20429]);
    expect((await call(sandbox, 'GET', `/v1/Rooms/${room.sid}/Participants`)).status).toBe(200);
    expect((await call(sandbox, 'GET', `/v1/Compositions?RoomSid=${room.sid}`)).status).toBe(503);
    expect((await call(sandbox, 'GET', `/v1/Compositions?RoomSid=${room.sid}`)).status).toBe(200);

    await call(sandbox, 'POST', '/_sandbox/Faults/Rest', { Status: '404', AfterEndSeconds: '30' });
    expect((await call(sandbox, 'GET', `/v1/Rooms/${room.sid}`)).status).toBe(200); // not ended yet
    await call(sandbox, 'POST', `/v1/Rooms/${room.sid}`, { Status: 'completed' });
    expect((await call(sandbox, 'GET', `/v1/Rooms/${room.sid}`)).status).toBe(404);
    now += 31_000;
    expect((await call(sandbox, 'GET', `/v1/Rooms/${room.sid}`)).json.status).toBe('completed');
  });

  it('the reconciler’s reader waits out a 429’s Retry-After and retries a 5xx, then succeeds', async () => {
    const sandbox = await start();
    const room = (await call(sandbox, 'POST', '/v1/Rooms', { UniqueName: 'reader' })).json;
    await call(sandbox, 'POST', '/_sandbox/Faults/Rest', { Status: '429', Path: 'Participants', Count: '2', RetryAfter: '3' });
    await call(sandbox, 'POST', '/_sandbox/Faults/Rest', { Status: '502', Path: 'Participants', Count: '1' });
    let fake = 0;
    const waits: number[] = [];
    const reader = createTwilioReader({
      twilio: createTwilioRestClient({ baseUrl: sandbox.url, apiKeySid: credentials.apiKeySid, apiKeySecret: credentials.apiKeySecret }),
      ratePerSecond: 50,
      now: () => fake,
      sleep: async (ms) => {
        waits.push(ms);
        fake += ms;
      },
    });
    expect(await reader.listParticipants(room.sid)).toEqual([]);
    expect(waits.filter((ms) => ms === 3000)).toHaveLength(2); // Retry-After, twice
    expect(waits).toContain(4000); // the 5xx's backoff on the third attempt (1 s doubling)
  });

  it('keeps a composition stuck in enqueued', async () => {
    const sandbox = await start();
    const room = (await call(sandbox, 'POST', '/v1/Rooms', { UniqueName: 'stuck', RecordParticipantsOnConnect: 'true' })).json;
    await call(sandbox, 'POST', '/_sandbox/Rooms/stuck/Participants', { Identity: 'clin-1' });
    await call(sandbox, 'POST', `/_sandbox/Rooms/${room.sid}/End`);
    expect((await call(sandbox, 'POST', '/_sandbox/Compositions/StuckNext')).json).toEqual({ stuck_next: true });
    const composition = await call(sandbox, 'POST', '/v1/Compositions', { RoomSid: room.sid, AudioSources: '*' });
    await call(sandbox, 'POST', '/_sandbox/Idle');
    expect((await call(sandbox, 'GET', `/v1/Compositions/${composition.json.sid}`)).json.status).toBe('enqueued');
  });
});

describe('sandbox rooms survive a restart', () => {
  it('knows the room, its participants and the clock after a restart from its data directory', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'roomgate-sandbox-state-'));
    try {
      const stateFile = join(directory, 'sandbox-state.json');
      const first = await start({ stateFile });
      const room = (await call(first, 'POST', '/v1/Rooms', { UniqueName: 'survivor', RecordParticipantsOnConnect: 'true' })).json;
      await call(first, 'POST', '/_sandbox/Rooms/survivor/Participants', { Identity: 'clin-1' });
      const moved = (await call(first, 'POST', '/_sandbox/Clock', { AdvanceSeconds: '3600' })).json.now as string;
      await first.close();
      opened.splice(opened.indexOf(first), 1);

      const second = await start({ stateFile });
      const again = await call(second, 'GET', `/v1/Rooms/${room.sid}`);
      expect(again.json).toMatchObject({ sid: room.sid, unique_name: 'survivor', status: 'in-progress' });
      expect((await call(second, 'GET', '/v1/Rooms/survivor')).json.sid).toBe(room.sid); // by name too
      const participants = (await call(second, 'GET', `/v1/Rooms/${room.sid}/Participants`)).json.participants as { identity: string }[];
      expect(participants.map((p) => p.identity)).toEqual(['clin-1']);
      expect(Date.parse((await call(second, 'GET', '/_sandbox/Clock')).json.now)).toBeGreaterThanOrEqual(Date.parse(moved));
      // Its name is still taken, and it can still be ended and composed.
      expect((await call(second, 'POST', '/v1/Rooms', { UniqueName: 'survivor' })).json.code).toBe(53113);
      expect((await call(second, 'POST', `/v1/Rooms/${room.sid}`, { Status: 'completed' })).json.status).toBe('completed');
      expect((await call(second, 'POST', '/v1/Compositions', { RoomSid: room.sid, AudioSources: '*' })).status).toBe(201);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
