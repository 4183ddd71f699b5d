/**
 * POST /webhooks/twilio/video on every engine: signature first, freshness, exactly once,
 * durable, proxies — over inject() and over real HTTP. Callbacks are signed by the official
 * twilio package.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { randomHex, startTestService, type TestService } from '../support/test-service.js';

const PATH = '/webhooks/twilio/video';
const INJECT_URL = `http://localhost:80${PATH}`;

function roomEvent(service: TestService, roomSid: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    AccountSid: service.accountSid,
    RoomName: 'rg-room',
    RoomSid: roomSid,
    RoomStatus: 'in-progress',
    RoomType: 'group',
    StatusCallbackEvent: 'room-created',
    Timestamp: new Date().toISOString(),
    SequenceNumber: '0',
    ...overrides,
  };
}

async function countCallbacks(service: TestService, roomSid?: string): Promise<number> {
  let query = service.store.db.selectFrom('callbacks').select((eb) => eb.fn.countAll<number>().as('n'));
  if (roomSid) query = query.where('room_sid', '=', roomSid);
  return Number((await query.executeTakeFirstOrThrow()).n);
}

for (const engine of enginesUnderTest()) {
  describe(`webhook endpoint on ${engine.name}`, () => {
    let service: TestService;
    let tenantId: string;
    const signatures: string[] = [];

    const post = (
      params: Record<string, string>,
      options: { url?: string; headers?: Record<string, string>; remoteAddress?: string } = {},
    ) => {
      const signed = signForm(options.url ?? INJECT_URL, service.authToken, params);
      signatures.push(signed.headers['x-twilio-signature']!);
      return service.app.inject({
        method: 'POST',
        url: PATH,
        headers: { ...signed.headers, ...options.headers },
        payload: signed.body,
        ...(options.remoteAddress ? { remoteAddress: options.remoteAddress } : {}),
      });
    };

    beforeAll(async () => {
      // Loopback too: inject() calls from 127.0.0.1, which must be a trusted proxy (a direct
      // caller's Host header is never the signed URL).
      service = await startTestService(engine, { env: { ROOMGATE_TRUST_PROXY: '10.0.0.0/8, loopback' } });
      ({ tenantId } = await service.seedTenant());
    });
    afterAll(async () => {
      await service?.app.roomgate.drain();
      // No signature, auth token or API key secret ever reaches the logs.
      const logs = service.logs();
      expect(logs.length).toBeGreaterThan(0);
      for (const secret of [service.authToken, service.config.apiKey!.secret, ...signatures]) expect(logs).not.toContain(secret);
      await service?.close();
    });

    it('stores a validly signed callback and answers 204', async () => {
      const { roomSid } = await service.seedConsultation(tenantId);
      const response = await post(roomEvent(service, roomSid));
      expect(response.statusCode).toBe(204);
      expect(response.body).toBe('');
      expect(await countCallbacks(service, roomSid)).toBe(1);
      // The record is folded right after the commit that answered 204.
      await service.app.roomgate.drain();
      const stored = await service.store.db
        .selectFrom('consultations')
        .select('status')
        .where('room_sid', '=', roomSid)
        .executeTakeFirstOrThrow();
      expect(stored.status).toBe('waiting');
    });

    it('refuses a missing, malformed or wrong signature with 403 and stores nothing', async () => {
      const { roomSid } = await service.seedConsultation(tenantId);
      const params = roomEvent(service, roomSid);
      const body = new URLSearchParams(params).toString();
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const cases = [
        form,
        { ...form, 'x-twilio-signature': 'not-a-signature' },
        { ...form, 'x-twilio-signature': signForm(INJECT_URL, 'another-token', params).headers['x-twilio-signature']! },
        {
          ...form,
          'x-twilio-signature': signForm('https://localhost/webhooks/twilio/video', service.authToken, params).headers[
            'x-twilio-signature'
          ]!,
        },
      ];
      for (const headers of cases) {
        const response = await service.app.inject({ method: 'POST', url: PATH, headers, payload: body });
        expect(response.statusCode).toBe(403);
        expect(response.json()).toMatchObject({ error: { code: 'WEBHOOK_REFUSED', message: 'Forbidden.' } });
      }
      expect(await countCallbacks(service, roomSid)).toBe(0);
    });

    it('refuses a valid signature over one changed parameter', async () => {
      const { roomSid } = await service.seedConsultation(tenantId);
      const params = roomEvent(service, roomSid, { StatusCallbackEvent: 'participant-connected' });
      const signed = signForm(INJECT_URL, service.authToken, params);
      const forged = new URLSearchParams({ ...params, StatusCallbackEvent: 'room-ended' }).toString();
      const response = await service.app.inject({ method: 'POST', url: PATH, headers: signed.headers, payload: forged });
      expect(response.statusCode).toBe(403);
      expect(await countCallbacks(service, roomSid)).toBe(0);
    });

    it('refuses a replay older than the late window, and one from the future; holds one between the windows', async () => {
      const { roomSid } = await service.seedConsultation(tenantId);
      // Past the replay window but within the late window (24 h): stored held, never applied.
      const late = await post(roomEvent(service, roomSid, { Timestamp: new Date(Date.now() - 16 * 60_000).toISOString() }));
      expect(late.statusCode).toBe(204);
      const held = await service.store.db.selectFrom('callbacks').select(['status', 'held']).where('room_sid', '=', roomSid).execute();
      expect(held).toEqual([{ status: 'quarantined', held: 'late' }]);
      const { roomSid: other } = await service.seedConsultation(tenantId);
      const old = await post(roomEvent(service, other, { Timestamp: new Date(Date.now() - 25 * 3_600_000).toISOString() }));
      const future = await post(roomEvent(service, other, { Timestamp: new Date(Date.now() + 6 * 60_000).toISOString() }));
      expect([old.statusCode, future.statusCode]).toEqual([403, 403]);
      expect(await countCallbacks(service, other)).toBe(0);
      // Without a Timestamp there is no age to judge: the schema quarantines it (stored, never applied).
      const missing = await post({ ...roomEvent(service, other), Timestamp: '' });
      expect(missing.statusCode).toBe(204);
      const rows = await service.store.db.selectFrom('callbacks').select('status').where('room_sid', '=', other).execute();
      expect(rows).toEqual([{ status: 'quarantined' }]);
    });

    it('stores the same event once: twice in a row, and twenty times at once', async () => {
      const { roomSid } = await service.seedConsultation(tenantId);
      const params = roomEvent(service, roomSid);
      expect((await post(params)).statusCode).toBe(204);
      expect((await post(params, { headers: { 'i-twilio-idempotency-token': randomHex(8) } })).statusCode).toBe(204);
      expect(await countCallbacks(service, roomSid)).toBe(1);

      const burst = roomEvent(service, roomSid, { StatusCallbackEvent: 'room-ended', RoomStatus: 'completed' });
      const answers = await Promise.all(Array.from({ length: 20 }, () => post(burst)));
      expect(answers.map((answer) => answer.statusCode)).toEqual(Array(20).fill(204));
      expect(await countCallbacks(service, roomSid)).toBe(2);
    });

    it('believes X-Forwarded-Proto from a trusted proxy only', async () => {
      const { roomSid } = await service.seedConsultation(tenantId);
      const httpsUrl = `https://localhost${PATH}`;
      const trusted = await post(roomEvent(service, roomSid), {
        url: httpsUrl,
        headers: { 'x-forwarded-proto': 'https' },
        remoteAddress: '10.1.2.3',
      });
      expect(trusted.statusCode).toBe(204);
      const untrusted = await post(roomEvent(service, roomSid, { SequenceNumber: '1' }), {
        url: httpsUrl,
        headers: { 'x-forwarded-proto': 'https' },
        remoteAddress: '192.0.2.7',
      });
      expect(untrusted.statusCode).toBe(403);
      expect(await countCallbacks(service, roomSid)).toBe(1);
    });

    it('refuses other content types with 403 (the signature decides first) and oversized bodies with 413', async () => {
      const signature = signForm(INJECT_URL, service.authToken, {}).headers['x-twilio-signature']!;
      const text = await service.app.inject({
        method: 'POST',
        url: PATH,
        headers: { 'content-type': 'text/plain', 'x-twilio-signature': signature },
        payload: 'hello',
      });
      expect(text.statusCode).toBe(403);
      const huge = await service.app.inject({
        method: 'POST',
        url: PATH,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
        payload: `a=${'x'.repeat(70 * 1024)}`,
      });
      expect(huge.statusCode).toBe(413);
    });

    it('keeps a callback for an unknown room as unmatched, without applying it', async () => {
      const roomSid = `RM${randomHex(16)}`;
      expect((await post(roomEvent(service, roomSid))).statusCode).toBe(204);
      const row = await service.store.db.selectFrom('callbacks').select('status').where('room_sid', '=', roomSid).executeTakeFirstOrThrow();
      expect(row.status).toBe('unmatched');
    });

    it('quarantines a participant whose identity was never issued, or breaks the policy', async () => {
      const { roomSid, id } = await service.seedConsultation(tenantId, { identities: { 'clin-1': 'clinician' } });
      const connect = (identity: string, sid: string) =>
        post(
          roomEvent(service, roomSid, {
            StatusCallbackEvent: 'participant-connected',
            ParticipantSid: sid,
            ParticipantIdentity: identity,
            ParticipantStatus: 'connected',
          }),
        );
      expect((await connect('clin-1', `PA${randomHex(16)}`)).statusCode).toBe(204);
      expect((await connect('intruder-9', `PA${randomHex(16)}`)).statusCode).toBe(204);
      expect((await connect('admin', `PA${randomHex(16)}`)).statusCode).toBe(204);
      const rows = await service.store.db
        .selectFrom('callbacks')
        .select(['participant_identity', 'status'])
        .where('room_sid', '=', roomSid)
        .orderBy('participant_identity')
        .execute();
      expect(rows).toEqual([
        { participant_identity: 'admin', status: 'quarantined' },
        { participant_identity: 'clin-1', status: 'accepted' },
        { participant_identity: 'intruder-9', status: 'quarantined' },
      ]);
      await service.app.roomgate.drain();
      const sessions = await service.store.db
        .selectFrom('participant_sessions')
        .select('identity')
        .where('consultation_id', '=', id)
        .execute();
      expect(sessions).toEqual([{ identity: 'clin-1' }]);
      // The tenant learns of each quarantine from its event log (once, without the identity).
      const quarantines = await service.store.db
        .selectFrom('tenant_events')
        .select(['type', 'payload'])
        .where('consultation_id', '=', id)
        .where('type', '=', 'callback.quarantined')
        .execute();
      expect(
        quarantines
          .map((row) => JSON.parse(row.payload) as { callbackEvent: string; reason: string })
          .sort((x, y) => x.reason.localeCompare(y.reason)),
      ).toEqual([
        { callbackEvent: 'participant-connected', reason: 'identity-never-issued' },
        { callbackEvent: 'participant-connected', reason: 'identity-reserved' },
      ]);
      expect(quarantines.map((row) => row.payload).join()).not.toMatch(/intruder-9|admin/);
    });

    it('records refusals as security events and metrics, never with the signature', async () => {
      await service.app.roomgate.drain();
      const events = await service.store.db.selectFrom('security_events').selectAll().execute();
      expect(events.length).toBeGreaterThan(0);
      expect(new Set(events.map((event) => event.reason))).toEqual(
        new Set([
          'missing-signature',
          'malformed-signature',
          'signature-mismatch',
          'untrusted-peer',
          'unsupported-content-type',
          'replay-too-old',
          'timestamp-in-future',
          'schema-empty-field:Timestamp',
          'identity-never-issued',
          'identity-reserved',
        ]),
      );
      const serialized = JSON.stringify(events);
      for (const signature of signatures) expect(serialized).not.toContain(signature);
      const metrics = await service.metricsText();
      expect(metrics).toMatch(/roomgate_webhook_refusals_total\{reason="signature-mismatch"\} [1-9]/);
    });

    it('works over real HTTP with a public URL that has a path prefix and a port', async () => {
      const prefixed = await startTestService(engine, {
        env: { ROOMGATE_PUBLIC_URL: 'https://api.example.com:8443/telehealth' },
        database: service.database,
      });
      try {
        const { roomSid } = await prefixed.seedConsultation(tenantId);
        await prefixed.app.listen({ port: 0, host: '127.0.0.1' });
        const { port } = prefixed.app.server.address() as AddressInfo;
        const params = { ...roomEvent(service, roomSid), AccountSid: prefixed.accountSid };
        const signed = signForm(`https://api.example.com:8443/telehealth${PATH}`, prefixed.authToken, params);
        const response = await fetch(`http://127.0.0.1:${port}${PATH}`, { method: 'POST', headers: signed.headers, body: signed.body });
        expect(response.status).toBe(204);
        const wrongPrefix = signForm(`https://api.example.com:8443${PATH}`, prefixed.authToken, { ...params, SequenceNumber: '9' });
        expect(
          (await fetch(`http://127.0.0.1:${port}${PATH}`, { method: 'POST', headers: wrongPrefix.headers, body: wrongPrefix.body })).status,
        ).toBe(403);
      } finally {
        await prefixed.app.close();
        await prefixed.store.close();
      }
    });
  });
}
