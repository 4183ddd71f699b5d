/**
 * Signing outbound webhooks the Standard Webhooks way (https://www.standardwebhooks.com):
 * `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`, a space-separated
 * list of `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed by the base64-decoded part of
 * a `whsec_` secret. During a secret rotation's overlap every current secret signs, so a
 * receiver that knows either the old or the new secret verifies the delivery.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX = 'whsec_';

/** A new endpoint secret: `whsec_` and 32 random bytes, base64 (shown to the tenant once). */
export function newWebhookSecret(): string {
  return `${PREFIX}${randomBytes(32).toString('base64')}`;
}

/** True for a `whsec_` secret whose key decodes to 24–64 bytes. */
export function isWebhookSecret(secret: string): boolean {
  if (!secret.startsWith(PREFIX)) return false;
  const encoded = secret.slice(PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return false;
  const length = Buffer.from(encoded, 'base64').length;
  return length >= 24 && length <= 64;
}

export interface SignedHeaders {
  readonly 'webhook-id': string;
  readonly 'webhook-timestamp': string;
  readonly 'webhook-signature': string;
}

/** The three headers of one delivery of `body`, signed with every secret given (rotation overlap). */
export function signWebhook(messageId: string, timestampSeconds: number, body: string, secrets: readonly string[]): SignedHeaders {
  if (secrets.length === 0) throw new TypeError('a webhook needs at least one secret to be signed with');
  if (/[\s.]/.test(messageId)) throw new TypeError('a webhook id must not contain whitespace or "."');
  const timestamp = String(Math.floor(timestampSeconds));
  const signatures = secrets.map((secret) => {
    if (!isWebhookSecret(secret)) throw new TypeError('not a whsec_ secret');
    const key = Buffer.from(secret.slice(PREFIX.length), 'base64');
    return `v1,${createHmac('sha256', key).update(`${messageId}.${timestamp}.${body}`).digest('base64')}`;
  });
  return { 'webhook-id': messageId, 'webhook-timestamp': timestamp, 'webhook-signature': signatures.join(' ') };
}

/**
 * A receiver's check of one delivery (what `roomgate demo` runs; any Standard Webhooks library
 * does the same): one of the `v1` signatures matches one of the secrets over the raw body, and
 * the timestamp is within `toleranceSeconds` of `nowSeconds` (a replay of an old delivery fails).
 *
 * @example verifyWebhook(rawBody, headers, ['whsec_…'], Date.now() / 1000) === true
 */
export function verifyWebhook(
  body: string,
  headers: Partial<Record<keyof SignedHeaders, string>>,
  secrets: readonly string[],
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (!id || !timestamp || !signatures || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return false;
  if (/[\s.]/.test(id)) return false;
  const offered = signatures
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => Buffer.from(entry.slice(3), 'base64'));
  return secrets.some((secret) => {
    if (!isWebhookSecret(secret)) return false;
    const expected = createHmac('sha256', Buffer.from(secret.slice(PREFIX.length), 'base64'))
      .update(`${id}.${timestamp}.${body}`)
      .digest();
    // Constant time per comparison; the lengths are public (SHA-256).
    return offered.some((candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected));
  });
}
