/**
 * Rejoining on every engine, through the API and the sandbox Twilio (its callbacks folded) with
 * one injected clock: inside its appointment window, a consultation whose room ended (a dropped
 * call and Twilio's empty-room timeout; a room Twilio ended) gets a new room on the next token
 * request — one room however many requests race — and goes on in it. Over three rooms it is
 * billed once, for the summed overlap, the record corrected as each room ends; an explicit end
 * completes it. An interrupted consultation completes when its window closes; a consultation
 * without a window keeps today's behaviour (its room's end is its end).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeWindows } from '../../src/service/consultations/consultation-close.js';
import { sweepNoShows } from '../../src/service/no-shows/no-show-sweep.js';
import { createTwilioRestClient } from '../../src/service/twilio/twilio-rest-client.js';
import { createTenant } from '../../src/service/tenants/tenant-admin.js';
import { enginesUnderTest } from '../support/engines.js';
import { startSandboxHarness, type SandboxHarness } from '../support/sandbox-harness.js';
import { randomHex } from '../support/test-service.js';

const SCOPES = ['consultations:read', 'consultations:write', 'tokens:issue', 'billing:read', 'events:read', 'privacy:erase'];
const minutes = (n: number) => n * 60_000;

for (const engine of enginesUnderTest()) {
  describe(`rejoining on ${engine.name}`, () => {
    let harness: SandboxHarness;
    let api: ReturnType<SandboxHarness['api']>;
    let key: string;

    beforeAll(async () => {
      harness = await startSandboxHarness(engine);
      const tenantId = await createTenant(harness.service.store, {
        slug: `t-${randomHex(4)}`,
        name: 'Rejoin clinic',
        kind: 'human',
        joinEarlyMinutes: 10,
        joinGraceMinutes: 5,
      });
      key = (await harness.service.seedKey(tenantId, SCOPES)).key;
      api = harness.api(key);
    });
    afterAll(async () => harness?.close());

    const advanceTo = (at: number) => harness.advance(Math.max(0, at - harness.now()));
    const token = async (id: string, identity: string, role: string) => {
      const issued = await api('POST', `/v1/consultations/${id}/access-tokens`, { identity, role });
      expect(issued.status, JSON.stringify(issued.json)).toBe(201);
      return issued.json as { roomName: string; expiresAt: string };
    };
    const get = async (id: string) => (await api('GET', `/v1/consultations/${id}`)).json;
    const billing = async (id: string) =>
      (await api('GET', '/v1/billing-records?limit=500')).json.data.filter(
        (record: { consultationId: string }) => record.consultationId === id,
      );
    const schedule = async (start: number, durationMinutes: number) => {
      const created = await api('POST', '/v1/consultations', { scheduledAt: new Date(start).toISOString(), durationMinutes });
      expect(created.status).toBe(201);
      return created.json as { id: string; roomSid: string; roomName: string };
    };

    it('a consultation over three rooms: a new room on the next token after each drop, billed once for the summed overlap', async () => {
      // Soon: Twilio's unused-room timeout (5 min, checked every second) must not end the first room.
      const start = harness.now() + minutes(2);
      const consultation = await schedule(start, 60);
      const [clinician, patient] = [`clin-${randomHex(4)}`, `pt-${randomHex(4)}`];

      // Room 1: ten minutes together, then both drop; Twilio's empty-room timeout ends the room.
      advanceTo(start);
      expect((await token(consultation.id, clinician, 'clinician')).roomName).toBe(consultation.roomName);
      expect((await token(consultation.id, patient, 'patient')).roomName).toBe(consultation.roomName);
      const room1 = consultation.roomSid;
      const c1 = harness.sandbox.connect(room1, clinician);
      const p1 = harness.sandbox.connect(room1, patient);
      await harness.settle();
      expect((await get(consultation.id)).status).toBe('in-progress');
      advanceTo(start + minutes(10));
      harness.sandbox.disconnect(room1, p1);
      harness.sandbox.disconnect(room1, c1);
      advanceTo(start + minutes(16));
      harness.sandbox.state.checkTimeouts();
      expect(harness.sandbox.state.getRoom(room1)?.status).toBe('completed');
      await harness.settle();
      let record = await get(consultation.id);
      expect(record.status).toBe('interrupted');
      expect(record.startedAt).toBe(new Date(start).toISOString());
      let bills = await billing(consultation.id);
      expect(bills).toMatchObject([{ billableSeconds: 600, version: 1 }]);

      // Room 2: the next token request opens it (two requests at once: one room), with what is
      // left of the window as its MaxParticipantDuration.
      advanceTo(start + minutes(20));
      const [forPatient, forClinician] = await Promise.all([
        token(consultation.id, patient, 'patient'),
        token(consultation.id, clinician, 'clinician'),
      ]);
      expect(forPatient.roomName).toBe(`${consultation.roomName}-2`);
      expect(forClinician.roomName).toBe(forPatient.roomName);
      const room2 = harness.sandbox.state.getRoom(forPatient.roomName)!;
      expect(room2.status).toBe('in-progress');
      // The window closes at start + 65 min: 45 minutes left.
      expect(room2.maxParticipantDuration).toBe(45 * 60);
      expect(harness.sandbox.state.listRooms().filter((room) => room.uniqueName.startsWith(consultation.roomName))).toHaveLength(2);
      await harness.settle();
      expect((await get(consultation.id)).roomSid).toBe(room2.sid);
      // A token for the room while it is live opens no other.
      expect((await token(consultation.id, patient, 'patient')).roomName).toBe(forPatient.roomName);
      harness.sandbox.connect(room2.sid, clinician);
      harness.sandbox.connect(room2.sid, patient);
      await harness.settle();
      expect((await get(consultation.id)).status).toBe('in-progress');
      // Fifteen minutes, then Twilio ends the room (a dropped call).
      advanceTo(start + minutes(35));
      harness.sandbox.endRoom(room2.sid);
      await harness.settle();
      expect((await get(consultation.id)).status).toBe('interrupted');
      bills = await billing(consultation.id);
      expect(bills).toMatchObject([{ billableSeconds: 600 + 900, version: 2 }]);

      // Room 3: five minutes together; then the clinician's side ends the consultation.
      advanceTo(start + minutes(37));
      const third = await token(consultation.id, clinician, 'clinician');
      expect(third.roomName).toBe(`${consultation.roomName}-3`);
      await token(consultation.id, patient, 'patient');
      const room3 = harness.sandbox.state.getRoom(third.roomName)!;
      harness.sandbox.connect(room3.sid, clinician);
      const p3 = harness.sandbox.connect(room3.sid, patient);
      await harness.settle();
      advanceTo(start + minutes(42));
      harness.sandbox.disconnect(room3.sid, p3);
      advanceTo(start + minutes(44));
      const ended = await api('POST', `/v1/consultations/${consultation.id}/end`);
      expect(ended.status).toBe(200);
      await harness.settle();
      expect(harness.sandbox.state.getRoom(room3.sid)?.status).toBe('completed');

      record = await get(consultation.id);
      expect(record.status).toBe('completed');
      expect(record.startedAt).toBe(new Date(start).toISOString());
      expect(record.endedAt).toBe(new Date(start + minutes(44)).toISOString());
      expect(
        record.rooms.map((room: { sequence: number; roomSid: string; roomName: string; endedAt: string | null }) => room),
      ).toMatchObject([
        { sequence: 1, roomSid: room1, roomName: consultation.roomName, endedAt: expect.any(String) },
        { sequence: 2, roomSid: room2.sid, roomName: `${consultation.roomName}-2`, endedAt: new Date(start + minutes(35)).toISOString() },
        { sequence: 3, roomSid: room3.sid, roomName: `${consultation.roomName}-3`, endedAt: new Date(start + minutes(44)).toISOString() },
      ]);
      const statuses = record.statusHistory.map((change: { status: string }) => change.status) as string[];
      expect(statuses.slice(statuses.indexOf('in-progress'))).toEqual([
        'in-progress',
        'interrupted',
        'in-progress',
        'interrupted',
        'in-progress',
        'completed',
      ]);
      // One billing record, corrected as each room ended: the summed overlap.
      bills = await billing(consultation.id);
      expect(bills).toHaveLength(1);
      expect(bills[0]).toMatchObject({ billableSeconds: 600 + 900 + 300, roundedSeconds: 1800, version: 3 });
      expect(bills[0].intervals).toHaveLength(3);
      // Six sessions over three rooms; no token after the end.
      const sessions = await harness.service.store.db
        .selectFrom('participant_sessions')
        .select('participant_sid')
        .where('consultation_id', '=', consultation.id)
        .execute();
      expect(sessions).toHaveLength(6);
      const after = await api('POST', `/v1/consultations/${consultation.id}/access-tokens`, { identity: patient, role: 'patient' });
      expect(after.status).toBe(409);
      // Its callbacks are those of all three rooms.
      const callbacks = (await api('GET', `/v1/consultations/${consultation.id}/callbacks?limit=500`)).json.data as { event: string }[];
      expect(callbacks.filter((callback) => callback.event === 'room-ended')).toHaveLength(3);

      // The tenant's event log tells of each new room, and of the bill and its corrections.
      const response = await fetch(`${harness.base}/v1/events?limit=500`, {
        headers: { authorization: `Bearer ${key}`, accept: 'application/json' },
      });
      const events = (
        (await response.json()) as { data: { consultationId: string; type: string; data: Record<string, unknown> }[] }
      ).data.filter((event) => event.consultationId === consultation.id);
      expect(events.filter((event) => event.type === 'consultation.room_opened').map((event) => event.data.sequence)).toEqual([2, 3]);
      expect(events.filter((event) => event.type.startsWith('billing.')).map((event) => event.type)).toEqual([
        'billing.recorded',
        'billing.corrected',
        'billing.corrected',
      ]);

      // Erasure reaches the callbacks of every room the consultation had.
      const mentions = async () =>
        (
          await harness.service.store.db
            .selectFrom('callbacks')
            .select('id')
            .where((eb) => eb.or([eb('participant_identity', '=', patient), eb('params', 'like', `%${patient}%`)]))
            .execute()
        ).length;
      expect(await mentions()).toBeGreaterThan(0);
      expect((await api('DELETE', `/v1/subjects/${patient}`)).status).toBe(200);
      expect(await mentions()).toBe(0);
    });

    it('an interrupted consultation completes when its window closes; a token after it is refused', async () => {
      const start = harness.now() + minutes(2);
      const consultation = await schedule(start, 20);
      const [clinician, patient] = [`clin-${randomHex(4)}`, `pt-${randomHex(4)}`];
      advanceTo(start);
      await token(consultation.id, clinician, 'clinician');
      await token(consultation.id, patient, 'patient');
      harness.sandbox.connect(consultation.roomSid, clinician);
      harness.sandbox.connect(consultation.roomSid, patient);
      await harness.settle();
      advanceTo(start + minutes(3));
      harness.sandbox.endRoom(consultation.roomSid);
      await harness.settle();
      expect((await get(consultation.id)).status).toBe('interrupted');

      const closesAt = start + minutes(25);
      advanceTo(closesAt - 1000);
      const clock = { store: harness.service.store, clock: () => new Date(harness.now()) };
      expect(await closeWindows(clock)).toEqual([]);
      advanceTo(closesAt);
      const late = await api('POST', `/v1/consultations/${consultation.id}/access-tokens`, { identity: patient, role: 'patient' });
      expect(late.status).toBe(422);
      expect(late.json.error.code).toBe('WINDOW_CLOSED');
      expect(await closeWindows(clock)).toEqual([consultation.id]);
      expect(await closeWindows(clock)).toEqual([]);
      const record = await get(consultation.id);
      expect(record.status).toBe('completed');
      expect(record.statusHistory.at(-1)).toEqual({ status: 'completed', at: new Date(closesAt).toISOString() });
      expect(await billing(consultation.id)).toMatchObject([{ billableSeconds: 180, version: 1 }]);
    });

    it('a room made long before the slot that Twilio’s unused-room timeout ended: the first token in the window opens another; a no-show is still named', async () => {
      const start = harness.now() + minutes(120);
      const consultation = await schedule(start, 15);
      advanceTo(harness.now() + minutes(11));
      harness.sandbox.state.checkTimeouts();
      await harness.settle();
      expect(harness.sandbox.state.getRoom(consultation.roomSid)?.status).toBe('completed');
      // Still waiting: the window has not closed, a room can follow.
      expect((await get(consultation.id)).status).toBe('waiting');
      advanceTo(start - minutes(5));
      const patient = `pt-${randomHex(4)}`;
      const issued = await token(consultation.id, patient, 'patient');
      expect(issued.roomName).toBe(`${consultation.roomName}-2`);
      expect(harness.sandbox.state.getRoom(issued.roomName)?.status).toBe('in-progress');

      // The patient waits in the new room; the clinician never comes: named when the window closes.
      harness.sandbox.connect(issued.roomName, patient);
      await harness.settle();
      advanceTo(start + minutes(30));
      const marked = await sweepNoShows({
        store: harness.service.store,
        clock: () => new Date(harness.now()),
        twilio: createTwilioRestClient({
          baseUrl: harness.sandbox.url,
          apiKeySid: harness.service.config.apiKey!.sid,
          apiKeySecret: harness.service.config.apiKey!.secret,
        }),
      });
      // From joining (5 min before the slot) to the window's close (the 15-min slot + 5 min grace).
      expect(marked.find((m) => m.id === consultation.id)).toEqual({ id: consultation.id, missing: 'clinician', waitedSeconds: 25 * 60 });
      await harness.settle();
      const record = await get(consultation.id);
      expect(record.status).toBe('no-show');
      expect(record.rooms).toHaveLength(2);
      // The sweep completed the second room at Twilio (a completed room is found by its SID only).
      expect(harness.sandbox.state.getRoom(record.rooms[1].roomSid)?.status).toBe('completed');
    });

    it('Twilio failing to create the next room: 502, and the next request creates it (the claim was released)', async () => {
      const start = harness.now() + minutes(2);
      const consultation = await schedule(start, 30);
      const [clinician, patient] = [`clin-${randomHex(4)}`, `pt-${randomHex(4)}`];
      advanceTo(start);
      await token(consultation.id, clinician, 'clinician');
      await token(consultation.id, patient, 'patient');
      harness.sandbox.connect(consultation.roomSid, clinician);
      harness.sandbox.connect(consultation.roomSid, patient);
      await harness.settle();
      advanceTo(start + minutes(4));
      harness.sandbox.endRoom(consultation.roomSid);
      await harness.settle();
      expect((await get(consultation.id)).status).toBe('interrupted');

      harness.sandbox.restFaults.add({ status: 503, path: '/v1/Rooms', count: 20 });
      const failed = await api('POST', `/v1/consultations/${consultation.id}/access-tokens`, { identity: patient, role: 'patient' });
      expect(failed.status).toBe(502);
      harness.sandbox.restFaults.clear();
      const issued = await token(consultation.id, patient, 'patient');
      expect(issued.roomName).toBe(`${consultation.roomName}-2`);
      expect(harness.sandbox.state.getRoom(issued.roomName)?.status).toBe('in-progress');
    });

    it('without a window, the room’s end is the consultation’s end, as before: no new room', async () => {
      const created = await api('POST', '/v1/consultations', {});
      const consultation = created.json as { id: string; roomSid: string };
      const [clinician, patient] = [`clin-${randomHex(4)}`, `pt-${randomHex(4)}`];
      await token(consultation.id, clinician, 'clinician');
      await token(consultation.id, patient, 'patient');
      harness.sandbox.connect(consultation.roomSid, clinician);
      harness.sandbox.connect(consultation.roomSid, patient);
      await harness.settle();
      advanceTo(harness.now() + minutes(2));
      harness.sandbox.endRoom(consultation.roomSid);
      await harness.settle();
      expect((await get(consultation.id)).status).toBe('completed');
      const again = await api('POST', `/v1/consultations/${consultation.id}/access-tokens`, { identity: patient, role: 'patient' });
      expect(again.status).toBe(409);
    });
  });
}
