/**
 * Express binding of the verifier (library use outside Roomgate's own Fastify service).
 *
 *   app.post('/webhooks/twilio',
 *     express.raw({ type: ['application/x-www-form-urlencoded', 'application/json'] }),
 *     twilioWebhookGuard({ secrets: [{ id: 'primary', algorithm: 'sha1', secret: process.env.TWILIO_AUTH_TOKEN! }],
 *                          publicUrl: 'https://api.example.com', trustProxy: '10.0.0.0/8' }),
 *     (req, res) => { req.twilio!.params; res.sendStatus(204); });
 *
 * The signature covers the exact bytes: the guard needs the RAW body. Put `express.raw(...)`
 * before it (as above), or nothing — then the guard reads the body itself (up to
 * `maxBodyBytes`). A body already parsed by `express.urlencoded()`/`express.json()` cannot be
 * verified exactly; the guard refuses to guess and passes an error to `next` (a 500: fix the
 * middleware order). Express's own `trust proxy` setting is not consulted: `trustProxy` here
 * decides which peers' forwarded headers are believed.
 *
 * After the signature, the `Timestamp` replay window (replay-window.ts): on by default (15 min
 * old, 5 min ahead); `replayWindow: { maxAgeMs }` tunes it, `replayWindow: false` turns it off.
 *
 * On failure: 403 with a generic body (the reason goes to `onFailure` only, never to the caller,
 * and the signature is never logged). On success: `req.twilio = { params, secretId, json? }`.
 */
import type { TLSSocket } from 'node:tls';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { parseTrustedProxies } from '../core/net/trusted-proxies.js';
import { reconstructSignedUrl } from '../core/signature/request-url.js';
import { createTwilioVerifier, type SigningSecret } from '../core/signature/verifier.js';
import { replayWindow, type ReplayWindowOption, type WebhookFailureReason } from './replay-window.js';
import { webhookContext, type TwilioWebhookContext } from './webhook-context.js';

export type { TwilioWebhookContext, WebhookFailureReason };

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by twilioWebhookGuard once the signature is verified. */
      twilio?: TwilioWebhookContext;
    }
  }
}

export interface TwilioWebhookGuardOptions {
  readonly secrets: readonly SigningSecret[];
  /** The public base URL Twilio calls, e.g. `https://api.example.com:8443/telehealth`. */
  readonly publicUrl?: string | undefined;
  /** Comma list of proxy addresses/CIDRs (and `loopback`, `private`) whose forwarded headers are believed. */
  readonly trustProxy?: string | undefined;
  /** The header family those proxies write (`x-forwarded`, the default, or `forwarded`); the other is ignored. */
  readonly trustProxyHeaders?: 'x-forwarded' | 'forwarded' | undefined;
  /** Largest body the guard reads itself (when no express.raw ran before it). Default 1 MiB. */
  readonly maxBodyBytes?: number | undefined;
  /** The `Timestamp` replay window: on by default (15 min old, 5 min ahead); `false` turns it off. */
  readonly replayWindow?: ReplayWindowOption;
  /** Told why a request was refused (for logs and metrics). Never given the signature. */
  readonly onFailure?: ((reason: WebhookFailureReason, req: Request) => void) | undefined;
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * @example app.post('/twilio', express.raw({ type: ['application/x-www-form-urlencoded', 'application/json'] }),
 *   twilioWebhookGuard({ secrets }), (req, res) => res.json(req.twilio!.params))
 * @throws Error at set-up when `trustProxy` holds a bad entry, a secret or the replay window is invalid.
 */
export function twilioWebhookGuard(options: TwilioWebhookGuardOptions): RequestHandler {
  const verifier = createTwilioVerifier({ secrets: options.secrets });
  const withinWindow = replayWindow(options.replayWindow);
  const isTrustedProxy = parseTrustedProxies(options.trustProxy ?? '');
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const publicUrl = options.publicUrl;

  return function twilioWebhookGuardMiddleware(req: Request, res: Response, next: NextFunction): void {
    readRawBody(req, maxBodyBytes).then(
      (body) => {
        if (body === 'too-large') {
          res.status(413).type('text/plain').send('Payload Too Large');
          return;
        }
        if (body === 'parsed') {
          next(
            new Error(
              'twilioWebhookGuard needs the raw body: use express.raw({ type: [...] }) before it, not express.urlencoded()/express.json()',
            ),
          );
          return;
        }
        const url = reconstructSignedUrl({
          publicUrl,
          isTrustedProxy,
          forwardedHeaders: options.trustProxyHeaders,
          remoteAddress: req.socket.remoteAddress ?? '',
          encrypted: Boolean((req.socket as Partial<TLSSocket>).encrypted),
          headers: req.headers,
          rawUrl: req.originalUrl,
        });
        const result = withinWindow(
          verifier.verify({
            url,
            signature: single(req.headers['x-twilio-signature']),
            signatureSettings: single(req.headers['x-twilio-webhooks-signature-settings']),
            contentType: req.headers['content-type'],
            body,
          }),
        );
        if (!result.ok) {
          options.onFailure?.(result.reason, req);
          res.status(403).type('text/plain').send('Forbidden');
          return;
        }
        req.twilio = webhookContext(result);
        next();
      },
      (error: unknown) => next(error),
    );
  };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The body as bytes: from express.raw, or read here; 'parsed' when another parser consumed it. */
async function readRawBody(req: Request, maxBodyBytes: number): Promise<Buffer | 'parsed' | 'too-large'> {
  const existing: unknown = req.body;
  if (Buffer.isBuffer(existing)) return existing;
  // Another parser (express.urlencoded/json) set an object and consumed the stream.
  if (existing !== undefined && existing !== null && req.readableEnded) return 'parsed';
  if (req.readableEnded) return Buffer.alloc(0);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBodyBytes) return 'too-large';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) return 'too-large';
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
