/**
 * The emulator's callbacks, checked the way Roomgate will meet them: a real HTTP receiver,
 * every signature verified with the official `twilio` package, and each event's parameters
 * compared with Twilio's names (shared/twilio-reference.md).
 */
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isVideoEvent } from '../core/consultation/consultation-event.js';
import { parseVideoEvent } from '../core/consultation/video-event-from-callback.js';
import { startCallbackReceiver, type CallbackReceiver } from './callback-receiver.js';
import { createSandboxCredentials } from './sandbox-credentials.js';
import { startSandbox, type Sandbox } from './sandbox-server.js';

const credentials = createSandboxCredentials();
const T0 = new Date('2026-03-02T09:00:00.000Z');
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const ROOM = ['AccountSid', 'RoomName', 'RoomSid', 'RoomStatus', 'RoomType', 'StatusCallbackEvent', 'Timestamp', 'SequenceNumber'];
const PARTICIPANT = [...ROOM, 'ParticipantSid', 'ParticipantStatus', 'ParticipantIdentity'];
const TRACK = [...PARTICIPANT, 'TrackSid', 'TrackKind', 'TrackName'];
const RECORDING = [
  ...ROOM,
  'RecordingSid',
  'SourceSid',
  'RecordingUri',
  'Container',
  'Codec',
  'Type',
  'TrackName',
  'ParticipantSid',
  'ParticipantIdentity',
  'OffsetFromTwilioVideoEpoch',
];
const COMPOSITION = ['AccountSid', 'RoomSid', 'CompositionSid', 'CompositionUri', 'StatusCallbackEvent', 'Timestamp'];
const KEYS: Record<string, string[]> = {
  'room-created': ROOM,
  'participant-connected': PARTICIPANT,
  'participant-disconnected': [...PARTICIPANT, 'ParticipantDuration'],
  'track-added': TRACK,
  'track-removed': TRACK,
  'recording-started': RECORDING,
  'recording-completed': [...RECORDING, 'MediaUri', 'Duration', 'Size', 'MediaExternalLocation'],
  'room-ended': [...ROOM, 'RoomDuration'],
  'composition-enqueued': COMPOSITION,
  'composition-started': COMPOSITION,
  'composition-progress': [...COMPOSITION, 'PercentageDone', 'SecondsRemaining'],
  'composition-available': [...COMPOSITION, 'MediaUri', 'Duration', 'Size'],
  'composition-failed': [...COMPOSITION, 'FailedOperation', 'ErrorMessage'],
};

const joined = (identity: string) => [
  ['participant-connected', identity],
  ['track-added', identity],
  ['recording-started', identity],
  ['track-added', identity],
  ['recording-started', identity],
];
const left = (identity: string) => [
  ['track-removed', identity],
  ['track-removed', identity],
  ['participant-disconnected', identity],
  ['recording-completed', identity],
  ['recording-completed', identity],
];

