/**
 * The sandbox Twilio: the Video REST slice Roomgate uses, with Twilio's field names, HTTP Basic
 * auth (API key or account credentials) and Twilio-style errors; plus a control API under
 * /_sandbox for participants joining and leaving. See src/sandbox/README.md.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { CallbackSender, type CallbackAttempt } from './callback-sender.js';
import { SandboxState, TwilioError, type SandboxComposition, type SandboxRoom } from './sandbox-state.js';
import type { SandboxCredentials } from './twilio-ids.js';

export interface SandboxOptions extends SandboxCredentials {
  readonly port?: number;
  readonly host?: string;
  readonly clock?: () => Date;
  /** Callback retries after the first attempt (Twilio's default: 1). */
  readonly callbackRetries?: number;
  readonly callbackRetryDelayMs?: number;
}

export interface Sandbox {
  readonly url: string;
  readonly state: SandboxState;
  readonly callbackLog: readonly CallbackAttempt[];
  connect(room: string, identity: string): string;
  disconnect(room: string, participant: string): void;
  endRoom(room: string): void;
  failNextComposition(): void;
  /** Resolves when every callback queued so far has been delivered or given up. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const sender = new CallbackSender({ authToken: options.authToken, retries: options.callbackRetries ?? 1, retryDelayMs: options.callbackRetryDelayMs ?? 500 });
  let baseUrl = '';
  const state = new SandboxState(options.accountSid, sender, options.clock ?? (() => new Date()), () => baseUrl);

  const server = http.createServer((request, response) => {
    readBody(request)
      .then((body) => route(request, body))
      .then(({ status, json }) => send(response, status, json))
      .catch((error: unknown) => {
        if (error instanceof TwilioError) {
          return send(response, error.status, { code: error.code, message: error.message, more_info: `https://www.twilio.com/docs/errors/${error.code}`, status: error.status });
        }
        return send(response, 500, { code: 20500, message: 'Internal Server Error', status: 500 });
      });
  });

  const authorized = (request: http.IncomingMessage): boolean => {
    const match = /^Basic (.+)$/.exec(request.headers.authorization ?? '');
    if (!match) return false;
    const given = Buffer.from(match[1]!, 'base64');
    return [`${options.apiKeySid}:${options.apiKeySecret}`, `${options.accountSid}:${options.authToken}`].some((pair) => {
      const expected = Buffer.from(pair);
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
  };

  async function route(request: http.IncomingMessage, body: URLSearchParams): Promise<{ status: number; json: unknown }> {
    const url = new URL(request.url ?? '/', 'http://sandbox');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = request.method ?? 'GET';
    if (parts[0] === '_sandbox') return control(method, parts.slice(1), body);
    if (parts[0] !== 'v1') throw new TwilioError(404, 20404, 'The requested resource was not found');
    if (!authorized(request)) throw new TwilioError(401, 20003, 'Authenticate');
    const [, collection, sid] = parts;
    if (collection === 'Rooms' && method === 'POST' && !sid) {
      const room = state.createRoom({
        uniqueName: body.get('UniqueName') ?? undefined,
        type: body.get('Type') ?? undefined,
        statusCallback: body.get('StatusCallback') ?? undefined,
        record: body.get('RecordParticipantsOnConnect') === 'true',
      });
      return { status: 201, json: roomJson(room) };
    }
    if (collection === 'Rooms' && method === 'GET' && sid) return { status: 200, json: roomJson(state.findRoom(sid)) };
    if (collection === 'Rooms' && method === 'POST' && sid) {
      if (body.get('Status') !== 'completed') throw new TwilioError(400, 53112, 'Status must be completed');
      return { status: 200, json: roomJson(state.completeRoom(sid)) };
    }
    if (collection === 'Compositions' && method === 'POST' && !sid) {
      const roomSid = body.get('RoomSid');
      if (!roomSid) throw new TwilioError(400, 53602, 'RoomSid is required');
      return { status: 201, json: compositionJson(state.createComposition({ roomSid, statusCallback: body.get('StatusCallback') ?? undefined })) };
    }
    if (collection === 'Compositions' && method === 'GET' && sid) return { status: 200, json: compositionJson(state.findComposition(sid)) };
    if (collection === 'Compositions' && method === 'GET' && !sid) {
      const roomSid = url.searchParams.get('RoomSid');
      const list = [...state.compositions.values()].filter((composition) => !roomSid || composition.roomSid === roomSid);
      return { status: 200, json: { compositions: list.map(compositionJson), meta: { page: 0, page_size: 50, key: 'compositions' } } };
    }
    throw new TwilioError(404, 20404, 'The requested resource was not found');
  }

  async function control(method: string, parts: string[], body: URLSearchParams): Promise<{ status: number; json: unknown }> {
    if (method !== 'POST') throw new TwilioError(405, 20004, 'Method not allowed');
    const [collection, room, sub, participant, action] = parts;
    if (collection === 'Rooms' && room && sub === 'Participants' && !participant) {
      const identity = body.get('Identity');
      if (!identity) throw new TwilioError(400, 53200, 'Identity is required');
      return { status: 201, json: { sid: state.connect(room, identity).sid, identity } };
    }
    if (collection === 'Rooms' && room && sub === 'Participants' && participant && action === 'Disconnect') {
      return { status: 200, json: { sid: state.disconnect(room, participant).sid } };
    }
    if (collection === 'Rooms' && room && sub === 'End') return { status: 200, json: roomJson(state.completeRoom(room)) };
    if (collection === 'Compositions' && room === 'FailNext') {
      state.failNextCompositionRequest();
      return { status: 200, json: { failNext: true } };
    }
    throw new TwilioError(404, 20404, 'Unknown sandbox control route');
  }

  function roomJson(room: SandboxRoom) {
    return {
      sid: room.sid,
      account_sid: options.accountSid,
      unique_name: room.uniqueName,
      status: room.status,
      type: room.type,
      status_callback: room.statusCallback ?? null,
      status_callback_method: 'POST',
      record_participants_on_connect: room.record,
      date_created: room.createdAt.toISOString(),
      end_time: room.endedAt?.toISOString() ?? null,
      duration: room.endedAt ? Math.round((room.endedAt.getTime() - room.createdAt.getTime()) / 1000) : null,
      url: `${baseUrl}/v1/Rooms/${room.sid}`,
      links: { participants: `${baseUrl}/v1/Rooms/${room.sid}/Participants`, recordings: `${baseUrl}/v1/Rooms/${room.sid}/Recordings` },
    };
  }

  function compositionJson(composition: SandboxComposition) {
    return {
      sid: composition.sid,
      account_sid: options.accountSid,
      room_sid: composition.roomSid,
      status: composition.status,
      format: 'mp4',
      status_callback: composition.statusCallback ?? null,
      date_created: composition.createdAt.toISOString(),
      url: `${baseUrl}/v1/Compositions/${composition.sid}`,
      links: { media: `${baseUrl}/v1/Compositions/${composition.sid}/Media` },
    };
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  baseUrl = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

  return {
    url: baseUrl,
    state,
    callbackLog: sender.log,
    connect: (room, identity) => state.connect(room, identity).sid,
    disconnect: (room, participant) => void state.disconnect(room, participant),
    endRoom: (room) => void state.completeRoom(room),
    failNextComposition: () => state.failNextCompositionRequest(),
    idle: () => sender.idle(),
    async close() {
      await sender.idle();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

async function readBody(request: http.IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 64 * 1024) throw new TwilioError(413, 20413, 'Request entity too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(response: http.ServerResponse, status: number, json: unknown): void {
  const body = JSON.stringify(json);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}
