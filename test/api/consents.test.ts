/**
 * The consent ledger's API on every engine (inject, no Twilio room needed): append-only entries in
 * order, each identity's current decision in the ledger and the consultation, the event log, an
 * outbox entry for the Recording Rules only when the tenant's recording follows consent, and the
 * refusals — scope, another tenant's consultation, a bad identity or body, an Idempotency-Key replay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../support/engines.js';
import { randomHex, startTestService, type TestService } from '../support/test-service.js';

const SCOPES = ['consultations:read', 'consents:write', 'events:read'];

for (const engine of enginesUnderTest()) {
  describe(`consent ledger API on ${engine.name}`, () => {
    let service: TestService;
    let key: string;
    let offKey: string;
    let otherKey: string;
    let id: string;
    let offId: string;

    beforeAll(async () => {
      service = await startTestService(engine);
      const managed = await service.seedTenant('human', SCOPES, {}, { consentMode: 'all-parties' });
      key = managed.key;
      id = (await service.seedConsultation(managed.tenantId, { record: true })).id;
      const off = await service.seedTenant('veterinary', SCOPES);
      offKey = off.key;
      offId = (await service.seedConsultation(off.tenantId, { record: true })).id;
      otherKey = (await service.seedTenant('human', SCOPES)).key;
    });
    afterAll(async () => {
      await service?.close();
    });

    const call = (method: 'GET' | 'POST', url: string, payload?: unknown, apiKey = key, headers: Record<string, string> = {}) =>
      service.app.inject({
        method,
        url,
        headers: {
          authorization: `Bearer ${apiKey}`,
          accept: 'application/json',
          ...headers,
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
      });
    const body = (identity: string, decision: 'given' | 'withdrawn', extra: Record<string, unknown> = {}) => ({
      identity,
      kind: 'recording',
      decision,
      textVersion: 'rec-2026-03',
      ...extra,
    });
    const outboxKeys = async (consultationId: string) =>
      (await service.store.db.selectFrom('outbox').select(['dedupe_key', 'kind']).execute()).filter((row) =>
        row.dedupe_key.includes(consultationId),
      );

    it('appends decisions in order and shows each identity’s current one', async () => {
      const pt = `pt-${randomHex(4)}`;
      const clin = `clin-${randomHex(4)}`;
      const first = await call('POST', `/v1/consultations/${id}/consents`, body(pt, 'given', { recordedBy: clin }));
      expect(first.statusCode, first.body).toBe(201);
      expect(first.headers.location).toBe(`/v1/consultations/${id}/consents`);
      expect(first.json()).toEqual({
        id: expect.stringMatching(/^cns_/),
        position: 1,
        identity: pt,
        kind: 'recording',
        decision: 'given',
        textVersion: 'rec-2026-03',
        recordedBy: clin,
        recordedAt: expect.any(String),
      });
      expect((await call('POST', `/v1/consultations/${id}/consents`, body(pt, 'given', { kind: 'transcription' }))).statusCode).toBe(201);
      expect((await call('POST', `/v1/consultations/${id}/consents`, body(pt, 'withdrawn'))).statusCode).toBe(201);
      expect((await call('POST', `/v1/consultations/${id}/consents`, body(clin, 'given'))).statusCode).toBe(201);

      const ledger = (await call('GET', `/v1/consultations/${id}/consents`)).json();
      expect(ledger.consentMode).toBe('all-parties');
      expect(ledger.data.map((e: { position: number; kind: string; decision: string }) => [e.position, e.kind, e.decision])).toEqual([
        [1, 'recording', 'given'],
        [2, 'transcription', 'given'],
        [3, 'recording', 'withdrawn'],
        [4, 'recording', 'given'],
      ]);
      const current = ledger.current.map(
        (c: { identity: string; kind: string; decision: string }) => `${c.identity} ${c.kind} ${c.decision}`,
      );
      expect(current.sort()).toEqual([`${clin} recording given`, `${pt} recording withdrawn`, `${pt} transcription given`].sort());
      const view = (await call('GET', `/v1/consultations/${id}`)).json();
      expect(view.consents).toEqual(ledger.current);

      // The event log names each decision; the Recording Rules are queued for recording decisions only.
      const events = (await call('GET', '/v1/events?limit=500')).json().data as { type: string; consultationId: string; data: any }[];
      expect(events.filter((e) => e.consultationId === id).map((e) => `${e.type} ${e.data.kind} ${e.data.position}`)).toEqual([
        'consent.given recording 1',
        'consent.given transcription 2',
        'consent.withdrawn recording 3',
        'consent.given recording 4',
      ]);
      expect((await outboxKeys(id)).map((row) => `${row.kind} ${row.dedupe_key}`).sort()).toEqual(
        [1, 3, 4].map((n) => `apply-recording-rules recording-rules:${id}:consent-${n}`).sort(),
      );
    });

    it('queues no Recording Rules when the tenant’s consent mode is off (the ledger is kept all the same)', async () => {
      const answer = await call('POST', `/v1/consultations/${offId}/consents`, body(`owner-${randomHex(3)}`, 'given'), offKey);
      expect(answer.statusCode).toBe(201);
      expect(await outboxKeys(offId)).toEqual([]);
      expect((await call('GET', `/v1/consultations/${offId}/consents`, undefined, offKey)).json().consentMode).toBe('off');
    });

    it('replays an Idempotency-Key instead of appending twice', async () => {
      const identity = `pt-${randomHex(4)}`;
      const headers = { 'idempotency-key': `consent-${randomHex(6)}` };
      const once = await call('POST', `/v1/consultations/${id}/consents`, body(identity, 'given'), key, headers);
      const twice = await call('POST', `/v1/consultations/${id}/consents`, body(identity, 'given'), key, headers);
      expect(twice.statusCode).toBe(201);
      expect(twice.json()).toEqual(once.json());
      const ledger = (await call('GET', `/v1/consultations/${id}/consents`)).json();
      expect(ledger.data.filter((e: { identity: string }) => e.identity === identity)).toHaveLength(1);
    });

    it('refuses what it must', async () => {
      const url = `/v1/consultations/${id}/consents`;
      const readOnly = (await service.seedKey((await service.seedTenant('human', [])).tenantId, ['consultations:read'])).key;
      expect((await call('POST', url, body('pt-1', 'given'), readOnly)).statusCode).toBe(403);
      // Another tenant: not found, reading or writing.
      expect((await call('POST', url, body('pt-1', 'given'), otherKey)).statusCode).toBe(404);
      expect((await call('GET', url, undefined, otherKey)).statusCode).toBe(404);
      expect((await call('POST', `/v1/consultations/con_missing/consents`, body('pt-1', 'given'))).statusCode).toBe(404);
      const identity = await call('POST', url, body('someone@example.com', 'given'));
      expect(identity.statusCode).toBe(422);
      expect(identity.json().error.code).toBe('IDENTITY_REJECTED');
      for (const bad of [
        { ...body('pt-1', 'given'), kind: 'filming' },
        { ...body('pt-1', 'given'), decision: 'maybe' },
        { ...body('pt-1', 'given'), textVersion: 'version one' },
        { ...body('pt-1', 'given'), recordedBy: 'Dr. Jane Smith' },
        { identity: 'pt-1', kind: 'recording', decision: 'given' },
        { ...body('pt-1', 'given'), at: '2026-01-01T00:00:00Z' },
      ]) {
        const answer = await call('POST', url, bad);
        expect(answer.statusCode, JSON.stringify(bad)).toBe(422);
        expect(answer.json().error.code).toBe('VALIDATION_FAILED');
      }
    });
  });
}
