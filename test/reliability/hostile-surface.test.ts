/**
 * The rest of the attack surface, on every engine, over real sockets where the transport matters:
 *
 * - forged callbacks with any media type (absent, text/plain, multipart, malformed, generated)
 *   get 403 — the signature decides before the media type — and only an oversized body is
 *   refused for its size (413); nothing is stored;
 * - the signed URL never comes from an untrusted client: with ROOMGATE_TRUST_PROXY, a direct
 *   caller's Host is not believed, and only the header family the proxy writes is;
 * - a JSON body of the wrong type (array, string, number, boolean, null) gets 422 on every JSON
 *   route, and creates nothing;
 * - an API key sent anywhere in a URL never reaches the log;
 * - two valid identities sharing a long prefix, and two participant SIDs sharing all but their
 *   last characters, are distinct rows of one consultation.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../support/engines.js';
import { rawExchange } from '../support/raw-exchange.js';
import { signForm } from '../support/signed-callback.js';
import { startFakeTwilio, type FakeTwilio } from '../support/spawn-service.js';
import { startTestService, type TestService } from '../support/test-service.js';

const WEBHOOK = '/webhooks/twilio/video';
const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const ALL_SCOPES = ['consultations:read', 'consultations:write', 'tokens:issue', 'privacy:erase', 'events:read', 'audit:read'];

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 60 });
/** Every media type a forger might send, or none at all. */
const contentTypeArb = fc.oneof(
  fc.constantFrom(
    undefined,
    '',
    'text/plain',
    'text/plain; charset=utf-8',
    'multipart/form-data; boundary=xyz',
    'multipart/form-data',
    'application/xml',
    'application/octet-stream',
    'application/jsonx',
    ';;;=',
    'a/b; c',
    '*/*',
    'application/x-www-form-urlencoded',
    'application/json',
    'APPLICATION/X-WWW-FORM-URLENCODED; charset=ISO-8859-1',
  ),
  printable.filter((text) => text.trim() === text && text.length > 0),
);

