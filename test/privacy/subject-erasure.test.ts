/**
 * GDPR erasure, on every engine, over real HTTP: a consultation is played through the sandbox
 * Twilio, with extra signed callbacks that put the identity where real traffic can (a track
 * name, a quarantined callback, a callback of a room nobody knows), and its token issuance in
 * the audit log. After `DELETE /v1/subjects/:identity` every table the database's catalogue
 * lists is scanned row by row, the SQLite files byte by byte, and the captured service log line
 * by line: the identity is nowhere. A second erase answers the same success; every erase is
 * audited by pseudonym; the identity can be issued again; an identity known only from a
 * quarantined callback is erased and audited too; another tenant's data is never touched; and
 * no request whose URL carries an identity, however it is spelled, writes it to the log.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCOPES } from '../../src/service/auth/scopes.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox-server.js';
import { createSandboxCredentials } from '../../src/sandbox/sandbox-credentials.js';
import { insertSecurityEvents } from '../../src/storage/audit-repository.js';
import { newId } from '../../src/storage/ids.js';
import { enginesUnderTest } from '../support/engines.js';
import { filesContaining, findInDatabase, logLinesContaining, sqliteFiles, tablesContaining } from '../support/identity-scan.js';
import { signForm } from '../support/signed-callback.js';
import { startTestService, type TestService, sandboxTwilioEnv } from '../support/test-service.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const WEBHOOK = '/webhooks/twilio/video';
const COUNT_KEYS = [
  'participants',
  'sessions',
  'issuedIdentities',
  'recordings',
  'callbacks',
  'auditEntries',
  'securityEvents',
  'outbox',
  'events',
  'consents',
];

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
  describe(`subject erasure on ${engine.name}`, () => {
    const credentials = createSandboxCredentials();
    let now = Date.now() - 12 * 60_000;
    let sandbox: Sandbox;
    let service: TestService;
    let base: string;
    let tenantId: string;
    let key: string;
    let sequence = 900;

    const api = async (method: string, path: string, body?: unknown, apiKey = key) => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: response.status, json: (await response.json()) as Record<string, any> };
    };

    /** A callback as Twilio signs it, sent over HTTP; the room fields every event carries are filled in. */
    const callback = async (room: { roomSid: string; roomName: string }, params: Record<string, string>) => {
      sequence += 1;
      const signed = signForm(`${base}${WEBHOOK}`, credentials.authToken, {
        AccountSid: credentials.accountSid,
        RoomSid: room.roomSid,
        RoomName: room.roomName,
        RoomStatus: 'in-progress',
        RoomType: 'group',
        SequenceNumber: String(sequence),
        Timestamp: new Date().toISOString(),
        ...params,
      });
      const response = await fetch(`${base}${WEBHOOK}`, { method: 'POST', headers: signed.headers, body: signed.body });
      expect(response.status).toBe(204);
    };

    const participantEvent = (event: string, identity: string, participantSid: string, at: Date) => ({
      StatusCallbackEvent: event,
      ParticipantSid: participantSid,
      ParticipantIdentity: identity,
      ParticipantStatus: event === 'participant-disconnected' ? 'disconnected' : 'connected',
      Timestamp: at.toISOString(),
    });

    const recordingEvent = (event: string, identity: string, participantSid: string, recordingSid: string, at: Date) => ({
      StatusCallbackEvent: event,
      RecordingSid: recordingSid,
      SourceSid: `MT${hex(16)}`,
      RecordingUri: `/v1/Recordings/${recordingSid}`,
      Container: 'mka',
      Codec: 'opus',
      Type: 'audio',
      // Apps often name tracks after their user.
      TrackName: `audio-${identity}`,
      ParticipantSid: participantSid,
      ParticipantIdentity: identity,
      OffsetFromTwilioVideoEpoch: '0',
      Timestamp: at.toISOString(),
      ...(event === 'recording-completed'
        ? { MediaUri: `/v1/Recordings/${recordingSid}/Media`, Duration: '60', Size: '960000', MediaExternalLocation: '' }
        : {}),
    });

    const erase = (identity: string, apiKey = key) => api('DELETE', `/v1/subjects/${encodeURIComponent(identity)}`, undefined, apiKey);

    const auditLog = async () => {
      const entries: Record<string, any>[] = [];
      let cursor: string | null = null;
      do {
        const page: { json: Record<string, any> } = await api('GET', `/v1/audit-log?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
        entries.push(...page.json.data);
        cursor = page.json.nextCursor;
      } while (cursor);
      return entries;
    };

    /** The identity nowhere: no table, no SQLite file, no log line, not in the audit log the tenant reads. */
    const expectGone = async (identity: string) => {
      await service.app.roomgate.drain();
      expect(await findInDatabase(service.store, identity)).toEqual([]);
      if (engine.name === 'sqlite') expect(await filesContaining(sqliteFiles(service.database.url), identity)).toEqual([]);
      expect(logLinesContaining(service.logs(), identity)).toEqual([]);
      expect(JSON.stringify(await auditLog())).not.toContain(identity);
    };

    beforeAll(async () => {
      sandbox = await startSandbox({ ...credentials, clock: () => new Date(now) });
      service = await startTestService(engine, {
        env: {
          ...sandboxTwilioEnv(credentials, sandbox.url),
        },
      });
      await service.app.listen({ port: 0, host: '127.0.0.1' });
      base = `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}`;
      ({ tenantId, key } = await service.seedTenant('human', SCOPES));
    });
    afterAll(async () => {
      await sandbox?.close();
      await service?.close();
    });

    it('leaves the identity nowhere, answers a repeat the same, audits by pseudonym, and lets the identity back in', async () => {
      const subject = `pt-erase-${hex(6)}`;
      const clinician = `clin-${hex(4)}`;

      // A consultation played through the sandbox: both join, the patient leaves, the room ends.
      const first = (await api('POST', '/v1/consultations', { record: true })).json as { id: string; roomSid: string; roomName: string };
      for (const [identity, role] of [
        [clinician, 'clinician'],
        [subject, 'patient'],
      ]) {
        expect((await api('POST', `/v1/consultations/${first.id}/access-tokens`, { identity, role })).status).toBe(201);
      }
      // The patient's consent, recorded by the clinician: the ledger keeps the fact under the pseudonym.
      const consent = { identity: subject, kind: 'recording', decision: 'given', textVersion: 'rec-1', recordedBy: clinician };
      expect((await api('POST', `/v1/consultations/${first.id}/consents`, consent)).status).toBe(201);
      sandbox.connect(first.roomName, clinician);
      now += 60_000;
      const subjectSid = sandbox.connect(first.roomName, subject);
      const joinedAt = new Date(now);
      now += 5 * 60_000;
      // A recording whose track the app named after the patient (the sandbox names tracks by UUID).
      const recordingSid = `RT${hex(16)}`;
      await callback(first, recordingEvent('recording-started', subject, subjectSid, recordingSid, new Date(joinedAt.getTime() + 1000)));
      await callback(first, recordingEvent('recording-completed', subject, subjectSid, recordingSid, new Date(now - 1000)));
      sandbox.disconnect(first.roomName, subject);
      now += 60_000;
      expect((await api('POST', `/v1/consultations/${first.id}/end`)).status).toBe(200);
      await sandbox.idle();
      const ended = await waitFor('the consultation to complete', async () => {
        await service.app.roomgate.drain();
        const view = (await api('GET', `/v1/consultations/${first.id}`)).json;
        return view.status === 'completed' && view.billing ? view : undefined;
      });

      // A second consultation, still open: a callback names the patient before any token → quarantined;
      // then the patient gets a token there (a participant row keyed by the identity).
      const second = (await api('POST', '/v1/consultations', {})).json as { id: string; roomSid: string; roomName: string };
      await callback(second, participantEvent('participant-connected', subject, `PA${hex(16)}`, new Date()));
      expect((await api('POST', `/v1/consultations/${second.id}/access-tokens`, { identity: subject, role: 'patient' })).status).toBe(201);
      // A callback of a room no consultation knows → unmatched.
      await callback(
        { roomSid: `RM${hex(16)}`, roomName: `elsewhere-${hex(4)}` },
        participantEvent('participant-connected', subject, `PA${hex(16)}`, new Date()),
      );
      // No outbox payload or security event names an identity yet; outbound webhooks and richer
      // security records will. Rows as they would write them, so their erasure is proven now.
      await service.store.db
        .insertInto('outbox')
        .values({
          id: newId('obx'),
          kind: 'deliver-event',
          dedupe_key: `event:${hex(8)}`,
          payload: JSON.stringify({ tenantId, consultationId: first.id, type: 'participant.joined', data: { identity: subject } }),
          status: 'failed',
          attempts: 8,
          next_attempt_at: new Date().toISOString(),
          locked_by: null,
          locked_until: null,
          last_error: `endpoint refused participant.joined of ${subject}`,
          created_at: new Date().toISOString(),
          done_at: null,
        })
        .execute();
      await insertSecurityEvents(service.store.db, [
        {
          reason: 'identity-never-issued',
          remoteAddress: '127.0.0.1',
          path: WEBHOOK,
          claimedAccountSid: credentials.accountSid,
          detail: { event: 'participant-connected', roomSid: second.roomSid, identity: subject },
          at: new Date().toISOString(),
        },
      ]);
      await service.app.roomgate.drain();

      // The scan sees the identity where the traffic put it (so its silence afterwards means something).
      const before = await tablesContaining(service.store, subject);
      expect(before).toEqual(
        expect.arrayContaining([
          'audit_log.detail',
          'callbacks.params',
          'callbacks.participant_identity',
          'consents.identity',
          'issued_identities.identity',
          'outbox.payload',
          'participant_sessions.identity',
          'participants.identity',
          'recordings.track_name',
          'security_events.detail',
          'tenant_events.payload',
        ]),
      );
      const statuses = await service.store.db
        .selectFrom('callbacks')
        .select('status')
        .distinct()
        .where('participant_identity', '=', subject)
        .execute();
      expect(statuses.map((row) => row.status).sort()).toEqual(['accepted', 'quarantined', 'unmatched']);

      const erased = await erase(subject);
      expect(erased.status).toBe(200);
      expect(Object.keys(erased.json).sort()).toEqual(['erased', 'pseudonym', ...COUNT_KEYS].sort());
      expect(erased.json).toMatchObject({
        erased: true,
        pseudonym: expect.stringMatching(/^erased-[0-9a-f]{20}$/),
        participants: 2,
        sessions: 1,
        issuedIdentities: 2,
        recordings: 1,
        auditEntries: 3, // two token issuances and the consent
        securityEvents: 1,
        outbox: 1,
        consents: 1,
      });
      expect(erased.json.events).toBeGreaterThanOrEqual(2); // the subject joined and left
      expect(erased.json.callbacks).toBeGreaterThanOrEqual(9); // sandbox's participant, track and recording events + ours
      const pseudonym = erased.json.pseudonym as string;
      await expectGone(subject);

      // The record is intact under the pseudonym: same participants, same billing.
      const after = (await api('GET', `/v1/consultations/${first.id}`)).json;
      expect(after.billing).toEqual(ended.billing);
      expect(after.participants.map((p: { identity: string; role: string }) => [p.identity, p.role]).sort()).toEqual(
        [
          [clinician, 'clinician'],
          [pseudonym, 'patient'],
        ].sort(),
      );
      const ledger = (await api('GET', `/v1/consultations/${first.id}/consents`)).json;
      expect(ledger.data).toEqual([
        expect.objectContaining({ identity: pseudonym, decision: 'given', recordedBy: clinician, textVersion: 'rec-1' }),
      ]);
      const recordings = (await api('GET', `/v1/consultations/${first.id}/recordings`)).json.recordings as { trackName: string }[];
      expect(recordings.map((r) => r.trackName)).toContain(`audio-${pseudonym}`);

      // A repeat: the same success, nothing left to change, audited under its own pseudonym.
      const again = await erase(subject);
      expect(again.status).toBe(200);
      expect(Object.keys(again.json).sort()).toEqual(Object.keys(erased.json).sort());
      expect(again.json).toMatchObject({ erased: true, ...Object.fromEntries(COUNT_KEYS.map((k) => [k, 0])) });
      expect(again.json.pseudonym).not.toBe(pseudonym);
      await expectGone(subject);
      const erasures = (await auditLog()).filter((entry) => entry.action === 'subject.erase');
      expect(erasures.map((entry) => entry.target).sort()).toEqual([pseudonym, again.json.pseudonym].sort());
      expect(erasures.find((entry) => entry.target === pseudonym)!.detail).toMatchObject({ participants: 2, outbox: 1 });

      // The identity may come back: a token in the open consultation where it had a participant,
      // and in a new one; each shows the participant again.
      const third = (await api('POST', '/v1/consultations', {})).json as { id: string };
      for (const consultation of [second, third]) {
        const issued = await api('POST', `/v1/consultations/${consultation.id}/access-tokens`, { identity: subject, role: 'patient' });
        expect(issued.status).toBe(201);
        const view = (await api('GET', `/v1/consultations/${consultation.id}`)).json;
        expect(view.participants.map((p: { identity: string }) => p.identity)).toContain(subject);
      }
      expect(logLinesContaining(service.logs(), subject)).toEqual([]);
    });

    it('erases and audits an identity known only from a quarantined callback', async () => {
      const stranger = `pt-stranger-${hex(6)}`;
      const consultation = (await api('POST', '/v1/consultations', {})).json as { id: string; roomSid: string; roomName: string };
      await callback(consultation, participantEvent('participant-connected', stranger, `PA${hex(16)}`, new Date()));
      await service.app.roomgate.drain();
      expect(await tablesContaining(service.store, stranger)).toEqual(['callbacks.params', 'callbacks.participant_identity']);

      const erased = await erase(stranger);
      expect(erased.status).toBe(200);
      expect(erased.json).toMatchObject({ erased: true, participants: 0, callbacks: 1 });
      await expectGone(stranger);
      const audited = (await auditLog()).filter((entry) => entry.action === 'subject.erase' && entry.target === erased.json.pseudonym);
      expect(audited).toEqual([expect.objectContaining({ outcome: 'erased', detail: expect.objectContaining({ callbacks: 1 }) })]);
    });

    it('never logs an identity carried in a URL, however the request spells it', async () => {
      /** Sends the path byte for byte (fetch would normalise it). */
      const raw = (method: string, path: string, authorization?: string) =>
        new Promise<number>((resolve, reject) => {
          const port = Number(new URL(base).port);
          const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: authorization ? { authorization } : {} }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end();
        });
      const identities: string[] = [];
      const encodeSome = (text: string, mask: boolean[]) =>
        [...text].map((char, i) => (mask[i % mask.length] ? `%${char.charCodeAt(0).toString(16).padStart(2, '0')}` : char)).join('');
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            method: fc.constantFrom('DELETE', 'GET', 'POST', 'PUT', 'PATCH', 'OPTIONS', 'HEAD'),
            prefix: fc.constantFrom(
              '/v1/subjects/',
              '/v1/Subjects/',
              '//v1/subjects/',
              '/v1//subjects/',
              '/v1/%73ubjects/',
              '/v1/./subjects/',
              '/x/../v1/subjects/',
            ),
            encode: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
            suffix: fc.constantFrom('', '/', '/admit', '%zz', '%', '?x=1', '#frag', 'x'.repeat(1100)),
            keyed: fc.boolean(),
          }),
          async ({ method, prefix, encode, suffix, keyed }) => {
            const identity = `pt-url-${hex(6)}`;
            identities.push(identity);
            const status = await raw(method, `${prefix}${encodeSome(identity, encode)}${suffix}`, keyed ? `Bearer ${key}` : undefined);
            expect(status).toBeGreaterThanOrEqual(200);
            expect(status).toBeLessThan(500);
          },
        ),
        { numRuns: 60, seed: Number(process.env.FUZZ_SEED ?? 20260712), endOnFailure: true },
      );
      const logs = service.logs();
      expect(identities.flatMap((identity) => logLinesContaining(logs, identity))).toEqual([]);
      expect(logs).toContain('/v1/subjects/:identity'); // what is logged instead
    });

    it("never touches another tenant's subject of the same identity", async () => {
      const shared = `pt-shared-${hex(6)}`;
      const other = await service.seedTenant('human', SCOPES);
      const theirs = await service.seedConsultation(other.tenantId, { identities: { [shared]: 'patient' } });
      await callback(
        { roomSid: theirs.roomSid, roomName: theirs.roomName },
        participantEvent('participant-connected', shared, `PA${hex(16)}`, new Date()),
      );
      await service.app.roomgate.drain();
      const before = await findInDatabase(service.store, shared);

      const answer = await erase(shared);
      expect(answer.status).toBe(200);
      expect(answer.json).toMatchObject({ erased: true, ...Object.fromEntries(COUNT_KEYS.map((k) => [k, 0])) });
      await service.app.roomgate.drain();
      expect(await findInDatabase(service.store, shared)).toEqual(before);
      // …and its owner erases it.
      expect((await erase(shared, other.key)).json).toMatchObject({ participants: 1, issuedIdentities: 1 });
      await service.app.roomgate.drain();
      expect(await findInDatabase(service.store, shared)).toEqual([]);
    });
  });
}
