/**
 * A tiny real HTTP server that records the callbacks it receives, standing in for Roomgate in
 * the sandbox's own tests (and usable by anyone who wants to see what the sandbox sends).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedCallback {
  readonly method: string;
  /** The URL as the receiver saw it: http://127.0.0.1:PORT + path and query. */
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly signature: string | undefined;
  readonly idempotencyToken: string | undefined;
  /** Form parameters in the order sent. */
  readonly params: readonly (readonly [string, string])[];
  /** The same, as an object (every sandbox parameter is sent once). */
  readonly values: Readonly<Record<string, string>>;
}

export interface CallbackReceiver {
  readonly port: number;
  /** Base URL, http://127.0.0.1:PORT. */
  readonly url: string;
  readonly received: readonly ReceivedCallback[];
  /** What the next requests are answered with (default 204). */
  answerWith(status: number): void;
  close(): Promise<void>;
}

export async function startCallbackReceiver(options: { port?: number; status?: number } = {}): Promise<CallbackReceiver> {
  const received: ReceivedCallback[] = [];
  let status = options.status ?? 204;
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = `http://127.0.0.1:${port}${request.url ?? '/'}`;
      const params = [...new URLSearchParams(Buffer.concat(chunks).toString('utf8'))];
      received.push({
        method: request.method ?? '',
        url,
        headers: request.headers,
        signature: header(request, 'x-twilio-signature'),
        idempotencyToken: header(request, 'i-twilio-idempotency-token'),
        params,
        values: Object.fromEntries(params),
      });
      response.statusCode = status;
      response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    received,
    answerWith: (next) => void (status = next),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port that was free a moment ago and on which nothing listens now. */
export async function unusedPort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function header(request: http.IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
