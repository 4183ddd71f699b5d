/**
 * Idempotency-Key on every engine: a retried create, token issue, end or cancel with the same
 * key and body gets the first answer again and has no second effect (one row, one Twilio room,
 * one audit entry); the same key with another body is refused (422); twenty requests sent at
 * once with one key make one consultation and all get its answer; keys are per tenant.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandboxCredentials } from '../../src/sandbox/sandbox-credentials.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox-server.js';
import { enginesUnderTest } from '../support/engines.js';
import { randomHex, startTestService, type TestService, sandboxTwilioEnv } from '../support/test-service.js';

const SCOPES = ['consultations:read', 'consultations:write', 'tokens:issue', 'audit:read'];

for (const engine of enginesUnderTest()) {
  describe(`Idempotency-Key on ${engine.name}`, () => {
    const credentials = createSandboxCredentials();
    let sandbox: Sandbox;
    let service: TestService;
    let key: string;
    let tenantId: string;
    let otherKey: string;

    beforeAll(async () => {
      sandbox = await startSandbox({ ...credentials, callbackRetries: 0 });
      service = await startTestService(engine, {
        env: {
          ...sandboxTwilioEnv(credentials, sandbox.url),
          ROOMGATE_PUBLIC_URL: 'http://127.0.0.1:9',
        },
      });
      ({ key, tenantId } = await service.seedTenant('human', SCOPES));
      ({ key: otherKey } = await service.seedTenant('human', SCOPES));
    });
    afterAll(async () => {
      await service?.close();
      await sandbox?.close();
    });

    const post = (url: string, body: Record<string, unknown> | undefined, idempotencyKey: string, apiKey = key) =>
      service.app.inject({
        method: 'POST',
        url,
        headers: { authorization: `Bearer ${apiKey}`, 'idempotency-key': idempotencyKey },
        ...(body ? { payload: body } : {}),
      });
    const consultationsOf = (tenant: string, externalRef: string) =>
      service.store.db
        .selectFrom('consultations')
        .select('id')
        .where('tenant_id', '=', tenant)
        .where('external_ref', '=', externalRef)
        .execute();
    const roomsNamed = (name: string) => sandbox.state.listRooms().filter((room) => room.uniqueName === name);

    it('replays the first answer to a retried create: same status, body and Location, one consultation, one room', async () => {
      const idem = `create-${randomHex(8)}`;
      const body = { record: false, externalRef: `appt-${idem}` };
      const first = await post('/v1/consultations', body, idem);
      expect(first.statusCode).toBe(201);
      const second = await post('/v1/consultations', { externalRef: body.externalRef, record: false }, idem); // same body, other key order
      expect(second.statusCode).toBe(201);
      expect(second.json()).toEqual(first.json());
      expect(second.headers.location).toBe(first.headers.location);
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(await consultationsOf(tenantId, body.externalRef)).toHaveLength(1);
      expect(roomsNamed(first.json().roomName)).toHaveLength(1);
    });

    it('refuses the same key with another body (422), and keeps the first answer for the first body', async () => {
      const idem = `reuse-${randomHex(8)}`;
      const first = await post('/v1/consultations', { record: false }, idem);
      expect(first.statusCode).toBe(201);
      const other = await post('/v1/consultations', { record: true }, idem);
      expect(other.statusCode).toBe(422);
      expect(other.json().error).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', field: 'idempotency-key' });
      const elsewhere = await post(`/v1/consultations/${first.json().id}/end`, undefined, idem);
      expect(elsewhere.statusCode).toBe(422);
      expect((await post('/v1/consultations', { record: false }, idem)).json().id).toBe(first.json().id);
    });

    it('makes one consultation of twenty concurrent requests with one key, and gives all twenty its answer', async () => {
      const idem = `burst-${randomHex(8)}`;
      const externalRef = `appt-${idem}`;
      const answers = await Promise.all(Array.from({ length: 20 }, () => post('/v1/consultations', { record: false, externalRef }, idem)));
      expect(answers.map((answer) => answer.statusCode)).toEqual(Array(20).fill(201));
      const ids = new Set(answers.map((answer) => answer.json().id as string));
      expect(ids.size).toBe(1);
      expect(await consultationsOf(tenantId, externalRef)).toHaveLength(1);
      expect(roomsNamed(answers[0]!.json().roomName)).toHaveLength(1);
    });

    it('issues one token for a retried token request, and keeps keys apart per tenant', async () => {
      const created = (await post('/v1/consultations', { record: false }, `c-${randomHex(8)}`)).json();
      const idem = `token-${randomHex(8)}`;
      const url = `/v1/consultations/${created.id}/access-tokens`;
      const first = await post(url, { identity: 'pt-idem-1', role: 'patient' }, idem);
      const again = await post(url, { identity: 'pt-idem-1', role: 'patient' }, idem);
      expect(first.statusCode).toBe(201);
      expect(again.json()).toEqual(first.json());
      expect(again.headers['idempotent-replayed']).toBe('true');
      // The replay is signed again from what was stored: the token itself is never in the database.
      const stored = await service.store.db.selectFrom('idempotency_keys').select('response_body').execute();
      expect(JSON.stringify(stored)).not.toContain(first.json().token);
      await service.app.roomgate.drain();
      const issued = await service.store.db
        .selectFrom('audit_log')
        .select('id')
        .where('action', '=', 'token.issue')
        .where('target', '=', created.id)
        .where('outcome', '=', 'issued')
        .execute();
      expect(issued).toHaveLength(1);
      // Another tenant's use of the same key string is its own request: here a 404, not a replay.
      const foreign = await post(url, { identity: 'pt-idem-1', role: 'patient' }, idem, otherKey);
      expect(foreign.statusCode).toBe(404);
    });

    it('replays a retried end and cancel instead of answering 409 the second time', async () => {
      const toEnd = (await post('/v1/consultations', { record: false }, `c-${randomHex(8)}`)).json();
      const endKey = `end-${randomHex(8)}`;
      const ended = await post(`/v1/consultations/${toEnd.id}/end`, undefined, endKey);
      expect(ended.statusCode).toBe(200);
      const endedAgain = await post(`/v1/consultations/${toEnd.id}/end`, undefined, endKey);
      expect(endedAgain.statusCode).toBe(200);
      expect(endedAgain.headers['idempotent-replayed']).toBe('true');

      const toCancel = (await post('/v1/consultations', { record: false }, `c-${randomHex(8)}`)).json();
      const cancelKey = `cancel-${randomHex(8)}`;
      const cancelled = await post(`/v1/consultations/${toCancel.id}/cancel`, undefined, cancelKey);
      expect(cancelled.statusCode).toBe(200);
      expect(cancelled.json().status).toBe('cancelled');
      const cancelledAgain = await post(`/v1/consultations/${toCancel.id}/cancel`, undefined, cancelKey);
      expect(cancelledAgain.statusCode).toBe(200);
      expect(cancelledAgain.json()).toEqual(cancelled.json());
      // Without the key, a second cancel is a conflict that shows the state.
      const plain = await service.app.inject({
        method: 'POST',
        url: `/v1/consultations/${toCancel.id}/cancel`,
        headers: { authorization: `Bearer ${key}` },
      });
      expect(plain.statusCode).toBe(409);
      expect(plain.json().error.current).toMatchObject({ id: toCancel.id, status: 'cancelled' });
    });
  });
}
