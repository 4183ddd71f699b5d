/**
 * /v1/tenant/settings on every engine: a tenant reads and changes its own appointment-window and
 * waiting-room settings (scope settings:manage); null resets a window setting to its default;
 * a new consultation's window and its waiting room follow them; another tenant's are untouched.
 * Every answer is checked against docs/openapi.json.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../support/engines.js';
import { checkAnswersAgainstDocument } from '../support/openapi-inject.js';
import { startTestService, type TestService } from '../support/test-service.js';

for (const engine of enginesUnderTest()) {
  describe(`tenant settings on ${engine.name}`, () => {
    let service: TestService;
    let key: string;
    let otherKey: string;
    let readOnly: string;

    beforeAll(async () => {
      service = await startTestService(engine);
      checkAnswersAgainstDocument(service.app);
      const tenant = await service.seedTenant('human', ['settings:manage', 'consultations:read']);
      key = tenant.key;
      readOnly = (await service.seedKey(tenant.tenantId, ['consultations:read'])).key;
      otherKey = (await service.seedTenant('veterinary', ['settings:manage'])).key;
    });
    afterAll(async () => service?.close());

    const call = (method: 'GET' | 'PATCH', bearer: string, payload?: unknown) =>
      service.app.inject({
        method,
        url: '/v1/tenant/settings',
        headers: { authorization: `Bearer ${bearer}`, ...(payload ? { 'content-type': 'application/json' } : {}) },
        ...(payload ? { payload: JSON.stringify(payload) } : {}),
      });

    it('reads the defaults, changes what is sent, resets with null', async () => {
      const defaults = { joinEarlyMinutes: 15, joinGraceMinutes: 15 };
      const first = await call('GET', key);
      expect(first.statusCode).toBe(200);
      expect(first.json()).toEqual({ ...defaults, waitingRoom: false, consentMode: 'off', defaults });

      const changed = await call('PATCH', key, { joinEarlyMinutes: 5, waitingRoom: true });
      expect(changed.statusCode, changed.body).toBe(200);
      expect(changed.json()).toEqual({ joinEarlyMinutes: 5, joinGraceMinutes: 15, waitingRoom: true, consentMode: 'off', defaults });
      expect((await call('GET', key)).json()).toMatchObject({ joinEarlyMinutes: 5, waitingRoom: true });

      const reset = await call('PATCH', key, { joinEarlyMinutes: null, joinGraceMinutes: 30 });
      expect(reset.json()).toMatchObject({ joinEarlyMinutes: 15, joinGraceMinutes: 30, waitingRoom: true });
      // Another tenant's settings did not move.
      expect((await call('GET', otherKey)).json()).toMatchObject({ joinEarlyMinutes: 15, joinGraceMinutes: 15, waitingRoom: false });
    });

    it('changes the consent mode; another tenant’s is untouched', async () => {
      expect((await call('PATCH', key, { consentMode: 'one-party' })).json()).toMatchObject({ consentMode: 'one-party' });
      expect((await call('GET', key)).json().consentMode).toBe('one-party');
      expect((await call('PATCH', key, { consentMode: 'off' })).json().consentMode).toBe('off');
      expect((await call('PATCH', key, { consentMode: 'sometimes' })).statusCode).toBe(422);
      expect((await call('GET', otherKey)).json().consentMode).toBe('off');
    });

    it('refuses bad values naming the field, an empty change, and a key without the scope', async () => {
      const negative = await call('PATCH', key, { joinGraceMinutes: -1 });
      expect(negative.statusCode).toBe(422);
      expect(negative.json().error.code).toBe('VALIDATION_FAILED');
      expect(negative.body).toContain('joinGraceMinutes');
      expect((await call('PATCH', key, { joinGraceMinutes: 1441 })).statusCode).toBe(422);
      expect((await call('PATCH', key, { unknown: 1 })).statusCode).toBe(422);
      expect((await call('PATCH', key, {})).statusCode).toBe(422);
      const forbidden = await call('PATCH', readOnly, { waitingRoom: false });
      expect(forbidden.statusCode).toBe(403);
      expect(forbidden.json().error.code).toBe('FORBIDDEN_SCOPE');
      expect((await call('GET', readOnly)).statusCode).toBe(403);
    });
  });
}
