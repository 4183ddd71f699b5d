/**
 * Clients of the live streams over real sockets: an SSE reader that records every event and
 * when the server ended the stream, and a WebSocket that records its close code and time.
 */
import WebSocket from 'ws';

export interface SseEvent {
  readonly event: string;
  readonly data: unknown;
  /** The `id:` line, when the server sent one. */
  readonly id?: string;
}

export interface SseClient {
  readonly status: number;
  readonly contentType: string | null;
  readonly events: SseEvent[];
  /** Set when the server ended the response (Date.now()). */
  readonly endedAt: () => number | undefined;
  close(): Promise<void>;
}

/** `lastEventId` resumes a stream as a reconnecting EventSource does (`Last-Event-ID`). */
export async function openSse(url: string, key: string, lastEventId?: string): Promise<SseClient> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${key}`, ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }) },
    signal: controller.signal,
  });
  const contentType = response.headers.get('content-type');
  const events: SseEvent[] = [];
  let endedAt: number | undefined;
  if (!response.body || response.status !== 200) {
    await response.body?.cancel();
    return { status: response.status, contentType, events, endedAt: () => Date.now(), close: async () => undefined };
  }
  const reader = response.body.getReader();
  let buffer = '';
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return void (endedAt = Date.now());
        buffer += Buffer.from(value).toString('utf8');
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const id = /^id: (.+)$/m.exec(block)?.[1];
          const event = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data), ...(id === undefined ? {} : { id }) });
        }
      }
    } catch {
      endedAt ??= Date.now(); // aborted by us, or the connection dropped
    }
  })();
  return {
    status: response.status,
    contentType,
    events,
    endedAt: () => endedAt,
    close: async () => (controller.abort(), await pump),
  };
}

export interface WsClient {
  readonly socket: WebSocket;
  /** The close code and when it came (Date.now()), once closed. */
  readonly closed: () => { code: number; at: number } | undefined;
}

/** Resolves once open, or with the HTTP status the upgrade was refused with. */
export function openWs(url: string, key: string | undefined): Promise<WsClient | { refused: number; body: string }> {
  const socket = new WebSocket(url, key ? { headers: { authorization: `Bearer ${key}` } } : {});
  let closed: { code: number; at: number } | undefined;
  socket.on('close', (code) => (closed = { code, at: Date.now() }));
  socket.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ socket, closed: () => closed }));
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ refused: response.statusCode ?? 0, body }));
      response.on('error', () => resolve({ refused: response.statusCode ?? 0, body }));
    });
    socket.once('error', reject);
  });
}

export async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
