/**
 * A recorded consultation over two rooms, through the API and the sandbox Twilio, on every
 * engine: the first room's composition fails at Twilio — its failure folded only after the second
 * room has ended — and is retried for the first room only; the second room is composed once. The record keeps one composition per room, `composition`
 * stays the latest room's, and each room's media is reachable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant } from '../../src/service/tenants/tenant-admin.js';
import { enginesUnderTest } from '../support/engines.js';
import { startSandboxHarness, type SandboxHarness } from '../support/sandbox-harness.js';
import { randomHex } from '../support/test-service.js';

const SCOPES = ['consultations:read', 'consultations:write', 'tokens:issue', 'recordings:read', 'billing:read'];
const minutes = (n: number) => n * 60_000;

for (const engine of enginesUnderTest()) {
  describe(`compositions per room on ${engine.name}`, () => {
    let harness: SandboxHarness;
    let api: ReturnType<SandboxHarness['api']>;
    let key: string;

    beforeAll(async () => {
      // One outbox entry at a time, oldest first: room 1's request reaches Twilio first (and fails).
      harness = await startSandboxHarness(engine, { env: { ROOMGATE_OUTBOX_CONCURRENCY: '1' } });
      const tenantId = await createTenant(harness.service.store, {
        slug: `t-${randomHex(4)}`,
        name: 'Two-room clinic',
        kind: 'human',
        joinEarlyMinutes: 10,
        joinGraceMinutes: 5,
      });
      key = (await harness.service.seedKey(tenantId, SCOPES)).key;
      api = harness.api(key);
    });
    afterAll(async () => harness?.close());

    const advanceTo = (at: number) => harness.advance(Math.max(0, at - harness.now()));
    /** Callbacks delivered and folded; the outbox (which asks for compositions) not run. */
    const fold = async () => {
      await harness.sandbox.idle();
      await harness.service.app.roomgate.drain();
    };
    const token = async (id: string, identity: string, role: string) => {
      const issued = await api('POST', `/v1/consultations/${id}/access-tokens`, { identity, role });
      expect(issued.status, JSON.stringify(issued.json)).toBe(201);
      return issued.json as { roomName: string };
    };

    it('retries the first room’s failed composition for that room only, and composes the second room once', async () => {
      const start = harness.now() + minutes(2);
      const created = await api('POST', '/v1/consultations', {
        scheduledAt: new Date(start).toISOString(),
        durationMinutes: 60,
        record: true,
      });
      expect(created.status).toBe(201);
      const { id, roomSid: room1 } = created.json as { id: string; roomSid: string };
      const [clinician, patient] = [`clin-${randomHex(4)}`, `pt-${randomHex(4)}`];

      // Room 1: ten minutes together; the call drops and Twilio's empty-room timeout ends it. Its
      // first composition fails at Twilio.
      advanceTo(start);
      await token(id, clinician, 'clinician');
      await token(id, patient, 'patient');
      const c1 = harness.sandbox.connect(room1, clinician);
      const p1 = harness.sandbox.connect(room1, patient);
      await fold();
      advanceTo(start + minutes(10));
      harness.sandbox.disconnect(room1, p1);
      harness.sandbox.disconnect(room1, c1);
      harness.sandbox.failNextComposition('disk full (room 1)');
      advanceTo(start + minutes(16));
      harness.sandbox.state.checkTimeouts();
      await fold();
      expect((await api('GET', `/v1/consultations/${id}`)).json.status).toBe('interrupted');

      // Room 2: the next token opens it; fifteen minutes, then Twilio ends it. Only then are the
      // compositions asked for: room 1's failure comes after both rooms' ends.
      advanceTo(start + minutes(20));
      const room2 = harness.sandbox.state.getRoom((await token(id, patient, 'patient')).roomName)!;
      await token(id, clinician, 'clinician');
      expect(room2.sid).not.toBe(room1);
      harness.sandbox.connect(room2.sid, clinician);
      harness.sandbox.connect(room2.sid, patient);
      await fold();
      advanceTo(start + minutes(35));
      harness.sandbox.endRoom(room2.sid);
      await fold();
      await harness.settle();

      // At Twilio: room 1 composed twice (the failure, its retry), room 2 once.
      const atTwilio = (roomSid: string) => harness.sandbox.state.listCompositions({ roomSid }).map((c) => [c.sid, c.status]);
      const first = atTwilio(room1);
      const second = atTwilio(room2.sid);
      expect(first.map(([, status]) => status)).toEqual(['failed', 'completed']);
      expect(second.map(([, status]) => status)).toEqual(['completed']);

      // The outbox: one request per room, the retry keyed by room 1 and its attempt; nothing reported.
      const outbox = await harness.service.store.db
        .selectFrom('outbox')
        .select(['kind', 'dedupe_key', 'status', 'payload'])
        .where('kind', 'in', ['request-composition', 'report-composition-failure'])
        .execute();
      expect(
        outbox
          .map((entry) => [entry.dedupe_key, entry.status, (JSON.parse(entry.payload) as { roomSid: string }).roomSid])
          .sort(([a], [b]) => (a! < b! ? -1 : 1)),
      ).toEqual(
        [
          [`composition:${room1}`, 'done', room1],
          [`composition:${room1}:retry-1`, 'done', room1],
          [`composition:${room2.sid}`, 'done', room2.sid],
        ].sort(([a], [b]) => (a! < b! ? -1 : 1)),
      );

      // The record: a composition per room, each with its own SID; `composition` is the latest room's.
      // (Not `attempts`: when Twilio's callback is folded before the outbox commits, the request is
      // not counted — an older race, left as it was.)
      const recordings = (await api('GET', `/v1/consultations/${id}/recordings`)).json;
      expect(recordings.composition).toMatchObject({ compositionSid: second[0]![0], status: 'available' });
      expect(recordings.compositions).toEqual([
        expect.objectContaining({ roomSid: room1, compositionSid: first[1]![0], status: 'available' }),
        expect.objectContaining({ roomSid: room2.sid, compositionSid: second[0]![0], status: 'available' }),
      ]);
      expect(recordings.composition).toEqual(recordings.compositions[1]);
      expect(recordings.composition.mediaUri).toBe(`/v1/consultations/${id}/composition/media`);
      // Room 1's media too: a redirect to its own composition's media at Twilio.
      const media = await fetch(`${harness.base}${recordings.compositions[0].mediaUri}`, {
        headers: { authorization: `Bearer ${key}` },
        redirect: 'manual',
      });
      expect(media.status).toBe(302);
      expect(media.headers.get('location')).toContain(first[1]![0]);

      // Still one bill, for both rooms.
      const bills = (await api('GET', '/v1/billing-records?limit=500')).json.data.filter(
        (record: { consultationId: string }) => record.consultationId === id,
      );
      expect(bills).toMatchObject([{ billableSeconds: 600 + 900 }]);
    });
  });
}
