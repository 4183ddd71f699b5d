/**
 * `roomgate webhooks listen [--port P] [--host H] [--secret whsec_…]`: a local receiver for the
 * service's outbound webhooks, until SIGINT/SIGTERM. Register its URL as an endpoint
 * (`POST /v1/webhook-endpoints`), give it the secret of that answer (`--secret`, or
 * ROOMGATE_WEBHOOK_SECRET to keep it out of the process list; comma-separate two during a
 * rotation), and it prints each delivery with whether its Standard Webhooks signature verified.
 * Answers 204 when it verified, 401 when it did not (so Roomgate retries). The secret is never printed.
 */
import { isWebhookSecret } from '../../core/outbound/standard-webhook-signature.js';
import { EXIT_OK, UsageError } from '../command.js';
import type { WebhooksListenOptions } from '../program.js';
import { startWebhookListener } from '../webhook-listener.js';

export async function webhooksListenCommand(options: WebhooksListenOptions, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (!/^\d+$/.test(options.port) || Number(options.port) > 65_535) throw new UsageError('--port must be a port number (0–65535)');
  if (options.host.trim() === '') throw new UsageError('--host must not be empty');
  const secrets = (options.secret ?? env.ROOMGATE_WEBHOOK_SECRET ?? '')
    .split(',')
    .map((secret) => secret.trim())
    .filter(Boolean);
  if (secrets.some((secret) => !isWebhookSecret(secret))) throw new UsageError('--secret must be a whsec_ secret (comma-separate two)');

  const stopped = new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  const listener = await startWebhookListener({
    port: Number(options.port),
    host: options.host,
    secrets,
    onDelivery: (delivery) => {
      console.log(
        `${delivery.verified ? 'verified  ' : 'NOT VERIFIED'} #${delivery.sequence ?? '?'} ${delivery.type.padEnd(26)} ${delivery.consultationId ?? '-'}  webhook-id ${delivery.webhookId}`,
      );
      if (options.body) console.log(`  ${delivery.body}`);
    },
  });
  console.log(`Listening for Roomgate webhooks on ${listener.url}`);
  console.log(
    secrets.length > 0
      ? `  verifying with ${secrets.length} secret${secrets.length > 1 ? 's' : ''} (Standard Webhooks, 5 min tolerance)`
      : '  no secret given (--secret or ROOMGATE_WEBHOOK_SECRET): every delivery shows as NOT VERIFIED and is answered 401',
  );
  console.log(`  register it: POST /v1/webhook-endpoints {"url":"${listener.url}"} (the service needs ROOMGATE_WEBHOOK_ALLOW_HTTP=1`);
  console.log('  and ROOMGATE_WEBHOOK_ALLOW_ADDRESSES=loopback for a local http receiver, or sandbox mode)');
  await stopped;
  await listener.close();
  return EXIT_OK;
}
