/**
 * Why does a signature not match? Off the hot path (CLI, support tooling): recomputes the
 * signature over variants of the URL and parameters — the mistakes seen in the field (TLS
 * proxies: twilio-node #321, #505; ports: #411, csharp #44; `%3F`: #306; `'` and `+`: #1059,
 * #1183; host and prefix rebuilt wrongly behind ngrok/NestJS: #924) — and names the first
 * variant that matches. The output never contains the signature or a secret.
 */
import { createHmac } from 'node:crypto';
import { parse as parseQuerystring, stringify as stringifyQuerystring } from 'node:querystring';
import { parseFormBody } from './form-params.js';
import { parameterSuffix } from './parameter-suffix.js';
import { bodySha256Hex, computeTwilioSignature, type FormParam, type SignatureAlgorithm } from './twilio-signature.js';
import { splitUrl, togglePort, urlCandidates } from './url-candidates.js';
import type { SigningSecret } from './verifier.js';

export type LikelyCause = 'scheme' | 'host' | 'port' | 'path-prefix' | 'query-encoding' | 'parameters' | 'token' | 'unknown';

export type Diagnosis =
  | { readonly match: true; readonly secretId: string; readonly url: string }
  | { readonly match: false; readonly likelyCause: LikelyCause; readonly explanation: string; readonly matchingUrl?: string };

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
}

interface Variant {
  readonly url: string;
  readonly params: readonly FormParam[];
  readonly cause: LikelyCause;
  readonly explanation: string;
}

const COMMON_PORTS = ['80', '443', '8080', '8443', '3000'];
const DEFAULT_PREFIX_HINTS = ['/api', '/v1', '/webhooks', '/twilio'];

/**
 * @example
 *   diagnoseSignature({ url: 'http://api.example.com/cb', params: [['A', '1']], signature, secrets: [{ id: 'cli', algorithm: 'sha1', secret: token }] })
 *   // → { match: false, likelyCause: 'scheme', explanation: 'signed over https://… — …', matchingUrl: 'https://api.example.com/cb' }
 */
