import type { FormParam } from '../../core/signature/twilio-signature.js';

/** A callback whose signature and freshness have been proven, ready to be stored. */
export interface SignedCallback {
  readonly params: readonly FormParam[];
  readonly secretId: string;
  readonly idempotencyToken: string | undefined;
  readonly receivedAt: Date;
  readonly remoteAddress: string;
}

export type IngestOutcome =
  | { readonly outcome: 'stored' | 'duplicate' | 'unmatched'; readonly event: string }
  | { readonly outcome: 'quarantined'; readonly event: string; readonly reason: string; readonly identity: string };

/** The port the webhook route stores through: resolves once the callback's commit returned. */
export interface CallbackIngest {
  submit(callback: SignedCallback): Promise<IngestOutcome>;
}
