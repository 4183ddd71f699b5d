/**
 * `roomgate retention run [--dry-run]` — removes what is past each tenant's retention period
 * (see src/service/retention/retention.ts) and prints the report as JSON. With --dry-run,
 * every transaction is rolled back: the report says what would be removed.
 */
import pino from 'pino';
import { AuditLog } from '../../service/audit-log.js';
import { loadConfig } from '../../service/config.js';
import { createLogger } from '../../service/logger.js';
import { runRetention } from '../../service/retention/retention.js';
import { openCliStore } from '../cli-store.js';

export async function retentionRun(options: { dryRun?: boolean }): Promise<number> {
  // The replay window comes from the same configuration the service uses.
  const config = loadConfig();
  const dryRun = options.dryRun ?? false;
  const store = await openCliStore();
  try {
    const now = new Date();
    const report = await runRetention(store, { now, replayWindowMs: config.webhookMaxAgeMs + config.webhookFutureSkewMs, dryRun });
    if (!dryRun) {
      const audit = new AuditLog(store, createLogger({ level: 'warn', destination: pino.destination(2) }), () => new Date());
      audit.record({
        tenantId: null,
        actor: 'operator',
        action: 'retention.run',
        target: 'all-tenants',
        outcome: 'completed',
        detail: { totals: report.totals },
      });
      await audit.drain();
    }
    console.log(JSON.stringify(report, null, 2));
    const total = Object.values(report.totals).reduce((sum, count) => sum + count, 0);
    console.error(
      `roomgate: ${dryRun ? 'would remove' : 'removed'} ${total} rows across ${report.tenants.length} tenants${dryRun ? ' (dry run: nothing changed)' : ''}`,
    );
    return 0;
  } finally {
    await store.close();
  }
}
