/**
 * Why does a signature not match? Off the hot path (CLI, support tooling): recomputes the
 * signature over variants of the URL and parameters — the mistakes seen in the field (TLS
 * proxies: twilio-node #321, #505; ports: #411, csharp #44; `%3F`: #306; `'` and `+`: #1059,
 * #1183; host and prefix rebuilt wrongly behind ngrok/NestJS: #924) — and names the first
 * variant that matches. The output never contains the signature or a secret.
 */
import { createHmac } from 'node:crypto';
import { parseCallback } from '../webhook/callback-schema.js';
import {
  buildUrl,
  isInternalHost,
  parameterOptions,
  urlDimensions,
  type LikelyCause,
  type ParamsOption,
  type UrlDimensions,
} from './diagnose-variants.js';
import { parseFormBody } from './form-params.js';
import { parameterSuffix } from './parameter-suffix.js';
import { bodySha256Hex, type FormParam, type SignatureAlgorithm } from './twilio-signature.js';
import { splitUrl, togglePort, urlCandidates } from './url-candidates.js';
import type { SigningSecret } from './verifier.js';

export type { LikelyCause } from './diagnose-variants.js';

export type Diagnosis =
  | {
      readonly match: true;
      readonly secretId: string;
      readonly url: string;
      /** The signature is Twilio's, but the parameters are not what Twilio sent (a moved name/value boundary). */
      readonly warning?: { readonly cause: 're-split'; readonly explanation: string };
    }
  | {
      readonly match: false;
      /** The first of `causes`. */
      readonly likelyCause: LikelyCause;
      /** Every cause of the smallest change that matched; several when mistakes combine. */
      readonly causes: readonly LikelyCause[];
      readonly explanation: string;
      readonly matchingUrl?: string;
    };

export interface DiagnoseInput {
  /** The URL the server verified against (as received or reconstructed). */
  readonly url: string;
  /** The decoded form parameters; or give the raw `body` instead. */
  readonly params?: readonly FormParam[] | undefined;
  /** A raw body: form-encoded, or JSON (then `bodySHA256` is added to the URL when missing). */
  readonly body?: Buffer | undefined;
  readonly contentType?: string | undefined;
  readonly signature: string;
  readonly secrets: readonly Pick<SigningSecret, 'id' | 'algorithm' | 'secret'>[];
  /** Path prefixes a proxy may have stripped, tried when the URL lacks them. */
  readonly prefixHints?: readonly string[] | undefined;
  /** The callback URL configured at Twilio, when known: its scheme, host, port and path are tried. */
  readonly publicUrl?: string | undefined;
  /** Public host names Twilio may have called. */
  readonly hostHints?: readonly string[] | undefined;
}

type Secret = DiagnoseInput['secrets'][number];
type Choice = readonly [number, number, number, number, number];

const DEFAULT_PREFIX_HINTS = ['/api', '/v1', '/webhooks', '/twilio'];
/** At most this many URL parts changed at once (scheme, host, port, path, query). */
const MAX_URL_CHANGES = 3;

/**
 * @example
 *   diagnoseSignature({ url: 'http://api.example.com/cb', params: [['A', '1']], signature, secrets: [{ id: 'cli', algorithm: 'sha1', secret: token }] })
 *   // → { match: false, likelyCause: 'scheme', causes: ['scheme'], explanation: 'signed over https://… — …', matchingUrl: 'https://api.example.com/cb' }
 */
