/**
 * The tenant API's writes while background work holds the same rows, on every engine. Under load
 * a fold, a no-show sweep or a webhook group commit can hold a consultation's row past the lock
 * timeout (full-suite runs: `POST /v1/consultations` answered 503 on MariaDB; a loaded stress
 * run: token requests answered 503, ER_LOCK_WAIT_TIMEOUT), and a request's write to that row then
 * failed although nothing was wrong. Here Twilio's answer to a room's creation (through a proxy in
 * front of the sandbox), and token and end requests, arrive while a transaction holds the
 * consultation's row a little longer than the lock timeout, as such a slow transaction does;
 * meanwhile two sweeps run back to back and the sandbox's callbacks (room-created among them,
 * which claims the room's SID) are stored and folded. Every request must succeed, and each
 * create leave one consultation with its first room and its SID.
 * On SQLite a holder would take the database's write lock, which writers wait for (busy
 * timeout): nothing to hold there, so only the concurrent load runs.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeWindows } from '../../src/service/consultations/consultation-close.js';
import { sweepNoShows } from '../../src/service/no-shows/no-show-sweep.js';
import { createTenant } from '../../src/service/tenants/tenant-admin.js';
import { createTwilioRestClient } from '../../src/service/twilio/twilio-rest-client.js';
import { listConsultationRooms } from '../../src/storage/consultation-room-repository.js';
import { listTenantConsultationsPage } from '../../src/storage/consultation-repository.js';
import { retryRowConflicts } from '../../src/storage/row-conflict-retry.js';
import { lockConsultations } from '../../src/storage/row-locks.js';
import { enginesUnderTest } from '../support/engines.js';
import { startSandboxHarness, type SandboxHarness } from '../support/sandbox-harness.js';
import { randomHex } from '../support/test-service.js';

const SCOPES = ['consultations:read', 'consultations:write', 'tokens:issue'];
const MINUTE = 60_000;
const CREATES = 24;
const WIDTH = 6;
/** The lock timeout of this test's service; a holder keeps its row a little longer. */
const LOCK_TIMEOUT_MS = 1000;
const HOLD_MS = LOCK_TIMEOUT_MS + 300;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Twilio's REST API seen through a proxy: before it passes on the answer to a room's creation,
 * `beforeRoomAnswer` runs with the room's unique name.
 */
