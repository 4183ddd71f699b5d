/**
 * The slice of Twilio's Video REST API Roomgate calls (real Twilio or the sandbox): rooms and
 * compositions, form-encoded, HTTP Basic with an API key. Failures are typed: a Twilio error
 * answer (4xx with its code) is not retried; a network failure, a timeout (whole exchange, body
 * included), an oversized body, 429 or 5xx is. Over node:http(s) with a keep-alive agent
 * (twilio-http-transport.ts), not fetch: ≈ 3× less CPU per request (bench/twilio-client.bench.ts).
 */
import type { RecordingRule } from '../../core/consultation/consent.js';
import { createTwilioHttpTransport, type TwilioHttpRequest } from './twilio-http-transport.js';

export interface TwilioRoom {
  readonly sid: string;
  /** The account the room belongs to (absent from some test doubles). */
  readonly account_sid?: string;
  readonly unique_name: string;
  readonly status: string;
  /** ISO 8601, whole seconds (Twilio's REST dates). */
  readonly date_created?: string | null;
  readonly end_time?: string | null;
  /** Seconds, once completed. */
  readonly duration?: number | null;
}

export interface TwilioParticipant {
  readonly sid: string;
  readonly room_sid: string;
  readonly identity: string;
  /** 'connected' or 'disconnected'. */
  readonly status: string;
  readonly start_time: string | null;
  readonly end_time: string | null;
  /** Seconds, once disconnected. */
  readonly duration: number | null;
}

/** A track recording of a room (Twilio's RoomRecording). */
export interface TwilioRoomRecording {
  readonly sid: string;
  /** processing, completed, deleted or failed. */
  readonly status: string;
  readonly date_created: string | null;
  /** Seconds, once completed. */
  readonly duration: number | null;
  readonly size: number | null;
  /** audio, video or data. */
  readonly type?: string | null;
  readonly track_name?: string | null;
  readonly source_sid?: string | null;
  readonly container?: string | null;
  readonly codec?: string | null;
  readonly grouping_sids?: { readonly participant_sid?: string | null } | null;
}

export interface TwilioComposition {
  readonly sid: string;
  readonly room_sid: string;
  /** enqueued, processing, completed, deleted or failed. */
  readonly status: string;
  readonly date_created?: string | null;
  readonly date_completed?: string | null;
  readonly duration?: number | null;
  readonly size?: number | null;
}

export interface TwilioRecordingRules {
  readonly room_sid: string;
  readonly rules: readonly RecordingRule[];
  readonly date_created?: string | null;
  readonly date_updated?: string | null;
}

export class TwilioApiError extends Error {
  override readonly name = 'TwilioApiError';
  readonly code = 'UPSTREAM_UNAVAILABLE';
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly twilioCode: number | undefined,
    /** True when trying again later may succeed (network failure, 429, 5xx). */
    readonly retryable: boolean,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }

  /** How long Twilio asked us to wait (its Retry-After header on a 429 or 503), when it said. */
  readonly retryAfterMs: number | undefined;
}

/** Retry-After: delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export interface TwilioRestClient {
  createRoom(input: {
    uniqueName: string;
    statusCallback: string;
    recordParticipantsOnConnect: boolean;
    type?: string;
    /** Seconds a participant may stay (600–86,400); Twilio's default when absent. */
    maxParticipantDuration?: number;
  }): Promise<TwilioRoom>;
  /** Replaces the room's Recording Rules (`POST /v1/Rooms/{sid}/RecordingRules`); answers the rules in force. */
  updateRecordingRules(roomSid: string, rules: readonly RecordingRule[]): Promise<TwilioRecordingRules>;
  fetchRoom(sid: string): Promise<TwilioRoom>;
  completeRoom(sid: string): Promise<TwilioRoom>;
  /**
   * Sources: track names (Twilio's AudioSources / VideoLayout video_sources); absent → every
   * track (`*`). A room whose recording follows consent names only consenting participants' tracks.
   */
  createComposition(input: {
    roomSid: string;
    statusCallback: string;
    sources?: { audio: readonly string[]; video: readonly string[] };
  }): Promise<TwilioComposition>;
  listCompositions(roomSid: string): Promise<TwilioComposition[]>;
  /** The short-lived URL of a composition's media: Twilio answers the Media request with a redirect to it. */
  compositionMediaUrl(compositionSid: string, ttlSeconds: number): Promise<string>;
  /** Every participant the room had (connected and disconnected), up to 1000. */
  listParticipants(roomSid: string): Promise<TwilioParticipant[]>;
  /** The room's track recordings (`GET /v1/Rooms/{sid}/Recordings`). */
  listRoomRecordings(roomSid: string): Promise<TwilioRoomRecording[]>;
}

/** An answer larger than this is refused: a broken or hostile upstream must not fill the heap. */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/** Where the client calls and as whom (plain data: the record thread receives it as a message). */
export interface TwilioRestClientOptions {
  readonly baseUrl: string;
  readonly apiKeySid: string;
  readonly apiKeySecret: string;
  readonly timeoutMs?: number;
}

