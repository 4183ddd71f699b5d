/**
 * The reconciler as an operator meets it: a composition Twilio leaves stuck in `enqueued` is
 * retried within the bounded budget (a new one, never the stuck one adopted); a room fetched
 * right after it ended answers 404 (twilio-node #593) and is tried again, not given up; one
 * instance at a time holds the lease; `roomgate consultation complete` finishes a consultation
 * Twilio no longer knows — audited, billed once, and a genuine room-ended arriving afterwards
 * changes nothing twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { ReconcileSchedule } from '../../src/service/reconcile/reconcile-schedule.js';
import { enginesUnderTest } from '../support/engines.js';
import { startSandboxHarness, type SandboxHarness } from '../support/sandbox-harness.js';

const MINUTE = 60_000;

for (const engine of enginesUnderTest()) {
  describe(`reconciler operations on ${engine.name}`, () => {
    let h: SandboxHarness;
    beforeAll(async () => {
      h = await startSandboxHarness(engine);
    });
    afterAll(async () => {
      await h?.close();
    });

    async function consultation(record: boolean) {
      const { key } = await h.service.seedTenant('human', ['consultations:read', 'consultations:write', 'tokens:issue']);
      const api = h.api(key);
      const created = (await api('POST', '/v1/consultations', { record })).json as { id: string; roomSid: string; roomName: string };
      for (const [identity, role] of [
        ['clin-1', 'clinician'],
        ['pat-1', 'patient'],
      ])
        expect((await api('POST', `/v1/consultations/${created.id}/access-tokens`, { identity, role })).status).toBe(201);
      return { ...created, api };
    }

    const status = async (id: string) =>
      (await h.service.store.db.selectFrom('consultations').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;

    it('retries a composition stuck in enqueued with a new one, within the budget', async () => {
      const { id, roomSid, roomName } = await consultation(true);
      h.sandbox.connect(roomName, 'clin-1');
      h.sandbox.connect(roomName, 'pat-1');
      h.advance(5 * MINUTE);
      h.sandbox.stuckNextComposition();
      h.sandbox.endRoom(roomSid);
      await h.settle();
      expect(await status(id)).toBe('completed');
      expect(h.sandbox.state.listCompositions({ roomSid }).map((c) => c.status)).toEqual(['enqueued']);

      h.advance(25 * MINUTE); // past twice ROOMGATE_RECONCILE_COMPOSITION
      const report = await h.service.app.roomgate.reconciler.run();
      expect(report.consultations.find((c) => c.consultationId === id)).toMatchObject({ reason: 'composition', outcome: 'changed' });
      await h.settle();
      const compositions = h.sandbox.state.listCompositions({ roomSid });
      expect(compositions.map((c) => c.status).sort()).toEqual(['completed', 'enqueued']);
      const row = await h.service.store.db
        .selectFrom('compositions')
        .selectAll()
        .where('consultation_id', '=', id)
        .executeTakeFirstOrThrow();
      expect(row.status).toBe('available');
      expect(row.composition_sid).toBe(compositions.find((c) => c.status === 'completed')!.sid);
      const keys = await h.service.store.db
        .selectFrom('outbox')
        .select('dedupe_key')
        .where('dedupe_key', 'like', `composition:${roomSid}%`)
        .execute();
      expect(keys.map((k) => k.dedupe_key).sort()).toEqual([`composition:${roomSid}`, `composition:${roomSid}:retry-1`]);
    });

    it('tries again after a 404 for a room that just ended, then heals the record', async () => {
      const { id, roomSid, roomName } = await consultation(false);
      h.sandbox.connect(roomName, 'clin-1');
      h.sandbox.connect(roomName, 'pat-1');
      await h.settle();
      h.advance(3 * MINUTE);
      h.sandbox.callbackFaults.add({ action: 'drop', room: roomSid, events: ['room-ended'] });
      h.sandbox.restFaults.add({ status: 404, path: roomSid, afterEndSeconds: 60 });
      h.sandbox.endRoom(roomSid);
      await h.settle();
      expect(await status(id)).toBe('in-progress');
      const first = await h.service.app.roomgate.reconciler.run({ consultationId: id });
      expect(first.consultations[0]!.outcome).toBe('retry-later');
      h.advance(61_000);
      const second = await h.service.app.roomgate.reconciler.run({ consultationId: id });
      expect(second.consultations[0]).toMatchObject({ outcome: 'changed', facts: ['room-ended'] });
      expect(await status(id)).toBe('completed');
      expect(await h.service.metricsText()).toMatch(/roomgate_alerts_total\{kind="reconciliation-changed-record"\} [1-9]/);
      h.sandbox.callbackFaults.clear();
      h.sandbox.restFaults.clear();
    });

    it('runs on one instance at a time: the lease', async () => {
      const { store, app, logs } = h.service;
      void logs;
      const make = () =>
        new ReconcileSchedule({
          store,
          reconciler: app.roomgate.reconciler,
          logger: app.log as never,
          metrics: app.roomgate.metrics,
          clock: () => new Date(h.now()),
          intervalMs: 60_000,
          leaseMs: 2 * MINUTE,
        });
      const [a, b] = [make(), make()];
      expect(await a.runOnce()).toBe(true);
      expect(await b.runOnce()).toBe(false);
      expect(await a.runOnce()).toBe(true); // renewed by its holder
      h.advance(3 * MINUTE); // a died: its lease ran out
      expect(await b.runOnce()).toBe(true);
      expect(await a.runOnce()).toBe(false);
    });

    it('roomgate consultation complete: finishes what Twilio no longer knows, audited, billed once', async () => {
      const { id, roomSid, roomName } = await consultation(false);
      h.sandbox.connect(roomName, 'clin-1');
      h.sandbox.connect(roomName, 'pat-1');
      await h.settle();
      h.advance(7 * MINUTE);
      h.sandbox.callbackFaults.add({ action: 'hold', room: roomSid });
      h.sandbox.restFaults.add({ status: 404, path: roomSid });
      h.sandbox.endRoom(roomSid);
      await h.settle();
      expect(await status(id)).toBe('in-progress');

      const saved = { ...process.env };
      const out: string[] = [];
      const output = { out: (text: string) => void out.push(text), err: (text: string) => void out.push(text) };
      Object.assign(process.env, {
        ROOMGATE_DATABASE_URL: h.service.database.url,
        TWILIO_ACCOUNT_SID: h.sandbox.accountSid,
        TWILIO_AUTH_TOKEN: h.service.authToken,
        TWILIO_API_KEY_SID: h.service.config.apiKey!.sid,
        TWILIO_API_KEY_SECRET: h.service.config.apiKey!.secret,
        TWILIO_API_BASE_URL: h.sandbox.url,
        ROOMGATE_TRUST_PROXY: 'loopback',
      });
      try {
        expect(await runCli(['reconcile', '--consultation', id, '--dry-run'], output)).toBe(0); // Twilio: 404, nothing to add
        expect(await runCli(['consultation', 'complete', id], output)).toBe(2); // --reason is required
        expect(await runCli(['consultation', 'complete', 'con_nope', '--reason', 'test'], output)).toBe(1);
        // The operator knows when the call ended (without --at: the room's last known event).
        const at = new Date(h.now()).toISOString();
        expect(await runCli(['consultation', 'complete', id, '--reason', 'Twilio lost the room (ticket 42)', '--at', at], output)).toBe(0);
      } finally {
        for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
        Object.assign(process.env, saved);
      }
      expect(out.join('')).toContain("required option '--reason");
      expect(await status(id)).toBe('completed');
      const audit = await h.service.store.db.selectFrom('audit_log').selectAll().where('action', '=', 'consultation.complete').execute();
      expect(audit).toHaveLength(1);
      expect(JSON.parse(audit[0]!.detail)).toMatchObject({ reason: 'Twilio lost the room (ticket 42)', statusBefore: 'in-progress' });
      const billed = await h.service.store.db.selectFrom('billing_records').selectAll().where('consultation_id', '=', id).execute();
      expect(billed).toHaveLength(1);

      // Twilio's own callbacks come after all: the genuine room-ended supersedes the operator's.
      h.sandbox.callbackFaults.clear();
      h.sandbox.restFaults.clear();
      expect(h.sandbox.callbackFaults.release({ room: roomSid })).toBeGreaterThan(0);
      await h.settle();
      expect(await status(id)).toBe('completed');
      const after = await h.service.store.db.selectFrom('billing_records').selectAll().where('consultation_id', '=', id).execute();
      expect(after).toHaveLength(1);
      expect(after[0]!.billable_seconds).toBe(7 * 60);
    });
  });
}
