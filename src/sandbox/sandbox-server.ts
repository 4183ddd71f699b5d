/**
 * The sandbox Twilio: the Video REST slice Roomgate uses (Twilio's routes, field names, HTTP
 * Basic auth with the API key or the account credentials, Twilio's error body), the control
 * API under `/_sandbox` that plays participants and scenarios, and the signed status
 * callbacks. `startSandbox` listens; see src/sandbox/README.md for the routes.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { CallbackFaults, type CallbackFaultAction } from './callback-faults.js';
import { CallbackSender, type CallbackAttempt } from './callback-sender.js';
import { RestFaults } from './rest-faults.js';
import { readStateFile, writeStateFile } from './sandbox-state-file.js';
import { SandboxClock } from './sandbox-clock.js';
import type { SandboxCredentials } from './sandbox-credentials.js';
import { invalidParameter, notFound, SANDBOX_ERROR_CODES as E, SandboxTwilioError } from './sandbox-errors.js';
import { compositionResource, participantResource, recordingResource, roomResource, twilioDate } from './twilio-resources.js';
import { VideoEmulator, type SandboxRoom, type TrackKind } from './video-emulator.js';

export interface SandboxOptions extends SandboxCredentials {
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Where Timestamps and durations come from; the control API can move it forward. */
  readonly clock?: () => Date;
  readonly logger?: Logger;
  /** Callback retries after the first attempt (Twilio's default: 1); a URL's `#rc=` wins. */
  readonly callbackRetries?: number;
  /** Pause before a callback retry. Default 250 ms. */
  readonly callbackRetryDelayMs?: number;
  /** Real milliseconds between a composition's steps. Default 20. */
  readonly compositionStepMs?: number;
  /** How often the empty-room and unused-room timeouts are checked. Default 1000 ms. */
  readonly timeoutCheckIntervalMs?: number;
  /** Where fault rules draw their chances (a seeded random in tests). Default Math.random. */
  readonly random?: () => number;
  /**
   * Where rooms, compositions and the clock are kept across restarts (sandbox-state-file.ts);
   * nothing is kept when absent.
   */
  readonly stateFile?: string;
}

