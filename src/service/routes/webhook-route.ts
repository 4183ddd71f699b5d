/**
 * POST /webhooks/twilio/video — the order of work is the contract's, and each step's failure
 * answers before the next runs:
 *   1. no signature header → 403 before the body is even read
 *   2. size → 413 unread; the body is kept as raw bytes whatever its media type, never parsed
 *      for use before the signature is checked
 *   3. signature over the exact URL Twilio requested and the raw body → 403 (a media type the
 *      verifier cannot read — neither form nor JSON — cannot be verified, so it is 403 too)
 *   4. the one strict parse against Twilio's schema (core/webhook/callback-schema.ts); no
 *      AccountSid, or one whose secrets did not make the signature → 403
 *   5. Timestamp freshness (replay window, clock skew) → 403 — when the Timestamp is sound; a
 *      missing, repeated or malformed one quarantines the callback at step 6 instead. Older
 *      than the replay window but within ROOMGATE_WEBHOOK_LATE_MAX_AGE: stored held as `late`
 *      (204), applied once the reconciler confirmed it against Twilio's REST API
 *   6. durable store (dedupe, screening, projection) → 204, also for a callback the schema or
 *      screening quarantined; store down → 503
 */
import { hash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { parseCallback, readJsonCallback, type CallbackParam, type CallbackParse } from '../../core/webhook/callback-schema.js';
import { checkFreshnessAt } from '../../core/webhook/freshness.js';
import { reconstructSignedUrl } from '../../core/signature/request-url.js';
import type { TwilioVerifier } from '../../core/signature/verifier.js';
import type { Config } from '../config.js';
import { errorBody } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { SecurityMonitor } from '../security-monitor.js';
import { accountOfSecretId } from '../signing-secrets.js';
import type { CallbackIngest } from '../webhook/callback-ingest.js';

export const WEBHOOK_PATH = '/webhooks/twilio/video';

const FRESHNESS_REASON = {
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
  // Not async: nothing to wait for, so no promise per callback. A refusal answers and ends the hooks.
  app.addHook('onRequest', (request, reply, done) => {
    if (typeof request.headers['x-twilio-signature'] !== 'string') return void refuse(request, reply, 'missing-signature');
    receivedContentType.set(request, header(request, 'content-type'));
    if (request.headers['content-type'] !== undefined) request.headers['content-type'] = 'application/octet-stream';
    done();
  });

  const schema = {
    summary: "Twilio's signed status callbacks (room, participant, track, recording, composition).",
    description:
      'Form-encoded (or JSON signed through bodySHA256), with `X-Twilio-Signature`. Not for tenants: the signature is checked first whatever the media type. See README, "The webhook endpoint".',
    // Documentation: a request without the header never reaches validation (403 in onRequest).
    headers: Type.Object(
      {
        'x-twilio-signature': Type.String({ description: "Twilio's HMAC-SHA1 of the URL and parameters (or of the URL with bodySHA256)." }),
        'x-twilio-webhooks-signature-settings': Type.Optional(Type.String({ description: 'Names a shared key for HMAC-SHA256.' })),
      },
      { additionalProperties: true },
    ),
    response: {
      204: { description: 'Stored (or a duplicate, or quarantined): Twilio must not retry.', type: 'null' },
      403: Type.Ref('ErrorEnvelope'),
      413: Type.Ref('ErrorEnvelope'),
      503: Type.Ref('ErrorEnvelope'),
    },
  };
  app.post(WEBHOOK_PATH, { schema }, async (request, reply) => {
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
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const verdict = options.verifier().verify({
      url,
      signature: header(request, 'x-twilio-signature'),
      signatureSettings: header(request, 'x-twilio-webhooks-signature-settings'),
      contentType: receivedContentType.get(request),
      body,
    });
    if (!verdict.ok) return refuse(request, reply, verdict.reason, verdict.claimedAccountSid);

    const { params, parsed } = readCallback(verdict);
    // Binding to an account needs one: without it the callback could be anyone's (missing → 403).
    if (!params.some(([name, value]) => name === 'AccountSid' && value !== '')) return refuse(request, reply, 'missing-account-sid');
    // The signature must come from a secret of the account the callback names: a JSON body
    // names it only inside, after every token was eligible.
    const accountSid = parsed.fields.AccountSid;
    if (accountSid !== undefined && accountOfSecretId(verdict.secretId) !== accountSid) {
      return refuse(request, reply, 'account-secret-mismatch', accountSid);
    }
    metrics.verifications.inc({ secret: verdict.secretId });

    const receivedAt = clock();
    let late = false;
    if (parsed.timestamp !== undefined) {
      const freshness = checkFreshnessAt(parsed.timestamp, receivedAt, config.webhookMaxAgeMs, config.webhookFutureSkewMs);
      // Genuine and signed, but older than the replay window: Twilio delivers late (Event
      // Streams retry for hours). Refusing it would silently zero a consultation; it is stored
      // held as `late` instead, and applied only once the reconciler confirmed it against the
      // REST API. A replay of a stored event is still a duplicate (the dedupe key decides).
      late = freshness === 'stale' && receivedAt.getTime() - parsed.timestamp <= config.webhookLateMaxAgeMs;
      if (freshness !== 'fresh' && !late) return refuse(request, reply, FRESHNESS_REASON[freshness], accountSid);
    }

    const event = parsed.event ?? 'unknown';
    try {
      const result = await options.ingest.submit({
        params,
        parsed,
        // One-shot: no Hash object per callback.
        bodySha256: hash('sha256', body, 'hex'),
        secretId: verdict.secretId,
        idempotencyToken: header(request, 'i-twilio-idempotency-token'),
        receivedAt,
        remoteAddress: remoteAddress(request),
        ...(late ? { late } : {}),
      });
      metrics.callbacks.inc({ event, outcome: result.outcome });
      if (result.outcome === 'late') request.log.warn({ event, roomSid: parsed.fields.RoomSid }, 'late callback held for reconciliation');
      if (result.outcome === 'unmatched') metrics.alerts.inc({ kind: 'unmatched-callback' });
      if (result.outcome === 'quarantined') {
        security.quarantine({
          reason: result.reason,
          remoteAddress: remoteAddress(request),
          path: WEBHOOK_PATH,
          claimedAccountSid: accountSid,
          detail: { event, roomSid: parsed.fields.RoomSid },
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

/** The callback's parameters as received, and their one parse. */
function readCallback(verdict: { params: readonly CallbackParam[]; json?: unknown }): {
  params: readonly CallbackParam[];
  parsed: CallbackParse;
} {
  if (verdict.json !== undefined) return readJsonCallback(verdict.json);
  return { params: verdict.params, parsed: parseCallback(verdict.params) };
}
