/** The emulator's REST slice and control routes over HTTP: auth, shapes, and Twilio's errors. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCallbackReceiver, type CallbackReceiver } from './callback-receiver.js';
import { createSandboxCredentials } from './sandbox-credentials.js';
import { startSandbox, type Sandbox } from './sandbox-server.js';

const credentials = createSandboxCredentials();
const apiKey = `${credentials.apiKeySid}:${credentials.apiKeySecret}`;
const account = `${credentials.accountSid}:${credentials.authToken}`;

describe('sandbox REST', () => {
  let sandbox: Sandbox;
  let receiver: CallbackReceiver;
  let hook: string;
  const call = async (method: string, path: string, form?: Record<string, string> | string, auth: string | null = apiKey) => {
    const response = await fetch(`${sandbox.url}${path}`, {
      method,
      headers: {
        ...(auth === null ? {} : { authorization: `Basic ${Buffer.from(auth).toString('base64')}` }),
        ...(form !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: form === undefined ? undefined : typeof form === 'string' ? form : new URLSearchParams(form).toString(),
    });
    return { status: response.status, headers: response.headers, json: (await response.json()) as Record<string, any> };
  };
  const twilioError = (status: number, code: number) => ({
    status,
    code,
    message: expect.any(String),
    more_info: `https://www.twilio.com/docs/errors/${code}`,
  });

  beforeAll(async () => {
    receiver = await startCallbackReceiver();
    hook = `${receiver.url}/webhooks/twilio/video`;
    sandbox = await startSandbox({ ...credentials, clock: () => new Date('2026-05-01T12:00:00.000Z') });
  });
  afterAll(async () => {
    await sandbox?.close();
    await receiver?.close();
  });

  describe('auth', () => {
    it.each([
      ['no credentials', null],
      ['a wrong secret', `${credentials.apiKeySid}:${'f'.repeat(32)}`],
      ['the secret of another key', `SK${'0'.repeat(32)}:${credentials.apiKeySecret}`],
      ['the API key SID with the auth token', `${credentials.apiKeySid}:${credentials.authToken}`],
    ])('refuses %s with 401 and Twilio’s error body', async (_name, auth) => {
      for (const [method, path] of [
        ['GET', '/v1/Rooms/anything'],
        ['POST', '/v1/Rooms'],
        ['POST', '/_sandbox/Rooms/x/End'],
        ['GET', '/_sandbox/Callbacks'],
      ] as const) {
        const answer = await call(method, path, method === 'POST' ? { UniqueName: 'x' } : undefined, auth);
        expect(answer.status).toBe(401);
        expect(answer.json).toEqual(twilioError(401, 20003));
        expect(answer.headers.get('www-authenticate')).toBe('Basic realm="Twilio API"');
      }
      expect(sandbox.state.listRooms().some((room) => room.uniqueName === 'x')).toBe(false);
    });

    it('accepts the account SID with the auth token as well as the API key', async () => {
      expect((await call('GET', '/v1/Rooms', undefined, account)).status).toBe(200);
      expect((await call('GET', '/v1/Rooms', undefined, apiKey)).status).toBe(200);
    });
  });

  describe('rooms', () => {
    it('creates, fetches by SID and by UniqueName, and completes a room', async () => {
      const created = await call('POST', '/v1/Rooms', {
        UniqueName: 'room-a',
        Type: 'group',
        StatusCallback: hook,
        StatusCallbackMethod: 'POST',
        RecordParticipantsOnConnect: 'true',
        EmptyRoomTimeout: '3',
        UnusedRoomTimeout: '7',
      });
      expect(created.status).toBe(201);
      const sid = created.json.sid as string;
      expect(sid).toMatch(/^RM[0-9a-f]{32}$/);
      expect(created.json).toMatchObject({
        account_sid: credentials.accountSid,
        unique_name: 'room-a',
        status: 'in-progress',
        type: 'group',
        status_callback: hook,
        status_callback_method: 'POST',
        record_participants_on_connect: true,
        empty_room_timeout: 3,
        unused_room_timeout: 7,
        date_created: '2026-05-01T12:00:00Z',
        end_time: null,
        duration: null,
        url: `${sandbox.url}/v1/Rooms/${sid}`,
        links: { participants: `${sandbox.url}/v1/Rooms/${sid}/Participants` },
      });
      expect((await call('GET', `/v1/Rooms/${sid}`)).json).toEqual(created.json);
      expect((await call('GET', '/v1/Rooms/room-a')).json.sid).toBe(sid);

      sandbox.connect('room-a', 'clin-1');
      const participants = await call('GET', `/v1/Rooms/${sid}/Participants`);
      expect(participants.json.participants).toEqual([
        expect.objectContaining({ identity: 'clin-1', status: 'connected', sid: expect.stringMatching(/^PA[0-9a-f]{32}$/) }),
      ]);

      const completed = await call('POST', `/v1/Rooms/${sid}`, { Status: 'completed' });
      expect(completed.status).toBe(200);
      expect(completed.json).toMatchObject({ sid, status: 'completed', end_time: '2026-05-01T12:00:00Z', duration: 0 });
      expect(sandbox.state.rooms.get(sid)!.participants.map((p) => p.status)).toEqual(['disconnected']);
      // A completed room is found by SID only; its name is free again.
      expect((await call('GET', '/v1/Rooms/room-a')).status).toBe(404);
      expect((await call('POST', '/v1/Rooms', { UniqueName: 'room-a' })).status).toBe(201);
      // Completing twice is refused, as Twilio does (53112: room not in-progress).
      expect((await call('POST', `/v1/Rooms/${sid}`, { Status: 'completed' })).json).toEqual(twilioError(400, 53112));
    });

    it('names a room after its SID when no UniqueName is given, and defaults like Twilio', async () => {
      const created = await call('POST', '/v1/Rooms', {});
      expect(created.json).toMatchObject({
        unique_name: created.json.sid,
        type: 'group',
        record_participants_on_connect: false,
        status_callback: null,
        empty_room_timeout: 5,
        unused_room_timeout: 5,
      });
    });

    it('answers Twilio’s errors', async () => {
      expect((await call('GET', `/v1/Rooms/RM${'0'.repeat(32)}`)).json).toEqual(twilioError(404, 20404));
      expect((await call('GET', '/v1/Rooms/no-such-room')).status).toBe(404);
      expect((await call('POST', `/v1/Rooms/RM${'0'.repeat(32)}`, { Status: 'completed' })).json).toEqual(twilioError(404, 20404));
      await call('POST', '/v1/Rooms', { UniqueName: 'dup' });
      expect((await call('POST', '/v1/Rooms', { UniqueName: 'dup' })).json).toEqual(twilioError(400, 53113));
      expect((await call('POST', '/v1/Rooms/dup', { Status: 'in-progress' })).json).toEqual(twilioError(400, 53112));
      expect((await call('POST', '/v1/Rooms', { Type: 'huge' })).status).toBe(400);
      expect((await call('POST', '/v1/Rooms', { Type: 'go', RecordParticipantsOnConnect: 'true' })).json).toEqual(twilioError(400, 53114));
      expect((await call('POST', '/v1/Rooms', { StatusCallback: 'ftp://x.test/cb' })).json).toEqual(twilioError(400, 53111));
      expect((await call('POST', '/v1/Rooms', { StatusCallbackMethod: 'PUT' })).status).toBe(400);
      expect((await call('POST', '/v1/Rooms', { RecordParticipantsOnConnect: 'yes' })).status).toBe(400);
      expect((await call('POST', '/v1/Rooms', { EmptyRoomTimeout: '0' })).status).toBe(400);
      expect((await call('GET', '/v1/Calls')).json).toEqual(twilioError(404, 20404));
    });
  });

  describe('compositions', () => {
    it('creates one for a completed room, fetches and lists it', async () => {
      const room = (await call('POST', '/v1/Rooms', { UniqueName: 'room-c', RecordParticipantsOnConnect: 'true' })).json;
      sandbox.connect('room-c', 'clin-9');
      sandbox.endRoom(room.sid);
      const created = await call('POST', '/v1/Compositions', {
        RoomSid: room.sid,
        AudioSources: '*',
        VideoLayout: JSON.stringify({ grid: { video_sources: ['*'] } }),
        Format: 'mp4',
        StatusCallback: hook,
        StatusCallbackMethod: 'POST',
      });
      expect(created.status).toBe(201);
      const sid = created.json.sid as string;
      expect(sid).toMatch(/^CJ[0-9a-f]{32}$/);
      expect(created.json).toMatchObject({
        account_sid: credentials.accountSid,
        room_sid: room.sid,
        status: 'enqueued',
        format: 'mp4',
        audio_sources: ['*'],
        video_layout: { grid: { video_sources: ['*'] } },
        status_callback: hook,
        url: `${sandbox.url}/v1/Compositions/${sid}`,
        links: { media: `${sandbox.url}/v1/Compositions/${sid}/Media` },
      });
      await sandbox.idle();
      expect((await call('GET', `/v1/Compositions/${sid}`)).json).toMatchObject({
        sid,
        status: 'completed',
        date_completed: '2026-05-01T12:00:00Z',
      });
      const listed = await call('GET', `/v1/Compositions?RoomSid=${room.sid}&PageSize=50`);
      expect(listed.json.compositions.map((c: { sid: string }) => c.sid)).toEqual([sid]);
      expect(listed.json.meta).toMatchObject({ key: 'compositions', page: 0, page_size: 50 });
      expect(sandbox.state.compositions.get(sid)).toMatchObject({ roomSid: room.sid, status: 'completed' });
      // The media link resolves inside the sandbox (Twilio: a redirect to short-lived media).
      const media = await fetch(`${sandbox.url}/v1/Compositions/${sid}/Media`, {
        headers: { authorization: `Basic ${Buffer.from(apiKey).toString('base64')}` },
        redirect: 'manual',
      });
      expect(media.status).toBe(302);
      const location = media.headers.get('location')!;
      expect(location).toMatch(new RegExp(`^${sandbox.url}/_sandbox/Media/${sid}\\.mp4\\?Expires=\\d+&Signature=[0-9a-f]{64}$`));
      // Like Twilio's, the short-lived URL needs no credentials; without its signature it is not found.
      const file = await fetch(location);
      expect([file.status, file.headers.get('content-type')]).toEqual([200, 'video/mp4']);
      expect((await fetch(location.replace(/Signature=[0-9a-f]+/, `Signature=${'0'.repeat(64)}`))).status).toBe(404);
      expect((await fetch(location.split('?')[0]!)).status).toBe(404);
      const recordingSid = sandbox.state.rooms.get(room.sid)!.recordings[0]!.sid;
      expect((await call('GET', `/v1/Recordings/${recordingSid}`)).json).toMatchObject({
        sid: recordingSid,
        status: 'completed',
        type: 'audio',
        container: 'mka',
      });
    });

    it('refuses a room still in progress, an unknown room, and missing sources', async () => {
      const open = (await call('POST', '/v1/Rooms', { UniqueName: 'room-open' })).json;
      expect((await call('POST', '/v1/Compositions', { RoomSid: open.sid, AudioSources: '*' })).json).toEqual(twilioError(400, 53620));
      expect((await call('POST', '/v1/Compositions', { RoomSid: `RM${'0'.repeat(32)}`, AudioSources: '*' })).json).toEqual(
        twilioError(400, 53106),
      );
      expect((await call('POST', '/v1/Compositions', { AudioSources: '*' })).status).toBe(400);
      sandbox.endRoom(open.sid);
      expect((await call('POST', '/v1/Compositions', { RoomSid: open.sid })).json).toEqual(twilioError(400, 53621));
      expect((await call('POST', '/v1/Compositions', { RoomSid: open.sid, VideoLayout: '{not json' })).json).toEqual(
        twilioError(400, 53621),
      );
      expect((await call('GET', `/v1/Compositions/CJ${'0'.repeat(32)}`)).json).toEqual(twilioError(404, 20404));
    });
  });

  it('closes at once with a composition still processing, and idle() then resolves', async () => {
    const other = await startSandbox({ ...createSandboxCredentials(), compositionStepMs: 60_000 });
    const room = other.state.createRoom({ uniqueName: 'slow', recordParticipantsOnConnect: true });
    other.connect(room.sid, 'clin-1');
    other.endRoom(room.sid);
    other.state.createComposition({ roomSid: room.sid, audioSources: ['*'] });
    const started = Date.now();
    await other.close();
    await other.idle();
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  describe('control routes', () => {
    it('connects and disconnects participants, moves the clock, ends rooms and lists callbacks', async () => {
      const room = (await call('POST', '/v1/Rooms', { UniqueName: 'room-ctl', RecordParticipantsOnConnect: 'true' })).json;
      const joined = await call('POST', '/_sandbox/Rooms/room-ctl/Participants', { Identity: 'pt-1' });
      expect(joined.status).toBe(201);
      expect(joined.json).toMatchObject({ identity: 'pt-1', status: 'connected', room_sid: room.sid });
      const audioOnly = await call('POST', `/_sandbox/Rooms/${room.sid}/Participants`, { Identity: 'pt-2', Tracks: 'audio' });
      expect(sandbox.state.getParticipant(room.sid, audioOnly.json.sid)!.tracks.map((t) => t.kind)).toEqual(['audio']);

      const before = (await call('GET', '/_sandbox/Clock')).json.now as string;
      const moved = await call('POST', '/_sandbox/Clock', { AdvanceSeconds: '90' });
      expect(Date.parse(moved.json.now) - Date.parse(before)).toBe(90_000);
      expect((await call('POST', '/_sandbox/Clock', { Now: '2000-01-01T00:00:00Z' })).status).toBe(400);

      const left = await call('POST', `/_sandbox/Rooms/room-ctl/Participants/pt-1/Disconnect`, '');
      expect(left.json).toMatchObject({ sid: joined.json.sid, status: 'disconnected', duration: 90 });
      expect((await call('POST', `/_sandbox/Rooms/room-ctl/Participants/pt-1/Disconnect`, '')).status).toBe(404);

      // Twilio's own REST way to remove a participant.
      expect((await call('POST', `/v1/Rooms/${room.sid}/Participants/${audioOnly.json.sid}`, { Status: 'disconnected' })).json.status).toBe(
        'disconnected',
      );

      const ended = await call('POST', '/_sandbox/Rooms/room-ctl/End', '');
      expect(ended.json).toMatchObject({ sid: room.sid, status: 'completed' });
      expect((await call('POST', `/_sandbox/Rooms/${room.sid}/Participants`, { Identity: 'late' })).json).toEqual(twilioError(400, 53118));
      expect((await call('POST', '/_sandbox/Rooms/room-ctl/Participants', { Identity: '' })).status).toBe(400);
      expect((await call('POST', '/_sandbox/Compositions/FailNext', '')).json).toEqual({ fail_next: true });
      expect((await call('POST', '/_sandbox/Idle', '')).json.idle).toBe(true);
      const room2 = (await call('POST', '/v1/Rooms', { UniqueName: 'room-ctl-2', StatusCallback: `${hook}?ctl` })).json;
      await call('POST', '/_sandbox/Idle', '');
      expect((await call('GET', '/_sandbox/Callbacks')).json.callbacks).toContainEqual({
        url: `${hook}?ctl`,
        event: 'room-created',
        attempt: 1,
        idempotency_token: expect.any(String),
        status: 204,
        error: null,
        date: expect.any(String),
      });
      expect(receiver.received.at(-1)!.values.RoomSid).toBe(room2.sid);
    });

    it('disconnects the earlier participant when an identity joins twice (Twilio 53205)', async () => {
      const room = (await call('POST', '/v1/Rooms', { UniqueName: 'room-dup-id' })).json;
      const first = sandbox.connect(room.sid, 'vet-1');
      const second = sandbox.connect(room.sid, 'vet-1');
      const participants = sandbox.state.rooms.get(room.sid)!.participants;
      expect(participants.map((p) => [p.sid, p.status])).toEqual([
        [first, 'disconnected'],
        [second, 'connected'],
      ]);
    });

    it('accepts JSON bodies on control routes', async () => {
      await call('POST', '/v1/Rooms', { UniqueName: 'room-json' });
      const response = await fetch(`${sandbox.url}/_sandbox/Rooms/room-json/Participants`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(apiKey).toString('base64')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ Identity: 'owner-3' }),
      });
      expect(response.status).toBe(201);
    });
  });
});
