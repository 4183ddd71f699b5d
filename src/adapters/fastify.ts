/**
 * Fastify binding of the verifier: a plugin that guards every route of the scope it is
 * registered in. Register it inside the encapsulated plugin that holds your webhook routes, so
 * the rest of the app keeps its own body parsers and no guard:
 *
 *   app.register(async (webhooks) => {
 *     await webhooks.register(twilioWebhook, { secrets, publicUrl: 'https://api.example.com' });
 *     webhooks.post('/webhooks/twilio', async (request, reply) => { request.twilio!.params; return reply.code(204).send(); });
 *   });
 *
 * In that scope: form and JSON bodies are kept as raw bytes (the signature covers them exactly;
 * other media types get Fastify's 415, bodies over `bodyLimit` its 413); a request without
 * `X-Twilio-Signature` is refused before its body is read; then the signature, then the
 * `Timestamp` replay window (on by default; `replayWindow: false` turns it off). Fastify's
 * `trustProxy` is not consulted: `trustProxy` here decides whose forwarded headers are believed.
 *
 * On failure: 403 with a generic body (the reason goes to `onFailure` only, never to the caller,
 * and the signature is never logged). On success: `request.twilio = { params, secretId, json? }`.
 */
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { parseTrustedProxies } from '../core/net/trusted-proxies.js';
import { reconstructSignedUrl } from '../core/signature/request-url.js';
import { createTwilioVerifier, type SigningSecret } from '../core/signature/verifier.js';
import { replayWindow, type ReplayWindowOption, type WebhookFailureReason } from './replay-window.js';
import { webhookContext, type TwilioWebhookContext } from './webhook-context.js';

export type { TwilioWebhookContext, WebhookFailureReason };

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the twilioWebhook plugin once the signature and the replay window passed. */
    twilio?: TwilioWebhookContext | null;
  }
}

export interface TwilioWebhookPluginOptions {
  readonly secrets: readonly SigningSecret[];
  /** The public base URL Twilio calls, e.g. `https://api.example.com:8443/telehealth`. */
  readonly publicUrl?: string | undefined;
  /** Comma list of proxy addresses/CIDRs (and `loopback`, `private`) whose forwarded headers are believed. */
  readonly trustProxy?: string | undefined;
  /** Largest body, bytes (Fastify answers 413 above). Default 64 KiB. */
  readonly bodyLimit?: number | undefined;
  /** The `Timestamp` replay window: on by default (15 min old, 5 min ahead); `false` turns it off. */
  readonly replayWindow?: ReplayWindowOption;
  /** Told why a request was refused (for logs and metrics). Never given the signature. */
  readonly onFailure?: ((reason: WebhookFailureReason, request: FastifyRequest) => void) | undefined;
}

const DEFAULT_BODY_LIMIT = 64 * 1024;
const MEDIA_TYPES = ['application/x-www-form-urlencoded', 'application/json'];

/**
 * @example await scope.register(twilioWebhook, { secrets: [{ id: 'primary', algorithm: 'sha1', secret: token }] })
 * @throws Error at registration when `trustProxy` holds a bad entry, a secret or the replay window is invalid.
 */
export const twilioWebhook: FastifyPluginCallback<TwilioWebhookPluginOptions> = (
  instance: FastifyInstance,
  options: TwilioWebhookPluginOptions,
  done: (error?: Error) => void,
) => {
  let guard: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  try {
    guard = createGuard(options);
  } catch (error) {
    done(error as Error);
    return;
  }
  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser(
    MEDIA_TYPES,
    { parseAs: 'buffer', bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT },
    (_request, body, parsed) => parsed(null, body),
  );
  if (!instance.hasRequestDecorator('twilio')) instance.decorateRequest('twilio', null);
  instance.addHook('onRequest', async (request, reply) => {
    // Refused before the body is read: a flood without signatures costs no body parsing.
    if (typeof request.headers['x-twilio-signature'] !== 'string') return refuse(options, 'missing-signature', request, reply);
  });
  instance.addHook('preHandler', guard);
  done();
};

// Applies to the scope that registers it (as fastify-plugin would), so the routes beside it are guarded.
(twilioWebhook as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')] = true;
(twilioWebhook as unknown as Record<symbol, unknown>)[Symbol.for('fastify.display-name')] = 'twilio-webhook';

function createGuard(options: TwilioWebhookPluginOptions): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const verifier = createTwilioVerifier({ secrets: options.secrets });
  const withinWindow = replayWindow(options.replayWindow);
  const isTrustedProxy = parseTrustedProxies(options.trustProxy ?? '');
  return async (request, reply) => {
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const url = reconstructSignedUrl({
      publicUrl: options.publicUrl,
      isTrustedProxy,
      remoteAddress: request.raw.socket.remoteAddress ?? '',
      encrypted: Boolean((request.raw.socket as Partial<TLSSocket>).encrypted),
      headers: request.headers,
      rawUrl: request.raw.url ?? '/',
    });
    const result = withinWindow(
      verifier.verify({
        url,
        signature: single(request.headers['x-twilio-signature']),
        signatureSettings: single(request.headers['x-twilio-webhooks-signature-settings']),
        contentType: request.headers['content-type'],
        body,
      }),
    );
    if (!result.ok) return refuse(options, result.reason, request, reply);
    request.twilio = webhookContext(result);
  };
}

function refuse(
  options: TwilioWebhookPluginOptions,
  reason: WebhookFailureReason,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  options.onFailure?.(reason, request);
  return reply.code(403).type('text/plain').send('Forbidden');
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
