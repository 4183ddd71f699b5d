import type { FormParam } from '../core/signature/twilio-signature.js';
import type { WebhookVerifyResult } from './replay-window.js';

/** What a host adapter attaches to a request once its signature and replay window passed. */
export interface TwilioWebhookContext {
  /** The form parameters, decoded, in the order received (repeated names kept). */
  readonly params: FormParam[];
  /** The `id` of the secret that matched (e.g. 'primary' or 'previous' during a rotation). */
  readonly secretId: string;
  /** The parsed body of a JSON callback (signed through `bodySHA256`). */
  readonly json?: unknown;
}

export function webhookContext(result: Extract<WebhookVerifyResult, { ok: true }>): TwilioWebhookContext {
  return result.json === undefined
    ? { params: result.params, secretId: result.secretId }
    : { params: result.params, secretId: result.secretId, json: result.json };
}
