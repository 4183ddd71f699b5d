/**
 * Verifies Twilio's `X-Twilio-Signature` over the exact URL and raw body received — the port
 * the Fastify, Express and fetch adapters bind to their hosts.
 *
 * Cost is bounded: the shape of the signature is checked before any HMAC; the secret is chosen
 * by the callback's AccountSid (an unknown account costs no HMAC); the parameter part of the
 * signed string is built once and shared by every URL candidate; and at most MAX_HMACS HMACs
 * are computed per request whatever the configuration.
 *
 * URL candidates, in order (urlCandidates): the URL exactly as received — never passed through
 * `new URL()`, so host case, `'`, `+`, `%` and IPv6 literals survive (twilio-node #1059, #1183);
 * then with the default port added or the explicit port removed; then, only where they differ,
 * the `new URL()` forms (computed lazily, only after the first two failed, and cached).
 * The loop is URL-major: every eligible secret is tried on the exact URL before any variant.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { bodySha256Hex, type FormParam, type SignatureAlgorithm } from './twilio-signature.js';
import { MalformedBodyError, readFormBody } from './form-params.js';
import { parameterSuffix } from './parameter-suffix.js';
import { normalisedCandidates, togglePort } from './url-candidates.js';

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

/**
 * Most HMACs one request can cost: (URL candidates ≤ 4) × (parameter orders, 1 in practice) ×
 * (eligible secrets) is cut off here. 8 covers a rotation (2 tokens) on all 4 URL forms, or 8
 * tokens on the URL as received; with more secrets per account the later ones are only tried
 * on the first URL forms. An invalid request therefore costs at most 8 HMACs of ~2 µs.
 * Note: a JSON body carries no AccountSid, so every auth token is eligible for it, in
 * configuration order — with more than 8 tokens configured, JSON callbacks of the accounts
 * listed last are not tried (Video status callbacks are form-encoded, so this stays theoretical).
 */
export const MAX_HMACS = 8;

const NON_ASCII = /[^\x00-\x7f]/;

/** Normalised URL candidates kept per verifier (webhook URLs repeat); cleared when full. */
const CANDIDATE_CACHE_SIZE = 256;

/** base64 of exactly 20 / 32 bytes, canonical: the last data character carries zero pad bits. */
const SIGNATURE_SHAPE: Record<SignatureAlgorithm, RegExp> = {
  sha1: /^[A-Za-z0-9+/]{26}[AEIMQUYcgkosw048]=$/,
  sha256: /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/,
};

interface PreparedSecret {
  readonly id: string;
  readonly accountSid: string | undefined;
  readonly algorithm: SignatureAlgorithm;
  readonly keyId: string | undefined;
  /** Imported once: createHmac with a KeyObject skips re-reading the secret on every call. */
  readonly key: KeyObject;
}

/**
 * Builds the verifier over a fixed set of secrets (copied; the caller's array is not kept).
 *
 * @example
 *   const verifier = createTwilioVerifier({ secrets: [
 *     { id: 'primary', algorithm: 'sha1', secret: process.env.TWILIO_AUTH_TOKEN! },
 *     { id: 'previous', algorithm: 'sha1', secret: process.env.TWILIO_AUTH_TOKEN_PREVIOUS! },
 *   ] });
 *   const result = verifier.verify({ url: 'https://api.example.com/webhooks/twilio/video',
 *     signature: req.headers['x-twilio-signature'], contentType: req.headers['content-type'], body });
 *   if (!result.ok) reply(403); else use(result.params, result.secretId);
 * @throws Error when a secret is empty, names an unknown algorithm, or is sha256 without a keyId
 *   (configuration mistakes, caught at start-up rather than on the first callback).
 */
