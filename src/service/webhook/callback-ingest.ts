import type { CallbackParam, CallbackParse } from '../../core/webhook/callback-schema.js';

/** A callback whose signature and freshness have been proven, ready to be stored. */
export interface SignedCallback {
  /** The parameters as received (a JSON body's top-level fields), stored as they are. */
  readonly params: readonly CallbackParam[];
  /** The one parse every later step reads (core/webhook/callback-schema.ts). */
  readonly parsed: CallbackParse;
  /** SHA-256 hex of the raw signed body: the dedupe key of a callback the schema quarantined. */
  readonly bodySha256: string;
  readonly secretId: string;
  /** `I-Twilio-Idempotency-Token` as received: unsigned, of any length — bounded before storage. */
  readonly idempotencyToken: string | undefined;
  readonly receivedAt: Date;
  readonly remoteAddress: string;
  /**
   * Older than the replay window (but within the late window): stored held as `late`, applied
   * only once the reconciler has confirmed it against Twilio's REST API.
   */
  readonly late?: boolean;
}

export type IngestOutcome =
  | { readonly outcome: 'stored' | 'duplicate' | 'unmatched' | 'late'; readonly event: string }
  | { readonly outcome: 'quarantined'; readonly event: string; readonly reason: string };

/** The port the webhook route stores through: resolves once the callback's commit returned. */
export interface CallbackIngest {
  submit(callback: SignedCallback): Promise<IngestOutcome>;
}
