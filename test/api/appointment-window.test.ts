/**
 * Appointment windows on every engine, through the API and the sandbox Twilio, with an injected
 * clock: a scheduled consultation with a duration issues tokens only from the tenant's join-early
 * minutes before its start to its grace after its end (422 WINDOW_NOT_OPEN / WINDOW_CLOSED with
 * the window), each token expiring at the window's end at the latest, and its room is created
 * with a MaxParticipantDuration fitting the window; without a schedule nothing changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandboxCredentials } from '../../src/sandbox/sandbox-credentials.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox-server.js';
import { createTenant } from '../../src/service/tenants/tenant-admin.js';
import { enginesUnderTest } from '../support/engines.js';
import { randomHex, startTestService, type TestService, sandboxTwilioEnv } from '../support/test-service.js';

const SCOPES = ['consultations:read', 'consultations:write', 'tokens:issue'];
const START = Date.parse('2026-05-01T10:00:00.000Z');
const minutes = (n: number) => n * 60_000;

/** exp − iat and exp of a JWT, read from its payload. */
function claims(token: string): { iat: number; exp: number } {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { iat: number; exp: number };
}

for (const engine of enginesUnderTest()) {
  describe(`appointment windows on ${engine.name}`, () => {
    const credentials = createSandboxCredentials();
    let sandbox: Sandbox;
    let service: TestService;
    let key: string;
    let now = START - minutes(120);

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
        name: 'Windowed clinic',
        kind: 'human',
        joinEarlyMinutes: 10,
        joinGraceMinutes: 5,
      });
      key = (await service.seedKey(tenantId, SCOPES)).key;
    });
    afterAll(async () => {
      await service?.close();
      await sandbox?.close();
    });

    const call = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
      service.app.inject({
        method: 'POST',
        url,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
        payload: JSON.stringify(payload),
      });
    const token = (id: string, identity = `clin-${randomHex(3)}`, headers: Record<string, string> = {}) =>
      call(`/v1/consultations/${id}/access-tokens`, { identity, role: 'clinician' }, headers);

    it('refuses tokens before and after the window, issues them inside it, each ending at the window’s end', async () => {
      const created = await call('/v1/consultations', { scheduledAt: new Date(START).toISOString(), durationMinutes: 30 });
      expect(created.statusCode, created.body).toBe(201);
      const consultation = created.json<{ id: string; roomSid: string; durationMinutes: number }>();
      expect(consultation.durationMinutes).toBe(30);
      // 10 min early + 30 min slot + 5 min grace.
      expect(sandbox.state.getRoom(consultation.roomSid)?.maxParticipantDuration).toBe(45 * 60);
      const window = { opensAt: '2026-05-01T09:50:00.000Z', closesAt: '2026-05-01T10:35:00.000Z' };

      now = START - minutes(10) - 1;
      const early = await token(consultation.id);
      expect(early.statusCode, early.body).toBe(422);
      expect(early.json().error).toMatchObject({ code: 'WINDOW_NOT_OPEN', window });

      now = START - minutes(10);
      const first = await token(consultation.id);
      expect(first.statusCode, first.body).toBe(201);
      expect(first.json().expiresAt).toBe(window.closesAt);
      expect(claims(first.json().token).exp * 1000).toBe(Date.parse(window.closesAt));

      now = START - minutes(5);
      const middle = await token(consultation.id);
      expect(middle.statusCode, middle.body).toBe(201);
      expect(Date.parse(middle.json().expiresAt)).toBeLessThanOrEqual(Date.parse(window.closesAt));

      now = Date.parse(window.closesAt) - 1000;
      const last = await token(consultation.id);
      expect(last.statusCode, last.body).toBe(201);
      expect(claims(last.json().token).exp - claims(last.json().token).iat).toBe(1);

      now = Date.parse(window.closesAt);
      const late = await token(consultation.id);
      expect(late.statusCode, late.body).toBe(422);
      expect(late.json().error).toMatchObject({ code: 'WINDOW_CLOSED', window });
    });

    it('replays a window-shortened token exactly (Idempotency-Key)', async () => {
      now = START;
      const created = await call('/v1/consultations', { scheduledAt: new Date(START).toISOString(), durationMinutes: 20 });
      const { id } = created.json<{ id: string }>();
      now = START + minutes(20);
      const headers = { 'idempotency-key': `k-${randomHex(8)}` };
      const first = await token(id, 'clin-replay', headers);
      expect(first.statusCode, first.body).toBe(201);
      expect(first.json().expiresAt).toBe(new Date(START + minutes(25)).toISOString());
      const again = await token(id, 'clin-replay', headers);
      expect(again.statusCode, again.body).toBe(201);
      expect(again.json()).toEqual(first.json());
    });

    it('keeps today’s behaviour without a duration; a duration needs a schedule', async () => {
      now = START - minutes(24 * 60);
      const unscheduled = await call('/v1/consultations', { scheduledAt: new Date(START).toISOString() });
      expect(unscheduled.statusCode, unscheduled.body).toBe(201);
      const { id, roomSid } = unscheduled.json<{ id: string; roomSid: string }>();
      expect(sandbox.state.getRoom(roomSid)?.maxParticipantDuration).toBe(14_400);
      const issued = await token(id);
      expect(issued.statusCode, issued.body).toBe(201);
      expect(Date.parse(issued.json().expiresAt)).toBe(now + 3_600_000);

      const refused = await call('/v1/consultations', { durationMinutes: 30 });
      expect(refused.statusCode, refused.body).toBe(422);
      expect(refused.json().error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'durationMinutes' });
    });
  });
}