describe('sandbox callbacks', () => {
  let sandbox: Sandbox;
  let receiver: CallbackReceiver;
  const rest = async (method: 'GET' | 'POST', path: string, form?: Record<string, string>) => {
    const response = await fetch(`${sandbox.url}${path}`, {
      method,
      headers: {
        authorization: `Basic ${Buffer.from(`${credentials.apiKeySid}:${credentials.apiKeySecret}`).toString('base64')}`,
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    return { status: response.status, json: (await response.json()) as Record<string, any> };
  };

  beforeAll(async () => {
    receiver = await startCallbackReceiver();
    sandbox = await startSandbox({ ...credentials, clock: () => T0 });
  });
  afterAll(async () => {
    await sandbox?.close();
    await receiver?.close();
  });

  it('signs a whole recorded consultation as Twilio does, with Twilio parameter names, in order', async () => {
    const roomCallback = `${receiver.url}/webhooks/twilio/video?tenant=vet-clinic&kind=room`;
    const compositionCallback = `${receiver.url}/webhooks/twilio/video?tenant=vet-clinic&kind=composition`;
    const created = await rest('POST', '/v1/Rooms', {
      UniqueName: 'consult-42',
      Type: 'group',
      StatusCallback: roomCallback,
      StatusCallbackMethod: 'POST',
      RecordParticipantsOnConnect: 'true',
    });
    expect(created.status).toBe(201);
    const roomSid = created.json.sid as string;

    const clinician = sandbox.connectParticipant({ room: 'consult-42', identity: 'clin-7f3a' });
    sandbox.advanceTime(30_000);
    const patient = sandbox.connectParticipant({ room: roomSid, identity: 'pt-91c2' });
    sandbox.advanceTime(60_000);
    sandbox.disconnectParticipant({ room: roomSid, participant: 'pt-91c2' });
    sandbox.advanceTime(15_000);
    expect((await rest('POST', `/v1/Rooms/${roomSid}`, { Status: 'completed' })).json.status).toBe('completed');

    const composition = await rest('POST', '/v1/Compositions', {
      RoomSid: roomSid,
      AudioSources: '*',
      VideoLayout: JSON.stringify({ grid: { video_sources: ['*'] } }),
      Format: 'mp4',
      StatusCallback: compositionCallback,
      StatusCallbackMethod: 'POST',
    });
    expect(composition.status).toBe(201);
    expect(composition.json.status).toBe('enqueued');
    await sandbox.idle();
    expect((await rest('GET', `/v1/Compositions/${composition.json.sid}`)).json).toMatchObject({
      status: 'completed',
      format: 'mp4',
      duration: 105,
    });

    const received = receiver.received;
    // Every callback: signed with the auth token over the URL as configured and the sorted
    // params — accepted by twilio-node, and equal to its expected signature for the URL as sent.
    for (const callback of received) {
      expect(callback.method).toBe('POST');
      expect(callback.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
      expect(twilio.validateRequest(credentials.authToken, callback.signature!, callback.url, callback.values)).toBe(true);
      expect(callback.signature).toBe(twilio.getExpectedTwilioSignature(credentials.authToken, callback.url, callback.values));
      expect(twilio.validateRequest('0'.repeat(32), callback.signature!, callback.url, callback.values)).toBe(false);
      expect(callback.idempotencyToken).toMatch(/^[0-9a-f-]{36}$/);
      expect(Object.keys(callback.values).sort()).toEqual([...new Set(KEYS[callback.values.StatusCallbackEvent!])].sort());
      expect(callback.values.AccountSid).toBe(credentials.accountSid);
      expect(callback.values.RoomSid).toBe(roomSid);
      expect(callback.values.Timestamp).toMatch(TIMESTAMP);
      expect(isVideoEvent(parseVideoEvent(callback.values))).toBe(true);
    }
    expect(new Set(received.map((c) => c.idempotencyToken)).size).toBe(received.length);

    const roomEvents = received.filter((c) => c.url === roomCallback);
    expect(roomEvents.map((c) => [c.values.StatusCallbackEvent, c.values.ParticipantIdentity].filter(Boolean))).toEqual([
      ['room-created'],
      ...joined('clin-7f3a'),
      ...joined('pt-91c2'),
      ...left('pt-91c2'),
      ...left('clin-7f3a'),
      ['room-ended'],
    ]);
    expect(roomEvents.map((c) => Number(c.values.SequenceNumber))).toEqual(roomEvents.map((_, index) => index));
    for (const c of roomEvents) {
      expect(c.values).toMatchObject({ RoomName: 'consult-42', RoomType: 'group' });
      expect(c.values.RoomStatus).toBe(c.values.StatusCallbackEvent === 'room-ended' ? 'completed' : 'in-progress');
    }
    const event = (name: string, identity?: string) =>
      roomEvents.filter((c) => c.values.StatusCallbackEvent === name && (!identity || c.values.ParticipantIdentity === identity));

    expect(event('room-created')[0]!.values.Timestamp).toBe('2026-03-02T09:00:00.000Z');
    expect(event('participant-connected', 'pt-91c2')[0]!.values).toMatchObject({
      ParticipantSid: patient,
      ParticipantStatus: 'connected',
      Timestamp: '2026-03-02T09:00:30.000Z',
    });
    expect(event('participant-disconnected', 'pt-91c2')[0]!.values).toMatchObject({
      ParticipantSid: patient,
      ParticipantStatus: 'disconnected',
      ParticipantDuration: '60',
    });
    expect(event('participant-disconnected', 'clin-7f3a')[0]!.values).toMatchObject({
      ParticipantSid: clinician,
      ParticipantDuration: '105',
      Timestamp: '2026-03-02T09:01:45.000Z',
    });
    expect(event('room-ended')[0]!.values).toMatchObject({ RoomDuration: '105', Timestamp: '2026-03-02T09:01:45.000Z' });

    const tracks = event('track-added', 'pt-91c2');
    expect(tracks.map((c) => c.values.TrackKind)).toEqual(['audio', 'video']);
    for (const c of tracks) expect(c.values.TrackSid).toMatch(/^MT[0-9a-f]{32}$/);

    const started = event('recording-started', 'pt-91c2');
    const completed = event('recording-completed', 'pt-91c2');
    expect(started.map((c) => [c.values.Type, c.values.Container, c.values.Codec])).toEqual([
      ['audio', 'mka', 'opus'],
      ['video', 'mkv', 'VP8'],
    ]);
    started.forEach((c, i) => {
      const recordingSid = c.values.RecordingSid!;
      expect(recordingSid).toMatch(/^RT[0-9a-f]{32}$/);
      expect(c.values).toMatchObject({
        SourceSid: tracks[i]!.values.TrackSid,
        TrackName: tracks[i]!.values.TrackName,
        RecordingUri: `/v1/Recordings/${recordingSid}`,
        ParticipantSid: patient,
        OffsetFromTwilioVideoEpoch: '30000',
      });
      expect(completed[i]!.values).toMatchObject({
        RecordingSid: recordingSid,
        SourceSid: c.values.SourceSid,
        MediaUri: `/v1/Recordings/${recordingSid}/Media`,
        Duration: '60',
        MediaExternalLocation: '',
      });
      expect(Number(completed[i]!.values.Size)).toBeGreaterThan(0);
    });

    const compositionEvents = received.filter((c) => c.url === compositionCallback);
    const compositionSid = composition.json.sid as string;
    expect(compositionEvents.map((c) => c.values.StatusCallbackEvent)).toEqual([
      'composition-enqueued',
      'composition-started',
      'composition-progress',
      'composition-available',
    ]);
    for (const c of compositionEvents) {
      expect(c.values).toMatchObject({ CompositionSid: compositionSid, CompositionUri: `/v1/Compositions/${compositionSid}` });
    }
    expect(compositionEvents[3]!.values).toMatchObject({ MediaUri: `/v1/Compositions/${compositionSid}/Media`, Duration: '105' });
    expect(Number(compositionEvents[3]!.values.Size)).toBeGreaterThan(0);

    expect(sandbox.callbackLog).toHaveLength(received.length);
    expect(sandbox.callbackLog.every((attempt) => attempt.status === 204 && attempt.attempt === 1)).toBe(true);
  });

  it('sends composition-failed for a composition told to fail', async () => {
    const callback = `${receiver.url}/cb/failing`;
    const room = await rest('POST', '/v1/Rooms', { UniqueName: 'consult-43', RecordParticipantsOnConnect: 'true' });
    sandbox.connect('consult-43', 'clin-1');
    sandbox.endRoom(room.json.sid);
    sandbox.failNextComposition('disk full');
    const composition = await rest('POST', '/v1/Compositions', { RoomSid: room.json.sid, AudioSources: '*', StatusCallback: callback });
    await sandbox.idle();
    const events = receiver.received.filter((c) => c.url === callback);
    expect(events.map((c) => c.values.StatusCallbackEvent)).toEqual([
      'composition-enqueued',
      'composition-started',
      'composition-progress',
      'composition-failed',
    ]);
    expect(events[3]!.values).toMatchObject({ CompositionSid: composition.json.sid, ErrorMessage: 'disk full' });
    expect(Object.keys(events[3]!.values).sort()).toEqual([...KEYS['composition-failed']!].sort());
    expect(twilio.validateRequest(credentials.authToken, events[3]!.signature!, events[3]!.url, events[3]!.values)).toBe(true);
    expect((await rest('GET', `/v1/Compositions/${composition.json.sid}`)).json.status).toBe('failed');
  });

  it('signs a GET callback over the full URL with the parameters in its query', async () => {
    await rest('POST', '/v1/Rooms', {
      UniqueName: 'consult-get',
      StatusCallback: `${receiver.url}/cb/get?x=1`,
      StatusCallbackMethod: 'GET',
    });
    await sandbox.idle();
    const callback = receiver.received.find((c) => c.url.startsWith(`${receiver.url}/cb/get?x=1&`))!;
    expect(callback.method).toBe('GET');
    expect(new URL(callback.url).searchParams.get('StatusCallbackEvent')).toBe('room-created');
    expect(twilio.validateRequest(credentials.authToken, callback.signature!, callback.url, {})).toBe(true);
  });

  it('ends a room left empty once its EmptyRoomTimeout has passed on the sandbox clock', async () => {
    const callback = `${receiver.url}/cb/timeout`;
    const room = await rest('POST', '/v1/Rooms', { UniqueName: 'consult-timeout', StatusCallback: callback, EmptyRoomTimeout: '2' });
    sandbox.connect('consult-timeout', 'clin-2');
    sandbox.advanceTime(60_000);
    sandbox.disconnect('consult-timeout', 'clin-2');
    sandbox.advanceTime(119_000);
    expect(sandbox.state.rooms.get(room.json.sid)!.status).toBe('in-progress');
    sandbox.advanceTime(1_000);
    expect(sandbox.state.rooms.get(room.json.sid)).toMatchObject({ status: 'completed', duration: 180 });
    await sandbox.idle();
    const ended = receiver.received.filter((c) => c.url === callback).at(-1)!;
    expect(ended.values).toMatchObject({ StatusCallbackEvent: 'room-ended', RoomDuration: '180' });
  });
});