for (const engine of enginesUnderTest()) {
  describe(`hostile surface on ${engine.name}`, () => {
    let twilio: FakeTwilio;
    let service: TestService;
    let port: number;
    let tenantId: string;
    let key: string;

    beforeAll(async () => {
      twilio = await startFakeTwilio();
      service = await startTestService(engine, { env: { TWILIO_API_BASE_URL: twilio.url } });
      ({ tenantId, key } = await service.seedTenant('human', ALL_SCOPES));
      await service.app.listen({ port: 0, host: '127.0.0.1' });
      port = (service.app.server.address() as AddressInfo).port;
    });
    afterAll(async () => {
      await service?.close();
      await twilio?.close();
    });

    const countCallbacks = async () =>
      Number(
        (
          await service.store.db
            .selectFrom('callbacks')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );

    it('refuses every forged callback with 403 whatever its media type; only an oversized body gets 413', async () => {
      const { roomSid } = await service.seedConsultation(tenantId);
      const genuine = {
        AccountSid: service.accountSid,
        RoomSid: roomSid,
        RoomName: 'r',
        RoomStatus: 'in-progress',
        RoomType: 'group',
        StatusCallbackEvent: 'room-ended',
        Timestamp: new Date().toISOString(),
        SequenceNumber: '9',
      };
      const before = await countCallbacks();
      const bodyArb = fc.oneof(
        fc.constant(Buffer.from(new URLSearchParams(genuine).toString())),
        fc.constant(Buffer.from(JSON.stringify(genuine))),
        fc.constant(Buffer.from(`--xyz\r\ncontent-disposition: form-data; name="RoomSid"\r\n\r\n${roomSid}\r\n--xyz--\r\n`)),
        fc.constant(Buffer.alloc(0)),
        fc.uint8Array({ maxLength: 400 }).map((bytes) => Buffer.from(bytes)),
        fc.constant(Buffer.alloc(64 * 1024 + 1, 0x61)),
      );
      const signatureArb = fc.constantFrom(
        'junk',
        'bm90IGEgc2lnbmF0dXJl', // base64, wrong length
        Buffer.alloc(20, 7).toString('base64'), // the shape of a real one
        signForm(`https://elsewhere.example${WEBHOOK}`, service.authToken, genuine).headers['x-twilio-signature']!, // signed for another URL
        signForm(`http://127.0.0.1:${port}${WEBHOOK}`, 'another-token', genuine).headers['x-twilio-signature']!, // another account's token
      );
      await fc.assert(
        fc.asyncProperty(contentTypeArb, bodyArb, signatureArb, async (contentType, body, signature) => {
          const head = [
            `POST ${WEBHOOK} HTTP/1.1`,
            `host: 127.0.0.1:${port}`,
            ...(contentType === undefined ? [] : [`content-type: ${contentType}`]),
            `x-twilio-signature: ${signature}`,
            `content-length: ${body.length}`,
            'connection: close',
          ].join('\r\n');
          const exchange = await rawExchange(port, Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), body]), 5000);
          const label = `ct=${JSON.stringify(contentType)} len=${body.length} → ${exchange.answer.slice(0, 300)}`;
          const expected = body.length > 64 * 1024 ? 413 : 403;
          expect(exchange.status, label).toBe(expected);
          expect(exchange.answer, label).toMatch(new RegExp(`"code":"${expected === 403 ? 'WEBHOOK_REFUSED' : 'PAYLOAD_TOO_LARGE'}"`));
        }),
        { numRuns: 150, seed: Number(process.env.FUZZ_SEED ?? 20261203), endOnFailure: true },
      );
      expect(await countCallbacks()).toBe(before);
      // The same callback, genuinely signed, is stored: the refusals above were the signature's.
      const signed = signForm(`http://127.0.0.1:${port}${WEBHOOK}`, service.authToken, genuine);
      const accepted = await fetch(`http://127.0.0.1:${port}${WEBHOOK}`, { method: 'POST', headers: signed.headers, body: signed.body });
      expect(accepted.status).toBe(204);
    }, 120_000);

    it('never takes the signed URL from an untrusted client: direct callers, and the header family the proxy does not write', async () => {
      const { roomSid } = await service.seedConsultation(tenantId);
      const event = (sequence: string) => ({
        AccountSid: service.accountSid,
        RoomSid: roomSid,
        RoomName: 'r',
        RoomStatus: 'in-progress',
        RoomType: 'group',
        StatusCallbackEvent: 'room-created',
        Timestamp: new Date().toISOString(),
        SequenceNumber: sequence,
      });
      const post = (url: string, params: Record<string, string>, headers: Record<string, string>, remoteAddress?: string) => {
        const signed = signForm(url, service.authToken, params);
        return service.app.inject({
          method: 'POST',
          url: WEBHOOK,
          headers: { ...signed.headers, ...headers },
          payload: signed.body,
          ...(remoteAddress ? { remoteAddress } : {}),
        });
      };
      // Behind a proxy that writes X-Forwarded-* (the default family), a Forwarded header the
      // client wrote passes through the proxy untouched: it must not choose the host.
      const proxied = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com', forwarded: 'proto=https;host=evil.example' };
      expect((await post(`https://evil.example${WEBHOOK}`, event('1'), proxied)).statusCode).toBe(403);
      expect((await post(`https://api.example.com${WEBHOOK}`, event('2'), proxied)).statusCode).toBe(204);
      // A caller that is not the trusted proxy: its own Host header is never the signed URL.
      expect((await post(`http://localhost:80${WEBHOOK}`, event('3'), {}, '192.0.2.7')).statusCode).toBe(403);

      // An instance whose proxy writes Forwarded: then the client's X-Forwarded-* are ignored.
      const forwardedProxy = await startTestService(engine, {
        database: service.database,
        env: {
          TWILIO_ACCOUNT_SID: service.accountSid,
          TWILIO_AUTH_TOKEN: service.authToken,
          ROOMGATE_TRUST_PROXY_HEADERS: 'forwarded',
        },
      });
      try {
        const headers = { forwarded: 'proto=https;host=api.example.com', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };
        const send = (url: string, sequence: string) => {
          const signed = signForm(url, service.authToken, event(sequence));
          return forwardedProxy.app.inject({
            method: 'POST',
            url: WEBHOOK,
            headers: { ...signed.headers, ...headers },
            payload: signed.body,
          });
        };
        expect((await send(`https://evil.example${WEBHOOK}`, '4')).statusCode).toBe(403);
        expect((await send(`https://api.example.com${WEBHOOK}`, '5')).statusCode).toBe(204);
      } finally {
        await forwardedProxy.app.close();
        await forwardedProxy.store.close();
      }
    });

    it('refuses a JSON body of the wrong type with 422 on every JSON route, and creates nothing', async () => {
      const { id } = await service.seedConsultation(tenantId);
      const routes = [
        { method: 'POST', url: '/v1/consultations' },
        { method: 'POST', url: `/v1/consultations/${id}/access-tokens` },
        { method: 'POST', url: `/v1/consultations/${id}/end` },
        { method: 'DELETE', url: '/v1/subjects/clin-never-issued' },
      ] as const;
      const countConsultations = async () =>
        Number(
          (
            await service.store.db
              .selectFrom('consultations')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
      const before = await countConsultations();
      const notAnObject = fc.oneof(
        fc.array(fc.jsonValue(), { maxLength: 4 }),
        fc.string({ maxLength: 20 }),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.constant([{ record: true }]),
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...routes), notAnObject, async (route, value) => {
          const response = await fetch(`http://127.0.0.1:${port}${route.url}`, {
            method: route.method,
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify(value),
          });
          const text = await response.text();
          expect(response.status, `${route.method} ${route.url} ${JSON.stringify(value)} → ${text}`).toBe(422);
          expect(JSON.parse(text)).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
        }),
        { numRuns: 60, seed: Number(process.env.FUZZ_SEED ?? 20261204), endOnFailure: true },
      );
      expect(await countConsultations()).toBe(before);
      expect(twilio.requests.filter((request) => request.path === '/v1/Rooms')).toEqual([]);
    });

    it('never writes an API key to the log, wherever in the URL it was sent', async () => {
      await service.app.roomgate.drain();
      const secretPart = key.slice('rgk_'.length);
      const requests = [
        `/v1/consultations?key=${key}`,
        `/v1/consultations?api_key=${encodeURIComponent(key)}&limit=1`,
        `/v1/events?key=${key}`,
        `/v1/audit-log?token=${key.replace('_', '%5F')}`,
        `/v1/consultations/${key}`,
        `/v1/${key.replace('_', '%5F')}/x`,
        `${WEBHOOK}?key=${key}`,
        `/healthz?key=${key}`,
        `/nowhere/${key}?again=${key}`,
      ];
      for (const url of requests) {
        const response = await fetch(`http://127.0.0.1:${port}${url}`, {
          headers: url.startsWith('/v1/consultations?api_key') ? { authorization: `Bearer ${key}` } : {},
        });
        await response.body?.cancel();
      }
      // Also through an upgrade, which Fastify never sees.
      await rawExchange(
        port,
        `GET /v1/events/ws?key=${key} HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n`,
        3000,
      );
      await service.app.roomgate.drain();
      const logs = service.logs();
      // Request logging is on — each request's one line, its URL without the query string — so the
      // checks below mean something.
      const requestLines = logs
        .split('\n')
        .filter((line) => line.includes('"msg":"request completed"'))
        .map((line) => (JSON.parse(line) as { req: { url: string } }).req.url);
      expect(requestLines).toEqual(
        expect.arrayContaining(['/v1/consultations?[redacted]', '/v1/events?[redacted]', `${WEBHOOK}?[redacted]`]),
      );
      expect(logs).not.toContain(secretPart);
      expect(logs).not.toContain(secretPart.slice(0, 20));
    });

    it('keeps two identities sharing a long prefix, and two participant SIDs sharing all but their end, apart', async () => {
      const { id, roomSid } = await service.seedConsultation(tenantId);
      const prefix = `pt-${'a1b2c3d4e5'.repeat(5)}`; // 53 characters in common
      const identities = [`${prefix}-first`, `${prefix}-second`];
      for (const [index, identity] of identities.entries()) {
        const response = await fetch(`http://127.0.0.1:${port}/v1/consultations/${id}/access-tokens`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ identity, role: index === 0 ? 'clinician' : 'patient' }),
        });
        expect(response.status, await response.text()).toBe(201);
      }
      const participants = await service.store.db.selectFrom('participants').select('identity').where('consultation_id', '=', id).execute();
      expect(participants.map((row) => row.identity).sort()).toEqual([...identities].sort());

      // Participant SIDs that differ only in their last characters (rows were keyed by a
      // 64-character cut of the consultation id and the SID).
      const common = hex(14); // a SID is PA + 32 hex digits
      const sids = [`PA${common}aa01`, `PA${common}bb02`];
      for (const [index, identity] of identities.entries()) {
        const signed = signForm(`http://127.0.0.1:${port}${WEBHOOK}`, service.authToken, {
          AccountSid: service.accountSid,
          RoomSid: roomSid,
          RoomName: 'r',
          RoomStatus: 'in-progress',
          RoomType: 'group',
          StatusCallbackEvent: 'participant-connected',
          ParticipantSid: sids[index]!,
          ParticipantIdentity: identity,
          ParticipantStatus: 'connected',
          Timestamp: new Date().toISOString(),
          SequenceNumber: String(index + 1),
        });
        const response = await fetch(`http://127.0.0.1:${port}${WEBHOOK}`, { method: 'POST', headers: signed.headers, body: signed.body });
        expect(response.status).toBe(204);
      }
      await service.app.roomgate.drain();
      const sessions = await service.store.db
        .selectFrom('participant_sessions')
        .select(['participant_sid', 'identity'])
        .where('consultation_id', '=', id)
        .execute();
      expect(sessions.map((row) => row.participant_sid).sort()).toEqual([...sids].sort());
    });
  });
}