export interface Sandbox {
  /** Base URL, e.g. http://127.0.0.1:PORT — Roomgate's TWILIO_API_BASE_URL. */
  readonly url: string;
  readonly accountSid: string;
  /** Rooms, participants, recordings and compositions, for inspection (`state.rooms`, `state.compositions`). */
  readonly state: VideoEmulator;
  /** Every callback delivery attempt, oldest first. */
  readonly callbackLog: readonly CallbackAttempt[];
  /** A participant joins the room (SID or in-progress UniqueName) and publishes audio and video; returns its SID. */
  connectParticipant(input: { room: string; identity: string; tracks?: readonly TrackKind[] }): string;
  /** A participant (SID, or identity of a connected one) leaves. */
  disconnectParticipant(input: { room: string; participant: string }): void;
  /** Shorthand of connectParticipant. */
  connect(room: string, identity: string): string;
  /** Shorthand of disconnectParticipant. */
  disconnect(room: string, participant: string): void;
  /** Ends the room as `POST /v1/Rooms/{sid}` with `Status=completed` does. */
  endRoom(room: string): SandboxRoom;
  /** The next composition created ends with composition-failed. */
  failNextComposition(errorMessage?: string): void;
  /** The next composition created stays enqueued for ever. */
  stuckNextComposition(): void;
  /** Callback failure modes: drop, hold (release later: late, reordered), duplicate, delay. */
  readonly callbackFaults: CallbackFaults;
  /** REST failure modes: 429 with Retry-After, 5xx, 404 on a room that just ended. */
  readonly restFaults: RestFaults;
  now(): Date;
  /** Moves the sandbox clock forward, then ends rooms whose timeout has passed. */
  advanceTime(ms: number): Date;
  /** Sets the sandbox clock (never backwards), then ends rooms whose timeout has passed. */
  setTime(to: Date): Date;
  /** Resolves when no composition is processing and every queued callback is delivered or given up. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

type Form = URLSearchParams;

export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const logger = (options.logger ?? pino({ level: 'silent' })).child({ component: 'sandbox' });
  const clock = new SandboxClock(options.clock);
  const sender = new CallbackSender({
    authToken: options.authToken,
    retries: options.callbackRetries ?? 1,
    retryDelayMs: options.callbackRetryDelayMs ?? 250,
    logger,
  });
  // Every callback is a change of state: the state file is written a moment later.
  let dirty = false;
  const changes = {
    send: (...args: Parameters<CallbackSender['send']>) => {
      dirty = true;
      sender.send(...args);
    },
  };
  const callbackFaults = new CallbackFaults(changes, options.random);
  const restFaults = new RestFaults();
  const emulator = new VideoEmulator({
    accountSid: options.accountSid,
    clock,
    callbacks: callbackFaults,
    compositionStepMs: options.compositionStepMs ?? 20,
  });
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  let base = '';
  const save = () => {
    if (!options.stateFile || !dirty) return;
    dirty = false;
    try {
      writeStateFile(options.stateFile, { now: clock.now(), emulator: emulator.exportState() });
    } catch (error) {
      logger.error({ err: error }, 'could not write the sandbox state file');
    }
  };
  if (options.stateFile) {
    const saved = readStateFile(options.stateFile) as { now?: Date; emulator?: Parameters<VideoEmulator['importState']>[0] } | undefined;
    if (saved) {
      // The clock never goes back: a restarted sandbox resumes at least where it was.
      if (saved.now && saved.now.getTime() > clock.now().getTime()) clock.set(saved.now);
      emulator.importState(saved.emulator ?? {});
    }
  }
  const saver = setInterval(save, 200);
  saver.unref();
  app.addHook('onResponse', async (request) => {
    if (request.method !== 'GET') dirty = true;
  });

  const checkTimeouts = () => {
    try {
      emulator.checkTimeouts();
    } catch (error) {
      logger.error({ err: error }, 'sandbox timeout check failed');
    }
  };

  const sandbox: Sandbox = {
    get url() {
      return base;
    },
    accountSid: options.accountSid,
    state: emulator,
    callbackLog: sender.log,
    connectParticipant: (input) => emulator.connectParticipant(input).sid,
    disconnectParticipant: (input) => void emulator.disconnectParticipant(input),
    connect: (room, identity) => emulator.connectParticipant({ room, identity }).sid,
    disconnect: (room, participant) => void emulator.disconnectParticipant({ room, participant }),
    endRoom: (room) => emulator.completeRoom(room),
    failNextComposition: (errorMessage) => emulator.failNextComposition(errorMessage),
    stuckNextComposition: () => emulator.stuckNextComposition(),
    callbackFaults,
    restFaults,
    now: () => clock.now(),
    advanceTime(ms) {
      const now = clock.advance(ms);
      checkTimeouts();
      return now;
    },
    setTime(to) {
      const now = clock.set(to);
      checkTimeouts();
      return now;
    },
    async idle() {
      do {
        await emulator.settled();
        while (callbackFaults.busy) await new Promise((resolve) => setTimeout(resolve, 10));
        await sender.idle();
      } while (emulator.busy || callbackFaults.busy);
    },
    async close() {
      clearInterval(timeoutChecker);
      clearInterval(saver);
      callbackFaults.close();
      emulator.close();
      await sender.close();
      await app.close();
      dirty = true;
      save();
    },
  };

  registerParsers(app);
  registerErrors(app, logger);
  registerAuth(app, options);
  registerRestFaults(app, emulator, restFaults, clock);
  registerRest(app, emulator, options.accountSid, () => base, mediaSigner(options.authToken));
  registerControl(app, sandbox, () => base);

  try {
    await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  } catch (error) {
    // Nothing may stay behind a failed start (the process must be able to exit).
    clearInterval(saver);
    emulator.close();
    await sender.close();
    await app.close();
    throw error;
  }
  const address = app.server.address() as AddressInfo;
  // Listening on every interface: links and the printed URL use loopback, which always answers.
  const host = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '::1' : address.address;
  base = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  const timeoutChecker = setInterval(checkTimeouts, options.timeoutCheckIntervalMs ?? 1_000);
  timeoutChecker.unref();
  logger.info({ url: base, accountSid: options.accountSid, apiKeySid: options.apiKeySid }, 'sandbox Twilio listening');
  return sandbox;
}

/** The REST routes answer a matching fault rule's status instead (the control routes never do). */
function registerRestFaults(app: FastifyInstance, emulator: VideoEmulator, faults: RestFaults, clock: SandboxClock): void {
  app.addHook('preHandler', async (request, reply) => {
    const path = request.url.split('?')[0]!;
    if (!path.startsWith('/v1/')) return;
    const roomMatch = /^\/v1\/Rooms\/([^/]+)$/.exec(path);
    const ended = roomMatch ? emulator.getRoom(decodeURIComponent(roomMatch[1]!))?.endTime : undefined;
    const rule = faults.match(request.method, path, ended ? clock.now().getTime() - ended.getTime() : undefined);
    if (!rule) return;
    if (rule.retryAfterSeconds !== undefined) reply.header('retry-after', String(rule.retryAfterSeconds));
    const error =
      rule.status === 404
        ? notFound(path.slice('/v1'.length))
        : new SandboxTwilioError(
            rule.status,
            rule.status === 429 ? E.TOO_MANY_REQUESTS : E.INTERNAL,
            rule.status === 429 ? 'Too Many Requests' : 'Service unavailable (sandbox fault)',
          );
    return reply.status(rule.status).send(error.toJSON());
  });
}

/** Twilio takes form-encoded bodies; the control API takes JSON too, for convenience. */
function registerParsers(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, new URLSearchParams(body as string));
  });
}

