/**
 * The tenant API doing its job, against the sandbox Twilio: consultations created with their
 * room, listed page by page, tokens issued only to vetted identities (and decoding to the
 * claims Twilio expects), and a subject erased.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox-server.js';
import { createSandboxCredentials } from '../../src/sandbox/sandbox-credentials.js';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { startTestService, type TestService, sandboxTwilioEnv } from '../support/test-service.js';

const sqlite = enginesUnderTest().find((engine) => engine.name === 'sqlite')!;
const ALL = ['consultations:read', 'consultations:write', 'tokens:issue', 'recordings:read', 'billing:read', 'privacy:erase', 'audit:read'];

describe('tenant API', () => {
  const credentials = createSandboxCredentials();
  let sandbox: Sandbox;
  let service: TestService;
  let key: string;

  const api = async (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: Record<string, unknown>) => {
    const response = await service.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${key}` },
      ...(payload ? { payload } : {}),
    });
    return { status: response.statusCode, json: response.json() as Record<string, any> };
  };

  beforeAll(async () => {
    sandbox = await startSandbox(credentials);
    service = await startTestService(sqlite, {
      env: {
        ...sandboxTwilioEnv(credentials, sandbox.url),
        ROOMGATE_PUBLIC_URL: 'http://localhost:80',
      },
    });
    ({ key } = await service.seedTenant('human', ALL));
  });
  afterAll(async () => {
    await sandbox?.close();
    await service?.close();
  });

  it('creates consultations with their Twilio room and lists them page by page', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const created = await api('POST', '/v1/consultations', { record: false });
      expect(created.status).toBe(201);
      expect(created.json).toMatchObject({ status: 'scheduled', record: false });
      expect(sandbox.state.getRoom(created.json.roomSid)).toBeDefined();
      ids.push(created.json.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; json: Record<string, any> } = await api(
        'GET',
        `/v1/consultations?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      expect(page.json.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.json.data.map((row: { id: string }) => row.id));
      cursor = page.json.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual([...ids].sort());
    expect((await api('GET', '/v1/consultations?status=completed')).json.data).toEqual([]);
    expect((await api('GET', '/v1/consultations?cursor=garbage')).status).toBe(422);
    expect((await api('POST', '/v1/consultations', { record: 'yes' })).status).toBe(422);
  });

  it('issues a Video token bound to the room only for identities that pass the policy', async () => {
    const { json: consultation } = await api('POST', '/v1/consultations', {});
    const issue = (identity: unknown, role = 'patient') =>
      api('POST', `/v1/consultations/${consultation.id}/access-tokens`, { identity, role });
    for (const bad of [
      'admin',
      'Support-1',
      'jane@example.com',
      '+14155551234',
      '4155551234',
      'x'.repeat(101),
      'pt\u0000x',
      'p\u0430tient',
      'ab',
      42,
    ]) {
      const answer = await issue(bad);
      expect(answer.status, `identity ${JSON.stringify(bad)}`).toBe(422);
      expect(answer.json.error.code).toMatch(/IDENTITY_REJECTED|VALIDATION_FAILED/);
    }
    expect((await issue('pt_7f3a9c', 'pet-owner')).status).toBe(422); // not a role of a human clinic
    const issued = await issue('pt_7f3a9c');
    expect(issued.status).toBe(201);
    const [, payload] = (issued.json.token as string).split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, any>;
    expect(claims).toMatchObject({
      iss: credentials.apiKeySid,
      sub: credentials.accountSid,
      grants: { identity: 'pt_7f3a9c', video: { room: consultation.roomName } },
    });
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(3600);
    // The token is never logged.
    await service.app.roomgate.drain();
    expect(service.logs()).not.toContain(issued.json.token);
  });

  it('erases a subject: the identity is gone from every record, and the erasure is audited', async () => {
    const { json: consultation } = await api('POST', '/v1/consultations', {});
    expect(
      (await api('POST', `/v1/consultations/${consultation.id}/access-tokens`, { identity: 'pt-erase-me', role: 'patient' })).status,
    ).toBe(201);
    const signed = signForm('http://localhost:80/webhooks/twilio/video', credentials.authToken, {
      AccountSid: credentials.accountSid,
      RoomSid: consultation.roomSid,
      RoomName: consultation.roomName,
      RoomStatus: 'in-progress',
      RoomType: 'group',
      StatusCallbackEvent: 'participant-connected',
      ParticipantSid: `PA${'1'.repeat(32)}`,
      ParticipantIdentity: 'pt-erase-me',
      ParticipantStatus: 'connected',
      Timestamp: new Date().toISOString(),
      SequenceNumber: '1',
    });
    const ingested = await service.app.inject({
      method: 'POST',
      url: '/webhooks/twilio/video',
      headers: signed.headers,
      payload: signed.body,
    });
    expect(ingested.statusCode).toBe(204);
    await service.app.roomgate.drain();

    const erased = await api('DELETE', '/v1/subjects/pt-erase-me');
    expect(erased.status).toBe(200);
    expect(erased.json).toMatchObject({ erased: true, participants: 1, sessions: 1, callbacks: 1 });
    const view = JSON.stringify((await api('GET', `/v1/consultations/${consultation.id}`)).json);
    expect(view).not.toContain('pt-erase-me');
    const stored = JSON.stringify(
      await service.store.db.selectFrom('callbacks').selectAll().where('room_sid', '=', consultation.roomSid).execute(),
    );
    expect(stored).not.toContain('pt-erase-me');
    // Idempotent: a repeat is the same success, with nothing left to change.
    const again = await api('DELETE', '/v1/subjects/pt-erase-me');
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ erased: true, participants: 0, sessions: 0, callbacks: 0 });
    await service.app.roomgate.drain();
    const audit = await api('GET', '/v1/audit-log');
    expect(audit.json.data.some((entry: { action: string }) => entry.action === 'subject.erase')).toBe(true);
  });
});
