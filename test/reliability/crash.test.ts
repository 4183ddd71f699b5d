/**
 * kill -9 during load: the real service (`roomgate serve`, a child process on SQLite) takes a few
 * thousand distinct signed callbacks over 16 connections and is SIGKILLed midway. After a
 * restart, every callback that did not get its 204 is sent again (and some that did, to prove
 * dedupe). Then: every acknowledged callback is stored exactly once, nothing twice, and each
 * finished consultation has one composition request, one composition at Twilio, one billing record.
 * The killed worker's outbox claims are left as it left them: they expire after their short lease
 * (ROOMGATE_OUTBOX_LEASE, no heartbeat renews them), and the restarted instance takes them over.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventDedupeKey } from '../../src/core/consultation/consultation-event.js';
import { createApiKey, createTenant } from '../../src/service/tenants/tenant-admin.js';
import { insertConsultations } from '../../src/storage/consultation-repository.js';
import { newId } from '../../src/storage/ids.js';
import { insertIssuedParticipants } from '../../src/storage/participant-repository.js';
import { openStore } from '../../src/storage/open-store.js';
import { signForm } from '../support/signed-callback.js';
import { freePort, spawnService, startFakeTwilio, type FakeTwilio, type SpawnedService } from '../support/spawn-service.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const WEBHOOK = '/webhooks/twilio/video';
const CONSULTATIONS = 150;
const CONNECTIONS = 16;

interface Consultation {
  readonly id: string;
  readonly roomSid: string;
}

describe('crash: SIGKILL during load, restart, resend', () => {
  let dir: string;
  let twilio: FakeTwilio;
  let child: SpawnedService | undefined;
  afterAll(async () => {
    child?.kill('SIGKILL');
    await twilio?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('stores every acknowledged callback exactly once and runs each side effect once', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'roomgate-crash-'));
    const databaseUrl = `sqlite:${path.join(dir, 'rg.db')}`;
    const accountSid = `AC${hex(16)}`;
    const authToken = hex(16);
    twilio = await startFakeTwilio();

    // Seed a tenant and consultations in the very file the child will open.
    const consultations: Consultation[] = [];
    const seed = await openStore(databaseUrl);
    try {
      await seed.migrate();
      const now = new Date().toISOString();
      const tenantId = await createTenant(seed, { slug: `crash-${hex(3)}`, name: 'Crash clinic', kind: 'human' });
      await createApiKey(seed, { tenantId, scopes: ['billing:read'] });
      for (let index = 0; index < CONSULTATIONS; index += 1) {
        const id = newId('con');
        const roomSid = `RM${hex(16)}`;
        await insertConsultations(seed.db, [
          { id, tenantId, roomSid, roomName: `rg-${id}`, accountSid: null, record: true, scheduledAt: null, now },
        ]);
        await insertIssuedParticipants(
          seed.db,
          [
            [`clin-${index}`, 'clinician'],
            [`pat-${index}`, 'patient'],
          ].map(([identity, role]) => ({
            consultationId: id,
            identity: identity!,
            role: role!,
            issuedAt: now,
            expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
          })),
        );
        consultations.push({ id, roomSid });
      }
    } finally {
      await seed.close();
    }

    // A whole consultation per room: 14 distinct callbacks, Timestamps a few minutes ago.
    const start = Date.now() - 5 * 60_000;
    const callbacks: Record<string, string>[] = [];
    consultations.forEach(({ roomSid }, index) => {
      let sequence = 0;
      const at = (seconds: number) => new Date(start + seconds * 1000).toISOString();
      const event = (StatusCallbackEvent: string, seconds: number, extra: Record<string, string> = {}) =>
        callbacks.push({
          AccountSid: accountSid,
          RoomSid: roomSid,
          RoomName: `room-${index}`,
          RoomStatus: StatusCallbackEvent === 'room-ended' ? 'completed' : 'in-progress',
          RoomType: 'group',
          StatusCallbackEvent,
          Timestamp: at(seconds),
          SequenceNumber: String(sequence++),
          ...extra,
        });
      const who = (role: 'clin' | 'pat') => ({
        ParticipantSid: `PA${hex(16)}`,
        ParticipantIdentity: `${role}-${index}`,
        ParticipantStatus: 'connected',
      });
      const clin = who('clin');
      const pat = who('pat');
      const recordings = [`RT${hex(16)}`, `RT${hex(16)}`];
      event('room-created', 0);
      event('participant-connected', 1, clin);
      event('participant-connected', 30, pat);
      event('track-added', 31, { ...clin, TrackSid: `MT${hex(16)}`, TrackKind: 'audio' });
      event('track-added', 32, { ...pat, TrackSid: `MT${hex(16)}`, TrackKind: 'audio' });
      event('recording-started', 33, { ...clin, RecordingSid: recordings[0]!, TrackName: 'audio-clin' });
      event('recording-started', 34, { ...pat, RecordingSid: recordings[1]!, TrackName: 'audio-pat' });
      event('track-disabled', 100, { ...pat, TrackSid: `MT${hex(16)}`, TrackKind: 'video' });
      event('track-enabled', 110, { ...pat, TrackSid: `MT${hex(16)}`, TrackKind: 'video' });
      event('participant-disconnected', 200, { ...pat, ParticipantStatus: 'disconnected' });
      event('participant-disconnected', 210, { ...clin, ParticipantStatus: 'disconnected' });
      event('recording-completed', 211, { ...clin, RecordingSid: recordings[0]!, TrackName: 'audio-clin', Duration: '178', Size: '1000' });
      event('recording-completed', 212, { ...pat, RecordingSid: recordings[1]!, TrackName: 'audio-pat', Duration: '170', Size: '1000' });
      event('room-ended', 215, { RoomDuration: '215' });
    });
    // Interleave rooms so the kill lands in the middle of many consultations.
    callbacks.sort(() => Math.random() - 0.5);
    const keys = callbacks.map(eventDedupeKey);
    expect(new Set(keys).size).toBe(callbacks.length);

    const env = (port: number) => ({
      PORT: String(port),
      ROOMGATE_DATABASE_URL: databaseUrl,
      TWILIO_ACCOUNT_SID: accountSid,
      TWILIO_AUTH_TOKEN: authToken,
      TWILIO_API_KEY_SID: `SK${hex(16)}`,
      TWILIO_API_KEY_SECRET: hex(16),
      TWILIO_API_BASE_URL: twilio.url,
      LOG_LEVEL: 'warn',
      // The dead worker's outbox claims expire after this lease (no heartbeat renews them).
      ROOMGATE_OUTBOX_LEASE: '3s',
    });
    const send = (agent: http.Agent, port: number, params: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const signed = signForm(`http://127.0.0.1:${port}${WEBHOOK}`, authToken, params);
        const request = http.request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: WEBHOOK,
            agent,
            headers: { ...signed.headers, 'content-length': Buffer.byteLength(signed.body) },
          },
          (response) => {
            response.resume();
            response.on('end', () => resolve(response.statusCode ?? 0));
            response.on('error', () => resolve(0));
          },
        );
        request.on('error', () => resolve(0));
        request.end(signed.body);
      });
    const sendAll = async (port: number, indexes: number[], onAnswer?: (done: number) => void) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
      const statuses = new Map<number, number>();
      let next = 0;
      await Promise.all(
        Array.from({ length: CONNECTIONS }, async () => {
          while (next < indexes.length) {
            const index = indexes[next++]!;
            statuses.set(index, await send(agent, port, callbacks[index]!));
            onAnswer?.(statuses.size);
          }
        }),
      );
      agent.destroy();
      return statuses;
    };

    // Phase 1: load, and SIGKILL once about 40% of the callbacks were answered.
    const firstPort = await freePort();
    child = await spawnService(env(firstPort));
    const first = child;
    let killed = false;
    const firstStatuses = await sendAll(
      firstPort,
      callbacks.map((_, index) => index),
      (done) => {
        if (!killed && done >= callbacks.length * 0.4) {
          killed = true;
          first.kill('SIGKILL');
        }
      },
    );
    expect(await first.exited).toBe('SIGKILL');
    const acknowledged = [...firstStatuses].filter(([, status]) => status === 204).map(([index]) => index);
    const unacknowledged = callbacks.map((_, index) => index).filter((index) => firstStatuses.get(index) !== 204);
    // The kill landed mid-load: some answered, some not; nothing answered other than 204 before it.
    expect(acknowledged.length).toBeGreaterThan(callbacks.length * 0.3);
    expect(unacknowledged.length).toBeGreaterThan(callbacks.length * 0.3);
    expect([...firstStatuses.values()].filter((status) => status !== 204 && status !== 0)).toEqual([]);

    // Phase 2: restart on the same file, resend every unacknowledged one and 300 acknowledged ones.
    const secondPort = await freePort();
    child = await spawnService(env(secondPort));
    const resent = [...unacknowledged, ...acknowledged.slice(0, 300)].sort(() => Math.random() - 0.5);
    const secondStatuses = await sendAll(secondPort, resent);
    expect([...secondStatuses.values()].filter((status) => status !== 204)).toEqual([]);

    // The outbox drains: every composition request done.
    const store = await openStore(databaseUrl);
    try {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const pending = await store.db
          .selectFrom('outbox')
          .select('id')
          .where('kind', '=', 'request-composition')
          .where('status', '!=', 'done')
          .execute();
        const total = await store.db.selectFrom('outbox').select('id').where('kind', '=', 'request-composition').execute();
        if (pending.length === 0 && total.length >= CONSULTATIONS) break;
        if (Date.now() > deadline) throw new Error(`outbox did not drain: ${pending.length} pending of ${total.length}\n${child.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await store.close();
    }
    child.kill('SIGTERM');
    await child.exited;

    const check = await openStore(databaseUrl);
    try {
      const rows = await check.db.selectFrom('callbacks').select(['dedupe_key', 'status']).execute();
      const stored = rows.map((row) => row.dedupe_key);
      expect(stored.length).toBe(callbacks.length);
      expect(new Set(stored).size).toBe(stored.length);
      expect(new Set(stored)).toEqual(new Set(keys));
      expect(rows.filter((row) => row.status !== 'accepted')).toEqual([]);

      const outbox = await check.db
        .selectFrom('outbox')
        .select(['kind', 'payload', 'status'])
        .where('kind', '=', 'request-composition')
        .execute();
      const byRoom = new Map<string, number>();
      for (const entry of outbox) {
        const { roomSid } = JSON.parse(entry.payload) as { roomSid: string };
        byRoom.set(roomSid, (byRoom.get(roomSid) ?? 0) + 1);
        expect(entry.status).toBe('done');
      }
      for (const { roomSid } of consultations) {
        expect(byRoom.get(roomSid), `outbox entries for ${roomSid}`).toBe(1);
        expect(twilio.created.get(roomSid), `compositions created for ${roomSid}`).toBe(1);
      }
      expect(outbox.length).toBe(CONSULTATIONS);

      const statuses = await check.db.selectFrom('consultations').select('status').execute();
      expect(statuses.every((row) => row.status === 'completed')).toBe(true);
      const billing = await check.db.selectFrom('billing_records').select(['consultation_id', 'billable_seconds']).execute();
      expect(billing.length).toBe(CONSULTATIONS);
      expect(new Set(billing.map((row) => row.consultation_id)).size).toBe(CONSULTATIONS);
      // Both sides overlapped from 30 s to 200 s.
      expect(new Set(billing.map((row) => row.billable_seconds))).toEqual(new Set([170]));
    } finally {
      await check.close();
    }
  }, 120_000);
});
