/**
 * Fetch-API binding of the verifier, for Hono, Cloudflare Workers, Deno, Bun and other hosts
 * that hand over a WHATWG `Request`.
 *
 *   app.post('/webhooks/twilio', async (c) => {
 *     const result = await verifyFetchRequest(c.req.raw, { secrets, publicUrl: 'https://api.example.com' });
 *     if (!result.ok) return c.text('Forbidden', 403);
 *     …result.params…
 *   });
 *
 * The URL: `request.url` unless `publicUrl` is given (then its scheme, host, port and prefix +
 * the request's path and query, as in request-url.ts). Caveat: a `Request`'s URL has already
 * been through the WHATWG URL parser — host lower-cased, `'` in the query turned into `%27` —
 * so a callback URL configured with capitals or `'` in Twilio will not match here (twilio-node
 * #1059); configure such URLs without them, or give `publicUrl` with the exact host.
 * The body is read from a clone, so the request stays readable; the decoded parameters (or the
 * parsed JSON) come back in the result anyway.
 *
 * After the signature, the `Timestamp` replay window (replay-window.ts): on by default (15 min
 * old, 5 min ahead); `replayWindow: { maxAgeMs }` tunes it, `replayWindow: false` turns it off.
 */
import { reconstructSignedUrl } from '../core/signature/request-url.js';
import type { FormParam } from '../core/signature/twilio-signature.js';
import { createTwilioVerifier, type SigningSecret, type TwilioVerifier } from '../core/signature/verifier.js';
import { replayWindow, type ReplayWindowOption, type WebhookVerifyResult } from './replay-window.js';

export interface FetchVerifyOptions {
  /** The secrets, or a verifier built once with createTwilioVerifier (cheaper per request). */
  readonly secrets?: readonly SigningSecret[] | undefined;
  readonly verifier?: TwilioVerifier | undefined;
  /** The public base URL Twilio calls, e.g. `https://api.example.com:8443/telehealth`. */
  readonly publicUrl?: string | undefined;
  /** Larger bodies are refused as 'malformed-body' without being read. Default 1 MiB. */
  readonly maxBodyBytes?: number | undefined;
  /** The `Timestamp` replay window: on by default (15 min old, 5 min ahead); `false` turns it off. */
  readonly replayWindow?: ReplayWindowOption;
}

export type { FormParam, WebhookVerifyResult };

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** Verifiers built from a `secrets` array, kept while the array lives. */
const verifiers = new WeakMap<readonly SigningSecret[], TwilioVerifier>();
/** Replay windows built from an options object, kept while it lives; the default one, shared. */
const windows = new WeakMap<object, ReturnType<typeof replayWindow>>();
const defaultWindow = replayWindow(undefined);

/**
 * @example
 *   const result = await verifyFetchRequest(request, { secrets: [{ id: 'primary', algorithm: 'sha1', secret: token }] });
 *   if (!result.ok) return new Response('Forbidden', { status: 403 });
 */
export async function verifyFetchRequest(request: Request, options: FetchVerifyOptions): Promise<WebhookVerifyResult> {
  const verifier = options.verifier ?? verifierFor(options.secrets);
  const withinWindow = windowFor(options.replayWindow);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBodyBytes) return { ok: false, reason: 'malformed-body' };
  const body = request.body === null ? Buffer.alloc(0) : Buffer.from(await (request.bodyUsed ? request : request.clone()).arrayBuffer());
  if (body.length > maxBodyBytes) return { ok: false, reason: 'malformed-body' };
  return withinWindow(
    verifier.verify({
      url: signedUrl(request.url, options.publicUrl),
      signature: request.headers.get('x-twilio-signature') ?? undefined,
      signatureSettings: request.headers.get('x-twilio-webhooks-signature-settings') ?? undefined,
      contentType: request.headers.get('content-type') ?? undefined,
      body,
    }),
  );
}

function windowFor(option: ReplayWindowOption): ReturnType<typeof replayWindow> {
  if (option === undefined || option === true) return defaultWindow;
  if (option === false) return replayWindow(false);
  let window = windows.get(option);
  if (!window) windows.set(option, (window = replayWindow(option)));
  return window;
}

function verifierFor(secrets: readonly SigningSecret[] | undefined): TwilioVerifier {
  if (!secrets) throw new TypeError('verifyFetchRequest: give `secrets` or `verifier`');
  let verifier = verifiers.get(secrets);
  if (!verifier) verifiers.set(secrets, (verifier = createTwilioVerifier({ secrets })));
  return verifier;
}

/** `publicUrl` + the request's path and query (see request-url.ts), else request.url as is. */
function signedUrl(requestUrl: string, publicUrl: string | undefined): string {
  if (!publicUrl) return requestUrl;
  // An absolute-form target is reduced to its path and query by reconstructSignedUrl.
  return reconstructSignedUrl({
    publicUrl,
    isTrustedProxy: () => false,
    remoteAddress: '',
    encrypted: false,
    headers: {},
    rawUrl: requestUrl,
  });
}