export function diagnoseSignature(input: DiagnoseInput): Diagnosis {
  const signature = input.signature.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature) || ![28, 44].includes(signature.length)) {
    return {
      match: false,
      likelyCause: 'unknown',
      explanation: 'the signature is not base64 of an HMAC-SHA1 (28 characters) or HMAC-SHA256 (44 characters) digest',
    };
  }
  const subject = readSubject(input);
  if ('failure' in subject) return subject.failure;
  const { url, params } = subject;

  const sign = (
    secret: DiagnoseInput['secrets'][number],
    algorithm: SignatureAlgorithm,
    variant: { url: string; params: readonly FormParam[] },
  ) => {
    if (computeTwilioSignature(secret.secret, variant.url, variant.params, algorithm) === signature) return true;
    // twilio-node's UTF-16 parameter order (see parameter-suffix.ts), when it differs.
    const utf16 = parameterSuffix(variant.params).utf16;
    return (
      utf16 !== undefined &&
      createHmac(algorithm, secret.secret)
        .update(variant.url + utf16, 'utf8')
        .digest('base64') === signature
    );
  };

  // What Roomgate's verifier accepts: the URL as received and its port variant.
  for (const secret of input.secrets) {
    for (const candidate of urlCandidates(url).slice(0, 2)) {
      if (sign(secret, secret.algorithm, { url: candidate, params })) return { match: true, secretId: secret.id, url: candidate };
    }
  }
  const variants = [
    ...urlVariants(url, input.prefixHints ?? DEFAULT_PREFIX_HINTS).map((v) => ({ ...v, params })),
    ...parameterVariants(url, params),
  ];
  for (const variant of variants) {
    for (const secret of input.secrets) {
      if (sign(secret, secret.algorithm, variant)) {
        return {
          match: false,
          likelyCause: variant.cause,
          explanation: variant.explanation,
          ...(variant.url === url ? {} : { matchingUrl: variant.url }),
        };
      }
    }
  }
  for (const secret of input.secrets) {
    const other: SignatureAlgorithm = secret.algorithm === 'sha1' ? 'sha256' : 'sha1';
    if (sign(secret, other, { url, params })) {
      return {
        match: false,
        likelyCause: 'token',
        explanation: `the secret '${secret.id}' matches with HMAC-${other.toUpperCase()}, not HMAC-${secret.algorithm.toUpperCase()}: check the algorithm (X-Twilio-Webhooks-Signature-Settings)`,
      };
    }
  }
  const expectedLength = input.secrets.some((s) => s.algorithm === 'sha256') ? 44 : 28;
  if (signature.length !== expectedLength && input.secrets.every((s) => s.algorithm === input.secrets[0]!.algorithm)) {
    return {
      match: false,
      likelyCause: 'token',
      explanation: `the signature has the length of an HMAC-${signature.length === 44 ? 'SHA256' : 'SHA1'} digest: it was made with another algorithm or key`,
    };
  }
  return {
    match: false,
    likelyCause: 'token',
    explanation:
      'no variant of the URL or parameters matched: most likely the token is not the one Twilio signed with ' +
      "(a subaccount's own token, a rotated token, or the API key secret instead of the auth token) — or the URL differs in a way not tried",
  };
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
        failure: { match: false, likelyCause: 'parameters', explanation: `the body is not valid form data: ${(error as Error).message}` },
      };
    }
  }
  const hash = bodySha256Hex(input.body);
  const claimed = /[?&]bodySHA256=([^&#]*)/.exec(input.url)?.[1];
  if (claimed === undefined) return { url: `${input.url}${input.url.includes('?') ? '&' : '?'}bodySHA256=${hash}`, params: [] };
  if (claimed.toLowerCase() !== hash) {
    return {
      failure: {
        match: false,
        likelyCause: 'parameters',
        explanation: "the body's SHA-256 differs from the URL's bodySHA256: the body was changed (re-serialised JSON?)",
      },
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

/**
 * Variants of the URL, most likely cause first; each differs from the URL as received and from
 * its port variant (which the verifier already accepts).
 *
 * @example urlVariants('http://api.example.com/cb')[0] → { url: 'https://api.example.com/cb', cause: 'scheme', explanation: '…' }
 */
export function urlVariants(url: string, prefixHints: readonly string[] = DEFAULT_PREFIX_HINTS): Omit<Variant, 'params'>[] {
  const parts = splitUrl(url);
  if (!parts) return [];
  const { scheme, userinfo, host, port, rest } = parts;
  const variants: Omit<Variant, 'params'>[] = [];
  const seen = new Set([url, togglePort(url)]);
  const add = (candidate: string | undefined, cause: LikelyCause, explanation: string) => {
    if (candidate === undefined || seen.has(candidate)) return;
    seen.add(candidate);
    variants.push({ url: candidate, cause, explanation: `signed over ${candidate} — ${explanation}` });
  };
  const build = (s: string, h: string, p: string | undefined, r: string) => `${s}://${userinfo}${h}${p === undefined ? '' : `:${p}`}${r}`;

  // Scheme: a TLS-terminating proxy forwards http (twilio-node #321, #505).
  const otherScheme = scheme.toLowerCase() === 'https' ? 'http' : 'https';
  for (const p of [port, undefined, otherScheme === 'https' ? '443' : '80']) {
    add(
      build(otherScheme, host, p, rest),
      'scheme',
      `Twilio called ${otherScheme}, the server saw ${scheme}: a TLS-terminating proxy? Set ROOMGATE_PUBLIC_URL or trust the proxy's X-Forwarded-Proto`,
    );
  }
  // Port: Twilio signs the port only when the configured URL has one (#411).
  for (const p of [undefined, ...COMMON_PORTS]) {
    add(
      build(scheme, host, p, rest),
      'port',
      p === undefined
        ? 'without the port: the server saw a port Twilio did not use'
        : `with port ${p}: the configured callback URL names it`,
    );
  }
  // Host: case as configured, or the public host rather than an internal one.
  add(build(scheme, host.toLowerCase(), port, rest), 'host', 'the host in lower case');
  try {
    const normalised = new URL(url);
    if (normalised.host !== `${host}${port === undefined ? '' : `:${port}`}`)
      add(build(scheme, normalised.hostname, port, rest), 'host', 'the host as new URL() normalises it');
  } catch {
    // not parseable: nothing to normalise
  }
  // Path prefix: a proxy stripped one segment, or the server expects one that Twilio did not use.
  const question = rest.indexOf('?');
  const path = question < 0 ? rest : rest.slice(0, question);
  const query = question < 0 ? '' : rest.slice(question);
  const segments = path.split('/').filter((segment, index) => index > 0 || segment !== '');
  if (segments.length > 1)
    add(
      build(scheme, host, port, `/${segments.slice(1).join('/')}${query}`),
      'path-prefix',
      `without the first path segment '/${segments[0]}'`,
    );
  for (const hint of prefixHints) {
    const prefix = `/${hint.replace(/^\/+|\/+$/g, '')}`;
    if (prefix !== '/' && !path.startsWith(`${prefix}/`))
      add(
        build(scheme, host, port, `${prefix}${path}${query}`),
        'path-prefix',
        `with the path prefix '${prefix}' that the proxy stripped: set it in ROOMGATE_PUBLIC_URL or X-Forwarded-Prefix`,
      );
  }
  add(
    build(scheme, host, port, `${path.endsWith('/') ? path.slice(0, -1) : `${path}/`}${query}`),
    'path-prefix',
    path.endsWith('/') ? 'without the trailing slash' : 'with a trailing slash',
  );
  // Query encoding (#306, #1059, #1183).
  if (query) {
    const body = query.slice(1);
    const reencoded: [string, string][] = [
      [body.replaceAll("'", '%27'), "`'` encoded as `%27`"],
      [body.replaceAll('%27', "'"), "`%27` decoded to `'`"],
      [body.replaceAll('+', '%20'), '`+` encoded as `%20`'],
      [body.replaceAll('%20', '+'), '`%20` written as `+`'],
      [body.replaceAll('%2B', '+').replaceAll('%2b', '+'), '`%2B` decoded to `+`'],
      [stringifyQuerystring(parseQuerystring(body)), 'the query re-encoded (querystring.stringify)'],
      [new URLSearchParams(body).toString(), 'the query re-encoded (URLSearchParams)'],
    ];
    for (const [candidateQuery, what] of reencoded) add(build(scheme, host, port, `${path}?${candidateQuery}`), 'query-encoding', what);
    add(build(scheme, host, port, path), 'query-encoding', 'without the query string');
  }
  if (path.includes('%3F') || path.includes('%3f'))
    add(
      build(scheme, host, port, `${path.replace(/%3F/i, '?')}${query}`),
      'query-encoding',
      '`%3F` in the path was the `?` starting the query',
    );
  try {
    add(new URL(url).href, 'query-encoding', 'the URL as new URL() normalises it');
  } catch {
    // not parseable
  }
  return variants;
}

function parameterVariants(url: string, params: readonly FormParam[]): Variant[] {
  const variants: Variant[] = [];
  if (params.length > 0)
    variants.push({
      url,
      params: [],
      cause: 'parameters',
      explanation: 'signed with no parameters: was the body parsed (raw body needed), or was it JSON signed through bodySHA256?',
    });
  params.forEach(([key, value], index) => {
    const without = params.filter((_, i) => i !== index);
    variants.push({
      url,
      params: without,
      cause: 'parameters',
      explanation: `signed without the parameter '${key}': it was added after Twilio signed`,
    });
    variants.push({
      url,
      params: [...params, [key, value]],
      cause: 'parameters',
      explanation: `signed with '${key}' twice: a repeated value was dropped`,
    });
    if (value.includes(' '))
      variants.push({
        url,
        params: params.map((p, i) => (i === index ? ([key, value.replaceAll(' ', '+')] as const) : p)),
        cause: 'parameters',
        explanation: `'${key}' holds '+' where the server decoded a space`,
      });
    if (value.includes('+'))
      variants.push({
        url,
        params: params.map((p, i) => (i === index ? ([key, value.replaceAll('+', ' ')] as const) : p)),
        cause: 'parameters',
        explanation: `'${key}' holds a space where the server kept '+'`,
      });
    if (value !== value.trim())
      variants.push({
        url,
        params: params.map((p, i) => (i === index ? ([key, value.trim()] as const) : p)),
        cause: 'parameters',
        explanation: `'${key}' was signed without its surrounding spaces`,
      });
  });
  return variants;
}
