/**
 * SQLite's disk fills up between a callback's commit and its fold, as `serve` runs it: the
 * record thread folds on its own connection, the HTTP thread's statements on a thread of their
 * own. The callback was acknowledged (204, committed); its fold cannot write (SQLITE_FULL) —
 * nothing of the failed fold may remain, the record thread must not die, /readyz says 503, and
 * once space is freed the fold completes by itself: the consultation ends exactly as it would
 * have, billed once, every callback stored once and folded.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { eventDedupeKey } from '../../src/core/consultation/consultation-event.js';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { randomHex, startTestService } from '../support/test-service.js';
import { eventually } from './support/eventually.js';

const PATH = '/webhooks/twilio/video';
const sqlite = enginesUnderTest().find((engine) => engine.name === 'sqlite');

/** Writes to `file` until the filesystem has not one byte left. */
function fill(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch {
    // ENOSPC: now the small writes
  }
  for (let size = 4096; size >= 1; size = Math.floor(size / 2)) {
    try {
      for (;;) writeSync(fd, chunk.subarray(0, size));
    } catch {
      // this size no longer fits; try smaller
    }
  }
  closeSync(fd);
}

describe.runIf(sqlite)('sqlite: the disk full between the inbox commit and the fold', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  });

  it('acknowledged callbacks are folded once space is back; the record thread lives on; readiness follows', async () => {
    const mountPoint = mkdtempSync(path.join(tmpdir(), 'roomgate-fold-full-'));
    cleanups.push(() => rmSync(mountPoint, { recursive: true, force: true }));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', mountPoint]);
    cleanups.push(() => void execFileSync('umount', ['-l', mountPoint]));
    const file = path.join(mountPoint, 'rg.db');
    const database = { url: `sqlite:${file}`, drop: async () => undefined };
    const service = await startTestService(sqlite!, {
      database,
      sqliteThread: true,
      env: { ROOMGATE_COMMIT_DEADLINE: '3s' },
      // As serve runs it — but the fold waits 400 ms for more callbacks: the disk fills meanwhile.
      app: { projectionThread: { databaseUrl: database.url, store: {}, gatherMs: 400, restartDelayMs: 50 } },
    });
    cleanups.push(() => service.close());
    const { tenantId } = await service.seedTenant();
    const identities = { clin: 'clinician', pat: 'patient' };
    const send = async (params: Record<string, string>) => {
      const signed = signForm(`http://localhost:80${PATH}`, service.authToken, params);
      return (await service.app.inject({ method: 'POST', url: PATH, headers: signed.headers, payload: signed.body })).statusCode;
    };
    const readyz = async () => (await service.app.inject({ method: 'GET', url: '/readyz' })).statusCode;
    const whole = (roomSid: string) => {
      const start = Date.now() - 120_000;
      const event = (StatusCallbackEvent: string, seconds: number, extra: Record<string, string> = {}) => ({
        AccountSid: service.accountSid,
        RoomSid: roomSid,
        RoomName: 'rg-room',
        RoomStatus: StatusCallbackEvent === 'room-ended' ? 'completed' : 'in-progress',
        RoomType: 'group',
        StatusCallbackEvent,
        Timestamp: new Date(start + seconds * 1000).toISOString(),
        SequenceNumber: String(seconds),
        ...extra,
      });
      const clin = { ParticipantSid: `PA${randomHex(16)}`, ParticipantIdentity: 'clin', ParticipantStatus: 'connected' };
      const pat = { ParticipantSid: `PA${randomHex(16)}`, ParticipantIdentity: 'pat', ParticipantStatus: 'connected' };
      return [
        event('participant-connected', 1, clin),
        event('participant-connected', 2, pat),
        event('participant-disconnected', 60, { ...pat, ParticipantStatus: 'disconnected' }),
        event('participant-disconnected', 61, { ...clin, ParticipantStatus: 'disconnected' }),
        event('room-ended', 62, { RoomDuration: '62' }),
      ];
    };
    const outcome = async (consultation: { id: string; roomSid: string }) => {
      const db = service.store.db;
      const row = await db.selectFrom('consultations').select('status').where('id', '=', consultation.id).executeTakeFirstOrThrow();
      const callbacks = await db
        .selectFrom('callbacks')
        .select(['dedupe_key', 'processed_at'])
        .where('room_sid', '=', consultation.roomSid)
        .execute();
      const versions = await db
        .selectFrom('billing_record_versions')
        .select('version')
        .where('consultation_id', '=', consultation.id)
        .execute();
      const events = await db.selectFrom('tenant_events').select('type').where('consultation_id', '=', consultation.id).execute();
      return {
        status: row.status,
        keys: callbacks.map((callback) => callback.dedupe_key).sort(),
        unfolded: callbacks.filter((callback) => callback.processed_at === null).length,
        versions: versions.length,
        joinedAndLeft: events.filter((event) => event.type.startsWith('participant.')).length,
      };
    };

    const underFault = await service.seedConsultation(tenantId, { record: false, identities });
    const callbacks = whole(underFault.roomSid);
    for (const params of callbacks.slice(0, -1)) expect(await send(params)).toBe(204);
    await service.app.roomgate.drain();

    // The last callback is committed and acknowledged; before its fold starts, the WAL is
    // emptied (so no frame of it can be reused) and the disk filled to the last byte.
    expect(await send(callbacks.at(-1)!)).toBe(204);
    const checkpoint = new BetterSqlite3(file);
    checkpoint.pragma('wal_checkpoint(TRUNCATE)');
    checkpoint.close();
    const filler = path.join(mountPoint, 'filler');
    fill(filler);
    const fullAt = Date.now();

    await eventually('readyz 503 on a full disk', async () => ((await readyz()) === 503 ? true : undefined), 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the fold has tried, and failed
    const during = await outcome(underFault);
    console.log(`[faults] sqlite: disk full before the fold → after ${Date.now() - fullAt} ms: ${JSON.stringify(during)}`);
    expect(during.unfolded).toBe(1);
    expect(during.status).not.toBe('completed');

    unlinkSync(filler);
    const freedAt = Date.now();
    const after = await eventually(
      'the last callback folded once space is back',
      async () => {
        const result = await outcome(underFault);
        return result.unfolded === 0 && result.status === 'completed' ? result : undefined;
      },
      20_000,
    );
    console.log(`[faults] sqlite: space freed → folded after ${Date.now() - freedAt} ms`);
    expect(after.keys).toEqual(callbacks.map(eventDedupeKey).sort());
    expect(after.versions).toBe(1);
    expect(after.joinedAndLeft).toBe(4);
    await eventually('readyz 200 once space is free', async () => ((await readyz()) === 200 ? true : undefined), 20_000);
    // The record thread lived through it (a fold that cannot write is retried, not a crash).
    expect(await service.metricsText()).toMatch(/^roomgate_projection_thread_restarts_total 0$/m);
    expect(service.logs()).not.toContain('projection thread ended unexpectedly');

    // And a consultation after it runs as ever.
    const next = await service.seedConsultation(tenantId, { record: false, identities });
    for (const params of whole(next.roomSid)) expect(await send(params)).toBe(204);
    await service.app.roomgate.drain();
    expect((await outcome(next)).status).toBe('completed');
  }, 60_000);
});
