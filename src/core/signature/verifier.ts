/**
 * Verifies Twilio's `X-Twilio-Signature` over the exact URL and raw body received — the port
 * the Fastify, Express and fetch adapters bind to their hosts.
 *
 * Cost is bounded: the shape of the signature is checked before any HMAC; the secret is chosen
 * by the callback's AccountSid (an unknown account costs no HMAC); the parameter part of the
 * signed string is built once and shared by every URL candidate; and at most MAX_HMACS HMACs
 * are computed per request whatever the configuration.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { bodySha256Hex, signatureDataString, type FormParam, type SignatureAlgorithm } from './twilio-signature.js';
import { MalformedBodyError, parseFormBody } from './form-params.js';
import { urlCandidates } from './url-candidates.js';

export interface SigningSecret {
  /** Loggable label, e.g. 'AC…/primary', 'AC…/previous', 'AC…/shared:KEY' — never the secret. */
  readonly id: string;
  /** When set, only for callbacks whose AccountSid matches. */
  readonly accountSid?: string | undefined;
  readonly algorithm: SignatureAlgorithm;
  /** For HMAC-SHA256 shared keys: the `key=` of X-Twilio-Webhooks-Signature-Settings. */
  readonly keyId?: string | undefined;
  readonly secret: string;
}