function toForm(body: unknown): Form {
  if (body instanceof URLSearchParams) return body;
  const form = new URLSearchParams();
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    for (const [key, value] of Object.entries(body)) {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (item === null || item === undefined) continue;
        form.append(key, typeof item === 'object' ? JSON.stringify(item) : String(item));
      }
    }
  } else if (body !== undefined && body !== null && body !== '') {
    throw invalidParameter('The body must be form-encoded (or a JSON object)');
  }
  return form;
}

function registerErrors(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((error: unknown, request, reply) => {
    if (error instanceof SandboxTwilioError) return reply.status(error.status).send(error.toJSON());
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      return reply.status(status).send(new SandboxTwilioError(status, E.INVALID_PARAMETER, (error as Error).message).toJSON());
    }
    logger.error({ err: error, method: request.method, url: request.url }, 'sandbox route failed');
    return reply.status(500).send(new SandboxTwilioError(500, E.INTERNAL, 'Internal Server Error').toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(notFound(request.url.split('?')[0]!).toJSON());
  });
}

/**
 * HTTP Basic with the API key (SID:secret) or the account (SID:auth token), on every route —
 * the control routes too: a web page must not be able to drive a developer's sandbox by a
 * cross-site form POST to 127.0.0.1.
 */
function registerAuth(app: FastifyInstance, credentials: SandboxCredentials): void {
  const accepted = [
    Buffer.from(`${credentials.apiKeySid}:${credentials.apiKeySecret}`),
    Buffer.from(`${credentials.accountSid}:${credentials.authToken}`),
  ];
  app.addHook('onRequest', async (request, reply) => {
    // A media URL carries its own short-lived signature, as Twilio's does: no credentials.
    if (request.url.startsWith(MEDIA_PATH)) return;
    const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(request.headers.authorization ?? '');
    const given = match ? Buffer.from(match[1]!, 'base64') : Buffer.alloc(0);
    // Compare against every pair, without stopping early: time does not say which one was close.
    let ok = false;
    for (const expected of accepted) ok = (expected.length === given.length && timingSafeEqual(expected, given)) || ok;
    if (!ok) {
      reply.header('www-authenticate', 'Basic realm="Twilio API"');
      return reply.status(401).send(new SandboxTwilioError(401, E.AUTHENTICATE, 'Authenticate').toJSON());
    }
  });
}

type Params<K extends string> = { Params: Record<K, string> };

const MEDIA_PATH = '/_sandbox/Media/';

/** Short-lived media URLs like Twilio's: the file name and expiry, signed with the auth token. */
function mediaSigner(secret: string) {
  const sign = (file: string, expires: number) => createHmac('sha256', secret).update(`${file}:${expires}`).digest('hex');
  return {
    url(base: string, file: string, ttlText: unknown): string {
      const ttl = Math.min(604_800, Math.max(1, Number(ttlText) || 3600));
      const expires = Math.floor(Date.now() / 1000) + ttl;
      return `${base}${MEDIA_PATH}${file}?Expires=${expires}&Signature=${sign(file, expires)}`;
    },
    valid(file: string, query: { Expires?: string; Signature?: string }): boolean {
      const expires = Number(query.Expires);
      if (!Number.isInteger(expires) || expires < Date.now() / 1000 || typeof query.Signature !== 'string') return false;
      const expected = Buffer.from(sign(file, expires));
      const given = Buffer.from(query.Signature);
      return expected.length === given.length && timingSafeEqual(expected, given);
    },
  };
}