async function startRestProxy(beforeRoomAnswer: (uniqueName: string) => Promise<void>) {
  let upstream = '';
  const server = http.createServer((request, reply) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      void (async () => {
        try {
          const body = Buffer.concat(chunks);
          const answer = await fetch(`${upstream}${request.url}`, {
            method: request.method!,
            headers: Object.fromEntries(
              Object.entries(request.headers).filter(
                (entry): entry is [string, string] =>
                  typeof entry[1] === 'string' && !['host', 'content-length', 'connection'].includes(entry[0]),
              ),
            ),
            ...(body.length > 0 ? { body } : {}),
          });
          const payload = Buffer.from(await answer.arrayBuffer());
          const uniqueName = new URLSearchParams(body.toString()).get('UniqueName');
          if (request.method === 'POST' && /\/Rooms$/.test(request.url ?? '') && answer.ok && uniqueName)
            await beforeRoomAnswer(uniqueName);
          reply.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
          reply.end(payload);
        } catch {
          reply.writeHead(502).end();
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forwardTo: (url: string) => void (upstream = url),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

for (const engine of enginesUnderTest()) {
  describe(`creating consultations while their rows are held, on ${engine.name}`, () => {
    let h: SandboxHarness;
    let tenantId: string;
    let key: string;
    const holders: Promise<unknown>[] = [];
    let held = 0;
    let rooms = 0;

    /** A transaction that locks the consultation's row and keeps it HOLD_MS; resolves once it is locked. */
    const holdRow = (consultationId: string) =>
      new Promise<void>((locked, failed) => {
        held += 1;
        holders.push(
          // The holder too may find the row held (a fold, a sweep): it tries again.
          retryRowConflicts(
            () =>
              h.service.store.transaction(async (trx) => {
                await lockConsultations(trx, [consultationId]);
                locked();
                await pause(HOLD_MS);
              }),
            { attempts: 10 },
          ).catch(failed),
        );
      });
    const rowLocks = () => h.service.store.capabilities.rowLocks !== 'whole-database';

    let proxy: Awaited<ReturnType<typeof startRestProxy>>;

    beforeAll(async () => {
      proxy = await startRestProxy(async (uniqueName) => {
        // Every other room: Twilio's answer arrives while its consultation's row is held.
        if (rowLocks() && rooms++ % 2 === 0) await holdRow(uniqueName.replace(/^rg-/, ''));
      });
      h = await startSandboxHarness(engine, {
        env: { ROOMGATE_DB_LOCK_TIMEOUT: `${LOCK_TIMEOUT_MS}ms`, TWILIO_API_BASE_URL: proxy.url },
      });
      proxy.forwardTo(h.sandbox.url);
      tenantId = await createTenant(h.service.store, {
        slug: `t-${randomHex(4)}`,
        name: 'Busy clinic',
        kind: 'veterinary',
        joinEarlyMinutes: 10,
        joinGraceMinutes: 1,
      });
      key = (await h.service.seedKey(tenantId, SCOPES)).key;
    });
    afterAll(async () => {
      await Promise.allSettled(holders);
      await h?.close();
      await proxy?.close();
    });

    it('answers every create, token and end, and leaves no consultation half-made', async () => {
      const api = h.api(key);
      const clock = () => new Date(h.now());
      const twilio = createTwilioRestClient({
        baseUrl: h.sandbox.url,
        apiKeySid: h.service.config.apiKey!.sid,
        apiKeySecret: h.service.config.apiKey!.secret,
      });
      // Two instances' no-show schedules, back to back: naming no-shows and closing windows
      // (a pass that waited too long on a held row fails and the next one comes).
      let running = true;
      const sweeps = Array.from({ length: 2 }, async () => {
        while (running) {
          await sweepNoShows({ store: h.service.store, clock, twilio }).catch(() => undefined);
          await closeWindows({ store: h.service.store, clock }).catch(() => undefined);
          await pause(5);
        }
      });

      const answers: { what: string; status: number; body: unknown }[] = [];
      const created: { id: string; roomSid: string }[] = [];
      let next = 0;
      const client = async () => {
        while (next < CREATES) {
          const n = next++;
          // A third whose window closed already (the sweep names them as they are made), a third
          // open now, a third without a window.
          const kind = n % 3;
          const response = await api('POST', '/v1/consultations', {
            record: false,
            ...(kind === 0 ? { scheduledAt: new Date(h.now() - 60 * MINUTE).toISOString(), durationMinutes: 10 } : {}),
            ...(kind === 1 ? { scheduledAt: new Date(h.now()).toISOString(), durationMinutes: 30 } : {}),
          });
          answers.push({ what: 'create', status: response.status, body: response.json });
          if (response.status !== 201) continue;
          const consultation = response.json as { id: string; roomSid: string };
          created.push(consultation);
          // Every other later request arrives while a transaction holds the consultation's row.
          const held = async () => {
            if (rowLocks() && n % 2 === 1) await holdRow(consultation.id);
          };
          if (kind !== 1) continue;
          const identity = `vet-${randomHex(3)}`;
          await held();
          const issued = await api('POST', `/v1/consultations/${consultation.id}/access-tokens`, { identity, role: 'clinician' });
          answers.push({ what: 'token', status: issued.status, body: issued.json });
          if (issued.status === 201) h.sandbox.connect(consultation.roomSid, identity);
          await held();
          const ended = await api('POST', `/v1/consultations/${consultation.id}/end`);
          answers.push({ what: 'end', status: ended.status, body: ended.json });
        }
      };
      await Promise.all(Array.from({ length: WIDTH }, client));
      running = false;
      await Promise.all(sweeps);
      await Promise.all(holders);

      const expected: Record<string, number> = { create: 201, token: 201, end: 200 };
      expect(answers.filter((answer) => answer.status !== expected[answer.what])).toEqual([]);
      if (rowLocks()) expect(held).toBeGreaterThanOrEqual(CREATES / 2 + 8);
      // Each create made one consultation, with its first room and the SID Twilio gave it.
      const stored = await listTenantConsultationsPage(h.service.store.db, { tenantId, limit: 100 });
      expect(stored.map((row) => row.id).sort()).toEqual(created.map((c) => c.id).sort());
      const bySid = new Map(created.map((c) => [c.id, c.roomSid]));
      for (const row of stored) {
        expect(row.room_sid).toBe(bySid.get(row.id));
        expect(h.sandbox.state.getRoom(row.room_sid!)).toBeDefined();
      }
      const firstRooms = await listConsultationRooms(
        h.service.store.db,
        stored.map((row) => row.id),
      );
      expect(firstRooms.filter((room) => room.sequence === 1).map((room) => [room.consultationId, room.roomSid])).toEqual(
        expect.arrayContaining(stored.map((row) => [row.id, row.room_sid])),
      );
      expect(firstRooms.filter((room) => room.sequence === 1)).toHaveLength(stored.length);
    });
  });
}
