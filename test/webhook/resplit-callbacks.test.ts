/**
 * Re-split callbacks through real sockets, on every engine. Twilio's string-to-sign does not sign
 * the boundaries between names and values, so a captured genuine body re-sent with one boundary
 * moved (`ParticipantIdentity=x1` → `ParticipantIdentityx1=`) carries a VALID signature — these
 * tests never re-sign it. Every such copy must be quarantined (or, when it damaged AccountSid,
 * refused with 403), never applied, never keyed as the event it claims to be: sent BEFORE the
 * genuine callbacks, the consultation's record must still be exactly what the genuine callbacks
 * alone give (the issue: a copy sent first turned a billed consultation into a no-show).
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTwilioVerifier } from '../../src/core/signature/verifier.js';
import { consultationScript } from '../../src/simulate/scenario-events.js';
import { enginesUnderTest } from '../support/engines.js';
import { resplits, type Param, type Resplit } from '../support/resplit.js';
import { signFormList } from '../support/signed-callback.js';
import { startTestService, type TestService } from '../support/test-service.js';
import { inParallel, listen, recordOf, type Listening } from '../support/webhook-http.js';

interface Consultation {
  readonly id: string;
  readonly genuine: Param[][];
}

for (const engine of enginesUnderTest()) {
  describe(`re-split callbacks on ${engine.name}`, () => {
    let service: TestService;
    let http: Listening;
    let tenantId: string;

    beforeAll(async () => {
      service = await startTestService(engine);
      http = await listen(service);
      ({ tenantId } = await service.seedTenant());
    });
    afterAll(async () => {
      await service?.app.roomgate.drain();
      await service?.close();
    });

    /** A consultation with its genuine script: two made with the same `end` give the same times and people. */
    const consultation = async (end: Date): Promise<Consultation> => {
      const clinician = `clin-${end.getTime()}`;
      const recipient = `pt-${end.getTime()}`;
      const seeded = await service.seedConsultation(tenantId, { identities: { [clinician]: 'clinician', [recipient]: 'patient' } });
      const script = consultationScript({
        accountSid: service.accountSid,
        roomSid: seeded.roomSid,
        roomName: seeded.roomName,
        clinician,
        recipient,
        end,
      });
      const roomEnded: Param[] = [
        ['AccountSid', service.accountSid],
        ['RoomName', seeded.roomName],
        ['RoomSid', seeded.roomSid],
        ['RoomStatus', 'completed'],
        ['RoomType', 'group'],
        ['StatusCallbackEvent', 'room-ended'],
        ['Timestamp', end.toISOString()],
        ['SequenceNumber', String(script.length)],
        ['RoomDuration', '720'],
      ];
      return { id: seeded.id, genuine: [...script.map((event) => event.params as Param[]), roomEnded] };
    };

    /** The record the genuine callbacks alone give: the same script on a consultation of its own. */
    const control = async (end: Date) => {
      const { id, genuine } = await consultation(end);
      await sendAll(genuine.map((params) => signFormList(http.webhookUrl, service.authToken, params)));
      await service.app.roomgate.drain();
      return recordOf(service, id);
    };

    const sendAll = async (requests: { body: string; headers: Record<string, string> }[]) => {
      const statuses = await inParallel(requests, 16, (request) => http.post(request));
      expect(statuses).toEqual(requests.map(() => 204));
    };

    /** Sends re-split copies (the genuine signature, the moved body) and checks each was kept aside. */
    const sendResplits = async (copies: { copy: Resplit; signature: string }[]) => {
      const verifier = createTwilioVerifier({ secrets: [{ id: 'token', algorithm: 'sha1', secret: service.authToken }] });
      await inParallel(copies, 16, async ({ copy, signature }) => {
        const body = new URLSearchParams(copy.params as [string, string][]).toString();
        const headers = { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature };
        // Not re-signed: the genuine signature still verifies over the moved body.
        const verdict = verifier.verify({ url: http.webhookUrl, signature, contentType: headers['content-type'], body: Buffer.from(body) });
        expect(verdict.ok, copy.label).toBe(true);
        const status = await http.post({ body, headers });
        const accountIntact = copy.params.some(([name, value]) => name === 'AccountSid' && value === service.accountSid);
        if (!accountIntact) {
          // No AccountSid (or another one): refused before storage.
          expect(status, copy.label).toBe(403);
          return;
        }
        expect(status, copy.label).toBe(204);
        // Stored once, quarantined, keyed by its body — never by the event it claims to be.
        const key = `q${createHash('sha256').update(body).digest('hex').slice(0, 63)}`;
        const rows = await service.store.db
          .selectFrom('callbacks')
          .select(['status', 'dedupe_key'])
          .where('dedupe_key', '=', key)
          .execute();
        expect(rows, copy.label).toEqual([{ status: 'quarantined', dedupe_key: key }]);
      });
    };

    it('quarantines every boundary moved in a participant-connected, sent before the genuine callbacks', async () => {
      const end = new Date();
      const expected = await control(end);
      const attacked = await consultation(end);
      // The care recipient's participant-connected (the example): every boundary, every offset.
      const target = attacked.genuine.find((params) =>
        params.some(([name, value]) => name === 'ParticipantStatus' && value === 'connected'),
      )!;
      const signature = signFormList(http.webhookUrl, service.authToken, target).headers['x-twilio-signature']!;
      const copies = resplits(target);
      expect(copies.length).toBeGreaterThan(200);
      await sendResplits(copies.map((copy) => ({ copy, signature })));
      await sendAll(attacked.genuine.map((params) => signFormList(http.webhookUrl, service.authToken, params)));
      await service.app.roomgate.drain();
      const record = await recordOf(service, attacked.id);
      expect(record).toEqual(expected);
      expect(record).toMatchObject({ consultation: { status: 'completed' }, billing: [{ billable_seconds: expect.any(Number) }] });
    });

    it('quarantines copies of any callback of a consultation, in any number, whatever their order (fast-check)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 6 }),
          fc.boolean(),
          async (picks, copiesFirst) => {
            const end = new Date();
            const expected = await control(end);
            const attacked = await consultation(end);
            const copies = picks.map(([event, offset]) => {
              const params = attacked.genuine[event % attacked.genuine.length]!;
              const all = resplits(params);
              return {
                copy: all[offset % all.length]!,
                signature: signFormList(http.webhookUrl, service.authToken, params).headers['x-twilio-signature']!,
              };
            });
            const genuine = attacked.genuine.map((params) => signFormList(http.webhookUrl, service.authToken, params));
            if (copiesFirst) {
              await sendResplits(copies);
              await sendAll(genuine);
            } else {
              await Promise.all([sendResplits(copies), sendAll(genuine)]);
            }
            await service.app.roomgate.drain();
            expect(await recordOf(service, attacked.id)).toEqual(expected);
          },
        ),
        { numRuns: engine.name === 'sqlite' ? 12 : 8, seed: Number(process.env.FUZZ_SEED ?? 20260712), endOnFailure: true },
      );
    });
  });
}
