/**
 * A cancel decides on the record as Twilio told it: callbacks answered 204 before the cancel
 * are folded before its status is read. Both sides connected (stored, not yet folded) → 409
 * with the consultation in progress, and its room left running at Twilio; callbacks that stay
 * unfolded past the bound → 503 RECORD_CATCHING_UP, nothing changed here or at Twilio. The fold
 * is held back by stopping the projection, so the race is played every time, not by chance.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandboxCredentials } from '../../src/sandbox/sandbox-credentials.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox-server.js';
import { enginesUnderTest } from '../support/engines.js';
import { signFormList } from '../support/signed-callback.js';
import { randomHex, sandboxTwilioEnv, startTestService, type TestService } from '../support/test-service.js';
import { listen, WEBHOOK_PATH, type Listening } from '../support/webhook-http.js';

// Twilio (the sandbox) posts its own callbacks nowhere: the test sends each one itself, signed
// for the public URL.
const PUBLIC_URL = 'http://127.0.0.1:9';
const SCOPES = ['consultations:read', 'consultations:write', 'tokens:issue'];

for (const engine of enginesUnderTest()) {
  describe(`cancel after callbacks on ${engine.name}`, () => {
    const credentials = createSandboxCredentials();
    let sandbox: Sandbox;
    let service: TestService;
    let http: Listening;
    let key: string;

    beforeAll(async () => {
      sandbox = await startSandbox({ ...credentials, callbackRetries: 0 });
      service = await startTestService(engine, { env: { ...sandboxTwilioEnv(credentials, sandbox.url), ROOMGATE_PUBLIC_URL: PUBLIC_URL } });
      http = await listen(service);
      ({ key } = await service.seedTenant('human', SCOPES));
    });
    afterAll(async () => {
      await service?.close();
      await sandbox?.close();
    });

    const call = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
      service.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${key}`, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
      });

    /** A consultation with its room at the sandbox, both sides' tokens issued, and both sides' connects answered 204. */
    async function metButNotFolded() {
      const created = await call('POST', '/v1/consultations', { record: false });
      expect(created.statusCode, created.body).toBe(201);
      const { id, roomSid, roomName } = created.json() as { id: string; roomSid: string; roomName: string };
      for (const [identity, role] of [
        ['clin-1', 'clinician'],
        ['pt-1', 'patient'],
      ]) {
        expect((await call('POST', `/v1/consultations/${id}/access-tokens`, { identity, role })).statusCode).toBe(201);
      }
      await service.app.roomgate.projection.stop();
      const at = (seconds: number) => new Date(Date.now() - 60_000 + seconds * 1000).toISOString();
      const callbacks: [string, Record<string, string>][] = [
        ['room-created', {}],
        ['participant-connected', { ParticipantSid: `PA${randomHex(16)}`, ParticipantIdentity: 'clin-1' }],
        ['participant-connected', { ParticipantSid: `PA${randomHex(16)}`, ParticipantIdentity: 'pt-1' }],
      ];
      for (const [index, [event, extra]] of callbacks.entries()) {
        const params: [string, string][] = [
          ['AccountSid', service.accountSid],
          ['RoomName', roomName],
          ['RoomSid', roomSid],
          ['RoomStatus', 'in-progress'],
          ['StatusCallbackEvent', event],
          ['Timestamp', at(index)],
          ['SequenceNumber', String(index)],
          ...Object.entries(extra),
        ];
        const signed = signFormList(`${PUBLIC_URL}${WEBHOOK_PATH}`, service.authToken, params);
        expect(await http.post({ ...signed, url: http.webhookUrl })).toBe(204);
      }
      await service.app.roomgate.drain();
      expect((await call('GET', `/v1/consultations/${id}`)).json()).toMatchObject({ status: 'scheduled' });
      return { id, roomSid };
    }

    it('folds the callbacks answered before it first: both sides met → 409 in progress, the room left running', async () => {
      const { id, roomSid } = await metButNotFolded();
      const cancel = call('POST', `/v1/consultations/${id}/cancel`);
      // The fold comes back a moment after the cancel arrived.
      await new Promise((resolve) => setTimeout(resolve, 150));
      await service.app.roomgate.projection.start();
      const answer = await cancel;
      expect(answer.statusCode, answer.body).toBe(409);
      expect(answer.json().error.current).toMatchObject({ id, status: 'in-progress' });
      expect(sandbox.state.getRoom(roomSid)!.status).toBe('in-progress');
    });

    it('answers 503 RECORD_CATCHING_UP with Retry-After when they stay unfolded, and changes nothing', async () => {
      const { id, roomSid } = await metButNotFolded();
      const answer = await call('POST', `/v1/consultations/${id}/cancel`);
      expect(answer.statusCode, answer.body).toBe(503);
      expect(answer.json().error.code).toBe('RECORD_CATCHING_UP');
      expect(answer.headers['retry-after']).toBe('1');
      expect(sandbox.state.getRoom(roomSid)!.status).toBe('in-progress');
      await service.app.roomgate.projection.start();
      await service.app.roomgate.drain();
      expect((await call('GET', `/v1/consultations/${id}`)).json()).toMatchObject({ status: 'in-progress' });
    }, 20_000);

    it('cancels a consultation whose callbacks are all folded, and completes its room', async () => {
      const created = await call('POST', '/v1/consultations', { record: false });
      const { id, roomSid } = created.json() as { id: string; roomSid: string };
      const answer = await call('POST', `/v1/consultations/${id}/cancel`);
      expect(answer.statusCode, answer.body).toBe(200);
      expect(answer.json()).toMatchObject({ id, status: 'cancelled' });
      expect(sandbox.state.getRoom(roomSid)!.status).toBe('completed');
    });
  });
}
