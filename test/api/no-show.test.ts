/**
 * Named no-shows on every engine, through the API and the sandbox Twilio (its callbacks folded)
 * with one injected clock: when the appointment window closes without the clinician and the care
 * recipient together, the sweep marks the consultation `no-show` with who never came and how long
 * the other waited, and completes its room at Twilio if still open (a room Twilio's unused-room
 * timeout ended first is named too); a second sweep (another instance) changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepNoShows } from '../../src/service/no-shows/no-show-sweep.js';
import { createTenant } from '../../src/service/tenants/tenant-admin.js';
import { createTwilioRestClient } from '../../src/service/twilio/twilio-rest-client.js';
import { enginesUnderTest } from '../support/engines.js';
import { startSandboxHarness, type SandboxHarness } from '../support/sandbox-harness.js';
import { randomHex } from '../support/test-service.js';

const SCOPES = ['consultations:read', 'consultations:write', 'tokens:issue', 'events:read'];
const minutes = (n: number) => n * 60_000;

for (const engine of enginesUnderTest()) {
  describe(`no-shows on ${engine.name}`, () => {
    let harness: SandboxHarness;
    let api: ReturnType<SandboxHarness['api']>;
    let start: number;
    let key: string;

    beforeAll(async () => {
      harness = await startSandboxHarness(engine);
      start = harness.now() + minutes(30);
      const tenantId = await createTenant(harness.service.store, {
        slug: `t-${randomHex(4)}`,
        name: 'No-show clinic',
        kind: 'veterinary',
        joinEarlyMinutes: 10,
        joinGraceMinutes: 5,
        waitingRoom: true,
      });
      key = (await harness.service.seedKey(tenantId, SCOPES)).key;
      api = harness.api(key);
    });
    afterAll(async () => harness?.close());

    const advanceTo = (at: number) => harness.advance(Math.max(0, at - harness.now()));
    const sweep = () =>
      sweepNoShows({
        store: harness.service.store,
        clock: () => new Date(harness.now()),
        twilio: createTwilioRestClient({
          baseUrl: harness.sandbox.url,
          apiKeySid: harness.service.config.apiKey!.sid,
          apiKeySecret: harness.service.config.apiKey!.secret,
        }),
      });
    const create = async () => {
      const created = await api('POST', '/v1/consultations', { scheduledAt: new Date(start).toISOString(), durationMinutes: 20 });
      expect(created.status).toBe(201);
      return created.json as { id: string; roomSid: string };
    };

    it('names each kind when the window closes, completes the room, and marks once', async () => {
      const nobody = await create();
      const ownerWaited = await create();

      // A pet owner waits in the lobby from the start for 7 minutes, never admitted.
      advanceTo(start);
      const owner = `owner-${randomHex(4)}`;
      expect((await api('POST', `/v1/consultations/${ownerWaited.id}/lobby`, { identity: owner, role: 'pet-owner' })).status).toBe(201);
      advanceTo(start + minutes(7));
      expect((await api('POST', `/v1/consultations/${ownerWaited.id}/lobby/${owner}/leave`)).status).toBe(200);

      // Created now (Twilio's unused-room timeout has not ended it): the clinician joins and stays.
      const clinicianWaited = await create();
      advanceTo(start + minutes(8));
      const clinician = `vet-${randomHex(4)}`;
      const issued = await api('POST', `/v1/consultations/${clinicianWaited.id}/access-tokens`, { identity: clinician, role: 'clinician' });
      expect(issued.status).toBe(201);
      harness.sandbox.connect(clinicianWaited.roomSid, clinician);
      await harness.settle();

      // Before the window closes nothing is a no-show.
      const closesAt = start + minutes(25);
      advanceTo(closesAt - 1000);
      expect(await sweep()).toEqual([]);

      advanceTo(closesAt);
      const marked = await sweep();
      expect(new Map(marked.map((m) => [m.id, m]))).toEqual(
        new Map([
          [nobody.id, { id: nobody.id, missing: 'both', waitedSeconds: 0 }],
          [ownerWaited.id, { id: ownerWaited.id, missing: 'clinician', waitedSeconds: 7 * 60 }],
          [clinicianWaited.id, { id: clinicianWaited.id, missing: 'care-recipient', waitedSeconds: 17 * 60 }],
        ]),
      );
      expect(await sweep()).toEqual([]);

      await harness.settle();
      for (const { id, roomSid } of [nobody, ownerWaited, clinicianWaited]) {
        expect(harness.sandbox.state.getRoom(roomSid)?.status).toBe('completed');
        const record = (await api('GET', `/v1/consultations/${id}`)).json;
        expect(record.status).toBe('no-show');
        const named = marked.find((m) => m.id === id)!;
        // The room's end reached the fold after the sweep: the named no-show stays.
        expect(record.noShow).toEqual({ missing: named.missing, waitedSeconds: named.waitedSeconds });
      }
      // The event log has each named no-show once.
      const response = await fetch(`${harness.base}/v1/events?limit=500`, {
        headers: { authorization: `Bearer ${key}`, accept: 'application/json' },
      });
      const named = (
        (await response.json()) as { data: { type: string; consultationId: string; data: { missing?: string } }[] }
      ).data.filter((event) => event.type === 'consultation.no_show' && event.data.missing);
      expect(named.map((event) => [event.consultationId, event.data.missing]).sort()).toEqual(marked.map((m) => [m.id, m.missing]).sort());
    });
  });
}