function registerRest(
  app: FastifyInstance,
  emulator: VideoEmulator,
  accountSid: string,
  base: () => string,
  media: ReturnType<typeof mediaSigner>,
): void {
  const room = (r: SandboxRoom) => roomResource(base(), accountSid, r);

  app.post('/v1/Rooms', async (request, reply) => {
    const f = toForm(request.body);
    const created = emulator.createRoom({
      uniqueName: optional(f, 'UniqueName'),
      type: optional(f, 'Type'),
      statusCallback: optional(f, 'StatusCallback'),
      statusCallbackMethod: optional(f, 'StatusCallbackMethod'),
      recordParticipantsOnConnect: bool(f, 'RecordParticipantsOnConnect'),
      emptyRoomTimeout: int(f, 'EmptyRoomTimeout'),
      unusedRoomTimeout: int(f, 'UnusedRoomTimeout'),
      maxParticipants: int(f, 'MaxParticipants'),
      maxParticipantDuration: int(f, 'MaxParticipantDuration'),
    });
    return reply.status(201).send(room(created));
  });

  app.get<{ Querystring: Record<string, string | undefined> }>('/v1/Rooms', async (request) => {
    const { Status, UniqueName } = request.query;
    const rooms = emulator.listRooms().filter((r) => (!Status || r.status === Status) && (!UniqueName || r.uniqueName === UniqueName));
    return page(base(), '/v1/Rooms', 'rooms', rooms.reverse().map(room), request.query.PageSize);
  });

  app.get<Params<'room'>>('/v1/Rooms/:room', async (request) => {
    const found = emulator.getRoom(request.params.room);
    if (!found) throw notFound(`/Rooms/${request.params.room}`);
    return room(found);
  });

  app.post<Params<'room'>>('/v1/Rooms/:room', async (request) => {
    const status = optional(toForm(request.body), 'Status');
    if (status !== 'completed') throw new SandboxTwilioError(400, E.ROOM_STATUS_INVALID, 'Status is invalid: only completed is accepted');
    return room(emulator.completeRoom(request.params.room));
  });

  // Recording Rules: `Rules` is a JSON array; the answer lists the rules in force.
  const rulesResource = (rules: ReturnType<VideoEmulator['getRecordingRules']>) => ({
    room_sid: rules.roomSid,
    rules: rules.rules,
    date_created: twilioDate(rules.dateCreated),
    date_updated: twilioDate(rules.dateUpdated),
  });
  app.get<Params<'room'>>('/v1/Rooms/:room/RecordingRules', async (request) =>
    rulesResource(emulator.getRecordingRules(request.params.room)),
  );
  app.post<Params<'room'>>('/v1/Rooms/:room/RecordingRules', async (request) => {
    const text = optional(toForm(request.body), 'Rules');
    if (text === undefined) throw invalidParameter('Rules is required');
    let rules: unknown;
    try {
      rules = JSON.parse(text);
    } catch {
      throw invalidParameter('Rules is not valid JSON');
    }
    // Twilio's helpers send the array itself; a {"rules": […]} wrapper is read the same.
    if (rules && typeof rules === 'object' && !Array.isArray(rules) && 'rules' in rules) rules = (rules as { rules: unknown }).rules;
    return rulesResource(emulator.setRecordingRules(request.params.room, rules));
  });

  // The room's track recordings (Twilio's RoomRecording list): only what the rules let be recorded.
  app.get<Params<'room'>>('/v1/Rooms/:room/Recordings', async (request) => {
    const found = emulator.getRoom(request.params.room);
    if (!found) throw notFound(`/Rooms/${request.params.room}`);
    const { Status, SourceSid, PageSize } = request.query as Record<string, string | undefined>;
    const recordings = found.recordings.filter((r) => (!Status || r.status === Status) && (!SourceSid || r.trackSid === SourceSid));
    return page(
      base(),
      `/v1/Rooms/${found.sid}/Recordings`,
      'recordings',
      recordings.map((r) => recordingResource(base(), accountSid, r)),
      PageSize,
    );
  });

  app.get<Params<'room'>>('/v1/Rooms/:room/Participants', async (request) => {
    const found = emulator.getRoom(request.params.room);
    if (!found) throw notFound(`/Rooms/${request.params.room}`);
    const status = (request.query as Record<string, string | undefined>).Status;
    const participants = found.participants.filter((p) => !status || p.status === status);
    return page(
      base(),
      `/v1/Rooms/${found.sid}/Participants`,
      'participants',
      participants.map((p) => participantResource(base(), accountSid, p)),
    );
  });

  app.get<Params<'room' | 'participant'>>('/v1/Rooms/:room/Participants/:participant', async (request) => {
    const found = emulator.getParticipant(request.params.room, request.params.participant);
    if (!found) throw notFound(`/Rooms/${request.params.room}/Participants/${request.params.participant}`);
    return participantResource(base(), accountSid, found);
  });

  // Twilio's way to remove a participant from a room: Status=disconnected.
  app.post<Params<'room' | 'participant'>>('/v1/Rooms/:room/Participants/:participant', async (request) => {
    if (optional(toForm(request.body), 'Status') !== 'disconnected') throw invalidParameter('Status must be disconnected');
    const left = emulator.disconnectParticipant({ room: request.params.room, participant: request.params.participant });
    return participantResource(base(), accountSid, left);
  });

  app.get<Params<'sid'>>('/v1/Recordings/:sid', async (request) => {
    const found = emulator.getRecording(request.params.sid);
    if (!found) throw notFound(`/Recordings/${request.params.sid}`);
    return recordingResource(base(), accountSid, found);
  });

  app.post('/v1/Compositions', async (request, reply) => {
    const f = toForm(request.body);
    const layout = optional(f, 'VideoLayout');
    let videoLayout: unknown;
    if (layout !== undefined) {
      try {
        videoLayout = JSON.parse(layout);
      } catch {
        throw new SandboxTwilioError(400, E.COMPOSITION_INVALID, 'VideoLayout is not valid JSON');
      }
    }
    const created = emulator.createComposition({
      roomSid: optional(f, 'RoomSid') ?? '',
      audioSources: list(f, 'AudioSources'),
      audioSourcesExcluded: list(f, 'AudioSourcesExcluded'),
      videoLayout,
      format: optional(f, 'Format'),
      resolution: optional(f, 'Resolution'),
      trim: bool(f, 'Trim'),
      statusCallback: optional(f, 'StatusCallback'),
      statusCallbackMethod: optional(f, 'StatusCallbackMethod'),
    });
    return reply.status(201).send(compositionResource(base(), accountSid, created));
  });

  app.get<{ Querystring: Record<string, string | undefined> }>('/v1/Compositions', async (request) => {
    const { RoomSid, Status, PageSize } = request.query;
    const found = emulator.listCompositions({ roomSid: RoomSid, status: Status }).reverse();
    return page(
      base(),
      '/v1/Compositions',
      'compositions',
      found.map((c) => compositionResource(base(), accountSid, c)),
      PageSize,
    );
  });

  // Media: Twilio answers with a redirect to a short-lived media URL; the sandbox redirects to
  // a placeholder it serves itself, so a client following the link stays in the sandbox.
  app.get<Params<'sid'> & { Querystring: { Ttl?: string } }>('/v1/Compositions/:sid/Media', async (request, reply) => {
    const found = emulator.getComposition(request.params.sid);
    if (!found) throw notFound(`/Compositions/${request.params.sid}/Media`);
    if (found.status !== 'completed') throw notFound(`/Compositions/${request.params.sid}/Media`);
    return reply.redirect(media.url(base(), `${found.sid}.${found.format}`, request.query.Ttl), 302);
  });

  app.get<Params<'sid'> & { Querystring: { Ttl?: string } }>('/v1/Recordings/:sid/Media', async (request, reply) => {
    const found = emulator.getRecording(request.params.sid);
    if (!found || found.status !== 'completed') throw notFound(`/Recordings/${request.params.sid}/Media`);
    return reply.redirect(media.url(base(), `${found.sid}.${found.container}`, request.query.Ttl), 302);
  });

  app.get<Params<'file'> & { Querystring: { Expires?: string; Signature?: string } }>('/_sandbox/Media/:file', async (request, reply) => {
    const match = /^((?:CJ|RT)[0-9a-f]{32})\.(mp4|webm|mka|mkv)$/.exec(request.params.file);
    const known = match && (emulator.getComposition(match[1]!) ?? emulator.getRecording(match[1]!));
    // An unknown, unsigned or expired link: the same 404 (Twilio's signed URLs answer likewise).
    if (!match || !known || !media.valid(request.params.file, request.query)) throw notFound(`/_sandbox/Media/${request.params.file}`);
    const type = { mp4: 'video/mp4', webm: 'video/webm', mka: 'audio/x-matroska', mkv: 'video/x-matroska' }[match[2] as 'mp4'];
    return reply
      .type(type)
      .header('content-disposition', `attachment; filename="${request.params.file}"`)
      .send(Buffer.from(`roomgate sandbox placeholder media for ${match[1]}\n`));
  });

  app.get<Params<'sid'>>('/v1/Compositions/:sid', async (request) => {
    const found = emulator.getComposition(request.params.sid);
    if (!found) throw notFound(`/Compositions/${request.params.sid}`);
    return compositionResource(base(), accountSid, found);
  });
}

