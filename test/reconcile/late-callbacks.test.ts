/**
 * Issue 13.5: a room's first callbacks arrive 20 minutes late (past the 15-minute replay
 * window). They are stored held as `late` (204, not 403), change nothing until the reconciler
 * has confirmed them against the REST API, and then the consultation ends completed and billed
 * exactly once. A late callback the REST API does not confirm (a timestamp Twilio never had)
 * stays held and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeTwilioSignature } from '../../src/core/signature/twilio-signature.js';
import { enginesUnderTest } from '../support/engines.js';
import { startSandboxHarness, type SandboxHarness } from '../support/sandbox-harness.js';

const MINUTE = 60_000;

for (const engine of enginesUnderTest()) {
  describe(`late callbacks on ${engine.name}`, () => {
    let h: SandboxHarness;
    beforeAll(async () => {
      h = await startSandboxHarness(engine);
    });
    afterAll(async () => {
      await h?.close();
    });

    it('holds callbacks 20 minutes late, applies them once confirmed, and bills once', async () => {
      const { store, app } = h.service;
      const { key } = await h.service.seedTenant('human', ['consultations:read', 'consultations:write', 'tokens:issue', 'billing:read']);
      const api = h.api(key);
      const created = await api('POST', '/v1/consultations', { record: false });
      expect(created.status).toBe(201);
      const { id, roomSid, roomName } = created.json as { id: string; roomSid: string; roomName: string };
      for (const [identity, role] of [
        ['clin-1', 'clinician'],
        ['pat-1', 'patient'],
      ])
        expect((await api('POST', `/v1/consultations/${id}/access-tokens`, { identity, role })).status).toBe(201);
      await h.settle(); // room-created delivered on time

      // The first callbacks of the call are held back by "Twilio"...
      h.sandbox.callbackFaults.add({ action: 'hold', room: roomSid });
      const started = h.now();
      h.sandbox.connect(roomName, 'clin-1');
      h.sandbox.connect(roomName, 'pat-1');
      h.sandbox.callbackFaults.clear();
      // ...and delivered 20 minutes later, while the call goes on.
      h.advance(20 * MINUTE);
      expect(h.sandbox.callbackFaults.release({ room: roomSid })).toBeGreaterThan(0);
      await h.settle();
      const answers = h.sandbox.callbackLog.filter((a) => a.event === 'participant-connected').map((a) => a.status);
      expect(answers).toEqual([204, 204]); // stored, never refused
      const held = await store.db
        .selectFrom('callbacks')
        .select(['status', 'held'])
        .where('room_sid', '=', roomSid)
        .where('held', '=', 'late')
        .execute();
      expect(held.length).toBeGreaterThanOrEqual(2);
      expect(held.every((row) => row.status === 'quarantined')).toBe(true);
      expect((await api('GET', `/v1/consultations/${id}`)).json.status).toBe('waiting'); // nothing applied

      // A signed callback with a Timestamp Twilio never had (a forged-lateness replay): held, never confirmed.
      const forged = [
        ['AccountSid', h.sandbox.accountSid],
        ['RoomName', roomName],
        ['RoomSid', roomSid],
        ['RoomStatus', 'in-progress'],
        ['StatusCallbackEvent', 'participant-connected'],
        ['Timestamp', new Date(started - 3 * MINUTE).toISOString()],
        ['SequenceNumber', '77'],
        ['ParticipantSid', `PA${'ab'.repeat(16)}`],
        ['ParticipantIdentity', 'pat-1'],
      ] as [string, string][];
      const url = `${h.base}/webhooks/twilio/video`;
      const replay = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': computeTwilioSignature(h.service.authToken, url, forged),
        },
        body: new URLSearchParams(forged).toString(),
      });
      expect(replay.status).toBe(204);

      const first = await app.roomgate.reconciler.run({ consultationId: id });
      expect(first.consultations[0]).toMatchObject({ outcome: 'changed', confirmedLate: held.length, unconfirmedLate: 1 });
      let view = (await api('GET', `/v1/consultations/${id}`)).json;
      expect(view.status).toBe('in-progress');
      expect(view.startedAt).toBe(new Date(started).toISOString());

      // The call ends on time; every later callback is fresh.
      h.advance(5 * MINUTE);
      h.sandbox.disconnect(roomName, 'pat-1');
      h.sandbox.disconnect(roomName, 'clin-1');
      h.sandbox.endRoom(roomName);
      await h.settle();
      const again = await app.roomgate.reconciler.run({ consultationId: id });
      expect(again.consultations[0]).toMatchObject({ outcome: 'unchanged', confirmedLate: 0, unconfirmedLate: 1 });

      view = (await api('GET', `/v1/consultations/${id}`)).json;
      expect(view.status).toBe('completed');
      const billing = await store.db.selectFrom('billing_records').selectAll().where('consultation_id', '=', id).execute();
      expect(billing).toHaveLength(1);
      expect(billing[0]!.billable_seconds).toBe(25 * 60);
      const sessions = await store.db.selectFrom('participant_sessions').selectAll().where('consultation_id', '=', id).execute();
      expect(sessions.map((s) => s.connected_at)).toEqual([new Date(started).toISOString(), new Date(started).toISOString()]);
      // The forged one is still held, the genuine ones are applied.
      const stillHeld = await store.db
        .selectFrom('callbacks')
        .select('sequence_number')
        .where('room_sid', '=', roomSid)
        .where('held', '=', 'late')
        .execute();
      expect(stillHeld.map((row) => row.sequence_number)).toEqual([77]);

      // A replay of a released late callback is a duplicate: the dedupe key decides.
      const before = await store.db.selectFrom('callbacks').select('id').where('room_sid', '=', roomSid).execute();
      const released = await store.db
        .selectFrom('callbacks')
        .select('params')
        .where('room_sid', '=', roomSid)
        .where('event_type', '=', 'participant-connected')
        .where('status', '=', 'accepted')
        .executeTakeFirstOrThrow();
      const again2 = JSON.parse(released.params) as [string, string][];
      const duplicate = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': computeTwilioSignature(h.service.authToken, url, again2),
        },
        body: new URLSearchParams(again2).toString(),
      });
      expect(duplicate.status).toBe(204);
      await app.roomgate.drain();
      expect((await store.db.selectFrom('callbacks').select('id').where('room_sid', '=', roomSid).execute()).length).toBe(before.length);
      expect(await store.db.selectFrom('billing_records').selectAll().where('consultation_id', '=', id).execute()).toHaveLength(1);
    });

    it('refuses a callback older than the late window (403 replay-too-old)', async () => {
      const { key } = await h.service.seedTenant('human', ['consultations:read', 'consultations:write', 'tokens:issue']);
      const api = h.api(key);
      const { id, roomSid, roomName } = (await api('POST', '/v1/consultations', { record: false })).json as Record<string, string>;
      expect(id).toBeTruthy();
      const params = [
        ['AccountSid', h.sandbox.accountSid],
        ['RoomName', roomName!],
        ['RoomSid', roomSid!],
        ['StatusCallbackEvent', 'room-ended'],
        ['Timestamp', new Date(h.now() - 25 * 60 * MINUTE).toISOString()],
        ['SequenceNumber', '9'],
      ] as [string, string][];
      const url = `${h.base}/webhooks/twilio/video`;
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': computeTwilioSignature(h.service.authToken, url, params),
        },
        body: new URLSearchParams(params).toString(),
      });
      expect(response.status).toBe(403);
    });
  });
}
