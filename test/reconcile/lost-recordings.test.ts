/**
 * A recorded room whose recording-completed callbacks were all lost: its recordings never
 * settle, so its composition is never requested — until reconciliation reads the room's track
 * recordings from Twilio's REST API. Then each recording completes, the composition is requested
 * once (the record equal to what the callbacks would have made), and a later pass adds nothing.
 * On every engine, through the sandbox.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant } from '../../src/service/tenants/tenant-admin.js';
import { enginesUnderTest } from '../support/engines.js';
import { startSandboxHarness, type SandboxHarness } from '../support/sandbox-harness.js';
import { randomHex } from '../support/test-service.js';

const MINUTE = 60_000;

for (const engine of enginesUnderTest()) {
  describe(`lost recording callbacks on ${engine.name}`, () => {
    let h: SandboxHarness;
    let api: ReturnType<SandboxHarness['api']>;
    beforeAll(async () => {
      h = await startSandboxHarness(engine);
      const tenantId = await createTenant(h.service.store, { slug: `t-${randomHex(4)}`, name: 'Recording clinic', kind: 'human' });
      api = h.api((await h.service.seedKey(tenantId, ['consultations:read', 'consultations:write', 'tokens:issue'])).key);
    });
    afterAll(async () => {
      await h?.close();
    });

    const recordOf = async (id: string) => {
      const { db } = h.service.store;
      const recordings = await db
        .selectFrom('recordings')
        .select(['recording_sid', 'status', 'duration'])
        .where('consultation_id', '=', id)
        .orderBy('recording_sid')
        .execute();
      const compositions = await db
        .selectFrom('compositions')
        .select(['status', 'composition_sid'])
        .where('consultation_id', '=', id)
        .execute();
      const { status } = await db.selectFrom('consultations').select('status').where('id', '=', id).executeTakeFirstOrThrow();
      return { status, recordings, compositions };
    };

    it('completes the recordings from the REST API and requests the composition once', { timeout: 60_000 }, async () => {
      h.sandbox.callbackFaults.clear();
      const created = await api('POST', '/v1/consultations', { record: true });
      expect(created.status).toBe(201);
      const { id, roomSid } = created.json as { id: string; roomSid: string };
      h.sandbox.callbackFaults.add({ action: 'drop', room: roomSid, events: ['recording-completed'] });
      for (const [identity, role] of [
        ['clin-1', 'clinician'],
        ['pat-1', 'patient'],
      ]) {
        expect((await api('POST', `/v1/consultations/${id}/access-tokens`, { identity, role })).status).toBe(201);
      }
      h.sandbox.connectParticipant({ room: roomSid, identity: 'clin-1', tracks: ['audio'] });
      h.sandbox.connectParticipant({ room: roomSid, identity: 'pat-1', tracks: ['audio', 'video'] });
      await h.settle();
      h.advance(10 * MINUTE);
      expect((await api('POST', `/v1/consultations/${id}/end`)).status).toBe(200);
      await h.settle();

      const lost = await recordOf(id);
      expect(lost.status).toBe('completed');
      expect(lost.recordings).toHaveLength(3);
      expect(lost.recordings.every((recording) => recording.status !== 'completed')).toBe(true);
      expect(h.sandbox.state.listCompositions({ roomSid })).toHaveLength(0);

      h.advance(3 * MINUTE);
      const report = await h.service.app.roomgate.reconciler.run({ consultationId: id });
      expect(report.consultations, JSON.stringify(report)).toMatchObject([{ outcome: 'changed' }]);
      expect(report.consultations[0]!.facts).toEqual(['recording-completed', 'recording-completed', 'recording-completed']);
      await h.settle();

      const healed = await recordOf(id);
      const atTwilio = h.sandbox.state.getRoom(roomSid)!.recordings;
      expect(healed.recordings).toEqual(
        atTwilio
          .map((recording) => ({ recording_sid: recording.sid, status: 'completed', duration: recording.duration }))
          .sort((a, b) => (a.recording_sid < b.recording_sid ? -1 : 1)),
      );
      expect(h.sandbox.state.listCompositions({ roomSid })).toHaveLength(1);

      // A later pass finds nothing more, and no second composition is requested.
      h.advance(30 * MINUTE);
      await h.service.app.roomgate.reconciler.run();
      await h.settle();
      expect((await recordOf(id)).recordings).toEqual(healed.recordings);
      expect(h.sandbox.state.listCompositions({ roomSid })).toHaveLength(1);
    });
  });
}
