/**
 * POST /webhooks/twilio/video — the order of work is the contract's, and each step's failure
 * answers before the next runs:
 *   1. no signature header → 403 before the body is even read
 *   2. size → 413 unread; the body is kept as raw bytes whatever its media type, never parsed
 *      for use before the signature is checked
 *   3. signature over the exact URL Twilio requested and the raw body → 403 (a media type the
 *      verifier cannot read — neither form nor JSON — cannot be verified, so it is 403 too)
 *   4. Timestamp freshness (replay window, clock skew) → 403
 *   5. durable store (dedupe, screening, projection) → 204; store down → 503
 */
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkFreshness } from '../../core/webhook/freshness.js';
import { reconstructSignedUrl } from '../../core/signature/request-url.js';
import type { TwilioVerifier } from '../../core/signature/verifier.js';
import type { FormParam } from '../../core/signature/twilio-signature.js';
import type { Config } from '../config.js';
import { errorBody } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { SecurityMonitor } from '../security-monitor.js';
import type { CallbackIngest } from '../webhook/callback-ingest.js';

export const WEBHOOK_PATH = '/webhooks/twilio/video';

const FRESHNESS_REASON = {
  'missing-timestamp': 'missing-timestamp',
  stale: 'replay-too-old',
  future: 'timestamp-in-future',
} as const;

export interface WebhookRouteOptions {
  readonly config: Config;
  /** A getter, so a reload can swap the secrets without dropping a request. */
  readonly verifier: () => TwilioVerifier;
  readonly ingest: CallbackIngest;
  readonly security: SecurityMonitor;
  readonly metrics: Metrics;
  readonly clock: () => Date;
}

export async function webhookRoute(app: FastifyInstance, options: WebhookRouteOptions): Promise<void> {
  const { config, security, metrics, clock } = options;

  // Raw bytes only, and only here: the signature covers the body exactly as sent. Every media
  // type — absent, unknown or malformed too — is read (up to the limit) so that the signature
  // decides first: an unsigned request gets 403, never 415. Fastify refuses a malformed
  // Content-Type before any parser, so the received header is set aside (for the verifier) and
  // replaced by a neutral one before Fastify looks at it.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.webhookBodyLimitBytes }, (_request, body, done) => done(null, body));

  const refuse = (request: FastifyRequest, reply: FastifyReply, reason: string, claimedAccountSid?: string) => {
    security.refuse({ reason, remoteAddress: remoteAddress(request), path: WEBHOOK_PATH, claimedAccountSid });
    request.log.info({ refusal: reason }, 'callback refused');
    return reply.code(403).send(errorBody('WEBHOOK_REFUSED', request.id));
  };

  const receivedContentType = new WeakMap<FastifyRequest, string | undefined>();
  app.addHook('onRequest', async (request, reply) => {
    if (typeof request.headers['x-twilio-signature'] !== 'string') return refuse(request, reply, 'missing-signature');
    receivedContentType.set(request, header(request, 'content-type'));
    if (request.headers['content-type'] !== undefined) request.headers['content-type'] = 'application/octet-stream';
  });

  app.post(WEBHOOK_PATH, async (request, reply) => {
    // With ROOMGATE_TRUST_PROXY and no public URL, callbacks come through the proxy: a direct
    // caller's Host header must never become the signed URL.
    if (!config.publicUrl && config.trustProxy && !config.isTrustedProxy(remoteAddress(request))) {
      return refuse(request, reply, 'untrusted-peer');
    }
    const url = reconstructSignedUrl({
      publicUrl: config.publicUrl,
      isTrustedProxy: config.isTrustedProxy,
      forwardedHeaders: config.trustProxyHeaders,
      remoteAddress: remoteAddress(request),
      encrypted: Boolean((request.raw.socket as Partial<TLSSocket>).encrypted),
      headers: request.headers,
      rawUrl: request.raw.url ?? '/',
    });
    const verdict = options.verifier().verify({
      url,
      signature: header(request, 'x-twilio-signature'),
      signatureSettings: header(request, 'x-twilio-webhooks-signature-settings'),
      contentType: receivedContentType.get(request),
      body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
    });
    if (!verdict.ok) return refuse(request, reply, verdict.reason, verdict.claimedAccountSid);
    metrics.verifications.inc({ secret: verdict.secretId });

    const params = verdict.json === undefined ? verdict.params : jsonParams(verdict.json);
    const receivedAt = clock();
    const freshness = checkFreshness(first(params, 'Timestamp'), receivedAt, config.webhookMaxAgeMs, config.webhookFutureSkewMs);
    if (freshness !== 'fresh') return refuse(request, reply, FRESHNESS_REASON[freshness], first(params, 'AccountSid'));

    const event = first(params, 'StatusCallbackEvent') ?? 'unknown';
    try {
      const result = await options.ingest.submit({
        params,
        secretId: verdict.secretId,
        idempotencyToken: header(request, 'i-twilio-idempotency-token'),
        receivedAt,
        remoteAddress: remoteAddress(request),
      });
      metrics.callbacks.inc({ event, outcome: result.outcome });
      if (result.outcome === 'unmatched') metrics.alerts.inc({ kind: 'unmatched-callback' });
      if (result.outcome === 'quarantined') {
        security.quarantine({
          reason: result.reason,
          remoteAddress: remoteAddress(request),
          path: WEBHOOK_PATH,
          claimedAccountSid: first(params, 'AccountSid'),
          detail: { event, roomSid: first(params, 'RoomSid') },
        });
      }
      return reply.code(204).send();
    } catch (error) {
      metrics.callbacks.inc({ event, outcome: 'unavailable' });
      throw error; // the app's error handler maps StoreUnavailableError to 503
    }
  });
}

function remoteAddress(request: FastifyRequest): string {
  return request.raw.socket.remoteAddress ?? '';
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function first(params: readonly FormParam[], key: string): string | undefined {
  return params.find(([k]) => k === key)?.[1];
}

/** A JSON callback's top-level scalar fields, as the form parameters Twilio would send. */
function jsonParams(json: unknown): FormParam[] {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return [];
  return Object.entries(json as Record<string, unknown>)
    .filter(([, value]) => ['string', 'number', 'boolean'].includes(typeof value))
    .map(([key, value]) => [key, String(value)] as const);
}
