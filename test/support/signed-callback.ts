/**
 * Callbacks signed by the official `twilio` package — the reference — so tests prove that
 * what Twilio signs, Roomgate accepts.
 */
import { createHash } from 'node:crypto';
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

/**
 * A form-encoded callback from a parameter LIST (order kept, names may repeat), signed by the
 * twilio package as Twilio signs it (a repeated name: its distinct values, sorted).
 */
export function signFormList(url: string, token: string, params: readonly (readonly [string, string])[]): SignedCallbackRequest {
  const grouped: Record<string, string | string[]> = {};
  for (const [name, value] of params) {
    const seen = grouped[name];
    grouped[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return {
    body: new URLSearchParams(params as [string, string][]).toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilio.getExpectedTwilioSignature(token, url, grouped as Record<string, string>),
    },
  };
}

/**
 * A JSON callback as Twilio sends one: the body's SHA-256 in the URL's `bodySHA256`, the
 * signature over that URL and no parameters. Returns the URL to POST to as well.
 */
export function signJson(url: string, token: string, json: unknown): SignedCallbackRequest & { url: string } {
  return signJsonText(url, token, JSON.stringify(json));
}

/** signJson for a body given as text (one JSON.stringify could not write, or not JSON at all). */
export function signJsonText(url: string, token: string, body: string): SignedCallbackRequest & { url: string } {
  const signedUrl = `${url}${url.includes('?') ? '&' : '?'}bodySHA256=${createHash('sha256').update(body).digest('hex')}`;
  return {
    url: signedUrl,
    body,
    headers: { 'content-type': 'application/json', 'x-twilio-signature': twilio.getExpectedTwilioSignature(token, signedUrl, {}) },
  };
}