export function createTwilioVerifier(options: { secrets: readonly SigningSecret[] }): TwilioVerifier {
  const prepared = options.secrets.map(prepareSecret);
  // Auth-token secrets (no keyId), in configuration order.
  const tokens = prepared.filter((secret) => secret.keyId === undefined && secret.algorithm === 'sha1');
  const globalTokens = tokens.filter((secret) => secret.accountSid === undefined);
  const tokensByAccount = new Map<string, PreparedSecret[]>();
  for (const secret of tokens) {
    if (secret.accountSid !== undefined && !tokensByAccount.has(secret.accountSid)) {
      tokensByAccount.set(
        secret.accountSid,
        tokens.filter((t) => t.accountSid === undefined || t.accountSid === secret.accountSid),
      );
    }
  }
  const sharedKeys = prepared.filter((secret) => secret.keyId !== undefined);
  const candidateCache = new Map<string, string[]>();

  function laterCandidates(url: string): string[] {
    let cached = candidateCache.get(url);
    if (cached === undefined) {
      if (candidateCache.size >= CANDIDATE_CACHE_SIZE) candidateCache.clear();
      cached = normalisedCandidates(url);
      candidateCache.set(url, cached);
    }
    return cached;
  }

  return {
    verify(request) {
      if (!request.signature) return { ok: false, reason: 'missing-signature' };
      const settings = parseSettings(request.signatureSettings);
      if (settings === 'unsupported') return { ok: false, reason: 'malformed-signature' };
      const algorithm = settings?.algorithm ?? 'sha1';
      if (!SIGNATURE_SHAPE[algorithm].test(request.signature)) return { ok: false, reason: 'malformed-signature' };

      const mediaType = mediaTypeOf(request.contentType);
      let params: FormParam[];
      let highCodeUnits = false;
      let asciiParams = true;
      let bodyHash: string | undefined;
      if (mediaType === 'application/x-www-form-urlencoded') {
        try {
          ({ params, highCodeUnits, ascii: asciiParams } = readFormBody(request.body));
        } catch (error) {
          if (error instanceof MalformedBodyError) return { ok: false, reason: 'malformed-body' };
          throw error;
        }
      } else if (mediaType === 'application/json') {
        // JSON: the signature covers the URL (which carries bodySHA256) and no parameters;
        // the body is then checked against that hash.
        params = [];
        bodyHash = queryValue(request.url, 'bodySHA256');
        if (bodyHash === undefined || !/^[0-9a-fA-F]{64}$/.test(bodyHash)) return { ok: false, reason: 'body-hash-mismatch' };
      } else {
        return { ok: false, reason: 'unsupported-content-type' };
      }

      const claimedAccountSid = accountSidOf(params);
      let candidates: readonly PreparedSecret[];
      if (settings !== undefined) {
        const named = sharedKeys.filter((secret) => secret.keyId === settings.keyId && secret.algorithm === algorithm);
        if (named.length === 0) return refuse('unknown-key', claimedAccountSid);
        candidates =
          claimedAccountSid === undefined
            ? named
            : named.filter((secret) => secret.accountSid === undefined || secret.accountSid === claimedAccountSid);
      } else if (claimedAccountSid === undefined) {
        // No AccountSid to choose by (a JSON body): every token is eligible, within the bound.
        candidates = tokens;
      } else {
        candidates = tokensByAccount.get(claimedAccountSid) ?? globalTokens;
      }
      if (candidates.length === 0) return refuse('unknown-account', claimedAccountSid);

      const expected = Buffer.from(request.signature, 'base64');
      const suffix = parameterSuffix(params, highCodeUnits);
      const suffixes = suffix.utf16 === undefined ? [suffix.bytewise] : [suffix.bytewise, suffix.utf16];
      // latin1 encodes an ASCII string to the same bytes as UTF-8, with less work.
      const encoding = asciiParams && !NON_ASCII.test(request.url) ? 'latin1' : 'utf8';
      const attempt: Attempt = { algorithm, candidates, expected, suffixes, encoding, budget: MAX_HMACS };
      let matched = tryUrl(attempt, request.url);
      if (matched === undefined && attempt.budget > 0) {
        const toggled = togglePort(request.url);
        if (toggled !== undefined && toggled !== request.url) matched = tryUrl(attempt, toggled);
      }
      if (matched === undefined && attempt.budget > 0) {
        for (const url of laterCandidates(request.url)) {
          attempt.encoding = asciiParams && !NON_ASCII.test(url) ? 'latin1' : 'utf8';
          if ((matched = tryUrl(attempt, url)) !== undefined || attempt.budget === 0) break;
        }
      }
      if (matched === undefined) return refuse('signature-mismatch', claimedAccountSid);

      if (bodyHash === undefined) return { ok: true, secretId: matched.id, params };
      const actual = Buffer.from(bodySha256Hex(request.body), 'hex');
      if (!timingSafeEqual(actual, Buffer.from(bodyHash, 'hex'))) return refuse('body-hash-mismatch', claimedAccountSid);
      try {
        return { ok: true, secretId: matched.id, params, json: JSON.parse(request.body.toString('utf8')) as unknown };
      } catch {
        return refuse('malformed-body', claimedAccountSid);
      }
    },
  };
}

