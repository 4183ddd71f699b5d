/**
 * The waiting room on every engine, through the API with an injected clock: a care recipient
 * joins the lobby (no Twilio room needed), gets no token until the clinician's side admits them,
 * none after a decline; the clinician is never gated; waiting time is in the consultation record;
 * leaving and the per-consultation setting; erasure reaches the lobby; URLs with the identity are
 * not logged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandboxCredentials } from '../../src/sandbox/sandbox-credentials.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox-server.js';
import { createTenant } from '../../src/service/tenants/tenant-admin.js';
import { findInDatabase } from '../support/identity-scan.js';
import { enginesUnderTest } from '../support/engines.js';
import { randomHex, startTestService, type TestService, sandboxTwilioEnv } from '../support/test-service.js';

const SCOPES = ['consultations:read', 'consultations:write', 'tokens:issue', 'privacy:erase', 'events:read'];
const T0 = Date.parse('2026-06-01T09:00:00.000Z');

for (const engine of enginesUnderTest()) {
  describe(`waiting room on ${engine.name}`, () => {
    const credentials = createSandboxCredentials();
    let sandbox: Sandbox;
    let service: TestService;
    let key: string;
    let now = T0;

    beforeAll(async () => {
      sandbox = await startSandbox({ ...credentials, callbackRetries: 0 });
      service = await startTestService(engine, {
        env: {
          ...sandboxTwilioEnv(credentials, sandbox.url),
          ROOMGATE_PUBLIC_URL: 'http://127.0.0.1:9',
        },
        app: { clock: () => new Date(now) },
      });
      const tenantId = await createTenant(service.store, {
        slug: `t-${randomHex(4)}`,
        name: 'Lobby clinic',
        kind: 'human',
        waitingRoom: true,
      });
      key = (await service.seedKey(tenantId, SCOPES)).key;
    });
    afterAll(async () => {
      await service?.close();
      await sandbox?.close();
    });

    const call = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
      service.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${key}`, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
      });
    const token = (id: string, identity: string, role: string) => call('POST', `/v1/consultations/${id}/access-tokens`, { identity, role });
    const create = async (body: Record<string, unknown> = {}) => {
      const created = await call('POST', '/v1/consultations', body);
      expect(created.statusCode, created.body).toBe(201);
      return created.json<{ id: string }>().id;
    };

    it('gates a care recipient’s token on admission, never the clinician’s, and records the wait', async () => {
      now = T0;
      const id = await create();
      const patient = `pt-${randomHex(4)}`;
      const before = await token(id, patient, 'patient');
      expect(before.statusCode, before.body).toBe(409);
      expect(before.json().error.code).toBe('NOT_ADMITTED');
      expect((await token(id, `clin-${randomHex(3)}`, 'clinician')).statusCode).toBe(201);

      const joined = await call('POST', `/v1/consultations/${id}/lobby`, { identity: patient, role: 'patient' });
      expect(joined.statusCode, joined.body).toBe(201);
      expect(joined.json()).toMatchObject({ identity: patient, status: 'waiting', waitedSeconds: null });
      expect((await token(id, patient, 'patient')).statusCode).toBe(409);

      now = T0 + 95_000;
      const admitted = await call('POST', `/v1/consultations/${id}/lobby/${patient}/admit`);
      expect(admitted.statusCode, admitted.body).toBe(200);
      expect(admitted.json()).toMatchObject({ status: 'admitted', waitedSeconds: 95 });
      expect((await call('POST', `/v1/consultations/${id}/lobby/${patient}/admit`)).statusCode).toBe(409);
      const issued = await token(id, patient, 'patient');
      expect(issued.statusCode, issued.body).toBe(201);

      const record = (await call('GET', `/v1/consultations/${id}`)).json();
      expect(record.lobby).toEqual([admitted.json()]);
      // The identity in the path is never logged: its routes log their pattern.
      expect(service.logs()).not.toContain(`/lobby/${patient}`);

      const left = await call('POST', `/v1/consultations/${id}/lobby/${patient}/leave`);
      expect(left.json()).toMatchObject({ status: 'left' });
      // Each change is in the tenant's event log; the refused second admit added none.
      const events = await service.app.inject({
        method: 'GET',
        url: '/v1/events?limit=500',
        headers: { authorization: `Bearer ${key}`, accept: 'application/json' },
      });
      const lobbyEvents = (events.json().data as { type: string; consultationId: string; data: { waitedSeconds: number | null } }[]).filter(
        (event) => event.consultationId === id && event.type.startsWith('lobby.'),
      );
      expect(lobbyEvents.map((event) => [event.type, event.data.waitedSeconds])).toEqual([
        ['lobby.joined', null],
        ['lobby.admitted', 95],
        ['lobby.left', 95],
      ]);
      expect((await token(id, patient, 'patient')).statusCode).toBe(409);
    });

    it('declines: no token; a clinician cannot wait in the lobby; an unknown identity is not found', async () => {
      now = T0;
      const id = await create();
      const owner = `pt-${randomHex(4)}`;
      await call('POST', `/v1/consultations/${id}/lobby`, { identity: owner, role: 'caregiver' });
      now = T0 + 30_000;
      const declined = await call('POST', `/v1/consultations/${id}/lobby/${owner}/decline`);
      expect(declined.json()).toMatchObject({ status: 'declined', waitedSeconds: 30 });
      expect((await token(id, owner, 'caregiver')).statusCode).toBe(409);
      const clinician = await call('POST', `/v1/consultations/${id}/lobby`, { identity: 'clin-x', role: 'clinician' });
      expect(clinician.statusCode).toBe(422);
      expect((await call('POST', `/v1/consultations/${id}/lobby/nobody-here/admit`)).statusCode).toBe(404);
    });

    it('is off for a consultation that says so; erasure reaches the lobby', async () => {
      const open = await create({ waitingRoom: false });
      expect((await token(open, `pt-${randomHex(4)}`, 'patient')).statusCode).toBe(201);
      expect((await call('POST', `/v1/consultations/${open}/lobby`, { identity: `pt-${randomHex(4)}`, role: 'patient' })).statusCode).toBe(
        409,
      );

      const id = await create();
      const subject = `pt-erase-${randomHex(6)}`;
      await call('POST', `/v1/consultations/${id}/lobby`, { identity: subject, role: 'patient' });
      await service.app.roomgate.drain();
      const erased = await call('DELETE', `/v1/subjects/${subject}`);
      expect(erased.statusCode, erased.body).toBeLessThan(300);
      await service.app.roomgate.drain();
      expect(await findInDatabase(service.store, subject)).toEqual([]);
    });
  });
}
