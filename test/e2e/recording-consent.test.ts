/**
 * Recording only with consent (issue 20), on every engine, through the sandbox Twilio over real
 * HTTP: rooms start recording nothing; the consent ledger drives Twilio's Recording Rules (via the
 * outbox); the composition names only consenting participants' tracks; a recording Twilio makes
 * of a participant who had not consented is flagged and alerted; erasure keeps the ledger's facts
 * under a pseudonym. One shared clock for the sandbox and the service (the consent check compares
 * Twilio's Timestamps with the ledger's times).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandboxCredentials } from '../../src/sandbox/sandbox-credentials.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox-server.js';
import { SCOPES } from '../../src/service/auth/scopes.js';
import { enginesUnderTest } from '../support/engines.js';
import { findInDatabase } from '../support/identity-scan.js';
import { randomHex, sandboxTwilioEnv, startTestService, type TestService } from '../support/test-service.js';

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const ALERT_SECRET = 'consent-alert-secret-0123456789abcdef';

for (const engine of enginesUnderTest()) {
  describe(`recording only with consent on ${engine.name}`, () => {
    const credentials = createSandboxCredentials();
    let now = Date.now();
    let sandbox: Sandbox;
    let service: TestService;
    let base: string;
    let alertReceiver: Server;
    const alerts: Record<string, any>[] = [];

    beforeAll(async () => {
      alertReceiver = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          alerts.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, any>);
          response.writeHead(204).end();
        });
      });
      await new Promise<void>((resolve) => alertReceiver.listen(0, '127.0.0.1', resolve));
      sandbox = await startSandbox({ ...credentials, clock: () => new Date(now), callbackRetries: 0 });
      service = await startTestService(engine, {
        env: {
          ...sandboxTwilioEnv(credentials, sandbox.url),
          ROOMGATE_ALERT_URL: `http://127.0.0.1:${(alertReceiver.address() as AddressInfo).port}/alerts`,
          ROOMGATE_ALERT_SECRET: ALERT_SECRET,
        },
        app: { outboxWorker: true, outboxPollIntervalMs: 50, clock: () => new Date(now) },
      });
      await service.app.listen({ port: 0, host: '127.0.0.1' });
      base = `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await sandbox?.close();
      await service?.close();
      alertReceiver?.closeAllConnections();
      await new Promise((resolve) => alertReceiver?.close(resolve));
    });

    /** A tenant in this consent mode, a consultation with a clinician and a patient holding tokens. */
    const consultation = async (consentMode: 'all-parties' | 'one-party') => {
      const { key } = await service.seedTenant('human', SCOPES, {}, { consentMode });
      const api = async (method: string, path: string, body?: unknown) => {
        const response = await fetch(`${base}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${key}`,
            accept: 'application/json',
            ...(body ? { 'content-type': 'application/json' } : {}),
          },
          body: body ? JSON.stringify(body) : undefined,
        });
        return { status: response.status, json: (await response.json()) as Record<string, any> };
      };
      const created = await api('POST', '/v1/consultations', { record: true });
      expect(created.status).toBe(201);
      const { id, roomSid } = created.json as { id: string; roomSid: string };
      const clin = `clin-${randomHex(4)}`;
      const pt = `pt-${randomHex(4)}`;
      for (const [identity, role] of [
        [clin, 'clinician'],
        [pt, 'patient'],
      ] as const) {
        expect((await api('POST', `/v1/consultations/${id}/access-tokens`, { identity, role })).status).toBe(201);
      }
      const consent = async (identity: string, decision: 'given' | 'withdrawn') => {
        const answer = await api('POST', `/v1/consultations/${id}/consents`, {
          identity,
          kind: 'recording',
          decision,
          textVersion: 'rec-2026-03',
          recordedBy: clin,
        });
        expect(answer.status, JSON.stringify(answer.json)).toBe(201);
        return answer.json;
      };
      /** The rules at the sandbox, once the outbox has set them to these. */
      const rulesBecome = (rules: unknown[]) =>
        waitFor(`the Recording Rules ${JSON.stringify(rules)}`, () => {
          const current = sandbox.state.getRecordingRules(roomSid).rules;
          return JSON.stringify(current) === JSON.stringify(rules) ? current : undefined;
        });
      const recordingsAtTwilio = () => sandbox.state.getRoom(roomSid)!.recordings;
      /** The record's recordings, once it shows this many. */
      const recordsShow = (count: number) =>
        waitFor(`${count} recordings in the record`, async () => {
          await service.app.roomgate.drain();
          const answer = await api('GET', `/v1/consultations/${id}/recordings`);
          return answer.json.recordings.length === count ? (answer.json as Record<string, any>) : undefined;
        });
      const end = async () => {
        expect((await api('POST', `/v1/consultations/${id}/end`)).status).toBe(200);
        await sandbox.idle();
      };
      return { api, id, roomSid, clin, pt, consent, rulesBecome, recordingsAtTwilio, recordsShow, end };
    };

    const composed = (c: { roomSid: string }) =>
      waitFor('the composition', async () => {
        await sandbox.idle();
        const found = sandbox.state.listCompositions({ roomSid: c.roomSid }).find((candidate) => candidate.status === 'completed');
        return found;
      });

    it('records and composes both when both consent; a withdrawal mid-call stops their tracks and leaves them out of the composition', async () => {
      const c = await consultation('one-party');
      expect(sandbox.state.getRoom(c.roomSid)!.recordParticipantsOnConnect).toBe(false);
      await c.consent(c.clin, 'given');
      await c.consent(c.pt, 'given');
      await c.rulesBecome([
        { type: 'include', publisher: [c.clin, c.pt].sort()[0] },
        { type: 'include', publisher: [c.clin, c.pt].sort()[1] },
      ]);
      sandbox.connect(c.roomSid, c.clin);
      sandbox.connect(c.roomSid, c.pt);
      expect(
        c
          .recordingsAtTwilio()
          .map((r) => r.participantIdentity)
          .sort(),
      ).toEqual([c.clin, c.clin, c.pt, c.pt].sort());
      now += 60_000;

      // The patient withdraws: within seconds the rules name only the clinician and the patient's recordings complete.
      const withdrawal = await c.consent(c.pt, 'withdrawn');
      expect(withdrawal).toMatchObject({ position: 3, decision: 'withdrawn', identity: c.pt, textVersion: 'rec-2026-03' });
      await c.rulesBecome([{ type: 'include', publisher: c.clin }]);
      const patientTracks = c.recordingsAtTwilio().filter((r) => r.participantIdentity === c.pt);
      expect(patientTracks.map((r) => r.status)).toEqual(['completed', 'completed']);
      expect(patientTracks.map((r) => r.duration)).toEqual([60, 60]);
      expect(c.recordingsAtTwilio().filter((r) => r.participantIdentity === c.clin && r.status === 'processing')).toHaveLength(2);

      now += 60_000;
      await c.end();
      const composition = await composed(c);
      const clinicianSids = c
        .recordingsAtTwilio()
        .filter((r) => r.participantIdentity === c.clin)
        .map((r) => r.sid);
      expect([...composition.sourceRecordingSids].sort()).toEqual(clinicianSids.sort());
      expect(composition.duration).toBe(120);

      const record = await c.recordsShow(4);
      expect(record.recordings.map((r: { identity: string; consentFlag: null }) => [r.identity, r.consentFlag]).sort()).toEqual(
        [
          [c.clin, null],
          [c.clin, null],
          [c.pt, null],
          [c.pt, null],
        ].sort(),
      );
      // The ledger: every decision in order, each identity's latest.
      const ledger = (await c.api('GET', `/v1/consultations/${c.id}/consents`)).json;
      expect(ledger.consentMode).toBe('one-party');
      expect(
        ledger.data.map((e: { identity: string; decision: string; position: number }) => [e.position, e.identity, e.decision]),
      ).toEqual([
        [1, c.clin, 'given'],
        [2, c.pt, 'given'],
        [3, c.pt, 'withdrawn'],
      ]);
      const view = (await c.api('GET', `/v1/consultations/${c.id}`)).json;
      expect(view.consents.map((e: { identity: string; decision: string }) => `${e.identity}:${e.decision}`).sort()).toEqual(
        [`${c.clin}:given`, `${c.pt}:withdrawn`].sort(),
      );
    });

    it('composes every consenting participant’s tracks when nobody withdraws', async () => {
      const c = await consultation('one-party');
      await c.consent(c.clin, 'given');
      await c.consent(c.pt, 'given');
      await c.rulesBecome([c.clin, c.pt].sort().map((publisher) => ({ type: 'include', publisher })));
      sandbox.connect(c.roomSid, c.clin);
      sandbox.connect(c.roomSid, c.pt);
      now += 90_000;
      await c.end();
      const composition = await composed(c);
      expect([...composition.sourceRecordingSids].sort()).toEqual(
        c
          .recordingsAtTwilio()
          .map((r) => r.sid)
          .sort(),
      );
      expect(composition.sourceRecordingSids).toHaveLength(4);
    });

    it('records nothing and composes nothing without consent', async () => {
      const c = await consultation('one-party');
      sandbox.connect(c.roomSid, c.clin);
      sandbox.connect(c.roomSid, c.pt);
      now += 60_000;
      await c.end();
      await service.app.roomgate.drain();
      expect(c.recordingsAtTwilio()).toEqual([]);
      expect(sandbox.state.getRecordingRules(c.roomSid).rules).toEqual([{ type: 'exclude', all: true }]);
      const view = await waitFor('the consultation to complete', async () => {
        await service.app.roomgate.drain();
        const answer = (await c.api('GET', `/v1/consultations/${c.id}`)).json;
        return answer.status === 'completed' ? answer : undefined;
      });
      expect(view.consents).toEqual([]);
      expect((await c.api('GET', `/v1/consultations/${c.id}/recordings`)).json).toEqual({
        recordings: [],
        composition: null,
        compositions: [],
      });
      expect(sandbox.state.listCompositions({ roomSid: c.roomSid })).toEqual([]);
    });

    it('all-parties: records nobody while someone present has not consented, everyone consenting once all do', async () => {
      const c = await consultation('all-parties');
      await c.consent(c.clin, 'given');
      await c.rulesBecome([{ type: 'include', publisher: c.clin }]);
      sandbox.connect(c.roomSid, c.clin);
      expect(c.recordingsAtTwilio()).toHaveLength(2);
      // The patient joins without consent: every recording stops.
      sandbox.connect(c.roomSid, c.pt);
      await c.rulesBecome([{ type: 'exclude', all: true }]);
      expect(c.recordingsAtTwilio().filter((r) => r.status === 'processing')).toEqual([]);
      expect(c.recordingsAtTwilio().filter((r) => r.participantIdentity === c.pt)).toEqual([]);
      // The patient consents: both are recorded.
      now += 30_000;
      await c.consent(c.pt, 'given');
      await c.rulesBecome([c.clin, c.pt].sort().map((publisher) => ({ type: 'include', publisher })));
      expect(
        c
          .recordingsAtTwilio()
          .filter((r) => r.status === 'processing')
          .map((r) => r.participantIdentity)
          .sort(),
      ).toEqual([c.clin, c.clin, c.pt, c.pt].sort());
      now += 30_000;
      await c.end();
      const record = await c.recordsShow(6);
      expect(record.recordings.every((r: { consentFlag: string | null }) => r.consentFlag === null)).toBe(true);
    });

    it('flags and alerts a recording Twilio made of a participant who had not consented', async () => {
      const c = await consultation('one-party');
      await c.consent(c.clin, 'given');
      await c.rulesBecome([{ type: 'include', publisher: c.clin }]);
      sandbox.connect(c.roomSid, c.clin);
      sandbox.connect(c.roomSid, c.pt);
      // Twilio records everyone anyway (rules set behind Roomgate's back).
      now += 10_000;
      sandbox.state.setRecordingRules(c.roomSid, [{ type: 'include', all: true }]);
      await sandbox.idle();
      const record = await c.recordsShow(4);
      const flagged = record.recordings.filter((r: { consentFlag: string | null }) => r.consentFlag === 'not-consented');
      expect(flagged.map((r: { identity: string; kind: string }) => `${r.identity}/${r.kind}`).sort()).toEqual([
        `${c.pt}/audio`,
        `${c.pt}/video`,
      ]);
      const alert = await waitFor('the alert POST', () => alerts.find((a) => a.data?.kind === 'unconsented-recording'));
      expect(alert).toMatchObject({ type: 'security.alert', data: { kind: 'unconsented-recording', count: 1 } });
      expect(service.logs()).toContain('unconsented-recording');
      const events = (await c.api('GET', '/v1/events?limit=500')).json.data as { type: string; consultationId: string; data: any }[];
      const unconsented = events.filter((e) => e.type === 'recording.unconsented' && e.consultationId === c.id);
      expect(unconsented.map((e) => e.data.identity)).toEqual([c.pt, c.pt]);
      expect(events.filter((e) => e.consultationId === c.id && e.type === 'consent.given').map((e) => e.data.identity)).toEqual([c.clin]);

      // Never composed: only the clinician's tracks are sources.
      now += 10_000;
      await c.end();
      const composition = await composed(c);
      const clinicianSids = c
        .recordingsAtTwilio()
        .filter((r) => r.participantIdentity === c.clin)
        .map((r) => r.sid);
      expect([...composition.sourceRecordingSids].sort()).toEqual(clinicianSids.sort());
    });

    it('retries Recording Rules Twilio refused for a moment, computed again from the latest ledger', async () => {
      const c = await consultation('one-party');
      sandbox.restFaults.add({ status: 503, path: `${c.roomSid}/RecordingRules`, count: 1 });
      sandbox.connect(c.roomSid, c.pt);
      await c.consent(c.pt, 'given');
      await waitFor('Twilio to refuse a Recording Rules update', () =>
        sandbox.restFaults.applied.some((applied) => applied.path.includes(c.roomSid)) ? true : undefined,
      );
      // Past the outbox's backoff: the refused entry runs again and sets the rules the ledger gives now.
      now += 5_000;
      await c.rulesBecome([{ type: 'include', publisher: c.pt }]);
      expect(c.recordingsAtTwilio().map((r) => `${r.participantIdentity} ${r.status}`)).toEqual([
        `${c.pt} processing`,
        `${c.pt} processing`,
      ]);
      await c.consent(c.pt, 'withdrawn');
      await c.rulesBecome([{ type: 'exclude', all: true }]);
      // The shared clock moves on while we wait, as a real one would: an entry whose run failed for
      // a moment (a lock conflict on its done mark, say) is due again after its backoff.
      const waitStarted = { real: Date.now(), clock: now };
      let seen: unknown[] = [];
      await waitFor('every outbox entry of the consultation done', async () => {
        now = Math.max(now, waitStarted.clock + (Date.now() - waitStarted.real));
        const rows = await service.store.db.selectFrom('outbox').select(['dedupe_key', 'status', 'attempts', 'last_error']).execute();
        const mine = rows.filter((row) => row.dedupe_key.includes(c.id));
        seen = mine;
        return mine.length >= 3 && mine.every((row) => row.status === 'done') ? mine : undefined;
      }).catch((error: Error) => {
        throw new Error(`${error.message}; the consultation's entries: ${JSON.stringify(seen)}`);
      });
      expect(sandbox.state.getRecordingRules(c.roomSid).rules).toEqual([{ type: 'exclude', all: true }]);
    });

    it('a consultation that moves to a new room (rejoin) records there only by consent, from the first join', async () => {
      const { key } = await service.seedTenant('human', SCOPES, {}, { consentMode: 'one-party' });
      const api = async (method: string, path: string, body?: unknown) => {
        const response = await fetch(`${base}${path}`, {
          method,
          headers: { authorization: `Bearer ${key}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
        return { status: response.status, json: (await response.json()) as Record<string, any> };
      };
      const created = await api('POST', '/v1/consultations', { scheduledAt: new Date(now + 60_000).toISOString(), durationMinutes: 60 });
      expect(created.status).toBe(201);
      const { id, roomSid } = created.json as { id: string; roomSid: string };
      const [clin, pt] = [`clin-${randomHex(4)}`, `pt-${randomHex(4)}`];
      const token = async (identity: string, role: string) => {
        const issued = await api('POST', `/v1/consultations/${id}/access-tokens`, { identity, role });
        expect(issued.status, JSON.stringify(issued.json)).toBe(201);
        return issued.json.roomName as string;
      };
      await token(clin, 'clinician');
      await token(pt, 'patient');
      for (const identity of [clin, pt]) {
        const answer = await api('POST', `/v1/consultations/${id}/consents`, {
          identity,
          kind: 'recording',
          decision: 'given',
          textVersion: 'rec-2026-03',
        });
        expect(answer.status).toBe(201);
      }
      const bothIncluded = [clin, pt].sort().map((publisher) => ({ type: 'include', publisher }));
      await waitFor('the first room’s rules', () =>
        JSON.stringify(sandbox.state.getRecordingRules(roomSid).rules) === JSON.stringify(bothIncluded) ? true : undefined,
      );
      sandbox.connect(roomSid, clin);
      sandbox.connect(roomSid, pt);
      now += 60_000;
      // Twilio ends the room (a dropped call); the next token request opens the next room.
      sandbox.endRoom(roomSid);
      await sandbox.idle();
      await waitFor('the consultation to be interrupted', async () => {
        await service.app.roomgate.drain();
        return (await api('GET', `/v1/consultations/${id}`)).json.status === 'interrupted' ? true : undefined;
      });
      // A decision while no room is live: nothing to set at Twilio (the ended room answers 53112), no failure.
      for (const decision of ['withdrawn', 'given']) {
        const answer = await api('POST', `/v1/consultations/${id}/consents`, {
          identity: pt,
          kind: 'recording',
          decision,
          textVersion: 'rec-2026-03',
        });
        expect(answer.status).toBe(201);
      }
      await waitFor('the rules entries to finish', async () => {
        const rows = await service.store.db.selectFrom('outbox').select(['dedupe_key', 'status']).execute();
        const mine = rows.filter((row) => row.dedupe_key.startsWith(`recording-rules:${id}:consent-`));
        return mine.length === 4 && mine.every((row) => row.status !== 'pending') ? mine : undefined;
      });
      const failed = await service.store.db.selectFrom('outbox').select(['dedupe_key', 'status']).where('status', '=', 'failed').execute();
      expect(failed.filter((row) => row.dedupe_key.includes(id))).toEqual([]);
      now += 60_000;
      const next = await token(clin, 'clinician');
      expect(next).toBe(`rg-${id}-2`);
      const room2 = sandbox.state.getRoom(next)!;
      expect(room2.recordParticipantsOnConnect).toBe(false);
      expect(sandbox.state.getRecordingRules(room2.sid).rules).toEqual([{ type: 'exclude', all: true }]);
      sandbox.connect(room2.sid, clin);
      await waitFor('the next room’s rules', () =>
        JSON.stringify(sandbox.state.getRecordingRules(room2.sid).rules) === JSON.stringify(bothIncluded) ? true : undefined,
      );
      expect(sandbox.state.getRoom(room2.sid)!.recordings.map((r) => `${r.participantIdentity} ${r.status}`)).toEqual([
        `${clin} processing`,
        `${clin} processing`,
      ]);
    });

    it('erasure pseudonymises a consenting identity in the ledger and keeps the facts', async () => {
      const c = await consultation('one-party');
      await c.consent(c.pt, 'given');
      await c.consent(c.pt, 'withdrawn');
      await c.consent(c.clin, 'given');
      await service.app.roomgate.drain();
      const erased = await c.api('DELETE', `/v1/subjects/${c.pt}`);
      expect(erased.status).toBe(200);
      expect(erased.json.consents).toBe(2);
      const pseudonym = erased.json.pseudonym as string;
      const ledger = (await c.api('GET', `/v1/consultations/${c.id}/consents`)).json;
      expect(
        ledger.data.map((e: { identity: string; decision: string; recordedBy: string }) => [e.identity, e.decision, e.recordedBy]),
      ).toEqual([
        [pseudonym, 'given', c.clin],
        [pseudonym, 'withdrawn', c.clin],
        [c.clin, 'given', c.clin],
      ]);
      expect((await findInDatabase(service.store, c.pt)).filter((hit) => hit.table === 'consents')).toEqual([]);
      // Erasing the one who recorded them replaces recordedBy too.
      const again = await c.api('DELETE', `/v1/subjects/${c.clin}`);
      expect(again.json.consents).toBe(3);
      const after = (await c.api('GET', `/v1/consultations/${c.id}/consents`)).json;
      expect(after.data.every((e: { recordedBy: string }) => e.recordedBy === again.json.pseudonym)).toBe(true);
    });
  });
}
