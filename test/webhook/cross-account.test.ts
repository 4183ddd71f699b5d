/**
 * Two Twilio accounts configured, through real sockets on every engine: a callback applies only
 * to a room created under its AccountSid, and only when a secret of THAT account made its
 * signature. A callback signed by account B about account A's room is quarantined
 * ('account-mismatch'); one claiming B but signed with A's token, or naming no AccountSid, is
 * refused with 403 before storage. (Today's main let B's room-ended end A's consultation.)
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandboxCredentials } from '../../src/sandbox/sandbox-credentials.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox-server.js';
import { insertConsultations } from '../../src/storage/consultation-repository.js';
import { newId } from '../../src/storage/ids.js';
import { enginesUnderTest } from '../support/engines.js';
import { signFormList, signJson } from '../support/signed-callback.js';
import { randomHex, startTestService, type TestService } from '../support/test-service.js';
import { listen, recordOf, type Listening } from '../support/webhook-http.js';

type Param = readonly [string, string];

for (const engine of enginesUnderTest()) {
  describe(`accounts bound to rooms on ${engine.name}`, () => {
    const a = createSandboxCredentials();
    const b = { accountSid: `AC${randomHex(16)}`, authToken: randomHex(16) };
    let sandbox: Sandbox;
    let service: TestService;
    let http: Listening;
    let key: string;
    let tenantId: string;

    beforeAll(async () => {
      sandbox = await startSandbox(a);
      const file = join(mkdtempSync(join(tmpdir(), 'roomgate-accounts-')), 'accounts.json');
      writeFileSync(
        file,
        JSON.stringify({
          accounts: [
            { accountSid: a.accountSid, authTokens: [a.authToken] },
            { accountSid: b.accountSid, authTokens: [b.authToken] },
          ],
        }),
      );
      service = await startTestService(engine, {
        env: {
          ROOMGATE_CONFIG: file,
          TWILIO_API_KEY_SID: a.apiKeySid,
          TWILIO_API_KEY_SECRET: a.apiKeySecret,
          TWILIO_API_BASE_URL: sandbox.url,
        },
      });
      http = await listen(service);
      ({ key, tenantId } = await service.seedTenant('human', ['consultations:write', 'consultations:read', 'tokens:issue']));
    });
    afterAll(async () => {
      await service?.app.roomgate.drain();
      await sandbox?.close();
      await service?.close();
    });

    const api = async (url: string, payload: Record<string, unknown>) => {
      const response = await service.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${key}` }, payload });
      return { status: response.statusCode, json: response.json() as Record<string, string> };
    };
    const event = (account: string, room: { roomSid: string; roomName: string }, type: string, extra: Param[] = []): Param[] => [
      ['AccountSid', account],
      ['RoomName', room.roomName],
      ['RoomSid', room.roomSid],
      ['RoomStatus', type === 'room-ended' ? 'completed' : 'in-progress'],
      ['RoomType', 'group'],
      ['StatusCallbackEvent', type],
      ['Timestamp', new Date().toISOString()],
      ['SequenceNumber', String(Math.floor(Math.random() * 1e6))],
      ...extra,
    ];
    const connect = (identity: string): Param[] => [
      ['ParticipantSid', `PA${randomHex(16)}`],
      ['ParticipantIdentity', identity],
      ['ParticipantStatus', 'connected'],
    ];
    const securityReasons = async () => {
      await service.app.roomgate.drain();
      return (await service.store.db.selectFrom('security_events').select('reason').execute()).map((row) => row.reason);
    };
    const callbacksOf = (roomSid: string) =>
      service.store.db.selectFrom('callbacks').select(['event_type', 'account_sid', 'status']).where('room_sid', '=', roomSid).execute();

    it("records the room's account, and applies only that account's callbacks signed with its own token", async () => {
      const created = await api('/v1/consultations', { record: false });
      expect(created.status).toBe(201);
      const room = { roomSid: created.json.roomSid!, roomName: created.json.roomName! };
      const stored = await service.store.db
        .selectFrom('consultations')
        .select('account_sid')
        .where('id', '=', created.json.id!)
        .executeTakeFirstOrThrow();
      expect(stored.account_sid).toBe(a.accountSid);
      for (const [identity, role] of [
        ['clin-a1', 'clinician'],
        ['pt-a1', 'patient'],
      ]) {
        expect((await api(`/v1/consultations/${created.json.id}/access-tokens`, { identity, role })).status).toBe(201);
      }
      for (const identity of ['clin-a1', 'pt-a1']) {
        const signed = signFormList(http.webhookUrl, a.authToken, event(a.accountSid, room, 'participant-connected', connect(identity)));
        expect(await http.post(signed)).toBe(204);
      }
      await service.app.roomgate.drain();
      expect(await recordOf(service, created.json.id!)).toMatchObject({ consultation: { status: 'in-progress' } });

      // Account B, with its own valid signature, about A's room: stored aside, alerted, not applied.
      const foreign = signFormList(http.webhookUrl, b.authToken, event(b.accountSid, room, 'room-ended'));
      expect(await http.post(foreign)).toBe(204);
      // Claiming B, signed with A's token (form: B's tokens are the ones tried).
      expect(await http.post(signFormList(http.webhookUrl, a.authToken, event(b.accountSid, room, 'room-ended')))).toBe(403);
      // Claiming B inside a JSON body (every token is eligible for JSON), signed with A's token.
      const json = signJson(http.webhookUrl, a.authToken, Object.fromEntries(event(b.accountSid, room, 'room-ended')));
      expect(await http.post(json)).toBe(403);
      // No AccountSid at all, form or JSON, whoever signed it.
      const anonymous = event(a.accountSid, room, 'room-ended').filter(([name]) => name !== 'AccountSid');
      expect(await http.post(signFormList(http.webhookUrl, a.authToken, anonymous))).toBe(403);
      expect(await http.post(signFormList(http.webhookUrl, a.authToken, [...anonymous, ['AccountSid', '']]))).toBe(403);
      expect(await http.post(signJson(http.webhookUrl, a.authToken, Object.fromEntries(anonymous)))).toBe(403);

      await service.app.roomgate.drain();
      expect(await recordOf(service, created.json.id!)).toMatchObject({ consultation: { status: 'in-progress', ended_at: null } });
      const endings = (await callbacksOf(room.roomSid)).filter((row) => row.event_type === 'room-ended');
      expect(endings).toEqual([{ event_type: 'room-ended', account_sid: b.accountSid, status: 'quarantined' }]);
      const reasons = await securityReasons();
      expect(reasons.filter((reason) => reason === 'account-mismatch')).toHaveLength(1);
      expect(reasons.filter((reason) => reason === 'signature-mismatch').length).toBeGreaterThanOrEqual(1);
      expect(reasons.filter((reason) => reason === 'account-secret-mismatch')).toHaveLength(1);
      expect(reasons.filter((reason) => reason === 'missing-account-sid')).toHaveLength(2);
      // An empty AccountSid names no account whose token could be tried.
      expect(reasons.filter((reason) => reason === 'unknown-account')).toHaveLength(1);

      // A's own room-ended ends it, billed.
      expect(await http.post(signFormList(http.webhookUrl, a.authToken, event(a.accountSid, room, 'room-ended')))).toBe(204);
      await service.app.roomgate.drain();
      expect(await recordOf(service, created.json.id!)).toMatchObject({ consultation: { status: 'completed' }, billing: [{}] });
    });

    it("never binds a room SID from another account's callback to a room matched by name", async () => {
      // Created before rooms recorded their account (migration 0004), its SID not saved yet:
      // bound to the first configured account (A), matched by its unguessable name.
      const id = newId('con');
      const roomName = `rg-${id}`;
      const now = new Date().toISOString();
      await insertConsultations(service.store.db, [
        { id, tenantId, roomSid: null, roomName, accountSid: null, record: false, scheduledAt: null, now },
      ]);
      const foreignSid = `RM${randomHex(16)}`;
      expect(
        await http.post(signFormList(http.webhookUrl, b.authToken, event(b.accountSid, { roomSid: foreignSid, roomName }, 'room-created'))),
      ).toBe(204);
      await service.app.roomgate.drain();
      const unbound = await service.store.db
        .selectFrom('consultations')
        .select(['room_sid', 'status'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      expect(unbound).toEqual({ room_sid: null, status: 'scheduled' });
      expect((await callbacksOf(foreignSid)).map((row) => row.status)).toEqual(['unmatched']);

      const ownSid = `RM${randomHex(16)}`;
      expect(
        await http.post(signFormList(http.webhookUrl, a.authToken, event(a.accountSid, { roomSid: ownSid, roomName }, 'room-created'))),
      ).toBe(204);
      await service.app.roomgate.drain();
      const bound = await service.store.db
        .selectFrom('consultations')
        .select(['room_sid', 'status'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      expect(bound).toEqual({ room_sid: ownSid, status: 'waiting' });
      // And B, now naming the bound room's SID, is quarantined.
      expect(
        await http.post(signFormList(http.webhookUrl, b.authToken, event(b.accountSid, { roomSid: ownSid, roomName }, 'room-ended'))),
      ).toBe(204);
      await service.app.roomgate.drain();
      expect(
        (await service.store.db.selectFrom('consultations').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status,
      ).toBe('waiting');
    });
  });
}
