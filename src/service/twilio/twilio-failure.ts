/**
 * What a failed Twilio REST call means for the tenant API, by Twilio's answer:
 * - the room has ended already (400 with 53112/53118) or Twilio no longer knows it (404) → CONFLICT (409);
 * - any other 4xx: Twilio refused us (credentials, account, quota) → TWILIO_REJECTED (502), with Twilio's status and code;
 * - 5xx, 429, no answer → UPSTREAM_UNAVAILABLE (502): retrying later may work.
 */
import { HttpError } from '../errors.js';
import { TwilioApiError } from './twilio-rest-client.js';

/** Twilio error codes for "the room is completed" (Twilio documents 53118; the sandbox answers 53112). */
const ROOM_ENDED_CODES = new Set([53112, 53118]);

export function twilioFailure(error: unknown, message?: string): HttpError {
  if (error instanceof TwilioApiError && error.status !== undefined && !error.retryable) {
    if (error.status === 404) return new HttpError('CONFLICT', 'Twilio no longer knows the room: it has ended.', { cause: error });
    if (error.status === 400 && error.twilioCode !== undefined && ROOM_ENDED_CODES.has(error.twilioCode)) {
      return new HttpError('CONFLICT', 'Twilio has ended the room already.', { cause: error });
    }
    if (error.status >= 400 && error.status < 500) {
      const detail = `Twilio answered ${error.status}${error.twilioCode ? ` (code ${error.twilioCode})` : ''}`;
      return new HttpError('TWILIO_REJECTED', message ? `${message} ${detail}.` : `${detail}.`, { cause: error });
    }
  }
  return new HttpError('UPSTREAM_UNAVAILABLE', message, { cause: error });
}