export function createTwilioRestClient(options: TwilioRestClientOptions): TwilioRestClient {
  const authorization = `Basic ${Buffer.from(`${options.apiKeySid}:${options.apiKeySecret}`).toString('base64')}`;
  const send = createTwilioHttpTransport({
    baseUrl: options.baseUrl,
    timeoutMs: options.timeoutMs ?? 10_000,
    maxBodyBytes: MAX_ANSWER_BYTES,
  });

  /** One exchange; a failure to get a whole answer (no connection, timeout, oversized body) is retryable. */
  async function exchange(method: 'GET' | 'POST', path: string, request: Omit<TwilioHttpRequest, 'method' | 'path'>) {
    try {
      return await send({ method, path, ...request });
    } catch (error) {
      throw new TwilioApiError(`Twilio ${method} ${path} failed: ${(error as Error).message}`, undefined, undefined, true, {
        cause: error,
      });
    }
  }

  async function call<T>(method: 'GET' | 'POST', path: string, form?: Record<string, string> | URLSearchParams): Promise<T> {
    const response = await exchange(method, path, {
      headers: {
        authorization,
        accept: 'application/json',
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    const body = safeJson(response.body) as { code?: number; message?: string } | undefined;
    if (response.status < 200 || response.status > 299) {
      const retryable = response.status === 429 || response.status >= 500;
      const retryAfterMs = parseRetryAfter(header(response.headers['retry-after']));
      throw new TwilioApiError(
        `Twilio ${method} ${path} answered ${response.status}: ${body?.message ?? 'no message'}`,
        response.status,
        body?.code,
        retryable,
        retryAfterMs === undefined ? undefined : { retryAfterMs },
      );
    }
    if (!body) throw new TwilioApiError(`Twilio ${method} ${path} answered with a body that is not JSON`, response.status, undefined, true);
    return body as T;
  }

  return {
    createRoom: (input) =>
      call('POST', '/v1/Rooms', {
        UniqueName: input.uniqueName,
        Type: input.type ?? 'group',
        StatusCallback: input.statusCallback,
        StatusCallbackMethod: 'POST',
        RecordParticipantsOnConnect: String(input.recordParticipantsOnConnect),
        ...(input.maxParticipantDuration !== undefined ? { MaxParticipantDuration: String(input.maxParticipantDuration) } : {}),
      }),
    updateRecordingRules: (roomSid, rules) =>
      call('POST', `/v1/Rooms/${encodeURIComponent(roomSid)}/RecordingRules`, { Rules: JSON.stringify(rules) }),
    fetchRoom: (sid) => call('GET', `/v1/Rooms/${encodeURIComponent(sid)}`),
    completeRoom: (sid) => call('POST', `/v1/Rooms/${encodeURIComponent(sid)}`, { Status: 'completed' }),
    createComposition: (input) => call('POST', '/v1/Compositions', compositionForm(input)),
    listCompositions: async (roomSid) =>
      (await call<{ compositions: TwilioComposition[] }>('GET', compositionsOfRoomPath(roomSid))).compositions,
    compositionMediaUrl: (sid, ttlSeconds) => mediaRedirect(`/v1/Compositions/${encodeURIComponent(sid)}/Media?Ttl=${ttlSeconds}`),
    listParticipants: async (roomSid) =>
      (await call<{ participants: TwilioParticipant[] }>('GET', `/v1/Rooms/${encodeURIComponent(roomSid)}/Participants?PageSize=1000`))
        .participants,
    listRoomRecordings: async (roomSid) =>
      (await call<{ recordings: TwilioRoomRecording[] }>('GET', `/v1/Rooms/${encodeURIComponent(roomSid)}/Recordings?PageSize=1000`))
        .recordings,
  };

  /** A Media request: the answer is a redirect, whose target (never followed here) is the result. */
  async function mediaRedirect(path: string): Promise<string> {
    const response = await exchange('GET', path, { headers: { authorization }, skipRedirectBody: true });
    const location = header(response.headers.location);
    if (response.status >= 300 && response.status < 400 && location) return new URL(location, options.baseUrl).toString();
    const body = safeJson(response.body) as { code?: number; message?: string } | undefined;
    const retryable = response.status === 429 || response.status >= 500 || (response.status >= 200 && response.status <= 299);
    throw new TwilioApiError(
      `Twilio GET ${path} answered ${response.status}: ${body?.message ?? 'no redirect'}`,
      response.status,
      body?.code,
      retryable,
    );
  }
}

/** A header's one value (node:http joins repeats of most headers; set-cookie-like arrays take the first). */
function header(value: string | string[] | undefined): string | null {
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

/** The form of a Create Composition request. */
export function compositionForm(input: Parameters<TwilioRestClient['createComposition']>[0]): URLSearchParams {
  const form = new URLSearchParams({ RoomSid: input.roomSid });
  const audio = input.sources ? input.sources.audio : ['*'];
  const video = input.sources ? input.sources.video : ['*'];
  // AudioSources is a list: one form field per track name.
  for (const name of audio) form.append('AudioSources', name);
  if (video.length > 0) form.set('VideoLayout', JSON.stringify({ grid: { video_sources: video } }));
  form.set('Format', 'mp4');
  form.set('StatusCallback', input.statusCallback);
  form.set('StatusCallbackMethod', 'POST');
  return form;
}

/** The path listing a room's compositions (one page of 50: a room has a few at most). */
export const compositionsOfRoomPath = (roomSid: string) => `/v1/Compositions?RoomSid=${encodeURIComponent(roomSid)}&PageSize=50`;

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
