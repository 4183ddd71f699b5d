/**
 * Billing evidence and the tamper-evident billing chain, through the sandbox Twilio on every
 * engine: a patient on audio and video drops, rejoins on audio only; the billing record's
 * evidence names the sessions, the segments with their modality, the gap and the rejoin, the
 * rounding and the suggested CPT code, and its place in the tenant's chain. Then someone edits
 * the database directly — a billing record, then a chain entry — and `roomgate billing verify`
 * names the row, exit 1; put back, exit 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { GENESIS_HASH } from '../../src/core/billing/billing-chain.js';
import { verifyTenantBillingChain } from '../../src/service/billing/billing-chain-verify.js';
import { createTenant } from '../../src/service/tenants/tenant-admin.js';
import { upsertBillingRecord } from '../../src/storage/billing-repository.js';
import { enginesUnderTest } from '../support/engines.js';
import { checkAnswersAgainstDocument } from '../support/openapi-inject.js';
import { randomHex } from '../support/test-service.js';
import { startSandboxHarness, type SandboxHarness } from '../support/sandbox-harness.js';

const MINUTE = 60_000;

for (const engine of enginesUnderTest()) {
  describe(`billing evidence and billing verify on ${engine.name}`, () => {
    let h: SandboxHarness;
    let key: string;
    let tenantId: string;
    const slug = `clinic-${randomHex(3)}`;

    beforeAll(async () => {
      h = await startSandboxHarness(engine);
      checkAnswersAgainstDocument(h.service.app);
      tenantId = await createTenant(h.service.store, { slug, name: 'Evidence clinic', kind: 'human', billingCodeSet: 'us-cpt-2025' });
      ({ key } = await h.service.seedKey(tenantId, ['consultations:read', 'consultations:write', 'tokens:issue', 'billing:read']));
    });
    afterAll(async () => {
      await h?.close();
    });

    const inject = async (url: string, withKey = key) => {
      const response = await h.service.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${withKey}` } });
      return { status: response.statusCode, json: response.json() as Record<string, any> };
    };
    const at = (ms: number) => new Date(ms).toISOString();

    let billingId: string;
    let firstHash: string;
    let secondBilling: string;
    let secondConsultation: string;

    it('serves how the billing record was measured, with the suggested code and its chain position', async () => {
      const api = h.api(key);
      const created = await api('POST', '/v1/consultations', { record: false, patientStatus: 'established' });
      expect(created.status).toBe(201);
      expect(created.json.patientStatus).toBe('established');
      const { id, roomName, roomSid } = created.json as { id: string; roomName: string; roomSid: string };
      for (const [identity, role] of [
        ['clin-1', 'clinician'],
        ['pt-1', 'patient'],
      ])
        expect((await api('POST', `/v1/consultations/${id}/access-tokens`, { identity, role })).status).toBe(201);

      const t0 = h.now();
      // Each step's callbacks delivered before the clock moves on (else they arrive late).
      const clinician = h.sandbox.connectParticipant({ room: roomName, identity: 'clin-1', tracks: ['audio'] });
      await h.settle();
      h.advance(MINUTE);
      const first = h.sandbox.connectParticipant({ room: roomName, identity: 'pt-1', tracks: ['audio', 'video'] });
      await h.settle();
      h.advance(4 * MINUTE);
      h.sandbox.disconnect(roomName, first);
      await h.settle();
      h.advance(MINUTE);
      const second = h.sandbox.connectParticipant({ room: roomName, identity: 'pt-1', tracks: ['audio'] });
      await h.settle();
      h.advance(10 * MINUTE);
      expect((await api('POST', `/v1/consultations/${id}/end`)).status).toBe(200);
      await h.settle();

      const list = await inject('/v1/billing-records');
      const record = list.json.data.find((r: { consultationId: string }) => r.consultationId === id);
      expect(record).toMatchObject({
        billableSeconds: 840,
        roundedSeconds: 840,
        version: 1,
        suggestedCode: { codeSet: 'us-cpt-2025', code: '98004', modifier: null, units: 1 },
      });
      billingId = record.id;

      const answer = await inject(`/v1/billing-records/${billingId}/evidence`);
      expect(answer.status).toBe(200);
      const { evidence, chain, participants } = answer.json;
      expect(evidence.sessions).toEqual([
        { participantSid: clinician, role: 'clinician', roomSid, from: at(t0), to: at(t0 + 16 * MINUTE) },
        { participantSid: first, role: 'care-recipient', roomSid, from: at(t0 + MINUTE), to: at(t0 + 5 * MINUTE) },
        { participantSid: second, role: 'care-recipient', roomSid, from: at(t0 + 6 * MINUTE), to: at(t0 + 16 * MINUTE) },
      ]);
      expect(evidence.segments).toEqual([
        {
          from: at(t0 + MINUTE),
          to: at(t0 + 5 * MINUTE),
          durationMs: 4 * MINUTE,
          clinicians: [clinician],
          careRecipients: [first],
          modality: 'audio-video',
        },
        {
          from: at(t0 + 6 * MINUTE),
          to: at(t0 + 16 * MINUTE),
          durationMs: 10 * MINUTE,
          clinicians: [clinician],
          careRecipients: [second],
          modality: 'audio-only',
        },
      ]);
      expect(evidence.gaps).toEqual([{ from: at(t0 + 5 * MINUTE), to: at(t0 + 6 * MINUTE), durationMs: MINUTE }]);
      expect(evidence.rejoins).toEqual([
        {
          role: 'care-recipient',
          leftSession: first,
          rejoinedSession: second,
          leftAt: at(t0 + 5 * MINUTE),
          rejoinedAt: at(t0 + 6 * MINUTE),
        },
      ]);
      expect(evidence.modality).toMatchObject({ kind: 'audio-video', videoMs: 4 * MINUTE, audioOnlyMs: 10 * MINUTE });
      expect(evidence.measurement).toMatchObject({ billableSeconds: 840, roundedSeconds: 840, roundingSeconds: 60 });
      expect(evidence.suggestion).toMatchObject({ codeSet: 'us-cpt-2025', code: '98004', modifier: null, patientStatus: 'established' });
      expect(participants.map((p: { identity: string }) => p.identity).sort()).toEqual(['clin-1', 'pt-1', 'pt-1']);
      expect(chain).toMatchObject({ sequence: 1, previousHash: GENESIS_HASH, headSequence: 1, entryIntact: true });
      expect(chain.hash).toMatch(/^[0-9a-f]{64}$/);
      firstHash = chain.hash;
    });

    it('suggests each code set’s code on the threshold boundaries, measured through the sandbox', async () => {
      const tenant = async (
        codeSet: 'us-cpt-2025' | 'us-medicare' | 'flat',
        extra: { billingRoundingSeconds?: number; billingFlatMode?: 'block' } = {},
      ) => {
        const id = await createTenant(h.service.store, {
          slug: `${codeSet}-${randomHex(3)}`,
          name: codeSet,
          kind: codeSet === 'flat' ? 'veterinary' : 'human',
          billingCodeSet: codeSet,
          ...extra,
        });
        return (await h.service.seedKey(id, ['consultations:write', 'tokens:issue', 'billing:read'])).key;
      };
      // The clinician waits a minute; the care recipient stays exactly `seconds`; then the room ends.
      const play = async (
        tenantKey: string,
        input: { patientStatus?: 'new' | 'established'; video: boolean; seconds: number; vet?: boolean },
      ) => {
        const api = h.api(tenantKey);
        const created = await api('POST', '/v1/consultations', {
          record: false,
          ...(input.patientStatus ? { patientStatus: input.patientStatus } : {}),
        });
        expect(created.status, JSON.stringify(created.json)).toBe(201);
        const { id, roomName } = created.json as { id: string; roomName: string };
        const recipient = input.vet ? 'pet-owner' : 'patient';
        for (const [identity, role] of [
          ['clin-9', 'clinician'],
          ['rcp-9', recipient],
        ])
          expect((await api('POST', `/v1/consultations/${id}/access-tokens`, { identity, role })).status).toBe(201);
        const tracks = input.video ? (['audio', 'video'] as const) : (['audio'] as const);
        h.sandbox.connectParticipant({ room: roomName, identity: 'clin-9', tracks });
        await h.settle();
        h.advance(MINUTE);
        const visitor = h.sandbox.connectParticipant({ room: roomName, identity: 'rcp-9', tracks });
        await h.settle();
        h.advance(input.seconds * 1000);
        h.sandbox.disconnect(roomName, visitor);
        await h.settle();
        expect((await api('POST', `/v1/consultations/${id}/end`)).status).toBe(200);
        await h.settle();
        const records = await inject('/v1/billing-records?limit=500', tenantKey);
        const record = records.json.data.find((r: { consultationId: string }) => r.consultationId === id);
        const answer = await inject(`/v1/billing-records/${record.id}/evidence`, tenantKey);
        expect(answer.json.evidence.measurement.billableSeconds).toBe(input.seconds);
        const { code, modifier, units, reason } = answer.json.evidence.suggestion;
        return { code, modifier, units, reason, modality: answer.json.evidence.modality.kind };
      };

      const cpt = await tenant('us-cpt-2025');
      expect(await play(cpt, { patientStatus: 'established', video: true, seconds: 4 * 60 + 59 })).toMatchObject({
        code: null,
        reason: 'under-minimum',
      });
      expect(await play(cpt, { patientStatus: 'established', video: true, seconds: 5 * 60 })).toMatchObject({ code: '98016' });
      expect(await play(cpt, { patientStatus: 'established', video: true, seconds: 9 * 60 + 59 })).toMatchObject({ code: '98016' });
      expect(await play(cpt, { patientStatus: 'established', video: true, seconds: 10 * 60 })).toMatchObject({
        code: '98004',
        modality: 'audio-video',
      });
      expect(await play(cpt, { patientStatus: 'new', video: false, seconds: 14 * 60 + 59 })).toMatchObject({
        code: null,
        reason: 'under-minimum',
      });
      expect(await play(cpt, { patientStatus: 'new', video: false, seconds: 15 * 60 })).toMatchObject({
        code: '98008',
        modality: 'audio-only',
      });
      expect(await play(cpt, { video: true, seconds: 15 * 60 })).toMatchObject({ code: null, reason: 'patient-status-unknown' });

      const medicare = await tenant('us-medicare');
      expect(await play(medicare, { patientStatus: 'new', video: false, seconds: 15 * 60 })).toMatchObject({
        code: '99202',
        modifier: '93',
      });
      expect(await play(medicare, { patientStatus: 'established', video: true, seconds: 20 * 60 })).toMatchObject({
        code: '99213',
        modifier: '95',
      });

      const flat = await tenant('flat', { billingRoundingSeconds: 900, billingFlatMode: 'block' });
      expect(await play(flat, { video: true, seconds: 15 * 60, vet: true })).toMatchObject({ code: 'flat-block', units: 1 });
      expect(await play(flat, { video: true, seconds: 15 * 60 + 1, vet: true })).toMatchObject({ code: 'flat-block', units: 2 });
    });

    it('an erasure leaves the evidence and its chain entry as they were: identities are read at request time', async () => {
      const { key: eraser } = await h.service.seedKey(tenantId, ['privacy:erase']);
      const erased = await h.service.app.inject({
        method: 'DELETE',
        url: '/v1/subjects/pt-1',
        headers: { authorization: `Bearer ${eraser}` },
      });
      expect(erased.statusCode).toBe(200);
      await h.settle();
      const answer = await inject(`/v1/billing-records/${billingId}/evidence`);
      expect(answer.json.chain).toMatchObject({ sequence: 1, hash: firstHash });
      const identities = answer.json.participants.map((p: { identity: string }) => p.identity);
      expect(identities).toContain('clin-1');
      expect(identities).not.toContain('pt-1');
      expect(await verifyTenantBillingChain(h.service.store, tenantId)).toMatchObject({ ok: true });
    });

    it('answers 404 for an unknown record and for another tenant’s, 403 without billing:read', async () => {
      expect((await inject('/v1/billing-records/bil_nope/evidence')).status).toBe(404);
      const other = await createTenant(h.service.store, { slug: `other-${randomHex(3)}`, name: 'Other', kind: 'human' });
      const { key: otherKey } = await h.service.seedKey(other, ['billing:read']);
      expect((await inject(`/v1/billing-records/${billingId}/evidence`, otherKey)).status).toBe(404);
      const { key: weak } = await h.service.seedKey(tenantId, ['consultations:read']);
      expect((await inject(`/v1/billing-records/${billingId}/evidence`, weak)).status).toBe(403);
    });

    it('billing verify names the first broken entry when a row is edited in the database, exit 1; intact, exit 0', async () => {
      const { id: second } = await h.service.seedConsultation(tenantId);
      const fields = { billable_seconds: 600, rounded_seconds: 600, intervals: '[]' };
      await h.service.store.transaction((trx) => upsertBillingRecord(trx, { consultationId: second, tenantId, now: at(h.now()), fields }));
      secondConsultation = second;
      ({ id: secondBilling } = await h.service.store.db
        .selectFrom('billing_records')
        .select('id')
        .where('consultation_id', '=', second)
        .executeTakeFirstOrThrow());
      const verify = async () => {
        const saved = { ...process.env };
        process.env.ROOMGATE_DATABASE_URL = h.service.database.url;
        try {
          return await runCli(['billing', 'verify', '--tenant', slug], { out: () => undefined, err: () => undefined });
        } finally {
          for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
          Object.assign(process.env, saved);
        }
      };
      expect(await verify()).toBe(0);
      expect(await verifyTenantBillingChain(h.service.store, tenantId)).toMatchObject({ ok: true, entries: 2 });

      // A billing record edited in place: it no longer matches its last chain entry.
      const db = h.service.store.db;
      await db.updateTable('billing_records').set({ billable_seconds: 3600 }).where('id', '=', billingId).execute();
      expect(await verify()).toBe(1);
      expect((await inject(`/v1/billing-records/${billingId}/evidence`)).json.chain.entryIntact).toBe(false);
      expect(await verifyTenantBillingChain(h.service.store, tenantId)).toMatchObject({
        ok: false,
        reason: 'record-mismatch',
        sequence: 1,
        billingRecordId: billingId,
      });
      await db.updateTable('billing_records').set({ billable_seconds: 840 }).where('id', '=', billingId).execute();
      expect(await verify()).toBe(0);

      // The chain entry itself edited (record and entry changed together): its hash no longer matches.
      const entry = await db
        .selectFrom('billing_record_versions')
        .select('content')
        .where('billing_record_id', '=', secondBilling)
        .executeTakeFirstOrThrow();
      const forged = entry.content.replace('"billableSeconds":600', '"billableSeconds":6000');
      expect(forged).not.toBe(entry.content);
      await db.updateTable('billing_record_versions').set({ content: forged }).where('billing_record_id', '=', secondBilling).execute();
      await db.updateTable('billing_records').set({ billable_seconds: 6000 }).where('id', '=', secondBilling).execute();
      expect(await verify()).toBe(1);
      expect(await verifyTenantBillingChain(h.service.store, tenantId)).toMatchObject({
        ok: false,
        reason: 'hash-mismatch',
        sequence: 2,
        billingRecordId: secondBilling,
      });

      // A whole entry removed: the chain has a gap.
      await db
        .updateTable('billing_record_versions')
        .set({ content: entry.content })
        .where('billing_record_id', '=', secondBilling)
        .execute();
      await db.updateTable('billing_records').set({ billable_seconds: 600 }).where('id', '=', secondBilling).execute();
      expect(await verify()).toBe(0);
      await db.deleteFrom('billing_record_versions').where('tenant_id', '=', tenantId).where('sequence', '=', 1).execute();
      expect(await verifyTenantBillingChain(h.service.store, tenantId)).toMatchObject({ ok: false, reason: 'sequence-gap', sequence: 2 });
      expect(await verify()).toBe(1);
    });

    it('serves an earlier version’s evidence as it was chained (version=), 404 for one that does not exist', async () => {
      const fields = {
        billable_seconds: 660,
        rounded_seconds: 660,
        intervals: '[]',
      };
      await h.service.store.transaction((trx) =>
        upsertBillingRecord(trx, { consultationId: secondConsultation, tenantId, now: at(h.now()), fields }),
      );
      const first = await inject(`/v1/billing-records/${secondBilling}/evidence?version=1`);
      expect(first.json).toMatchObject({ version: 1, currentVersion: 2, evidence: null, chain: { sequence: 2, entryIntact: true } });
      const current = await inject(`/v1/billing-records/${secondBilling}/evidence`);
      expect(current.json).toMatchObject({ version: 2, currentVersion: 2, chain: { sequence: 3, headSequence: 3, entryIntact: true } });
      expect((await inject(`/v1/billing-records/${secondBilling}/evidence?version=3`)).status).toBe(404);
      expect((await inject(`/v1/billing-records/${secondBilling}/evidence?version=0`)).status).toBe(422);
    });
  });
}
