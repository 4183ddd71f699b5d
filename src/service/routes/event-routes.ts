/**
 * Live changes of the tenant's consultations: `GET /v1/events` as Server-Sent Events, and the
 * same stream over a WebSocket at `/v1/events/ws`. Both authenticate with the API key in the
 * Authorization header (scope events:read) and see only their own tenant's events.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer } from 'ws';
import type { Authenticate } from '../auth/api-key-auth.js';
import { ERRORS, HttpError } from '../errors.js';
import type { LiveEvent, LiveEvents } from '../live/live-events.js';
import { OpenStreams } from '../live/open-streams.js';

const HEARTBEAT_MS = 15_000;
/** A WebSocket client that does not answer the close handshake is cut off after this. */
const CLOSE_GRACE_MS = 1000;

export async function eventRoutes(app: FastifyInstance, options: { live: LiveEvents; authenticate: Authenticate }): Promise<void> {
  const streams = new OpenStreams();
  let stopping = false;
  app.get('/v1/events', { config: { scope: 'events:read' } }, (request, reply) => {
    reply.hijack();
    const response = reply.raw;
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    response.write(': connected\n\n');
    const unsubscribe = options.live.subscribe(request.tenant.id, (event) => {
      response.write(`event: ${event.type}\ndata: ${JSON.stringify(publicEvent(event))}\n\n`);
    });
    const heartbeat = setInterval(() => response.write(': keep-alive\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    // On stop: a final comment, then the connection goes (not back to keep-alive, which would hold the stop).
    const forget = streams.add(() => response.end(': server shutting down\n\n', () => response.socket?.destroy()));
    request.raw.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      forget();
    });
  });

  const sockets = new WebSocketServer({ noServer: true });
  const onUpgrade = async (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(request.url ?? '/', 'http://localhost').pathname !== '/v1/events/ws') return;
    try {
      const tenant = await options.authenticate(request.headers.authorization, 'events:read', app.log);
      if (stopping) throw new HttpError('STORE_UNAVAILABLE', 'The server is stopping.');
      sockets.handleUpgrade(request, socket, head, (ws) => {
        const unsubscribe = options.live.subscribe(tenant.id, (event) =>
          ws.send(JSON.stringify({ type: event.type, ...publicEvent(event) })),
        );
        const forget = streams.add(() => {
          ws.close(1001, 'server shutting down');
          setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
        });
        ws.on('close', () => {
          unsubscribe();
          forget();
        });
        ws.on('error', unsubscribe);
      });
    } catch (error) {
      const status = error instanceof HttpError ? error.status : ERRORS.STORE_UNAVAILABLE.status;
      socket.end(
        `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Service Unavailable'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
      );
    }
  };
  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => void onUpgrade(request, socket, head));
  // preClose: before the server stops accepting and waits for its connections to end.
  app.addHook('preClose', async () => {
    stopping = true;
    streams.endAll();
  });
  app.addHook('onClose', async () => {
    for (const client of sockets.clients) client.terminate();
    sockets.close();
  });
}

/** What a subscriber sees: never the tenant id (it is theirs) nor anything internal. */
function publicEvent(event: LiveEvent) {
  return { consultationId: event.consultationId, at: event.at, data: event.data };
}