export interface SignedRequest {
  /** The URL Twilio requested, exactly as received or reconstructed. */
  readonly url: string;
  readonly signature: string | undefined;
  readonly signatureSettings?: string | undefined;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

export type SignatureFailureReason =
  | 'missing-signature'
  | 'malformed-signature'
  | 'unknown-account'
  | 'unknown-key'
  | 'unsupported-content-type'
  | 'malformed-body'
  | 'signature-mismatch'
  | 'body-hash-mismatch';

export type VerifyResult =
  | { readonly ok: true; readonly secretId: string; readonly params: FormParam[]; readonly json?: unknown }
  | { readonly ok: false; readonly reason: SignatureFailureReason; readonly claimedAccountSid?: string };

export interface TwilioVerifier {
  verify(request: SignedRequest): VerifyResult;
}

/** Most HMACs one request can cost: URL candidates × matching secrets, cut off here. */
export const MAX_HMACS = 8;

const DIGEST_BYTES: Record<SignatureAlgorithm, number> = { sha1: 20, sha256: 32 };
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * @example
 *   const verifier = createTwilioVerifier({ secrets: [{ id: 'primary', algorithm: 'sha1', secret: token }] });
 *   verifier.verify({ url, signature, contentType: 'application/x-www-form-urlencoded', body }).ok
 */
export function createTwilioVerifier(options: { secrets: readonly SigningSecret[] }): TwilioVerifier {
  const secrets = Object.freeze([...options.secrets]);
  const sha1Secrets = secrets.filter((secret) => secret.algorithm === 'sha1');
  const scopedAccounts = new Set(sha1Secrets.map((secret) => secret.accountSid).filter(Boolean));
  const hasGlobalSha1 = sha1Secrets.some((secret) => !secret.accountSid);

  return {
    verify(request) {
      if (!request.signature) return { ok: false, reason: 'missing-signature' };
      const settings = parseSettings(request.signatureSettings);
      if (settings === 'unsupported') return { ok: false, reason: 'malformed-signature' };
      const algorithm: SignatureAlgorithm = settings ? 'sha256' : 'sha1';
      const expected = decodeSignature(request.signature, algorithm);
      if (!expected) return { ok: false, reason: 'malformed-signature' };

      const mediaType = (request.contentType ?? '').split(';')[0]!.trim().toLowerCase();
      let params: FormParam[];
      let bodyHash: string | undefined;
      if (mediaType === 'application/x-www-form-urlencoded') {
        try {
          params = parseFormBody(request.body);
        } catch (error) {
          if (error instanceof MalformedBodyError) return { ok: false, reason: 'malformed-body' };
          throw error;
        }
      } else if (mediaType === 'application/json') {
        // JSON: the signature covers the URL (which carries bodySHA256) and no parameters.
        params = [];
        bodyHash = queryValue(request.url, 'bodySHA256');
        if (!bodyHash) return { ok: false, reason: 'body-hash-mismatch' };
      } else {
        return { ok: false, reason: 'unsupported-content-type' };
      }

      const claimedAccountSid = params.find(([key]) => key === 'AccountSid')?.[1];
      let candidates: readonly SigningSecret[];
      if (settings) {
        candidates = secrets.filter((secret) => secret.algorithm === 'sha256' && secret.keyId === settings.keyId);
        if (candidates.length === 0) return refuse('unknown-key', claimedAccountSid);
      } else if (claimedAccountSid !== undefined && scopedAccounts.size > 0) {
        candidates = sha1Secrets.filter((secret) => !secret.accountSid || secret.accountSid === claimedAccountSid);
        if (candidates.length === 0 || (!hasGlobalSha1 && !scopedAccounts.has(claimedAccountSid))) {
          return refuse('unknown-account', claimedAccountSid);
        }
      } else {
        candidates = sha1Secrets;
        if (candidates.length === 0) return refuse('unknown-account', claimedAccountSid);
      }

      const suffix = signatureDataString('', params);
      let budget = MAX_HMACS;
      let matched: SigningSecret | undefined;
      search: for (const url of urlCandidates(request.url)) {
        for (const secret of candidates) {
          if (budget-- <= 0) break search;
          const digest = createHmac(algorithm, secret.secret).update(url, 'utf8').update(suffix, 'utf8').digest();
          if (timingSafeEqual(digest, expected)) {
            matched = secret;
            break search;
          }
        }
      }
      if (!matched) return refuse('signature-mismatch', claimedAccountSid);

      if (bodyHash === undefined) return { ok: true, secretId: matched.id, params };
      const actual = Buffer.from(bodySha256Hex(request.body), 'hex');
      const claimed = /^[0-9a-fA-F]{64}$/.test(bodyHash) ? Buffer.from(bodyHash, 'hex') : undefined;
      if (!claimed || !timingSafeEqual(actual, claimed)) return refuse('body-hash-mismatch', claimedAccountSid);
      try {
        return { ok: true, secretId: matched.id, params, json: JSON.parse(request.body.toString('utf8')) as unknown };
      } catch {
        return refuse('malformed-body', claimedAccountSid);
      }
    },
  };
}

function refuse(reason: SignatureFailureReason, claimedAccountSid: string | undefined): VerifyResult {
  return claimedAccountSid === undefined ? { ok: false, reason } : { ok: false, reason, claimedAccountSid };
}

/** The signature's bytes if it is base64 of exactly one digest of the algorithm, else undefined. */
function decodeSignature(signature: string, algorithm: SignatureAlgorithm): Buffer | undefined {
  const bytes = DIGEST_BYTES[algorithm];
  if (signature.length !== Math.ceil(bytes / 3) * 4 || !BASE64.test(signature)) return undefined;
  const decoded = Buffer.from(signature, 'base64');
  // Only the canonical encoding: Node ignores the padding bits, which would let one signature
  // have several spellings.
  return decoded.length === bytes && decoded.toString('base64') === signature ? decoded : undefined;
}

/** `key=<id>,algorithm=HMAC_SHA256` → { keyId }; absent → undefined; anything else → 'unsupported'. */
function parseSettings(header: string | undefined): { keyId: string } | undefined | 'unsupported' {
  if (header === undefined || header.trim() === '') return undefined;
  let keyId: string | undefined;
  let algorithm: string | undefined;
  for (const part of header.split(',')) {
    const separator = part.indexOf('=');
    if (separator < 0) continue;
    const name = part.slice(0, separator).trim().toLowerCase();
    const value = part.slice(separator + 1).trim();
    if (name === 'key') keyId = value;
    if (name === 'algorithm') algorithm = value.toUpperCase();
  }
  if (algorithm === 'HMAC_SHA1' && keyId === undefined) return undefined;
  if (algorithm !== 'HMAC_SHA256' || !keyId) return 'unsupported';
  return { keyId };
}

/** A query parameter's raw value, read without normalising the URL. */
function queryValue(url: string, name: string): string | undefined {
  const query = url.split('#')[0]!.split('?')[1];
  if (!query) return undefined;
  for (const pair of query.split('&')) {
    const separator = pair.indexOf('=');
    if (separator > 0 && pair.slice(0, separator) === name) return pair.slice(separator + 1);
  }
  return undefined;
}
