/**
 * Every error the HTTP API answers with, in one registry: code → status and the public
 * message. docs/errors.md lists the same codes; a test keeps the two in agreement.
 * Only the service maps errors to HTTP, here, with one envelope:
 * `{"error":{"code","message","requestId"}}`.
 */
export const ERRORS = {
  // One generic answer for every refused callback: the reason goes to the security log only.
  WEBHOOK_REFUSED: { status: 403, message: 'Forbidden.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Content type is not supported here.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'Request body is too large.' },
  BAD_REQUEST: { status: 400, message: 'The request is malformed.' },
  VALIDATION_FAILED: { status: 422, message: 'The request failed validation.' },
  IDENTITY_REJECTED: { status: 422, message: 'The identity does not meet the identity policy.' },
  WINDOW_NOT_OPEN: { status: 422, message: "The consultation's appointment window has not opened yet." },
  NOT_ADMITTED: { status: 409, message: 'The waiting room has not admitted this identity.' },
  WINDOW_CLOSED: { status: 422, message: "The consultation's appointment window has closed." },
  UNAUTHENTICATED: { status: 401, message: 'A valid API key is required.' },
  FORBIDDEN_SCOPE: { status: 403, message: 'The API key lacks the scope this route needs.' },
  NOT_FOUND: { status: 404, message: 'Not found.' },
  CONFLICT: { status: 409, message: 'The resource is not in a state that allows this.' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, message: 'This Idempotency-Key was used with another request.' },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, message: 'A request with this Idempotency-Key is still being processed; retry later.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests for this API key; retry after the time in Retry-After.' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request did not arrive in time.' },
  TOO_MANY_STREAMS: { status: 429, message: 'Too many live streams are open for this API key or tenant.' },
  STORE_UNAVAILABLE: { status: 503, message: 'Storage is unavailable; retry later.' },
  RECORD_CATCHING_UP: { status: 503, message: "The consultation's record is still folding callbacks Twilio already sent; retry later." },
  UPSTREAM_UNAVAILABLE: { status: 502, message: 'Twilio failed (5xx) or did not answer; retry later.' },
  TWILIO_REJECTED: { status: 502, message: 'Twilio refused the request (4xx).' },
  INTERNAL: { status: 500, message: 'Internal error.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** What an error may add to the envelope: the refused field (422), the missing scope (403), the current state (409). */
export interface ErrorDetails {
  readonly field?: string;
  readonly scope?: string;
  readonly current?: unknown;
  /** On WINDOW_NOT_OPEN / WINDOW_CLOSED: the appointment window. */
  readonly window?: { readonly opensAt: string; readonly closesAt: string };
}

/** An error the service answers with; `message` may refine the registry's default. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    options?: { cause?: unknown; details?: ErrorDetails },
  ) {
    super(message ?? ERRORS[code].message, options);
    this.status = ERRORS[code].status;
    this.details = options?.details ?? {};
  }
  readonly details: ErrorDetails;
}

export function errorBody(code: ErrorCode, requestId: string, message?: string, details: ErrorDetails = {}) {
  return { error: { code, message: message ?? ERRORS[code].message, requestId, ...details } };
}
