/**
 * Callbacks signed by the official `twilio` package — the reference — so tests prove that
 * what Twilio signs, Roomgate accepts.
 */
import twilio from 'twilio';

export interface SignedCallbackRequest {
  readonly body: string;
  readonly headers: Record<string, string>;
}

/** A form-encoded callback to `url`, signed with `token` as Twilio would sign it. */
export function signForm(url: string, token: string, params: Record<string, string>): SignedCallbackRequest {
  return {
    body: new URLSearchParams(params).toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilio.getExpectedTwilioSignature(token, url, params),
    },
  };
}

let sequence = 0;

/** A participant-connected style Video room callback with fresh, unique ids and timestamp. */
export function videoEvent(
  accountSid: string,
  overrides: Record<string, string> = {},
  now: Date = new Date(),
): Record<string, string> {
  sequence += 1;
  return {
    AccountSid: accountSid,
    RoomName: 'consult-1',
    RoomSid: `RM${'a'.repeat(30)}${String(sequence % 100).padStart(2, '0')}`,
    RoomStatus: 'in-progress',
    RoomType: 'group',
    StatusCallbackEvent: 'room-created',
    Timestamp: now.toISOString(),
    SequenceNumber: String(sequence),
    ...overrides,
  };
}

export function randomHex(length: number): string {
  let out = '';
  while (out.length < length) out += Math.floor(Math.random() * 16).toString(16);
  return out;
}
