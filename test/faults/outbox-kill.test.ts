/**
 * kill -9 mid-outbox: a real `roomgate serve` has claimed composition requests and is waiting
 * for Twilio (which has already created the compositions) when it is SIGKILLed. A second
 * instance started on the same database takes the claims over once their short lease
 * (ROOMGATE_OUTBOX_LEASE) has run out — not after a fixed minute — and adopts the compositions
 * Twilio already has: every room ends with exactly one composition, every entry done.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTenant } from '../../src/service/tenants/tenant-admin.js';
import { insertConsultations } from '../../src/storage/consultation-repository.js';
import { newId } from '../../src/storage/ids.js';
import { openStore } from '../../src/storage/open-store.js';
import { insertIssuedParticipants } from '../../src/storage/participant-repository.js';
import { signForm } from '../support/signed-callback.js';
import { freePort, spawnService, startFakeTwilio, type FakeTwilio, type SpawnedService } from '../support/spawn-service.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const ROOMS = 6;
const LEASE = '3s';

describe('kill -9 while outbox entries are running', () => {
  let dir: string;
  let twilio: FakeTwilio;
  const children: SpawnedService[] = [];
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await twilio?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a second instance finishes the dead one’s claimed entries after the lease, one composition per room', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'roomgate-outbox-kill-'));
    const databaseUrl = `sqlite:${path.join(dir, 'rg.db')}`;
    const accountSid = `AC${hex(16)}`;
    const authToken = hex(16);
    // Twilio creates each composition at once and answers 4 s later: the kill lands in between.
    twilio = await startFakeTwilio({ compositionDelayMs: 4000 });

    const rooms: string[] = [];
    const seed = await openStore(databaseUrl);
    try {
      await seed.migrate();
      const tenantId = await createTenant(seed, { slug: `kill-${hex(3)}`, name: 'Kill clinic', kind: 'human' });
      const now = new Date().toISOString();
      for (let index = 0; index < ROOMS; index += 1) {
        const id = newId('con');
        const roomSid = `RM${hex(16)}`;
        await insertConsultations(seed.db, [
          { id, tenantId, roomSid, roomName: `rg-${id}`, accountSid, record: true, scheduledAt: null, now },
        ]);
        await insertIssuedParticipants(seed.db, [
          {
            consultationId: id,
            identity: 'clin',
            role: 'clinician',
            issuedAt: now,
            expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
          },
        ]);
        rooms.push(roomSid);
      }
    } finally {
      await seed.close();
    }

    const env = async () => ({
      PORT: String(await freePort()),
      ROOMGATE_DATABASE_URL: databaseUrl,
      TWILIO_ACCOUNT_SID: accountSid,
      TWILIO_AUTH_TOKEN: authToken,
      TWILIO_API_KEY_SID: `SK${hex(16)}`,
      TWILIO_API_KEY_SECRET: hex(16),
      TWILIO_API_BASE_URL: twilio.url,
      ROOMGATE_OUTBOX_LEASE: LEASE,
      ROOMGATE_OUTBOX_CONCURRENCY: String(ROOMS),
      LOG_LEVEL: 'warn',
    });
    const first = await spawnService(await env());
    children.push(first);

    // Each room: created, one participant with a recording, ended — the fold queues its composition.
    const start = Date.now() - 60_000;
    for (const roomSid of rooms) {
      let sequence = 0;
      const participant = { ParticipantSid: `PA${hex(16)}`, ParticipantIdentity: 'clin', ParticipantStatus: 'connected' };
      const recording = { ...participant, RecordingSid: `RT${hex(16)}`, TrackName: 'audio' };
      const event = (StatusCallbackEvent: string, seconds: number, extra: Record<string, string> = {}) => ({
        AccountSid: accountSid,
        RoomSid: roomSid,
        RoomName: 'room',
        RoomStatus: StatusCallbackEvent === 'room-ended' ? 'completed' : 'in-progress',
        RoomType: 'group',
        StatusCallbackEvent,
        Timestamp: new Date(start + seconds * 1000).toISOString(),
        SequenceNumber: String(sequence++),
        ...extra,
      });
      for (const params of [
        event('room-created', 0),
        event('participant-connected', 1, participant),
        event('recording-started', 2, recording),
        event('participant-disconnected', 30, { ...participant, ParticipantStatus: 'disconnected' }),
        event('recording-completed', 31, { ...recording, Duration: '29', Size: '1000' }),
        event('room-ended', 32, { RoomDuration: '32' }),
      ]) {
        const signed = signForm(`${first.url}/webhooks/twilio/video`, authToken, params);
        const response = await fetch(`${first.url}/webhooks/twilio/video`, { method: 'POST', headers: signed.headers, body: signed.body });
        expect(response.status).toBe(204);
      }
    }

    // The first instance has asked Twilio for every composition and waits for the answers.
    const deadline = Date.now() + 30_000;
    while ([...twilio.created.values()].reduce((sum, n) => sum + n, 0) < ROOMS) {
      if (Date.now() > deadline) throw new Error(`the compositions were not requested\n${first.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    first.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    const killedAt = Date.now();

    const second = await spawnService(await env());
    children.push(second);
    const store = await openStore(databaseUrl);
    try {
      for (;;) {
        const entries = await store.db.selectFrom('outbox').select('status').where('kind', '=', 'request-composition').execute();
        if (entries.length === ROOMS && entries.every((entry) => entry.status === 'done')) break;
        // Generous: the figure printed below is what matters; the old fixed lock alone was 60 s.
        if (Date.now() - killedAt > 50_000) throw new Error(`the claims were not taken over\n${second.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      console.log(
        `[faults] outbox: the killed instance's ${ROOMS} claimed compositions done ${Date.now() - killedAt} ms after kill -9 ` +
          `(lease ${LEASE}, including the second instance's start-up)`,
      );
    } finally {
      await store.close();
    }
    // Adopted, not created again: one composition per room at Twilio.
    for (const roomSid of rooms) expect(twilio.created.get(roomSid), roomSid).toBe(1);
    second.kill('SIGTERM');
    await second.exited;
  }, 120_000);
});
