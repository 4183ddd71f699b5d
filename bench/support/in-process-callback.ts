/** A callback as the webhook route hands it to the inbox, for benches that store in process (no HTTP, no signature). */
import { createHash } from 'node:crypto';
import { parseCallback, type CallbackParam } from '../../src/core/webhook/callback-schema.js';
import type { SignedCallback } from '../../src/service/webhook/callback-ingest.js';

export function inProcessCallback(params: readonly CallbackParam[]): SignedCallback {
  return {
    params,
    parsed: parseCallback(params),
    bodySha256: createHash('sha256').update(JSON.stringify(params)).digest('hex'),
    secretId: 'bench',
    idempotencyToken: undefined,
    receivedAt: new Date(),
    remoteAddress: '127.0.0.1',
  };
}
