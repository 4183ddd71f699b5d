/**
 * The console's server side through inject(), every answer checked against docs/openapi.json:
 * the page and its assets with their content types and CSP, the tenant's sign-in check, and the
 * operator routes — refused without the token, the refusal chart after a forged burst, the
 * quarantine with its reason (never a signature), the signature doctor on signatures made by the
 * official `twilio` package, tenants with counts and health, reconciliation activity.
 */
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../../console/build.mjs';
import { markReconciled } from '../../src/storage/reconcile-repository.js';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { randomHex, startTestService, type TestService } from '../support/test-service.js';

const PATH = '/webhooks/twilio/video';
const INJECT_URL = `http://localhost:80${PATH}`;
const OPERATOR_TOKEN = randomHex(24);

for (const engine of enginesUnderTest()) {
  describe(`console and operator API on ${engine.name}`, () => {
    let service: TestService;
    let tenantId: string;
    let consoleKey: string;
    const signatures: string[] = [];
    const operator = (method: 'GET' | 'POST', url: string, payload?: unknown, token = OPERATOR_TOKEN) =>
      service.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json' } : {}) },
        ...(payload ? { payload: JSON.stringify(payload) } : {}),
      });

    beforeAll(async () => {
      await buildConsole({ quiet: true });
      service = await startTestService(engine, { env: { ROOMGATE_OPERATOR_TOKEN: OPERATOR_TOKEN } });
      const tenant = await service.seedTenant('human', ['console:read', 'consultations:read']);
      tenantId = tenant.tenantId;
      consoleKey = tenant.key;
    });
    afterAll(async () => service?.close());

    it('serves the page and its assets with their types and a strict CSP', async () => {
      const page = await service.app.inject({ method: 'GET', url: '/console' });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      const csp = String(page.headers['content-security-policy']);
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(page.headers['x-content-type-options']).toBe('nosniff');
      expect(page.body).toContain('/console/assets/app.js');
      const script = await service.app.inject({ method: 'GET', url: '/console/assets/app.js' });
      expect(script.statusCode).toBe(200);
      expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
      const style = await service.app.inject({ method: 'GET', url: '/console/assets/app.css' });
      expect(style.headers['content-type']).toBe('text/css; charset=utf-8');
      expect((await service.app.inject({ method: 'GET', url: '/console/assets/..%2Fpackage.json' })).statusCode).toBe(404);
      expect((await service.app.inject({ method: 'GET', url: '/console/assets/index.html' })).statusCode).toBe(404);
    });

    it('signs a tenant in with console:read only', async () => {
      const session = await service.app.inject({
        method: 'GET',
        url: '/v1/console/session',
        headers: { authorization: `Bearer ${consoleKey}` },
      });
      expect(session.statusCode).toBe(200);
      expect(session.json()).toMatchObject({
        tenant: { id: tenantId, kind: 'human' },
        key: { scopes: ['console:read', 'consultations:read'] },
      });
      expect(session.headers['cache-control']).toBe('no-store');
      const { key } = await service.seedKey(tenantId, ['consultations:read']);
      const refused = await service.app.inject({ method: 'GET', url: '/v1/console/session', headers: { authorization: `Bearer ${key}` } });
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error.scope).toBe('console:read');
    });

    it('refuses the operator routes without the operator token, and a tenant key is no operator token', async () => {
      for (const url of ['/v1/operator/refusals', '/v1/operator/quarantine', '/v1/operator/tenants', '/v1/operator/reconciliation']) {
        expect((await service.app.inject({ method: 'GET', url })).statusCode, url).toBe(401);
        const wrong = await operator('GET', url, undefined, randomHex(24));
        expect(wrong.statusCode, url).toBe(401);
        expect(wrong.headers['www-authenticate']).toContain('invalid_token');
        expect((await operator('GET', url, undefined, consoleKey)).statusCode, url).toBe(401);
      }
      const unconfigured = await startTestService(engine, { database: service.database });
      try {
        expect(
          (
            await unconfigured.app.inject({
              method: 'GET',
              url: '/v1/operator/tenants',
              headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
            })
          ).statusCode,
        ).toBe(401);
      } finally {
        await unconfigured.app.close();
        await unconfigured.store.close();
      }
    });

    it('charts a forged burst by reason, and lists a quarantined callback with its reason but no signature', async () => {
      const { roomSid } = await service.seedConsultation(tenantId, { identities: { 'clin-1': 'clinician' } });
      const params = {
        AccountSid: service.accountSid,
        RoomName: 'rg-room',
        RoomSid: roomSid,
        RoomStatus: 'in-progress',
        RoomType: 'group',
        StatusCallbackEvent: 'participant-connected',
        ParticipantSid: `PA${randomHex(16)}`,
        ParticipantIdentity: 'intruder-9',
        ParticipantStatus: 'connected',
        Timestamp: new Date().toISOString(),
        SequenceNumber: '1',
      };
      for (let i = 0; i < 6; i++) {
        const forged = signForm(INJECT_URL, randomHex(16), { ...params, SequenceNumber: String(i + 2) });
        signatures.push(forged.headers['x-twilio-signature']!);
        expect((await service.app.inject({ method: 'POST', url: PATH, headers: forged.headers, payload: forged.body })).statusCode).toBe(
          403,
        );
      }
      expect(
        (
          await service.app.inject({
            method: 'POST',
            url: PATH,
            payload: 'a=b',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          })
        ).statusCode,
      ).toBe(403);
      const signed = signForm(INJECT_URL, service.authToken, params);
      signatures.push(signed.headers['x-twilio-signature']!);
      expect((await service.app.inject({ method: 'POST', url: PATH, headers: signed.headers, payload: signed.body })).statusCode).toBe(204);
      await service.app.roomgate.drain();

      const chart = await operator('GET', '/v1/operator/refusals?hours=1&bucketMinutes=10');
      expect(chart.statusCode).toBe(200);
      const body = chart.json();
      expect(body.buckets.length).toBeGreaterThanOrEqual(6);
      expect(body.reasons[0]).toBe('signature-mismatch');
      expect(body.total).toBe(7);
      const counted = body.buckets.reduce((sum: number, bucket: any) => sum + (bucket.counts['signature-mismatch'] ?? 0), 0);
      expect(counted).toBe(6);
      expect(body.reasons).toContain('missing-signature');
      // The quarantined callback is no refusal.
      expect(body.reasons).not.toContain('identity-never-issued');

      const quarantine = await operator('GET', '/v1/operator/quarantine');
      expect(quarantine.statusCode).toBe(200);
      expect(quarantine.json().data[0]).toMatchObject({
        reason: 'identity-never-issued',
        event: 'participant-connected',
        roomSid,
        accountSid: service.accountSid,
      });
      for (const signature of signatures) expect(quarantine.body + chart.body).not.toContain(signature);
      expect(quarantine.body).not.toContain(service.authToken);
    });

    it('the signature doctor names a wrong port and a wrong scheme, and several causes together', async () => {
      const params = { AccountSid: service.accountSid, RoomSid: `RM${randomHex(16)}`, StatusCallbackEvent: 'room-ended' };
      const list = Object.entries(params).map(([name, value]) => ({ name, value }));
      const diagnose = async (signedUrl: string, verifiedUrl: string, token?: string) => {
        const signature = twilio.getExpectedTwilioSignature(service.authToken, signedUrl, params);
        const answer = await operator('POST', '/v1/operator/signature-doctor', {
          url: verifiedUrl,
          params: list,
          signature,
          ...(token ? { token } : {}),
        });
        expect(answer.statusCode, answer.body).toBe(200);
        expect(answer.body).not.toContain(signature);
        expect(answer.body).not.toContain(service.authToken);
        return answer.json();
      };
      // Twilio signed the non-standard port; the server (behind a proxy) rebuilt the URL without it.
      const port = await diagnose('https://api.example.com:8443/webhooks/twilio/video', 'https://api.example.com/webhooks/twilio/video');
      expect(port).toMatchObject({ match: false, causes: ['port'], matchingUrl: 'https://api.example.com:8443/webhooks/twilio/video' });
      const scheme = await diagnose(
        'https://api.example.com/webhooks/twilio/video',
        'http://api.example.com/webhooks/twilio/video',
        service.authToken,
      );
      expect(scheme).toMatchObject({ match: false, causes: ['scheme'] });
      const both = await diagnose('https://api.example.com/api/webhooks/twilio/video', 'http://api.example.com/webhooks/twilio/video');
      expect(both.causes.sort()).toEqual(['path-prefix', 'scheme']);
      const ok = await diagnose('https://api.example.com/webhooks/twilio/video', 'https://api.example.com/webhooks/twilio/video');
      expect(ok).toMatchObject({ match: true, causes: [], secretId: `${service.accountSid}/primary` });
      const wrongToken = await diagnose(
        'https://api.example.com/webhooks/twilio/video',
        'https://api.example.com/webhooks/twilio/video',
        randomHex(16),
      );
      expect(wrongToken.causes).toContain('token');
      expect(service.logs()).not.toContain(service.authToken);
    });

    it('lists tenants with their counts and health, and the reconciliation activity', async () => {
      const tenants = await operator('GET', '/v1/operator/tenants');
      expect(tenants.statusCode).toBe(200);
      const mine = tenants.json().data.find((tenant: any) => tenant.id === tenantId);
      expect(mine.consultations).toMatchObject({ total: 1, live: 0, byStatus: { scheduled: 1 } });
      expect(mine.health).toMatchObject({ status: 'attention', quarantinedLastDay: 1 });
      const quiet = await operator('GET', '/v1/operator/reconciliation');
      expect(quiet.statusCode).toBe(200);
      expect(quiet.json()).toMatchObject({ lease: null, heldLateCallbacks: 0, changes: [], compared: [] });
      // What the reconciler records when it changes a record (app.ts onChanged) and marks a comparison.
      const { id } = await service.seedConsultation(tenantId);
      service.app.roomgate.audit.record({
        tenantId: null,
        actor: 'reconciler',
        action: 'consultation.reconciled',
        target: id,
        outcome: 'completed',
        detail: { reason: 'quiet', facts: ['participant-disconnected', 'room-ended'], confirmedLate: 1 },
      });
      await service.app.roomgate.drain();
      await markReconciled(service.store.db, id, new Date().toISOString());
      const activity = (await operator('GET', '/v1/operator/reconciliation')).json();
      expect(activity.changes).toEqual([
        expect.objectContaining({
          consultationId: id,
          outcome: 'completed',
          reason: 'quiet',
          facts: ['participant-disconnected', 'room-ended'],
          confirmedLate: 1,
        }),
      ]);
      expect(activity.compared).toEqual([expect.objectContaining({ consultationId: id, status: 'scheduled' })]);
    });
  });
}
