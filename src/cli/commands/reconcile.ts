/**
 * `roomgate reconcile [--consultation ID] [--dry-run]` — one reconciliation pass from the command
 * line (the service runs the same on a timer, under its lease), and `roomgate consultation
 * complete ID --reason …` — an operator finishes a consultation, after reconciliation.
 * Both print JSON on stdout; exit 1 when a consultation could not be reconciled or found.
 */
import pino from 'pino';
import { AuditLog } from '../../service/audit-log.js';
import { loadConfig, type Config } from '../../service/config.js';
import { createLogger } from '../../service/logger.js';
import { createMetrics } from '../../service/metrics.js';
import { completeConsultation } from '../../service/reconcile/complete-consultation.js';
import { Reconciler } from '../../service/reconcile/reconciler.js';
import { createTwilioReader } from '../../service/reconcile/twilio-reader.js';
import { createTwilioRestClient } from '../../service/twilio/twilio-rest-client.js';
import type { Store } from '../../storage/store.js';
import { openCliStore } from '../cli-store.js';
import { EXIT_FAILURE, EXIT_OK, UsageError } from '../command.js';

const logger = () => createLogger({ level: 'warn', destination: pino.destination(2) });

function reconcilerFor(config: Config, store: Store): Reconciler {
  const metrics = createMetrics();
  return new Reconciler({
    store,
    twilio: createTwilioReader({
      twilio: createTwilioRestClient({ baseUrl: config.apiBaseUrl, apiKeySid: config.apiKey!.sid, apiKeySecret: config.apiKey!.secret }),
      ratePerSecond: config.reconcile.ratePerSecond,
      metrics,
    }),
    logger: logger(),
    metrics,
    clock: () => new Date(),
    config: config.reconcile,
    defaultAccountSid: () => config.accounts[0]?.accountSid,
  });
}

export async function reconcileCommand(options: { consultation?: string; dryRun?: boolean }): Promise<number> {
  const config = loadConfig();
  if (config.sandbox) {
    throw new UsageError(
      'reconcile needs Twilio credentials (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_API_KEY_SID, TWILIO_API_KEY_SECRET); in sandbox mode `roomgate serve` reconciles by itself',
    );
  }
  const store = await openCliStore();
  try {
    const report = await reconcilerFor(config, store).run({
      ...(options.consultation ? { consultationId: options.consultation } : {}),
      dryRun: options.dryRun ?? false,
    });
    console.log(JSON.stringify(report, null, 2));
    const changed = report.consultations.filter((c) => c.outcome === 'changed' || c.outcome === 'would-change').length;
    const failed = report.consultations.filter((c) => c.outcome === 'failed' || c.outcome === 'not-found').length;
    console.error(
      `roomgate: ${report.consultations.length} consultations compared with Twilio, ${changed} ${options.dryRun ? 'would change (dry run: nothing changed)' : 'changed'}, ${failed} failed`,
    );
    return failed > 0 ? EXIT_FAILURE : EXIT_OK;
  } finally {
    await store.close();
  }
}

export async function completeConsultationCommand(id: string, options: { reason: string; at?: string }): Promise<number> {
  if (options.reason.trim() === '') throw new UsageError('--reason must say why');
  const at = options.at === undefined ? undefined : new Date(options.at);
  if (at && Number.isNaN(at.getTime())) throw new UsageError('--at must be an ISO 8601 date');
  const config = loadConfig();
  const store = await openCliStore();
  try {
    // Twilio's word first: what it still knows enters the record before the operator decides.
    let reconciled: string = 'skipped (sandbox mode: no Twilio credentials)';
    if (!config.sandbox) reconciled = (await reconcilerFor(config, store).run({ consultationId: id })).consultations[0]!.outcome;
    const audit = new AuditLog(store, logger(), () => new Date());
    const result = await completeConsultation(store, {
      id,
      reason: options.reason,
      ...(at ? { at } : {}),
      clock: () => new Date(),
      accountSid: config.accounts[0]?.accountSid,
      audit,
    });
    await audit.drain();
    if (!result) {
      console.error(`roomgate: no consultation ${id}`);
      return EXIT_FAILURE;
    }
    console.log(JSON.stringify({ ...result, reconciliation: reconciled }, null, 2));
    console.error(
      result.endedAt
        ? `roomgate: consultation ${id} ${result.before} → ${result.after} (room ended at ${result.endedAt})`
        : `roomgate: consultation ${id} is ${result.after} already; nothing to complete`,
    );
    return EXIT_OK;
  } finally {
    await store.close();
  }
}
