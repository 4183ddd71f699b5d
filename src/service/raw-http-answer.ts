/**
 * An HTTP answer written straight to a socket, where Node gives no response object: a request
 * its parser refused or that timed out, an upgrade the server will not perform. The body is
 * the usual error envelope; the socket is then closed, and destroyed if the peer does not close
 * its side soon (a half-open socket must not outlive the answer).
 */
import type { Duplex } from 'node:stream';
import { ERRORS, errorBody, type ErrorCode } from './errors.js';

const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  503: 'Service Unavailable',
};

/** How long the peer has to read the answer and close before the socket is destroyed. */
const LINGER_MS = 2000;

export function answerOnSocket(
  socket: Duplex,
  answer: {
    readonly code: ErrorCode;
    readonly status?: number;
    readonly requestId: string;
    readonly message?: string;
    /** WWW-Authenticate of an auth refusal (auth/bearer-challenge.ts). */
    readonly challenge?: string;
  },
): void {
  if (socket.destroyed) return;
  if (!socket.writable) return void socket.destroy();
  const status = answer.status ?? ERRORS[answer.code].status;
  const body = JSON.stringify(errorBody(answer.code, answer.requestId, answer.message));
  // As every answer of the service: the request id in a header too, and a 401's challenge.
  const challenge = answer.challenge ? `www-authenticate: ${answer.challenge}\r\n` : '';
  socket.end(
    `HTTP/1.1 ${status} ${REASON[status] ?? 'Error'}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `x-request-id: ${answer.requestId}\r\n${challenge}` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
