/**
 * The `Timestamp` replay window every adapter applies after the signature. A valid signature
 * only proves Twilio sent the callback once; anyone who captured it can send it again. Twilio's
 * Video status callbacks carry the event's `Timestamp` (signed with the rest), so a callback
 * older than the window, or dated too far ahead, is refused.
 *
 * On by default. Webhooks that carry no `Timestamp` (Messaging, Voice) are refused as
 * 'missing-timestamp' then: give `replayWindow: false` for those, and dedupe them yourself.
 */
import { checkFreshness } from '../core/webhook/freshness.js';
import type { FormParam } from '../core/signature/twilio-signature.js';
import type { SignatureFailureReason, VerifyResult } from '../core/signature/verifier.js';

export interface ReplayWindowOptions {
  /** Older callbacks are refused as replays. Default 15 minutes. */
  readonly maxAgeMs?: number | undefined;
  /** Callbacks dated further ahead than this are refused (a forged clock). Default 5 minutes. */
  readonly futureSkewMs?: number | undefined;
  /** The clock (tests). Default `() => new Date()`. */
  readonly now?: (() => Date) | undefined;
}

/** `undefined`/`true`/`{}` → the defaults; `false` → no replay window (signature only). */
export type ReplayWindowOption = ReplayWindowOptions | boolean | undefined;

export type ReplayFailureReason = 'missing-timestamp' | 'replay-too-old' | 'timestamp-in-future';

/** Why an adapter refused a callback: the signature step, or the replay window. */
export type WebhookFailureReason = SignatureFailureReason | ReplayFailureReason;

export type WebhookVerifyResult =
  | { readonly ok: true; readonly secretId: string; readonly params: FormParam[]; readonly json?: unknown }
  | { readonly ok: false; readonly reason: WebhookFailureReason; readonly claimedAccountSid?: string };

export const DEFAULT_MAX_AGE_MS = 15 * 60_000;
export const DEFAULT_FUTURE_SKEW_MS = 5 * 60_000;

const FAILURE = { 'missing-timestamp': 'missing-timestamp', stale: 'replay-too-old', future: 'timestamp-in-future' } as const;

/**
 * Builds the window once (options checked at set-up), returning the step that follows the
 * signature: a verified result stays ok only while its `Timestamp` is within the window.
 *
 * @example const window = replayWindow({ maxAgeMs: 5 * 60_000 });
 *          const result = window(verifier.verify(signedRequest)); // ok, or reason 'replay-too-old'
 * @throws TypeError when maxAgeMs or futureSkewMs is not a finite number ≥ 0.
 */
export function replayWindow(option: ReplayWindowOption): (result: VerifyResult) => WebhookVerifyResult {
  if (option === false) return (result) => result;
  const options = option === true || option === undefined ? {} : option;
  const maxAgeMs = milliseconds('maxAgeMs', options.maxAgeMs, DEFAULT_MAX_AGE_MS);
  const futureSkewMs = milliseconds('futureSkewMs', options.futureSkewMs, DEFAULT_FUTURE_SKEW_MS);
  const now = options.now ?? (() => new Date());
  return (result) => {
    if (!result.ok) return result;
    const freshness = checkFreshness(timestampOf(result.params, result.json), now(), maxAgeMs, futureSkewMs);
    if (freshness === 'fresh') return result;
    const claimedAccountSid = first(result.params, 'AccountSid');
    const reason = FAILURE[freshness];
    return claimedAccountSid === undefined ? { ok: false, reason } : { ok: false, reason, claimedAccountSid };
  };
}

function milliseconds(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`replayWindow.${name} must be a number of milliseconds ≥ 0, got ${String(value)}`);
  }
  return value;
}

/** The form parameter, else a top-level string `Timestamp` of a JSON body. */
function timestampOf(params: readonly FormParam[], json: unknown): string | undefined {
  const fromForm = first(params, 'Timestamp');
  if (fromForm !== undefined) return fromForm;
  if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
    const value = (json as Record<string, unknown>).Timestamp;
    if (typeof value === 'string') return value;
  }
  return undefined;
}

function first(params: readonly FormParam[], name: string): string | undefined {
  for (const [key, value] of params) if (key === name) return value;
  return undefined;
}