interface Attempt {
  readonly algorithm: SignatureAlgorithm;
  readonly candidates: readonly PreparedSecret[];
  readonly expected: Buffer;
  readonly suffixes: readonly string[];
  encoding: 'latin1' | 'utf8';
  /** HMACs still allowed for this request. */
  budget: number;
}

/** Tries every eligible secret on one URL; spends the attempt's budget. */
function tryUrl(attempt: Attempt, url: string): PreparedSecret | undefined {
  for (const tail of attempt.suffixes) {
    const data = url + tail;
    for (const secret of attempt.candidates) {
      if (attempt.budget === 0) return undefined;
      attempt.budget--;
      const digest = createHmac(attempt.algorithm, secret.key).update(data, attempt.encoding).digest();
      if (timingSafeEqual(digest, attempt.expected)) return secret;
    }
  }
  return undefined;
}

function prepareSecret(secret: SigningSecret): PreparedSecret {
  if (secret.algorithm !== 'sha1' && secret.algorithm !== 'sha256') {
    throw new Error(`signing secret '${secret.id}': unknown algorithm '${String(secret.algorithm)}'`);
  }
  if (typeof secret.secret !== 'string' || secret.secret.length === 0) throw new Error(`signing secret '${secret.id}' is empty`);
  // Auth tokens sign with HMAC-SHA1; HMAC-SHA256 exists only for shared keys, named by key=.
  if (secret.algorithm === 'sha256' && !secret.keyId) throw new Error(`signing secret '${secret.id}': an sha256 secret needs its keyId`);
  return {
    id: secret.id,
    accountSid: secret.accountSid || undefined,
    algorithm: secret.algorithm,
    keyId: secret.keyId || undefined,
    key: createSecretKey(Buffer.from(secret.secret, 'utf8')),
  };
}

function refuse(reason: SignatureFailureReason, claimedAccountSid: string | undefined): VerifyResult {
  return claimedAccountSid === undefined ? { ok: false, reason } : { ok: false, reason, claimedAccountSid };
}

function mediaTypeOf(contentType: string | undefined): string {
  if (contentType === undefined) return '';
  const semicolon = contentType.indexOf(';');
  return (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

function accountSidOf(params: readonly FormParam[]): string | undefined {
  for (const [key, value] of params) if (key === 'AccountSid') return value;
  return undefined;
}

/**
 * `X-Twilio-Webhooks-Signature-Settings`: absent, empty or `algorithm=HMAC_SHA1` alone → the
 * auth token (undefined); `key=<id>,algorithm=HMAC_SHA256` (or HMAC_SHA1, as twilio-node
 * allows) → that shared key; an algorithm we do not know → 'unsupported'.
 */
function parseSettings(header: string | undefined): { keyId: string; algorithm: SignatureAlgorithm } | undefined | 'unsupported' {
  if (header === undefined || header.trim() === '') return undefined;
  let keyId = '';
  let algorithm = 'HMAC_SHA1';
  for (const part of header.split(',')) {
    const separator = part.indexOf('=');
    if (separator < 0) continue;
    const name = part.slice(0, separator).trim().toLowerCase();
    const value = part.slice(separator + 1).trim();
    if (name === 'key') keyId = value;
    if (name === 'algorithm' && value) algorithm = value.toUpperCase();
  }
  if (algorithm !== 'HMAC_SHA1' && algorithm !== 'HMAC_SHA256') return 'unsupported';
  const hash: SignatureAlgorithm = algorithm === 'HMAC_SHA256' ? 'sha256' : 'sha1';
  if (keyId === '') return hash === 'sha1' ? undefined : { keyId, algorithm: hash };
  return { keyId, algorithm: hash };
}

/** A query parameter's raw value, read without normalising the URL. */
function queryValue(url: string, name: string): string | undefined {
  const hash = url.indexOf('#');
  const withoutFragment = hash < 0 ? url : url.slice(0, hash);
  const question = withoutFragment.indexOf('?');
  if (question < 0) return undefined;
  const query = withoutFragment.slice(question + 1);
  for (const pair of query.split('&')) {
    const separator = pair.indexOf('=');
    if (separator > 0 && pair.slice(0, separator) === name) return pair.slice(separator + 1);
  }
  return undefined;
}
