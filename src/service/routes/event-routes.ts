/**
 * Changes of the tenant's consultations, read from the tenant's event log (migration 0009):
 * `GET /v1/events` as Server-Sent Events (each event's `id:` is its sequence; `Last-Event-ID` or
 * `?after=` resumes after it), the same stream over a WebSocket at `/v1/events/ws?after=`, and
 * with `Accept: application/json` one page of the log (`?after=&limit=`). All authenticate with
 * the API key in the Authorization header (scope events:read) and see only their own tenant's
 * events. A stream without a cursor starts after the tenant's last event.
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
import { parseEventCursor, type TenantEvent } from '../../core/events/tenant-event.js';
import { lastTenantSequence, listTenantEvents } from '../../storage/event-log-repository.js';
import type { Store } from '../../storage/store.js';
import { EventPage, EventsQuery } from '../api/schemas/event.js';
import { API_ERRORS } from '../api/schemas/common.js';
import { followTenantEvents } from '../live/event-log-follower.js';
import type { LiveEvents } from '../live/live-events.js';
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
  readonly store: Store;
  readonly authenticate: Authenticate;
  /** How often a stream reads the log when no notification woke it (other instances' events). */
  readonly pollIntervalMs?: number;
  readonly streams: LiveStreamRegistry;
  /** Largest inbound WebSocket message: clients send nothing. */
  readonly wsMaxPayloadBytes: number;
}

export async function eventRoutes(app: FastifyInstance, options: EventRouteOptions): Promise<void> {
  const { streams } = options;
  const follower = { store: options.store, live: options.live, logger: app.log, pollIntervalMs: options.pollIntervalMs };
  let stopping = false;
  /** Where a stream starts: after the client's cursor, or after the tenant's last event. */
  const startOf = async (tenantId: string, cursor: number | undefined) => cursor ?? (await lastTenantSequence(options.store.db, tenantId));

  const schema = {
    summary: "Changes of the tenant's consultations: Server-Sent Events, or one page of the event log as JSON.",
    description: `With \`Accept: application/json\`: the events after \`after\` (default 0), at most \`limit\`, in sequence order. Otherwise a \`text/event-stream\`: each event has \`id:\` = its sequence, \`event:\` = its type and JSON data (the Event model); reconnecting with \`Last-Event-ID\` (or \`?after=\`) resumes after that sequence, losing and repeating nothing; without either the stream starts after the tenant's last event. \`stream.end\` with \`{reason}\` when the key is revoked or expires, or the server stops. The same stream as WebSocket messages at \`${WEBSOCKET_PATH}?after=\`. More than ROOMGATE_STREAMS_PER_KEY / _PER_TENANT streams open → 429.`,
    querystring: EventsQuery,
    response: {
      ...API_ERRORS,
      200: {
        description: 'The event stream, or a page of events.',
        content: { 'application/json': { schema: EventPage }, 'text/event-stream': { schema: { type: 'string' } } },
      },
    },
  };
  app.get<{ Querystring: { after?: number; limit?: number } }>(
    '/v1/events',
    { config: { scope: 'events:read' }, schema },
    async (request, reply) => {
      const tenantId = request.tenant.id;
      if (wantsJson(request.headers.accept)) {
        const after = request.query.after ?? 0;
        const events = await listTenantEvents(options.store.db, tenantId, after, request.query.limit ?? 100);
        return reply.type('application/json').send({ data: events.map(publicEvent), lastSequence: events.at(-1)?.sequence ?? after });
      }
      const lastEventId = request.headers['last-event-id'];
      const cursor = parseEventCursor(typeof lastEventId === 'string' ? lastEventId : undefined) ?? request.query.after;
      const after = await startOf(tenantId, cursor);
      const response = reply.raw;
      let cleanUp = () => undefined as void;
      const admission = streams.open({ tenantId, apiKeyId: request.tenant.apiKeyId }, (reason) => {
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
      const stop = followTenantEvents(follower, tenantId, after, async (events) => {
        const text = events.map((event) => `id: ${event.sequence}\nevent: ${event.type}\ndata: ${JSON.stringify(publicEvent(event))}\n\n`);
        if (response.writableEnded || response.write(text.join(''))) return;
        // A slow client: read the next page only once this one has left (or the stream closed).
        await new Promise<void>((resolve) => (response.once('drain', resolve), response.once('close', resolve)));
      });
      const heartbeat = setInterval(() => response.write(': keep-alive\n\n'), HEARTBEAT_MS);
      heartbeat.unref();
      cleanUp = () => {
        clearInterval(heartbeat);
        stop();
        admission.release();
      };
      request.raw.on('close', cleanUp);
    },
  );

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
    let after: number;
    try {
      after = await startOf(tenant.id, parseEventCursor(queryParam(request.url, 'after')));
    } catch {
      return refuseUpgrade(socket, 'STORE_UNAVAILABLE');
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
      const unsubscribe = followTenantEvents(follower, tenant.id, after, (events) => {
        for (const event of events) if (client.readyState === client.OPEN) client.send(JSON.stringify(publicEvent(event)));
      });
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

/** What a subscriber sees (the Event model): never the tenant id (it is theirs) nor anything internal. */
export function publicEvent(event: TenantEvent) {
  return {
    id: event.id,
    sequence: event.sequence,
    type: event.type,
    consultationId: event.consultationId,
    at: event.occurredAt,
    data: event.data,
  };
}

/** JSON only when asked for and the client does not also take an event stream. */
function wantsJson(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes('application/json') && !accept.includes('text/event-stream');
}

/** One query parameter of a request target, without `new URL()` (see requestPath). */
function queryParam(url: string | undefined, name: string): string | undefined {
  const target = url ?? '';
  const query = target.indexOf('?');
  if (query < 0) return undefined;
  return new URLSearchParams(target.slice(query + 1)).get(name) ?? undefined;
}