export function diagnoseSignature(input: DiagnoseInput): Diagnosis {
  const signature = input.signature.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature) || ![28, 44].includes(signature.length)) {
    return mismatch(['unknown'], 'the signature is not base64 of an HMAC-SHA1 (28 characters) or HMAC-SHA256 (44 characters) digest');
  }
  const subject = readSubject(input);
  if ('failure' in subject) return subject.failure;
  const { url, params } = subject;
  const signs = signatureCheck(signature);

  // What Roomgate's verifier accepts: the URL as received and its port variant.
  for (const secret of input.secrets) {
    for (const candidate of urlCandidates(url).slice(0, 2)) {
      if (signs(secret, secret.algorithm, candidate, params)) return matched(secret.id, candidate, params);
    }
  }
  const dimensions = urlDimensions(url, {
    prefixes: input.prefixHints ?? DEFAULT_PREFIX_HINTS,
    publicUrl: input.publicUrl,
    hosts: input.hostHints,
  });
  const found = dimensions && searchVariants(dimensions, params, input.secrets, signs);
  if (found) return found;

  for (const secret of input.secrets) {
    const other: SignatureAlgorithm = secret.algorithm === 'sha1' ? 'sha256' : 'sha1';
    if (signs(secret, other, url, params)) {
      return mismatch(
        ['token'],
        `the secret '${secret.id}' matches with HMAC-${other.toUpperCase()}, not HMAC-${secret.algorithm.toUpperCase()}: check the algorithm (X-Twilio-Webhooks-Signature-Settings)`,
      );
    }
  }
  const host = splitUrl(url)?.host;
  if (host !== undefined && isInternalHost(host)) {
    return mismatch(
      ['host'],
      `the URL names ${host}, an address Twilio cannot call: it was rebuilt from the connection or an internal Host header, not the ` +
        'public URL Twilio signed. Set ROOMGATE_PUBLIC_URL or trust the proxy (X-Forwarded-Host); give --public-url to check',
    );
  }
  const expectedLength = input.secrets.some((s) => s.algorithm === 'sha256') ? 44 : 28;
  if (signature.length !== expectedLength && input.secrets.every((s) => s.algorithm === input.secrets[0]!.algorithm)) {
    return mismatch(
      ['token'],
      `the signature has the length of an HMAC-${signature.length === 44 ? 'SHA256' : 'SHA1'} digest: it was made with another algorithm or key`,
    );
  }
  return mismatch(
    ['token', 'parameters'],
    'no variant of the URL or parameters matched. Either the token is not the one Twilio signed with ' +
      "(a subaccount's own token, a rotated token, or the API key secret instead of the auth token), or a parameter's value " +
      'was changed after Twilio signed it — the signature cannot tell these two apart: if other callbacks of this account ' +
      "verify with this token, a value was changed (compare with the request in Twilio's console)",
  );
}

type SignatureCheck = (secret: Secret, algorithm: SignatureAlgorithm, url: string, params: readonly FormParam[]) => boolean;

/** A checker that caches each parameter list's sorted suffix: the search signs thousands of URLs. */
function signatureCheck(signature: string): SignatureCheck {
  const suffixes = new Map<readonly FormParam[], ReturnType<typeof parameterSuffix>>();
  return (secret, algorithm, url, params) => {
    let suffix = suffixes.get(params);
    if (suffix === undefined) suffixes.set(params, (suffix = parameterSuffix(params)));
    for (const joined of [suffix.bytewise, suffix.utf16]) {
      // twilio-node's UTF-16 parameter order (see parameter-suffix.ts), when it differs.
      if (
        joined !== undefined &&
        createHmac(algorithm, secret.secret)
          .update(url + joined, 'utf8')
          .digest('base64') === signature
      )
        return true;
    }
    return false;
  };
}

/**
 * Every combination of URL changes, fewest first (then parameter changes on URLs with at most
 * one change); the first that signs is the diagnosis. Each URL is also tried with its port
 * toggled, as the verifier does.
 */
function searchVariants(
  d: UrlDimensions,
  params: readonly FormParam[],
  secrets: readonly Secret[],
  signs: SignatureCheck,
): Diagnosis | undefined {
  const byChanges = combinations(d);
  const paramOptions = parameterOptions(params);
  const seen = new Set<string>();
  for (let changes = 1; changes <= MAX_URL_CHANGES + 1; changes += 1) {
    for (const choice of byChanges[changes] ?? []) {
      const url = buildUrl(d, choice);
      for (const candidate of [url, togglePort(url)]) {
        if (candidate === undefined || seen.has(candidate)) continue;
        seen.add(candidate);
        for (const secret of secrets) if (signs(secret, secret.algorithm, candidate, params)) return described(d, choice, candidate);
      }
    }
    // Parameter changes count as one more change, on URLs with changes - 1 URL changes (≤ 1).
    if (changes - 1 > 1) continue;
    for (const choice of byChanges[changes - 1] ?? []) {
      const url = buildUrl(d, choice);
      for (const option of paramOptions)
        for (const secret of secrets) if (signs(secret, secret.algorithm, url, option.params)) return described(d, choice, url, option);
    }
  }
  return undefined;
}

