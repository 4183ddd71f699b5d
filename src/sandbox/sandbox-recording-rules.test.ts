/**
 * The emulator's Recording Rules over HTTP (`GET|POST /v1/Rooms/{sid}/RecordingRules`): a room
 * created without RecordParticipantsOnConnect records nothing; rules start and stop recordings
 * of the tracks they include and exclude, each with its recording-started / recording-completed
 * callback and a Twilio-shaped SID; bad rules get Twilio's error; a composition composes only the
 * recordings its sources name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCallbackReceiver, type CallbackReceiver } from './callback-receiver.js';
import { createSandboxCredentials } from './sandbox-credentials.js';
import { startSandbox, type Sandbox } from './sandbox-server.js';

const credentials = createSandboxCredentials();
const auth = `Basic ${Buffer.from(`${credentials.apiKeySid}:${credentials.apiKeySecret}`).toString('base64')}`;

describe('sandbox Recording Rules', () => {
  let sandbox: Sandbox;
  let receiver: CallbackReceiver;
  let hook: string;
  let now = Date.parse('2026-05-01T12:00:00.000Z');

  const call = async (method: string, path: string, form?: Record<string, string | string[]>) => {
    const body = new URLSearchParams();
    for (const [key, value] of Object.entries(form ?? {})) for (const item of [value].flat()) body.append(key, item);
    const response = await fetch(`${sandbox.url}${path}`, {
      method,
      headers: { authorization: auth, ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body: form ? body.toString() : undefined,
    });
    return { status: response.status, json: (await response.json()) as Record<string, any> };
  };
  const setRules = (room: string, rules: unknown) => call('POST', `/v1/Rooms/${room}/RecordingRules`, { Rules: JSON.stringify(rules) });
  const recordingEvents = (room: string) =>
    receiver.received
      .filter((c) => c.values.RoomSid === room && c.values.StatusCallbackEvent?.startsWith('recording-'))
      .map((c) => `${c.values.StatusCallbackEvent} ${c.values.ParticipantIdentity} ${c.values.Type}`);

  beforeAll(async () => {
    receiver = await startCallbackReceiver();
    hook = `${receiver.url}/webhooks/twilio/video`;
    sandbox = await startSandbox({ ...credentials, clock: () => new Date(now), callbackRetries: 0 });
  });
  afterAll(async () => {
    await sandbox?.close();
    await receiver?.close();
  });

  it('records only what the rules include, from the moment they are set', async () => {
    const room = (await call('POST', '/v1/Rooms', { UniqueName: 'rules-1', StatusCallback: hook })).json.sid as string;
    expect((await call('GET', `/v1/Rooms/${room}/RecordingRules`)).json).toMatchObject({
      room_sid: room,
      rules: [{ type: 'exclude', all: true }],
    });
    sandbox.connect(room, 'alice');
    sandbox.connect(room, 'bob');
    await sandbox.idle();
    expect(recordingEvents(room)).toEqual([]);

    now += 10_000;
    const set = await setRules(room, [
      { type: 'include', publisher: 'alice' },
      { type: 'include', publisher: 'bob' },
    ]);
    expect(set.status).toBe(200);
    expect(set.json.rules).toEqual([
      { type: 'include', publisher: 'alice' },
      { type: 'include', publisher: 'bob' },
    ]);
    await sandbox.idle();
    expect(recordingEvents(room).sort()).toEqual(
      ['alice audio', 'alice video', 'bob audio', 'bob video'].map((who) => `recording-started ${who}`).sort(),
    );
    const started = receiver.received.filter((c) => c.values.RoomSid === room && c.values.StatusCallbackEvent === 'recording-started');
    for (const callback of started) expect(callback.values.RecordingSid).toMatch(/^RT[0-9a-f]{32}$/);

    // Bob is excluded: his two recordings complete now; alice's carry on. Setting the same again changes nothing.
    now += 20_000;
    await setRules(room, [{ type: 'include', publisher: 'alice' }]);
    await setRules(room, [{ type: 'include', publisher: 'alice' }]);
    await sandbox.idle();
    expect(
      recordingEvents(room)
        .filter((e) => e.startsWith('recording-completed'))
        .sort(),
    ).toEqual(['recording-completed bob audio', 'recording-completed bob video']);
    const state = sandbox.state.getRoom(room)!;
    expect(state.recordings.filter((r) => r.status === 'processing').map((r) => r.participantIdentity)).toEqual(['alice', 'alice']);
    expect(state.recordings.find((r) => r.participantIdentity === 'bob')!.duration).toBe(20);

    // Nothing: alice's stop too; include again: a new recording with a new SID.
    now += 5_000;
    await setRules(room, [{ type: 'exclude', all: true }]);
    await setRules(room, [
      { type: 'include', all: true },
      { type: 'exclude', kind: 'video' },
    ]);
    await sandbox.idle();
    const audio = sandbox.state.getRoom(room)!.recordings.filter((r) => r.type === 'audio' && r.status === 'processing');
    expect(audio.map((r) => r.participantIdentity).sort()).toEqual(['alice', 'bob']);
    expect(sandbox.state.getRoom(room)!.recordings).toHaveLength(6);

    // Twilio's REST list of the room's recordings says the same.
    const listed = (await call('GET', `/v1/Rooms/${room}/Recordings`)).json.recordings as { sid: string; status: string; type: string }[];
    expect(listed.map((r) => r.sid).sort()).toEqual(
      sandbox.state
        .getRoom(room)!
        .recordings.map((r) => r.sid)
        .sort(),
    );
    expect((await call('GET', `/v1/Rooms/${room}/Recordings?Status=processing`)).json.recordings).toHaveLength(2);

    // A participant who joins under rules that include them is recorded from connect.
    sandbox.connect(room, 'carol');
    expect(
      sandbox.state
        .getRoom(room)!
        .recordings.filter((r) => r.participantIdentity === 'carol')
        .map((r) => r.type),
    ).toEqual(['audio']);
  });

  it('refuses bad rules with Twilio’s error, and rules on a completed room', async () => {
    const room = (await call('POST', '/v1/Rooms', { UniqueName: 'rules-2' })).json.sid as string;
    for (const rules of [
      { type: 'include', all: true },
      [{ type: 'maybe', all: true }],
      [{ type: 'include' }],
      [{ type: 'include', kind: 'screen' }],
      [{ type: 'include', publisher: '' }],
      [{ type: 'include', all: true, colour: 'red' }],
    ]) {
      const answer = await setRules(room, rules);
      expect(answer.status, JSON.stringify(rules)).toBe(400);
      expect(answer.json.code).toBe(20001);
    }
    expect((await call('POST', `/v1/Rooms/${room}/RecordingRules`, { Rules: '[{' })).status).toBe(400);
    expect((await call('POST', `/v1/Rooms/${room}/RecordingRules`, {})).status).toBe(400);
    expect((await call('GET', `/v1/Rooms/RM${'0'.repeat(32)}/RecordingRules`)).status).toBe(404);
    await call('POST', `/v1/Rooms/${room}`, { Status: 'completed' });
    expect((await setRules(room, [{ type: 'include', all: true }])).json.code).toBe(53112);
  });

  it('composes only the recordings the sources name', async () => {
    const room = (await call('POST', '/v1/Rooms', { UniqueName: 'rules-3', RecordParticipantsOnConnect: 'true' })).json.sid as string;
    sandbox.connect(room, 'alice');
    sandbox.connect(room, 'bob');
    now += 30_000;
    sandbox.endRoom(room);
    const recordings = sandbox.state.getRoom(room)!.recordings;
    const alice = recordings.filter((r) => r.participantIdentity === 'alice');
    const composed = await call('POST', '/v1/Compositions', {
      RoomSid: room,
      AudioSources: alice.filter((r) => r.type === 'audio').map((r) => r.trackName),
      VideoLayout: JSON.stringify({ grid: { video_sources: alice.filter((r) => r.type === 'video').map((r) => r.trackName) } }),
    });
    expect(composed.status).toBe(201);
    const all = await call('POST', '/v1/Compositions', { RoomSid: room, AudioSources: '*' });
    await sandbox.idle();
    expect([...sandbox.state.getComposition(composed.json.sid)!.sourceRecordingSids].sort()).toEqual(alice.map((r) => r.sid).sort());
    expect(sandbox.state.getComposition(composed.json.sid)!.status).toBe('completed');
    expect(sandbox.state.getComposition(all.json.sid)!.sourceRecordingSids).toHaveLength(2); // audio only
    const none = await call('POST', '/v1/Compositions', { RoomSid: room, AudioSources: 'nobody-*' });
    await sandbox.idle();
    expect(sandbox.state.getComposition(none.json.sid)).toMatchObject({ status: 'failed', sourceRecordingSids: [] });
  });
});
