/**
 * A whole consultation against the sandbox Twilio, over real HTTP, on every engine: the API
 * creates the room, two vetted identities get tokens, they join and leave, the room ends →
 * exactly one composition request → available → one billing record with the right seconds.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox-server.js';
import { createSandboxCredentials } from '../../src/sandbox/sandbox-credentials.js';
import { enginesUnderTest } from '../support/engines.js';
import { startTestService, type TestService, sandboxTwilioEnv } from '../support/test-service.js';

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const engine of enginesUnderTest()) {
  describe(`consultation end to end on ${engine.name}`, () => {
    const credentials = createSandboxCredentials();
    let now = Date.now() - 12 * 60_000;
    let sandbox: Sandbox;
    let service: TestService;
    let base: string;

    beforeAll(async () => {
      sandbox = await startSandbox({ ...credentials, clock: () => new Date(now) });
      service = await startTestService(engine, {
        env: {
          ...sandboxTwilioEnv(credentials, sandbox.url),
        },
        app: { outboxWorker: true, outboxPollIntervalMs: 50 },
      });
      await service.app.listen({ port: 0, host: '127.0.0.1' });
      base = `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await sandbox?.close();
      await service?.close();
    });

    it('records participants, requests one composition, and bills the overlap once', async () => {
      const { key } = await service.seedTenant('veterinary', [
        'consultations:read',
        'consultations:write',
        'tokens:issue',
        'recordings:read',
        'billing:read',
      ]);
      const api = async (method: string, path: string, body?: unknown) => {
        const response = await fetch(`${base}${path}`, {
          method,
          headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
        return { status: response.status, json: (await response.json()) as Record<string, any> };
      };

      const created = await api('POST', '/v1/consultations', { record: true });
      expect(created.status).toBe(201);
      const { id, roomSid, roomName } = created.json as { id: string; roomSid: string; roomName: string };
      expect(roomSid).toMatch(/^RM[0-9a-f]{32}$/);

      for (const [identity, role] of [
        ['vet-1', 'clinician'],
        ['owner-1', 'pet-owner'],
      ]) {
        expect((await api('POST', `/v1/consultations/${id}/access-tokens`, { identity, role })).status).toBe(201);
      }
      expect(
        (await api('POST', `/v1/consultations/${id}/access-tokens`, { identity: 'owner@example.com', role: 'pet-owner' })).status,
      ).toBe(422);
      expect((await api('POST', `/v1/consultations/${id}/access-tokens`, { identity: 'pt-2', role: 'patient' })).status).toBe(422);

      sandbox.connect(roomName, 'vet-1');
      now += 2 * 60_000;
      sandbox.connect(roomName, 'owner-1');
      now += 8 * 60_000;
      sandbox.disconnect(roomName, 'owner-1');
      now += 60_000;
      expect((await api('POST', `/v1/consultations/${id}/end`)).status).toBe(200);
      await sandbox.idle();

      const recordings = await waitFor('the composition to be available', async () => {
        const answer = await api('GET', `/v1/consultations/${id}/recordings`);
        return answer.json.composition?.mediaUri ? answer.json : undefined;
      });
      expect(recordings.recordings).toHaveLength(4);
      // Each recording says whose track it is and of what kind.
      expect(recordings.recordings.map((r: { identity: string; kind: string }) => `${r.identity}/${r.kind}`).sort()).toEqual([
        'owner-1/audio',
        'owner-1/video',
        'vet-1/audio',
        'vet-1/video',
      ]);
      expect(recordings.composition).toMatchObject({ status: 'available', mediaUri: `/v1/consultations/${id}/composition/media` });
      // The media link needs only the tenant's key: it redirects to Twilio's short-lived URL.
      const media = await fetch(`${base}${recordings.composition.mediaUri}`, {
        headers: { authorization: `Bearer ${key}` },
        redirect: 'manual',
      });
      expect(media.status).toBe(302);
      const location = media.headers.get('location')!;
      expect(location.startsWith(sandbox.url)).toBe(true);
      const file = await fetch(location);
      expect(file.status).toBe(200);
      expect((await file.arrayBuffer()).byteLength).toBeGreaterThan(0);
      await sandbox.idle();

      const consultation = (await api('GET', `/v1/consultations/${id}`)).json;
      expect(consultation).toMatchObject({ status: 'completed', roomSid });
      expect(consultation.participants.map((p: { identity: string; role: string }) => [p.identity, p.role]).sort()).toEqual([
        ['owner-1', 'pet-owner'],
        ['vet-1', 'clinician'],
      ]);

      const billing = (await api('GET', '/v1/billing-records')).json.data as {
        consultationId: string;
        billableSeconds: number;
        roundedSeconds: number;
      }[];
      expect(billing).toEqual([expect.objectContaining({ consultationId: id, billableSeconds: 480, roundedSeconds: 480 })]);

      const compositionsAtTwilio = [...sandbox.state.compositions.values()].filter((composition) => composition.roomSid === roomSid);
      expect(compositionsAtTwilio).toHaveLength(1);
      const outbox = await service.store.db.selectFrom('outbox').select(['kind', 'status']).execute();
      expect(outbox).toEqual([{ kind: 'request-composition', status: 'done' }]);
      const accepted = sandbox.callbackLog.filter((attempt) => attempt.status === 204).length;
      expect(accepted).toBe(sandbox.callbackLog.length);
    });
  });
}
