/**
 * Live changes of the tenant's consultations: `GET /v1/events` as Server-Sent Events, and the
 * same stream over a WebSocket at `/v1/events/ws`. Both authenticate with the API key in the
 * Authorization header (scope events:read) and see only their own tenant's events.
 *
 * Every stream is admitted by the registry (caps per key and per tenant → 429) and ended by it
 * when its key is revoked, expires or disappears: SSE with a final `stream.end` event, the
 * WebSocket with close code 1008 (policy violation). When the server stops, every stream is
 * ended first (preClose): SSE with a `: server shutting down` comment and a `stream.end` event,
 * then the connection closes; the WebSocket with close code 1001 (going away). Until they end,
 * the server could not close and the process could not exit.
 *
 * The Node server hands this file EVERY upgrade request, whatever its path: each one is answered
 * (404 elsewhere, 401/403/429/503 here) and closed, and nothing it holds can throw out of the
 * handler — an exception there would end the process.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Authenticate } from '../auth/api-key-auth.js';
import { bearerChallenge } from '../auth/bearer-challenge.js';
import { HttpError, type ErrorCode } from '../errors.js';
import { answerOnSocket } from '../raw-http-answer.js';
import type { LiveEvent, LiveEvents } from '../live/live-events.js';
import type { LiveStreamRegistry, StreamAdmission, StreamEndReason } from '../live/live-stream-registry.js';

const HEARTBEAT_MS = 15_000;
export const WEBSOCKET_PATH = '/v1/events/ws';
/** WebSocket close code for a stream whose key no longer opens the API (RFC 6455: policy violation). */
export const CLOSE_POLICY_VIOLATION = 1008;
/** WebSocket close code when the server stops (RFC 6455: going away). */
export const CLOSE_GOING_AWAY = 1001;
/** A WebSocket client that does not answer the closing handshake is cut off after this. */
const CLOSE_GRACE_MS = 1000;

export interface EventRouteOptions {
  readonly live: LiveEvents;
  readonly authenticate: Authenticate;
  readonly streams: LiveStreamRegistry;
  /** Largest inbound WebSocket message: clients send nothing. */
  readonly wsMaxPayloadBytes: number;
}

