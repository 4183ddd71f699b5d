/**
 * Reconciliation reads every room of a consultation, not only the current one (rejoining): a
 * recorded consultation over two rooms loses, for its first room, the patient's disconnect and
 * the composition's available callback. Reconciling it — asked for, and in the overdue pass —
 * heals room 1's part of the record (the session's true end, the billing it makes, room 1's
 * composition available) and leaves room 2's as it was; one composition request per room. Room
 * 1 answered as another account's writes nothing; room 1 unknown to Twilio (404) is skipped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Reconciler, type ReconcilerOptions } from '../../src/service/reconcile/reconciler.js';
import type { TwilioReader } from '../../src/service/reconcile/twilio-reader.js';
import { createTenant } from '../../src/service/tenants/tenant-admin.js';
import { TwilioApiError } from '../../src/service/twilio/twilio-rest-client.js';
import { enginesUnderTest } from '../support/engines.js';
import { startSandboxHarness, type SandboxHarness } from '../support/sandbox-harness.js';
import { randomHex } from '../support/test-service.js';

const MINUTE = 60_000;

for (const engine of enginesUnderTest()) {
  describe(`reconciling every room of a consultation on ${engine.name}`, () => {
    let h: SandboxHarness;
    let api: ReturnType<SandboxHarness['api']>;
    beforeAll(async () => {
      h = await startSandboxHarness(engine);
      const tenantId = await createTenant(h.service.store, {
        slug: `t-${randomHex(4)}`,
        name: 'Rooms clinic',
        kind: 'human',
        joinEarlyMinutes: 10,
        joinGraceMinutes: 5,
      });
      api = h.api((await h.service.seedKey(tenantId, ['consultations:read', 'consultations:write', 'tokens:issue'])).key);
    });
    afterAll(async () => {
      await h?.close();
    });

    const token = async (id: string, identity: string, role: string) => {
      const issued = await api('POST', `/v1/consultations/${id}/access-tokens`, { identity, role });
      expect(issued.status, JSON.stringify(issued.json)).toBe(201);
      return issued.json.roomName as string;
    };
    const recordOf = async (id: string) => {
      const { db } = h.service.store;
      const sessions = await db
        .selectFrom('participant_sessions')
        .select(['participant_sid', 'identity', 'connected_at', 'disconnected_at'])
        .where('consultation_id', '=', id)
        .orderBy('connected_at')
        .orderBy('identity')
        .execute();
      const compositions = await db
        .selectFrom('compositions')
        .select(['room_sid', 'status', 'composition_sid', 'media_uri'])
        .where('consultation_id', '=', id)
        .orderBy('room_sid')
        .execute();
      const billing = await db.selectFrom('billing_records').select('billable_seconds').where('consultation_id', '=', id).execute();
      const { status } = await db.selectFrom('consultations').select('status').where('id', '=', id).executeTakeFirstOrThrow();
      return { status, sessions, compositions, billing: billing.map((b) => b.billable_seconds) };
    };

    /**
     * A recorded consultation over two rooms; room 1 loses the patient's disconnect (at 5 of its
     * 10 minutes) and its composition-available; room 2 (5 minutes) loses nothing.
     */
    async function twoRooms() {
      h.sandbox.callbackFaults.clear();
      const start = h.now() + 2 * MINUTE;
      const created = await api('POST', '/v1/consultations', {
        scheduledAt: new Date(start).toISOString(),
        durationMinutes: 60,
        record: true,
      });
      expect(created.status).toBe(201);
      const { id, roomSid: room1 } = created.json as { id: string; roomSid: string };
      const at = (minutes: number) => new Date(start + minutes * MINUTE).toISOString();
      h.advance(start - h.now());

      // Room 1: ten minutes; the patient leaves at 5 (its disconnect lost), the clinician at 10;
      // the empty room ends; its composition's available callback is lost.
      h.sandbox.callbackFaults.add({ action: 'drop', room: room1, events: ['participant-disconnected'], count: 1 });
      h.sandbox.callbackFaults.add({ action: 'drop', room: room1, events: ['composition-available'] });
      await token(id, 'clin-1', 'clinician');
      await token(id, 'pat-1', 'patient');
      h.sandbox.connectParticipant({ room: room1, identity: 'clin-1', tracks: ['audio'] });
      const patient1 = h.sandbox.connectParticipant({ room: room1, identity: 'pat-1', tracks: ['audio'] });
      await h.settle();
      h.advance(5 * MINUTE);
      h.sandbox.disconnect(room1, 'pat-1');
      await h.settle();
      h.advance(5 * MINUTE);
      h.sandbox.disconnect(room1, 'clin-1');
      h.advance(6 * MINUTE);
      h.sandbox.state.checkTimeouts();
      await h.settle();
      expect(
        h.sandbox.callbackFaults.faults
          .slice(-2)
          .map((f) => f.event)
          .sort(),
      ).toEqual(['composition-available', 'participant-disconnected']);

      // Room 2: opened by the next token inside the window; five minutes; the consultation ends.
      h.advance(4 * MINUTE);
      const room2Name = await token(id, 'clin-1', 'clinician');
      await token(id, 'pat-1', 'patient');
      const room2 = h.sandbox.state.getRoom(room2Name)!.sid;
      expect(room2).not.toBe(room1);
      h.sandbox.connectParticipant({ room: room2, identity: 'clin-1', tracks: ['audio'] });
      h.sandbox.connectParticipant({ room: room2, identity: 'pat-1', tracks: ['audio'] });
      await h.settle();
      h.advance(5 * MINUTE);
      expect((await api('POST', `/v1/consultations/${id}/end`)).status).toBe(200);
      await h.settle();

      const lost = await recordOf(id);
      expect(lost.status).toBe('completed');
      // The lost disconnect: the patient stayed until room 1 ended, ten minutes billed there.
      expect(lost.billing).toEqual([600 + 300]);
      expect(lost.compositions.map((c) => [c.room_sid, c.status === 'available'])).toEqual(
        [
          [room1, false],
          [room2, true],
        ].sort(([a], [b]) => (a! < b! ? -1 : 1)),
      );
      return { id, room1, room2, patient1, at, lost };
    }

    it('heals the lost callbacks of an earlier room and keeps the current room right', { timeout: 60_000 }, async () => {
      const { id, room1, room2, patient1, at, lost } = await twoRooms();
      const room2Before = lost.compositions.find((c) => c.room_sid === room2);

      h.advance(3 * MINUTE);
      const dry = await h.service.app.roomgate.reconciler.run({ consultationId: id, dryRun: true });
      expect(dry.consultations).toMatchObject([{ outcome: 'would-change' }]);
      expect(await recordOf(id)).toEqual(lost);

      const report = await h.service.app.roomgate.reconciler.run({ consultationId: id });
      expect(report.consultations).toMatchObject([{ outcome: 'changed' }]);
      expect([...report.consultations[0]!.facts].sort()).toEqual(['composition-available', 'participant-disconnected']);
      await h.settle();

      const healed = await recordOf(id);
      expect(healed.status).toBe('completed');
      expect(healed.billing).toEqual([300 + 300]);
      const patientIn1 = healed.sessions.find((s) => s.participant_sid === patient1)!;
      expect([patientIn1.connected_at, patientIn1.disconnected_at]).toEqual([at(0), at(5)]);
      const composition1 = healed.compositions.find((c) => c.room_sid === room1)!;
      const atTwilio1 = h.sandbox.state.listCompositions({ roomSid: room1 });
      expect(atTwilio1).toHaveLength(1);
      expect(composition1).toMatchObject({ status: 'available', composition_sid: atTwilio1[0]!.sid });
      expect(composition1.media_uri).not.toBeNull();
      expect(healed.compositions.find((c) => c.room_sid === room2)).toEqual(room2Before);
      expect(h.sandbox.state.listCompositions({ roomSid: room2 })).toHaveLength(1);

      // The overdue pass later finds nothing more to add, in either room.
      h.advance(30 * MINUTE);
      const pass = await h.service.app.roomgate.reconciler.run();
      expect(pass.consultations.filter((c) => c.outcome !== 'unchanged')).toEqual([]);
      expect(await recordOf(id)).toEqual(healed);
    });

    it('an earlier room of another account writes nothing; an earlier room Twilio no longer knows is skipped', async () => {
      const { id, room1, lost } = await twoRooms();
      h.advance(3 * MINUTE);
      // The app's reconciler with its reader wrapped: room 1 answered as another account's, then 404.
      const { options } = h.service.app.roomgate.reconciler as unknown as { options: ReconcilerOptions };
      let room1Answer: 'other-account' | 'not-found' = 'other-account';
      const reader: TwilioReader = {
        ...options.twilio,
        fetchRoom: async (sid) => {
          if (sid !== room1) return options.twilio.fetchRoom(sid);
          if (room1Answer === 'not-found') throw new TwilioApiError('not found', 404, 20404, false);
          return { ...(await options.twilio.fetchRoom(sid)), account_sid: `AC${'0'.repeat(32)}` };
        },
      };
      const reconciler = new Reconciler({ ...options, twilio: reader });
      const reconciled = () => h.service.store.db.selectFrom('callbacks').select('id').where('source', '=', 'reconciled').execute();
      const before = (await reconciled()).length;

      expect((await reconciler.run({ consultationId: id })).consultations).toMatchObject([{ outcome: 'account-mismatch', facts: [] }]);
      room1Answer = 'not-found';
      expect((await reconciler.run({ consultationId: id })).consultations).toMatchObject([{ outcome: 'unchanged', facts: [] }]);
      await h.settle();
      expect((await reconciled()).length).toBe(before);
      expect(await recordOf(id)).toEqual(lost);
    });
  });
}
