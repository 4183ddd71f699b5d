/**
 * Errors the emulator answers with, in Twilio's REST error shape
 * `{code, message, more_info, status}`. The codes are Twilio's where its docs name one;
 * the rest are the sandbox's plausible choice, marked so.
 */
export const SANDBOX_ERROR_CODES = {
  /** Twilio: Authenticate (missing or wrong credentials). */
  AUTHENTICATE: 20003,
  /** Twilio: the requested resource was not found. */
  NOT_FOUND: 20404,
  /** Twilio: method not allowed. */
  METHOD_NOT_ALLOWED: 20004,
  /** Twilio: internal server error. */
  INTERNAL: 20500,
  /** Twilio 20429: too many requests (with Retry-After). */
  TOO_MANY_REQUESTS: 20429,
  /** Twilio: invalid or missing parameter (generic). */
  INVALID_PARAMETER: 20001,
  /** Twilio 53106: room not found (operation on a non-existent room). */
  ROOM_NOT_FOUND: 53106,
  /** Twilio 53105: the room holds as many participants as its type allows. */
  ROOM_FULL: 53105,
  /** Twilio 53111: StatusCallback is not a valid URL. */
  STATUS_CALLBACK_INVALID: 53111,
  /** Twilio 53112: Status is invalid, or the room is not in-progress. */
  ROOM_STATUS_INVALID: 53112,
  /** Twilio 53113: a room with this UniqueName is already in progress. */
  ROOM_EXISTS: 53113,
  /** Twilio 53114: room creation parameters incompatible with the room type. */
  ROOM_PARAMETERS_INCOMPATIBLE: 53114,
  /** Twilio 53118: the operation cannot be performed on a completed room. */
  ROOM_COMPLETED: 53118,
  /** Twilio 53205: duplicate identity (the earlier participant is disconnected). */
  DUPLICATE_IDENTITY: 53205,
  /** Sandbox's choice (Twilio's exact code unconfirmed): composing a room that has not completed. */
  COMPOSITION_ROOM_NOT_COMPLETED: 53620,
  /** Sandbox's choice: composition parameters invalid (no sources, bad layout JSON, bad format). */
  COMPOSITION_INVALID: 53621,
} as const;

export type SandboxErrorCode = (typeof SANDBOX_ERROR_CODES)[keyof typeof SANDBOX_ERROR_CODES];

/** A refusal of the emulator: HTTP status and Twilio error code. */
export class SandboxTwilioError extends Error {
  override readonly name = 'SandboxTwilioError';
  constructor(
    readonly status: number,
    readonly code: SandboxErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** Twilio's JSON error body. */
  toJSON(): { code: number; message: string; more_info: string; status: number } {
    return { code: this.code, message: this.message, more_info: `https://www.twilio.com/docs/errors/${this.code}`, status: this.status };
  }
}

export const notFound = (path: string): SandboxTwilioError =>
  new SandboxTwilioError(404, SANDBOX_ERROR_CODES.NOT_FOUND, `The requested resource ${path} was not found`);

export const invalidParameter = (message: string): SandboxTwilioError =>
  new SandboxTwilioError(400, SANDBOX_ERROR_CODES.INVALID_PARAMETER, message);
