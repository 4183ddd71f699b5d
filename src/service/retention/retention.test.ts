/**
 * Retention on every engine, with an injected clock: tenants with different periods and data of
 * various ages; afterwards exactly what is past each period is gone (row by row, per table), the
 * rest is intact, billed consultations stay as stubs, and callbacks inside the replay window
 * survive (their consultation waits for a later run).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest, type TestDatabase } from '../../../test/support/engines.js';
import { newId } from '../../storage/ids.js';
import { openStore } from '../../storage/open-store.js';
import type { Store } from '../../storage/store.js';
import { emptyCounts, RETENTION_TABLES, runRetention, type RemovedCounts } from './retention.js';

const NOW = new Date('2030-06-01T00:00:00.000Z');
const REPLAY_WINDOW_MS = 20 * 60_000; // 15 min max age + 5 min skew
const DAY = 86_400_000;
const ago = (ms: number, from = NOW) => new Date(from.getTime() - ms).toISOString();

type Table = keyof RemovedCounts | 'billing_records';
/** Every seeded row: its table, a key that names it, and whether the first run should remove it. */
interface Seeded {
  table: Table;
  key: string;
  goes: boolean;
}

async function keysOf(store: Store, table: Table): Promise<string[]> {
  if (table === 'issued_identities') {
    const rows = await store.db.selectFrom('issued_identities').select(['consultation_id', 'identity']).execute();
    return rows.map((row) => `${row.consultation_id}/${row.identity}`).sort();
  }
  if (table === 'idempotency_keys') {
    const rows = await store.db.selectFrom('idempotency_keys').select(['idempotency_key']).execute();
    return rows.map((row) => row.idempotency_key).sort();
  }
  const rows = await store.db.selectFrom(table).select('id').execute();
  return rows.map((row) => row.id).sort();
}

