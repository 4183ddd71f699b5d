/**
 * GET /metrics (the metrics listener's app) after known webhook traffic (signed by the official twilio package): exact
 * counts of refusals by reason and of verifications by which secret matched — the counter an
 * operator watches during a token rotation — and no secret anywhere in the output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { randomHex, startTestService, type TestService } from '../support/test-service.js';

const PATH = '/webhooks/twilio/video';
const INJECT_URL = `http://localhost:80${PATH}`;

/** The value of one sample, or 0 when the series does not exist. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .join(',');
  const line = text.split('\n').find((entry) => entry.startsWith(`${name}{${wanted}} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

function series(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`));
}

for (const engine of enginesUnderTest()) {
  describe(`GET /metrics after known webhook traffic on ${engine.name}`, () => {
    let service: TestService;
    const previousToken = randomHex(16);
    let roomSid: string;
    let sequence = 0;

    const event = (overrides: Record<string, string> = {}): Record<string, string> => ({
      AccountSid: service.accountSid,
      RoomName: 'rg-room',
      RoomSid: roomSid,
      RoomStatus: 'in-progress',
      RoomType: 'group',
      StatusCallbackEvent: 'room-created',
      Timestamp: new Date().toISOString(),
      SequenceNumber: String(sequence++),
      ...overrides,
    });
    const post = async (headers: Record<string, string>, body: string) =>
      (await service.app.inject({ method: 'POST', url: PATH, headers, payload: body })).statusCode;
    const signed = (token: string, params: Record<string, string>) => {
      const request = signForm(INJECT_URL, token, params);
      return post(request.headers, request.body);
    };

    beforeAll(async () => {
      service = await startTestService(engine, { env: { TWILIO_AUTH_TOKEN_PREVIOUS: previousToken } });
      const { tenantId } = await service.seedTenant();
      ({ roomSid } = await service.seedConsultation(tenantId));
    });
    afterAll(async () => {
      await service?.close();
    });

    it('counts refusals by reason and verifications by secret, exactly', async () => {
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const statuses: number[] = [];
      // Accepted: three with the current token, two with the previous one (a rotation draining).
      const first = event();
      statuses.push(await signed(service.authToken, first));
      statuses.push(await signed(service.authToken, event()));
      statuses.push(await signed(service.authToken, event()));
      statuses.push(await signed(previousToken, event()));
      statuses.push(await signed(previousToken, event()));
      // A retry of the first: verified again, stored once.
      statuses.push(await signed(service.authToken, first));
      expect(statuses).toEqual([204, 204, 204, 204, 204, 204]);

      const refused: number[] = [];
      const body = new URLSearchParams(event()).toString();
      refused.push(await post(form, body)); // missing-signature
      refused.push(await post(form, body)); // missing-signature
      refused.push(await post({ ...form, 'x-twilio-signature': 'not-a-signature' }, body)); // malformed-signature
      refused.push(await signed(randomHex(16), event())); // signature-mismatch: another token
      const tampered = signForm(INJECT_URL, service.authToken, event());
      refused.push(await post(tampered.headers, tampered.body.replace('room-created', 'room-ended'))); // signature-mismatch
      refused.push(await signed(service.authToken, event({ AccountSid: `AC${randomHex(16)}` }))); // unknown-account
      // Signed correctly, so the verification counts, then refused as too old (past the late window) or from the future.
      refused.push(await signed(service.authToken, event({ Timestamp: new Date(Date.now() - 25 * 3_600_000).toISOString() })));
      refused.push(await signed(service.authToken, event({ Timestamp: new Date(Date.now() + 6 * 60_000).toISOString() })));
      expect(refused.every((status) => status === 403)).toBe(true);

      // Not on the public port: the series carry AccountSids. The metrics listener serves them.
      expect((await service.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
      const text = await service.metricsText();

      const refusals = 'roomgate_webhook_refusals_total';
      expect(sample(text, refusals, { reason: 'missing-signature' })).toBe(2);
      expect(sample(text, refusals, { reason: 'malformed-signature' })).toBe(1);
      expect(sample(text, refusals, { reason: 'signature-mismatch' })).toBe(2);
      expect(sample(text, refusals, { reason: 'unknown-account' })).toBe(1);
      expect(sample(text, refusals, { reason: 'replay-too-old' })).toBe(1);
      expect(sample(text, refusals, { reason: 'timestamp-in-future' })).toBe(1);
      expect(series(text, refusals)).toHaveLength(6);

      const verifications = 'roomgate_signature_verifications_total';
      expect(sample(text, verifications, { secret: `${service.accountSid}/primary` })).toBe(6);
      expect(sample(text, verifications, { secret: `${service.accountSid}/previous` })).toBe(2);
      expect(series(text, verifications)).toHaveLength(2);

      const callbacks = 'roomgate_callbacks_total';
      expect(sample(text, callbacks, { event: 'room-created', outcome: 'stored' })).toBe(5);
      expect(sample(text, callbacks, { event: 'room-created', outcome: 'duplicate' })).toBe(1);

      // Labels name secrets, never carry them.
      for (const secret of [service.authToken, previousToken, service.config.apiKey!.secret]) expect(text).not.toContain(secret);
    });
  });
}
