/**
 * The schedule inside the app: off by default in buildApp; when on, it runs after onReady,
 * removes what is past the period, writes `retention.run` to the audit log, and stops on close.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../../../test/support/engines.js';
import { startTestService, type TestService } from '../../../test/support/test-service.js';
import { insertSecurityEvents } from '../../storage/audit-repository.js';

for (const engine of enginesUnderTest()) {
  describe(`retention schedule on ${engine.name}`, () => {
    let service: TestService | undefined;
    afterEach(async () => {
      await service?.close();
      service = undefined;
    });

    const auditRuns = async (s: TestService) =>
      s.store.db.selectFrom('audit_log').select(['actor', 'outcome', 'detail']).where('action', '=', 'retention.run').execute();

    it('is off unless asked for', async () => {
      service = await startTestService(engine);
      expect(service.app.roomgate.retention).toBeUndefined();
    });

    it('runs after start, removes what is past the period, audits the run, and stops on close', async () => {
      service = await startTestService(engine, { app: { retention: { firstRunDelayMs: 10, intervalMs: 60_000 } } });
      const s = service;
      const old = new Date(Date.now() - 100 * 86_400_000).toISOString();
      await insertSecurityEvents(s.store.db, [
        { reason: 'signature-mismatch', remoteAddress: '203.0.113.1', path: '/', claimedAccountSid: null, at: old },
      ]);
      const deadline = Date.now() + 5000;
      while ((await auditRuns(s)).length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        await s.app.roomgate.drain();
      }
      const runs = await auditRuns(s);
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ actor: 'retention-schedule', outcome: 'completed' });
      expect(JSON.parse(runs[0]!.detail)).toMatchObject({ totals: { security_events: 1 } });
      expect(await s.store.db.selectFrom('security_events').select('id').execute()).toHaveLength(0);
      // runOnce is what the timer calls; a second run finds nothing more.
      const again = await s.app.roomgate.retention!.runOnce();
      expect(again?.totals.security_events).toBe(0);
    });
  });
}