for (const engine of enginesUnderTest()) {
  describe(`retention on ${engine.name}`, () => {
    let database: TestDatabase;
    let store: Store;
    const seeded: Seeded[] = [];
    const add = (table: Table, key: string, goes: boolean) => seeded.push({ table, key, goes });

    async function tenant(retentionDays: number): Promise<string> {
      const id = newId('ten');
      await store.db
        .insertInto('tenants')
        .values({
          id,
          slug: `t-${id.slice(-8)}`,
          name: 'Clinic',
          kind: 'human',
          retention_days: retentionDays,
          created_at: ago(1000 * DAY),
        })
        .execute();
      return id;
    }

    /**
     * A consultation with two participants (sessions, issued identities), a recording, a
     * composition, room and composition callbacks received when it ended, and optionally a
     * billing record and one more callback received at `lateCallbackAt`.
     */
    async function consultation(
      tenantId: string,
      spec: { endedAt: string | null; createdAt: string; billed?: boolean; lateCallbackAt?: string; goes: boolean },
    ): Promise<string> {
      const id = newId('con');
      const roomSid = `RM${id.slice(-30)}`;
      const compositionSid = `CJ${id.slice(-30)}`;
      const at = spec.endedAt ?? spec.createdAt;
      await store.db
        .insertInto('consultations')
        .values({
          id,
          tenant_id: tenantId,
          room_sid: roomSid,
          room_name: `rg-${id}`,
          status: spec.endedAt ? 'completed' : 'in-progress',
          record: 1,
          scheduled_at: null,
          started_at: spec.createdAt,
          ended_at: spec.endedAt,
          created_at: spec.createdAt,
          updated_at: at,
          version: 3,
        })
        .execute();
      // A billed consultation stays as a stub: its row and billing record are never removed.
      add('consultations', id, spec.goes && !spec.billed);
      for (const identity of ['clinician-7f3a', 'patient-91bc']) {
        const participantId = newId('par');
        await store.db
          .insertInto('participants')
          .values({
            id: participantId,
            consultation_id: id,
            identity,
            role: identity.split('-')[0]!,
            participant_sid: `PA${participantId.slice(-30)}`,
            created_at: spec.createdAt,
          })
          .execute();
        add('participants', participantId, spec.goes);
        const sessionId = newId('pss');
        await store.db
          .insertInto('participant_sessions')
          .values({
            id: sessionId,
            consultation_id: id,
            participant_sid: `PA${participantId.slice(-30)}`,
            identity,
            connected_at: spec.createdAt,
            disconnected_at: spec.endedAt,
          })
          .execute();
        add('participant_sessions', sessionId, spec.goes);
        await store.db
          .insertInto('issued_identities')
          .values({ consultation_id: id, identity, role: 'x', issued_at: spec.createdAt, expires_at: spec.createdAt })
          .execute();
        add('issued_identities', `${id}/${identity}`, spec.goes);
      }
      // The patient's consent to recording: the ledger goes with the record it is evidence for.
      const consentId = newId('cns');
      await store.db
        .insertInto('consents')
        .values({
          id: consentId,
          tenant_id: tenantId,
          consultation_id: id,
          position: 1,
          identity: 'patient-91bc',
          kind: 'recording',
          decision: 'given',
          text_version: 'rec-1',
          recorded_by: 'clinician-7f3a',
          api_key_id: null,
          recorded_at: spec.createdAt,
        })
        .execute();
      add('consents', consentId, spec.goes);
      const recordingId = newId('rec');
      await store.db
        .insertInto('recordings')
        .values({
          id: recordingId,
          consultation_id: id,
          recording_sid: `RT${recordingId.slice(-30)}`,
          track_name: 'audio',
          status: 'completed',
          duration: 60,
          size: 1000,
          media_uri: null,
          created_at: at,
          completed_at: at,
        })
        .execute();
      add('recordings', recordingId, spec.goes);
      const compositionRowId = newId('cmp');
      await store.db
        .insertInto('compositions')
        .values({
          id: compositionRowId,
          consultation_id: id,
          room_sid: roomSid,
          composition_sid: compositionSid,
          status: 'available',
          attempts: 1,
          media_uri: null,
          created_at: at,
          updated_at: at,
        })
        .execute();
      add('compositions', compositionRowId, spec.goes);
      const callbacks: { roomSid: string | null; compositionSid: string | null; receivedAt: string }[] = [
        { roomSid, compositionSid: null, receivedAt: at },
        { roomSid, compositionSid: null, receivedAt: at },
        // Composition callbacks are matched by composition SID alone.
        { roomSid: null, compositionSid, receivedAt: at },
        ...(spec.lateCallbackAt ? [{ roomSid, compositionSid: null, receivedAt: spec.lateCallbackAt }] : []),
      ];
      for (const callback of callbacks) add('callbacks', await insertCallback(callback), spec.goes);
      if (spec.billed) {
        const billingId = newId('bil');
        await store.db
          .insertInto('billing_records')
          .values({
            id: billingId,
            consultation_id: id,
            tenant_id: tenantId,
            billable_seconds: 600,
            rounded_seconds: 600,
            intervals: '[]',
            created_at: at,
          })
          .execute();
        add('billing_records', billingId, false);
      }
      return id;
    }

    async function insertCallback(spec: {
      roomSid: string | null;
      compositionSid: string | null;
      receivedAt: string;
      status?: 'accepted' | 'unmatched';
    }) {
      const id = newId('cb');
      await store.db
        .insertInto('callbacks')
        .values({
          id,
          dedupe_key: id,
          idempotency_token: null,
          account_sid: 'AC00000000000000000000000000000000',
          room_sid: spec.roomSid,
          composition_sid: spec.compositionSid,
          event_type: 'room-ended',
          event_timestamp: spec.receivedAt,
          sequence_number: 1,
          participant_sid: null,
          participant_identity: 'patient-91bc',
          params: '[]',
          status: spec.status ?? 'accepted',
          received_at: spec.receivedAt,
          processed_at: spec.receivedAt,
        })
        .execute();
      return id;
    }

    let eventSequence = 0;
    async function tenantEvent(tenantId: string, occurredAt: string, goes: boolean) {
      const id = newId('evt');
      eventSequence += 1;
      await store.db
        .insertInto('tenant_events')
        .values({
          tenant_id: tenantId,
          sequence: eventSequence,
          id,
          type: 'consultation.status',
          consultation_id: 'con_x',
          occurred_at: occurredAt,
          payload: '{}',
        })
        .execute();
      add('tenant_events', id, goes);
    }

    async function webhookMessage(tenantId: string, finishedAt: string | null, goes: boolean) {
      const endpointId = newId('whe');
      const now = new Date().toISOString();
      await store.db
        .insertInto('webhook_endpoints')
        .values({
          id: endpointId,
          tenant_id: tenantId,
          url: 'https://hooks.invalid/x',
          event_types: null,
          description: null,
          enabled: 1,
          disabled_reason: null,
          secret: 'whsec_x',
          previous_secret: null,
          previous_secret_until: null,
          log_cursor: 0,
          failing_since: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
      const id = newId('whm');
      await store.db
        .insertInto('webhook_messages')
        .values({
          id,
          endpoint_id: endpointId,
          tenant_id: tenantId,
          event_id: newId('evt'),
          event_sequence: 1,
          event_type: 'consultation.status',
          consultation_id: 'con_x',
          dedupe_key: id,
          status: finishedAt ? 'delivered' : 'pending',
          attempts: 1,
          next_attempt_at: finishedAt ?? now,
          first_attempt_at: finishedAt ?? now,
          locked_by: null,
          locked_until: null,
          created_at: finishedAt ?? now,
          finished_at: finishedAt,
        })
        .execute();
      add('webhook_messages', id, goes);
    }

    async function audit(tenantId: string | null, createdAt: string, goes: boolean) {
      const id = newId('aud');
      await store.db
        .insertInto('audit_log')
        .values({
          id,
          tenant_id: tenantId,
          actor: 'key_x',
          action: 'token.issue',
          target: 'con_x',
          outcome: 'issued',
          detail: '{}',
          created_at: createdAt,
        })
        .execute();
      add('audit_log', id, goes);
    }

    async function securityEvent(createdAt: string, goes: boolean) {
      const id = newId('sev');
      await store.db
        .insertInto('security_events')
        .values({
          id,
          reason: 'signature-mismatch',
          remote_address: '203.0.113.9',
          path: '/webhooks/twilio/video',
          claimed_account_sid: null,
          detail: '{}',
          created_at: createdAt,
        })
        .execute();
      add('security_events', id, goes);
    }

    async function outbox(status: 'pending' | 'done' | 'failed', at: string, goes: boolean) {
      const id = newId('obx');
      await store.db
        .insertInto('outbox')
        .values({
          id,
          kind: 'request-composition',
          dedupe_key: id,
          payload: '{}',
          status,
          attempts: 1,
          next_attempt_at: at,
          locked_by: null,
          locked_until: null,
          last_error: null,
          created_at: at,
          done_at: status === 'done' ? at : null,
        })
        .execute();
      add('outbox', id, goes);
    }

    /** An Idempotency-Key answer that expires at `expiresAt` (24 h after it was made). */
    async function idempotencyKey(expiresAt: string, goes: boolean) {
      const key = `idem-${newId('k')}`;
      await store.db
        .insertInto('idempotency_keys')
        .values({
          tenant_id: 'ten_any',
          idempotency_key: key,
          fingerprint: '0'.repeat(64),
          status: 'done',
          response_status: 201,
          response_body: '{}',
          response_location: null,
          locked_until: expiresAt,
          created_at: ago(DAY, new Date(expiresAt)),
          expires_at: expiresAt,
        })
        .execute();
      add('idempotency_keys', key, goes);
    }

    const expectedAfter = async (removedTables: (s: Seeded) => boolean) => {
      for (const table of [...RETENTION_TABLES, 'billing_records'] as Table[]) {
        const want = seeded
          .filter((row) => row.table === table && !removedTables(row))
          .map((row) => row.key)
          .sort();
        expect(await keysOf(store, table), table).toEqual(want);
      }
    };
    const countsOf = (filter: (s: Seeded) => boolean): RemovedCounts => {
      const counts = emptyCounts();
      for (const row of seeded.filter(filter)) if (row.table !== 'billing_records') counts[row.table] += 1;
      return counts;
    };

    let deferredTwice: string;
    let deferredOnce: string;

    beforeAll(async () => {
      database = await engine.createTestDatabase();
      store = await openStore(database.url);
      await store.migrate();

      const a = await tenant(30);
      await consultation(a, { createdAt: ago(41 * DAY), endedAt: ago(40 * DAY), goes: true });
      await consultation(a, { createdAt: ago(41 * DAY), endedAt: ago(40 * DAY), billed: true, goes: true });
      await consultation(a, { createdAt: ago(21 * DAY), endedAt: ago(20 * DAY), billed: true, goes: false });
      await consultation(a, { createdAt: ago(40 * DAY), endedAt: null, goes: true }); // never ended
      await consultation(a, { createdAt: ago(10 * DAY), endedAt: null, goes: false });
      // Ended just inside the period, although created long before it.
      await consultation(a, { createdAt: ago(90 * DAY), endedAt: ago(29 * DAY), goes: false });
      await audit(a, ago(40 * DAY), true);
      await audit(a, ago(10 * DAY), false);
      await tenantEvent(a, ago(40 * DAY), true);
      await tenantEvent(a, ago(10 * DAY), false);
      await webhookMessage(a, ago(40 * DAY), true);
      await webhookMessage(a, ago(10 * DAY), false);
      await webhookMessage(a, null, false); // still pending: stays whatever its age

      const b = await tenant(365);
      await consultation(b, { createdAt: ago(41 * DAY), endedAt: ago(40 * DAY), goes: false });
      await consultation(b, { createdAt: ago(401 * DAY), endedAt: ago(400 * DAY), goes: true });
      await audit(b, ago(400 * DAY), true);
      await audit(b, ago(40 * DAY), false);

      const c = await tenant(1);
      // A late callback 5 min ago, then 19 min ago: both inside the 20 min replay window.
      deferredTwice = await consultation(c, {
        createdAt: ago(3 * DAY),
        endedAt: ago(2 * DAY),
        lateCallbackAt: ago(5 * 60_000),
        goes: false,
      });
      deferredOnce = await consultation(c, {
        createdAt: ago(3 * DAY),
        endedAt: ago(2 * DAY),
        lateCallbackAt: ago(19 * 60_000),
        goes: false,
      });
      await consultation(c, { createdAt: ago(3 * DAY), endedAt: ago(2 * DAY), goes: true });
      await audit(c, ago(2 * DAY), true);

      // Operator rows: after the longest period (365 days).
      await audit(null, ago(400 * DAY), true);
      await audit(null, ago(300 * DAY), false);
      await securityEvent(ago(91 * DAY), true);
      await securityEvent(ago(89 * DAY), false);
      // Callbacks of rooms no consultation knows: 90 days.
      add(
        'callbacks',
        await insertCallback({ roomSid: 'RMunknown1', compositionSid: null, receivedAt: ago(91 * DAY), status: 'unmatched' }),
        true,
      );
      add('callbacks', await insertCallback({ roomSid: null, compositionSid: null, receivedAt: ago(91 * DAY), status: 'unmatched' }), true);
      add(
        'callbacks',
        await insertCallback({ roomSid: 'RMunknown2', compositionSid: null, receivedAt: ago(10 * DAY), status: 'unmatched' }),
        false,
      );
      await outbox('done', ago(91 * DAY), true);
      await outbox('done', ago(10 * DAY), false);
      await outbox('failed', ago(100 * DAY), false); // an operator must look at it first
      await outbox('pending', ago(100 * DAY), false);
      await idempotencyKey(ago(1000), true); // its 24 h are over
      await idempotencyKey(ago(-DAY / 2), false); // still replayed for 12 h
    });
    afterAll(async () => {
      await store?.close();
      await database?.drop();
    });

    it('a dry run reports what would go and removes nothing', async () => {
      const report = await runRetention(store, { now: NOW, replayWindowMs: REPLAY_WINDOW_MS, dryRun: true });
      expect(report.dryRun).toBe(true);
      expect(report.totals).toEqual(countsOf((row) => row.goes));
      await expectedAfter(() => false);
    });

    it('removes exactly what is past each period, keeps billed stubs, defers rooms with callbacks in the replay window', async () => {
      const report = await runRetention(store, { now: NOW, replayWindowMs: REPLAY_WINDOW_MS });
      expect(report.totals).toEqual(countsOf((row) => row.goes));
      await expectedAfter((row) => row.goes);
      const byDays = Object.fromEntries(report.tenants.map((tenant) => [tenant.retentionDays, tenant]));
      expect(byDays[30]).toMatchObject({ keptForBilling: 1, deferred: 0, removed: { consultations: 2 } });
      expect(byDays[365]).toMatchObject({ keptForBilling: 0, deferred: 0, removed: { consultations: 1, audit_log: 1 } });
      expect(byDays[1]).toMatchObject({ keptForBilling: 0, deferred: 2, removed: { consultations: 1, callbacks: 3 } });
      expect(report.global.removed).toMatchObject({ security_events: 1, audit_log: 1, callbacks: 2, outbox: 1 });
      // The stub: its row and billing record stay, nothing that names a person does.
      const stubs = await store.db
        .selectFrom('billing_records')
        .innerJoin('consultations', 'consultations.id', 'billing_records.consultation_id')
        .select('consultations.id')
        .execute();
      expect(stubs).toHaveLength(2);
    });

    it('a later run removes a deferred consultation once its callbacks leave the window, and nothing else', async () => {
      const later = new Date(NOW.getTime() + 2 * 60_000); // the 19-minute-old callback is now 21 minutes old
      const report = await runRetention(store, { now: later, replayWindowMs: REPLAY_WINDOW_MS });
      const c = report.tenants.find((tenant) => tenant.retentionDays === 1)!;
      expect(c.deferred).toBe(1);
      expect(c.removed).toMatchObject({
        consultations: 1,
        participants: 2,
        participant_sessions: 2,
        issued_identities: 2,
        recordings: 1,
        compositions: 1,
        callbacks: 4,
      });
      const consultations = (await store.db.selectFrom('consultations').select('id').execute()).map((row) => row.id);
      expect(consultations).toContain(deferredTwice);
      expect(consultations).not.toContain(deferredOnce);
      const others = report.tenants.filter((tenant) => tenant.retentionDays !== 1);
      for (const tenant of others) expect(tenant.removed).toEqual(emptyCounts());
      expect(report.global.removed).toEqual(emptyCounts());
    });
  });
}