export async function eventRoutes(app: FastifyInstance, options: EventRouteOptions): Promise<void> {
  const { live, streams } = options;
  let stopping = false;

  const sse = {
    summary: "Live changes of the tenant's consultations (Server-Sent Events).",
    description: `An \`text/event-stream\`: each change is an event named by its type with JSON data \`{consultationId, at, data}\`; \`stream.end\` with \`{reason}\` when the key is revoked or expires, or the server stops. The same stream as WebSocket messages at \`${WEBSOCKET_PATH}\`. More than ROOMGATE_STREAMS_PER_KEY / _PER_TENANT open → 429.`,
    response: { 200: { description: 'The event stream.', content: { 'text/event-stream': { schema: { type: 'string' } } } } },
  };
  app.get('/v1/events', { config: { scope: 'events:read' }, schema: sse }, (request, reply) => {
    const response = reply.raw;
    let cleanUp = () => undefined as void;
    const admission = streams.open({ tenantId: request.tenant.id, apiKeyId: request.tenant.apiKeyId }, (reason) => {
      cleanUp();
      if (reason !== 'server-stopping') return void response.end(`event: stream.end\ndata: ${JSON.stringify({ reason })}\n\n`);
      // Then the connection goes, rather than back to keep-alive where it would hold the stop.
      response.end(`: server shutting down\n\nevent: stream.end\ndata: ${JSON.stringify({ reason })}\n\n`, () =>
        response.socket?.destroy(),
      );
    });
    if (!admission.ok) throw tooMany(admission);
    reply.hijack();
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    response.write(': connected\n\n');
    const unsubscribe = live.subscribe(request.tenant.id, (event) => {
      response.write(`event: ${event.type}\ndata: ${JSON.stringify(publicEvent(event))}\n\n`);
    });
    const heartbeat = setInterval(() => response.write(': keep-alive\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    cleanUp = () => {
      clearInterval(heartbeat);
      unsubscribe();
      admission.release();
    };
    request.raw.on('close', cleanUp);
  });

  const sockets = new WebSocketServer({ noServer: true, maxPayload: options.wsMaxPayloadBytes });

  const onUpgrade = async (request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    if (requestPath(request.url) !== WEBSOCKET_PATH) return refuseUpgrade(socket, 'NOT_FOUND');
    let tenant;
    try {
      tenant = await options.authenticate(request.headers.authorization, 'events:read', app.log);
    } catch (error) {
      if (!(error instanceof HttpError)) return refuseUpgrade(socket, 'STORE_UNAVAILABLE');
      const challenge = bearerChallenge(error.code, request.headers.authorization, error.details.scope);
      return answerOnSocket(socket, {
        code: error.code,
        requestId: randomUUID(),
        message: error.message,
        ...(challenge ? { challenge } : {}),
      });
    }
    if (socket.destroyed) return; // the client gave up while its key was checked
    if (stopping) return void socket.destroy(); // streams were ended already; this one would hold the stop
    let ws: WebSocket | undefined;
    const admission = streams.open({ tenantId: tenant.id, apiKeyId: tenant.apiKeyId }, (reason: StreamEndReason) => {
      if (!ws) return void socket.destroy();
      if (reason !== 'server-stopping') return ws.close(CLOSE_POLICY_VIOLATION, reason);
      ws.close(CLOSE_GOING_AWAY, 'server shutting down');
      const client = ws;
      setTimeout(() => client.terminate(), CLOSE_GRACE_MS).unref();
    });
    if (!admission.ok) return refuseUpgrade(socket, 'TOO_MANY_STREAMS', tooMany(admission).message);
    // Until the handshake completes, the raw socket closing (ws refused the handshake, or the
    // client left) is what frees the slot.
    socket.once('close', () => {
      if (!ws) admission.release();
    });
    sockets.handleUpgrade(request, socket, head, (client) => {
      ws = client;
      const unsubscribe = live.subscribe(tenant.id, (event) => client.send(JSON.stringify({ type: event.type, ...publicEvent(event) })));
      const end = () => {
        unsubscribe();
        admission.release();
      };
      client.on('close', end);
      // A frame over maxPayload, or any protocol error: ws closes the connection (1009/1002).
      client.on('error', end);
    });
  };

  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A reset during the handshake must not become an unhandled 'error' event.
    socket.on('error', () => socket.destroy());
    onUpgrade(request, socket, head).catch((error: unknown) => {
      app.log.error({ err: error }, 'WebSocket upgrade failed');
      socket.destroy();
    });
  });
  // preClose: before the server stops accepting and waits for its connections to end.
  app.addHook('preClose', async () => {
    stopping = true;
    streams.endAll('server-stopping');
  });
  app.addHook('onClose', async () => {
    for (const client of sockets.clients) client.terminate();
    sockets.close();
  });
}

/** The path of a request target, never parsed by `new URL()` (which throws on `//[`). */
function requestPath(url: string | undefined): string {
  const target = url ?? '';
  const query = target.indexOf('?');
  return query < 0 ? target : target.slice(0, query);
}

function tooMany(admission: Extract<StreamAdmission, { ok: false }>): HttpError {
  return new HttpError(
    'TOO_MANY_STREAMS',
    admission.limit === 'key'
      ? 'Too many live streams are open for this API key; close one first.'
      : 'Too many live streams are open for this tenant; close one first.',
  );
}

/** An upgrade the server will not perform: an HTTP answer with the usual envelope, then close. */
function refuseUpgrade(socket: Duplex, code: ErrorCode, message?: string): void {
  answerOnSocket(socket, { code, requestId: randomUUID(), ...(message ? { message } : {}) });
}

/** What a subscriber sees: never the tenant id (it is theirs) nor anything internal. */
function publicEvent(event: LiveEvent) {
  return { consultationId: event.consultationId, at: event.at, data: event.data };
}
