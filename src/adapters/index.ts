// The package's main entry (@roomgate/twilio-verifier): the framework-free verifier and replay window.
export { createTwilioVerifier, MAX_HMACS } from '../core/signature/verifier.js';
export type { SignatureFailureReason, SignedRequest, SigningSecret, TwilioVerifier, VerifyResult } from '../core/signature/verifier.js';
export { computeTwilioSignature } from '../core/signature/twilio-signature.js';
export type { FormParam, SignatureAlgorithm } from '../core/signature/twilio-signature.js';
export { reconstructSignedUrl } from '../core/signature/request-url.js';
export type { RequestUrlInput } from '../core/signature/request-url.js';
export { parseTrustedProxies } from '../core/net/trusted-proxies.js';
export { checkFreshness } from '../core/webhook/freshness.js';
export type { Freshness } from '../core/webhook/freshness.js';
export { DEFAULT_FUTURE_SKEW_MS, DEFAULT_MAX_AGE_MS, replayWindow } from './replay-window.js';
export type {
  ReplayFailureReason,
  ReplayWindowOption,
  ReplayWindowOptions,
  WebhookFailureReason,
  WebhookVerifyResult,
} from './replay-window.js';
export type { TwilioWebhookContext } from './webhook-context.js';
