/**
 * The wire under the Twilio REST client: node:http / node:https with a keep-alive agent of a few
 * sockets (cheaper in CPU than fetch, see bench/twilio-client.bench.ts). One deadline bounds the
 * whole exchange — connect, send, head and body — and the body is read to a bound, so an upstream
 * that stalls or floods costs a timer and a few MiB, never a stuck worker or the heap. Redirects
 * are answers, never followed. Failures reject with plain errors whose messages name no header.
 */
import http from 'node:http';
import https from 'node:https';

export interface TwilioHttpTransportOptions {
  readonly baseUrl: string;
  /** Deadline for the whole exchange, body included. */
  readonly timeoutMs: number;
  /** Bytes of an answer's body read at most; a longer body fails the exchange. */
  readonly maxBodyBytes: number;
  /** Certificates to trust besides the system's (a test's own https server); real Twilio needs none. */
  readonly ca?: string | Buffer;
}

export interface TwilioHttpRequest {
  readonly method: 'GET' | 'POST';
  /** Appended to the base URL as it is written (a base URL may carry a path prefix). */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Answer a redirect (3xx with a Location) with its head alone and drop its body: the Location is the result. */
  readonly skipRedirectBody?: boolean;
}

export interface TwilioHttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** UTF-8; empty for a redirect whose body was skipped. */
  readonly body: string;
}

export type TwilioHttpTransport = (request: TwilioHttpRequest) => Promise<TwilioHttpAnswer>;

/** Sockets kept per client: the outbox runs a few requests at once, never hundreds. */
const MAX_SOCKETS = 8;
/** Idle sockets are closed after this (undici's default): an upstream may drop one silently. */
const IDLE_SOCKET_MS = 4_000;

export function createTwilioHttpTransport(options: TwilioHttpTransportOptions): TwilioHttpTransport {
  const secure = options.baseUrl.startsWith('https:');
  const agentOptions = { keepAlive: true, maxSockets: MAX_SOCKETS, maxFreeSockets: MAX_SOCKETS, timeout: IDLE_SOCKET_MS };
  const agent = secure ? new https.Agent({ ...agentOptions, ...(options.ca ? { ca: options.ca } : {}) }) : new http.Agent(agentOptions);
  const send = secure ? https.request : http.request;

  return (request) =>
    new Promise<TwilioHttpAnswer>((resolve, reject) => {
      let url: URL;
      try {
        url = new URL(`${options.baseUrl}${request.path}`);
      } catch (error) {
        return reject(error as Error);
      }
      if (url.protocol !== (secure ? 'https:' : 'http:')) return reject(new Error(`unsupported protocol ${url.protocol}`));

      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        outgoing.destroy();
        reject(error);
      };
      const answer = (value: TwilioHttpAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        resolve(value);
      };

      const headers: Record<string, string> = { ...request.headers };
      if (request.body !== undefined) headers['content-length'] = String(Buffer.byteLength(request.body));
      const outgoing = send(
        {
          protocol: url.protocol,
          // URL keeps an IPv6 literal's brackets; the socket wants the bare address.
          hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
          port: url.port,
          path: `${url.pathname}${url.search}`,
          method: request.method,
          headers,
          agent,
        },
        (response) => {
          const status = response.statusCode ?? 0;
          if (request.skipRedirectBody && status >= 300 && status < 400 && response.headers.location) {
            answer({ status, headers: response.headers, body: '' });
            // The body is not wanted; dropping the socket costs less than draining an unknown one.
            response.destroy();
            return;
          }
          const declared = Number(response.headers['content-length']);
          if (declared > options.maxBodyBytes) {
            return fail(new Error(`answered ${status} with a body of ${declared} bytes, over the ${options.maxBodyBytes}-byte bound`));
          }
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > options.maxBodyBytes) fail(new Error(`answered ${status} with a body over the ${options.maxBodyBytes}-byte bound`));
            else chunks.push(chunk);
          });
          response.on('end', () => answer({ status, headers: response.headers, body: Buffer.concat(chunks, size).toString('utf8') }));
          response.on('error', fail);
          response.on('close', () => fail(new Error(`connection closed before the answer (${status}) ended`)));
        },
      );
      const deadline = setTimeout(() => fail(new Error(`no complete answer within ${options.timeoutMs} ms`)), options.timeoutMs);
      outgoing.on('error', fail);
      outgoing.end(request.body);
    });
}
