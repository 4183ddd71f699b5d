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