function registerControl(app: FastifyInstance, sandbox: Sandbox, base: () => string): void {
  const { state } = sandbox;

  app.post<Params<'room'>>('/_sandbox/Rooms/:room/Participants', async (request, reply) => {
    const form = toForm(request.body);
    const identity = optional(form, 'Identity');
    if (!identity) throw invalidParameter('Identity is required');
    const tracks = list(form, 'Tracks')
      ?.flatMap((t) => t.split(','))
      .map((t) => t.trim());
    if (tracks?.some((t) => t !== 'audio' && t !== 'video')) throw invalidParameter('Tracks must be audio and/or video');
    const sid = sandbox.connectParticipant({ room: request.params.room, identity, ...(tracks ? { tracks: tracks as TrackKind[] } : {}) });
    return reply.status(201).send(participantResource(base(), sandbox.accountSid, state.getParticipant(request.params.room, sid)!));
  });

  app.post<Params<'room' | 'participant'>>('/_sandbox/Rooms/:room/Participants/:participant/Disconnect', async (request) => {
    const left = state.disconnectParticipant({ room: request.params.room, participant: request.params.participant });
    return participantResource(base(), sandbox.accountSid, left);
  });

  app.post<Params<'room'>>('/_sandbox/Rooms/:room/End', async (request) =>
    roomResource(base(), sandbox.accountSid, sandbox.endRoom(request.params.room)),
  );

  app.post('/_sandbox/Compositions/FailNext', async (request) => {
    sandbox.failNextComposition(optional(toForm(request.body), 'ErrorMessage'));
    return { fail_next: true };
  });

  app.post('/_sandbox/Compositions/StuckNext', async () => {
    sandbox.stuckNextComposition();
    return { stuck_next: true };
  });

  // Callback faults: Action=drop|hold|duplicate|delay [Events=a,b] [Room=] [Probability=] [Count=] [DelayMs=]
  app.post('/_sandbox/Faults/Callbacks', async (request, reply) => {
    const form = toForm(request.body);
    const action = optional(form, 'Action') as CallbackFaultAction | undefined;
    if (!action || !['drop', 'hold', 'duplicate', 'delay'].includes(action))
      throw invalidParameter('Action must be drop, hold, duplicate or delay');
    const events = list(form, 'Events')
      ?.flatMap((e) => e.split(','))
      .map((e) => e.trim())
      .filter(Boolean);
    const probability = optional(form, 'Probability');
    if (probability !== undefined && !(Number(probability) >= 0 && Number(probability) <= 1))
      throw invalidParameter('Probability must be 0 to 1');
    const room = optional(form, 'Room');
    const count = int(form, 'Count');
    const delayMs = int(form, 'DelayMs');
    sandbox.callbackFaults.add({
      action,
      ...(events ? { events } : {}),
      ...(room ? { room } : {}),
      ...(probability !== undefined ? { probability: Number(probability) } : {}),
      ...(count !== undefined ? { count } : {}),
      ...(delayMs !== undefined ? { delayMs } : {}),
    });
    return reply.status(201).send({ action, events: events ?? null, room: room ?? null });
  });

  // REST faults: Status=404|429|500|502|503 [Path=Rooms|Participants|Compositions] [Count=] [RetryAfter=s] [AfterEndSeconds=]
  app.post('/_sandbox/Faults/Rest', async (request, reply) => {
    const form = toForm(request.body);
    const status = int(form, 'Status');
    if (status !== 404 && status !== 429 && status !== 500 && status !== 502 && status !== 503)
      throw invalidParameter('Status must be 404, 429, 500, 502 or 503');
    const path = optional(form, 'Path');
    const count = int(form, 'Count');
    const retryAfterSeconds = int(form, 'RetryAfter');
    const afterEndSeconds = int(form, 'AfterEndSeconds');
    sandbox.restFaults.add({
      status,
      ...(path ? { path } : {}),
      ...(count !== undefined ? { count } : {}),
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
      ...(afterEndSeconds !== undefined ? { afterEndSeconds } : {}),
    });
    return reply.status(201).send({ status, path: path ?? null });
  });

  app.delete('/_sandbox/Faults', async () => {
    sandbox.callbackFaults.clear();
    sandbox.restFaults.clear();
    return { cleared: true };
  });

  app.get('/_sandbox/Faults', async () => ({
    callbacks: sandbox.callbackFaults.faults,
    held: sandbox.callbackFaults.heldCount,
    rest: sandbox.restFaults.applied,
  }));

  // Held callbacks go out now, stamped as they were: late, after the REST state moved on.
  app.post('/_sandbox/Callbacks/Release', async (request) => {
    const form = toForm(request.body);
    const order = optional(form, 'Order');
    if (order !== undefined && order !== 'held' && order !== 'reverse') throw invalidParameter('Order must be held or reverse');
    const room = optional(form, 'Room');
    return { released: sandbox.callbackFaults.release({ ...(room ? { room } : {}), ...(order ? { order } : {}) }) };
  });

  app.get('/_sandbox/Clock', async () => ({ now: sandbox.now().toISOString() }));

  app.post('/_sandbox/Clock', async (request) => {
    const form = toForm(request.body);
    const advance = optional(form, 'AdvanceSeconds');
    const set = optional(form, 'Now');
    if ((advance === undefined) === (set === undefined)) throw invalidParameter('Give exactly one of AdvanceSeconds or Now');
    try {
      if (advance !== undefined) {
        if (!/^\d+(\.\d+)?$/.test(advance)) throw invalidParameter('AdvanceSeconds must be a non-negative number');
        sandbox.advanceTime(Number(advance) * 1000);
      } else {
        const to = new Date(set!);
        if (Number.isNaN(to.getTime())) throw invalidParameter('Now must be an ISO 8601 date');
        sandbox.setTime(to);
      }
    } catch (error) {
      if (error instanceof RangeError) throw invalidParameter(error.message);
      throw error;
    }
    return { now: sandbox.now().toISOString() };
  });

  app.get('/_sandbox/Callbacks', async () => ({
    callbacks: sandbox.callbackLog.map((a) => ({
      url: a.url,
      event: a.event,
      attempt: a.attempt,
      idempotency_token: a.idempotencyToken,
      status: a.status ?? null,
      error: a.error ?? null,
      date: a.at,
    })),
  }));

  app.post('/_sandbox/Idle', async () => {
    await sandbox.idle();
    return { idle: true, now: twilioDate(sandbox.now()) };
  });
}

function page(base: string, path: string, key: string, items: unknown[], pageSize?: string) {
  const size = Math.min(1000, Math.max(1, Number(pageSize) || 50));
  const url = `${base}${path}?PageSize=${size}&Page=0`;
  return {
    [key]: items.slice(0, size),
    meta: { page: 0, page_size: size, first_page_url: url, previous_page_url: null, url, next_page_url: null, key },
  };
}

function optional(form: Form, key: string): string | undefined {
  return form.get(key) ?? undefined;
}

function list(form: Form, key: string): string[] | undefined {
  const values = form.getAll(key);
  return values.length ? values : undefined;
}

function bool(form: Form, key: string): boolean | undefined {
  const value = form.get(key);
  if (value === null) return undefined;
  if (/^true$/i.test(value)) return true;
  if (/^false$/i.test(value)) return false;
  throw invalidParameter(`${key} must be true or false`);
}

function int(form: Form, key: string): number | undefined {
  const value = form.get(key);
  if (value === null) return undefined;
  if (!/^\d+$/.test(value)) throw invalidParameter(`${key} must be a whole number`);
  return Number(value);
}