/** The index combinations of the five URL dimensions, grouped by how many differ from index 0. */
function combinations(d: UrlDimensions): Choice[][] {
  const groups: Choice[][] = [];
  for (let s = 0; s < d.scheme.length; s += 1)
    for (let h = 0; h < d.host.length; h += 1)
      for (let p = 0; p < d.port.length; p += 1)
        for (let pa = 0; pa < d.path.length; pa += 1)
          for (let q = 0; q < d.query.length; q += 1) {
            const choice = [s, h, p, pa, q] as const;
            const changes = choice.filter((index) => index > 0).length;
            if (changes <= MAX_URL_CHANGES) (groups[changes] ??= []).push(choice);
          }
  return groups;
}

function described(d: UrlDimensions, choice: Choice, url: string, paramsOption?: ParamsOption): Diagnosis {
  const dimensions = [d.scheme, d.host, d.port, d.path, d.query];
  const changes = choice.flatMap((index, dim) => (index > 0 ? [dimensions[dim]![index]!] : []));
  if (paramsOption) changes.push({ value: undefined, cause: paramsOption.cause, what: paramsOption.what });
  const causes = [...new Set(changes.map((change) => change.cause))];
  const urlChanged = choice.some((index) => index > 0);
  const where = urlChanged ? `signed over ${url}` : 'signed over the URL as received';
  const explanation =
    changes.length === 1
      ? `${where} — ${changes[0]!.what}`
      : `several causes combine (${causes.join(' + ')}): ${changes.map((change) => change.what).join('; ')} — ${where}`;
  return {
    match: false,
    likelyCause: causes[0]!,
    causes,
    explanation,
    ...(urlChanged ? { matchingUrl: url } : {}),
  };
}

function matched(secretId: string, url: string, params: readonly FormParam[]): Diagnosis {
  const parse = params.some(([name]) => name === 'StatusCallbackEvent') ? parseCallback(params) : undefined;
  if (parse !== undefined && !parse.ok && parse.reason.startsWith('schema-resplit:')) {
    const field = parse.reason.slice('schema-resplit:'.length);
    return {
      match: true,
      secretId,
      url,
      warning: {
        cause: 're-split',
        explanation:
          `the signature matches, but the boundary between a name and a value was moved (around '${field}'): the same ` +
          'signed bytes, other parameters than Twilio sent — Roomgate quarantines such a callback',
      },
    };
  }
  return { match: true, secretId, url };
}

function mismatch(causes: readonly LikelyCause[], explanation: string): Diagnosis {
  return { match: false, likelyCause: causes[0]!, causes, explanation };
}

function readSubject(input: DiagnoseInput): { url: string; params: readonly FormParam[] } | { failure: Diagnosis } {
  if (input.params !== undefined || input.body === undefined) return { url: input.url, params: input.params ?? [] };
  const mediaType = (input.contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const looksJson = mediaType === 'application/json' || (mediaType === '' && isJson(input.body));
  if (!looksJson) {
    try {
      return { url: input.url, params: parseFormBody(input.body) };
    } catch (error) {
      return {
        failure: mismatch(['parameters'], `the body is not valid form data: ${(error as Error).message}`),
      };
    }
  }
  const hash = bodySha256Hex(input.body);
  const claimed = /[?&]bodySHA256=([^&#]*)/.exec(input.url)?.[1];
  if (claimed === undefined) return { url: `${input.url}${input.url.includes('?') ? '&' : '?'}bodySHA256=${hash}`, params: [] };
  if (claimed.toLowerCase() !== hash) {
    return {
      failure: mismatch(['parameters'], "the body's SHA-256 differs from the URL's bodySHA256: the body was changed (re-serialised JSON?)"),
    };
  }
  return { url: input.url, params: [] };
}

function isJson(body: Buffer): boolean {
  try {
    JSON.parse(body.toString('utf8'));
    return /^\s*[[{]/.test(body.toString('utf8'));
  } catch {
    return false;
  }
}
