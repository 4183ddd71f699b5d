/**
 * The database lost at the worst moment: at a COMMIT. A proxy the test owns (tripwire-proxy.ts)
 * strikes when a connection that wrote a given statement sends its COMMIT, on PostgreSQL and
 * MariaDB/MySQL (the shared servers are never touched):
 *
 * - the fold's COMMIT answer lost (it committed; the client cannot know and folds again), or the
 *   connection silent from the fold's COMMIT on (the server keeps the transaction and its row
 *   locks until its idle-in-transaction timeout);
 * - the inbox's connection silent from its commit on: 503 within the commit deadline, and the
 *   retries find the rows committed (duplicates);
 * - the inbox's commit answer lost for a consultation's last callback: committed, answered 503,
 *   Twilio's retry is a duplicate (204) — and the callback is folded at once, not by the sweep.
 *   The inbox's commit is its INSERT: on these engines a batch whose only write is the INSERT
 *   runs it alone, outside a transaction (store-ingest.ts), so the wire strikes at the INSERT;
 * - a slow database (every packet late) past the commit deadline: 503, never 500, and 204 again
 *   once it is fast.
 *
 * The oracle after each: a control consultation given the same callbacks with no fault — the
 * consultation under fault must end exactly like it (status, every callback folded, one billing
 * record with as many chain versions, the same events in the tenant's log, status moves that
 * chain, the same outbox entries), and every callback is stored once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventDedupeKey } from '../../src/core/consultation/consultation-event.js';
import { enginesUnderTest } from '../support/engines.js';
import { signForm } from '../support/signed-callback.js';
import { randomHex, startTestService, type TestService } from '../support/test-service.js';
import { startTripwireProxy, type TripwireProxy } from './support/tripwire-proxy.js';
import { eventually } from './support/eventually.js';

const PATH = '/webhooks/twilio/video';
const COMMIT_DEADLINE_MS = 2000;
const servers = enginesUnderTest().filter((engine) => engine.server && engine.viaAddress);

// The fold marks the callbacks it folds; the inbox inserts them. Quoted "…" (PostgreSQL) or `…` (MySQL).
const FOLD = /update ["`]callbacks["`] set ["`]processed_at["`]/;
const INBOX = /insert into ["`]callbacks["`]/;

for (const engine of servers) {
  describe(`a COMMIT lost or hung between the service and ${engine.name}`, () => {
    let proxy: TripwireProxy;
    let service: TestService;
    let tenantId: string;

    beforeAll(async () => {
      proxy = await startTripwireProxy(engine.server!);
      service = await startTestService(engine, {
        storeUrl: (url) => engine.viaAddress!(url, { host: '127.0.0.1', port: proxy.port }),
        env: {
          ROOMGATE_COMMIT_DEADLINE: `${COMMIT_DEADLINE_MS}ms`,
          ROOMGATE_DB_LOCK_TIMEOUT: '1s',
          ROOMGATE_DB_CONNECT_TIMEOUT: '1s',
          ROOMGATE_DB_STATEMENT_TIMEOUT: '1500ms',
          ROOMGATE_DB_QUERY_TIMEOUT: '2s',
          ROOMGATE_DB_IDLE_IN_TRANSACTION_TIMEOUT: '1s',
        },
      });
      ({ tenantId } = await service.seedTenant());
    });
    afterAll(async () => {
      proxy?.disarm();
      proxy?.heal();
      proxy?.setLatency(0);
      await service?.close();
      await proxy?.close();
    });

    /** A whole consultation: both join, publish, leave, the room ends (a billing record, events). */
    const consultationCallbacks = (roomSid: string): Record<string, string>[] => {
      const start = Date.now() - 120_000;
      let sequence = 0;
      const event = (StatusCallbackEvent: string, seconds: number, extra: Record<string, string> = {}) => ({
        AccountSid: service.accountSid,
        RoomSid: roomSid,
        RoomName: 'rg-room',
        RoomStatus: StatusCallbackEvent === 'room-ended' ? 'completed' : 'in-progress',
        RoomType: 'group',
        StatusCallbackEvent,
        Timestamp: new Date(start + seconds * 1000).toISOString(),
        SequenceNumber: String(sequence++),
        ...extra,
      });
      const clin = { ParticipantSid: `PA${randomHex(16)}`, ParticipantIdentity: 'clin', ParticipantStatus: 'connected' };
      const pat = { ParticipantSid: `PA${randomHex(16)}`, ParticipantIdentity: 'pat', ParticipantStatus: 'connected' };
      return [
        event('room-created', 0),
        event('participant-connected', 1, clin),
        event('participant-connected', 2, pat),
        event('track-added', 3, { ...clin, TrackSid: `MT${randomHex(16)}`, TrackKind: 'audio' }),
        event('participant-disconnected', 60, { ...pat, ParticipantStatus: 'disconnected', ParticipantDuration: '58' }),
        event('participant-disconnected', 61, { ...clin, ParticipantStatus: 'disconnected', ParticipantDuration: '60' }),
        event('room-ended', 62, { RoomDuration: '62' }),
      ];
    };

    const send = async (params: Record<string, string>) => {
      const signed = signForm(`http://localhost:80${PATH}`, service.authToken, params);
      return service.app.inject({ method: 'POST', url: PATH, headers: signed.headers, payload: signed.body });
    };
    /** Twilio: sends until 204 (503 is retried; anything else fails the test). */
    const deliver = async (params: Record<string, string>) => {
      for (const started = Date.now(); ;) {
        const answer = await send(params);
        if (answer.statusCode === 204) return;
        expect(answer.statusCode, answer.body).toBe(503);
        expect(answer.headers['retry-after']).toBe('1');
        if (Date.now() - started > 30_000) throw new Error('a callback was not acknowledged within 30 s');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };

    const seed = () => service.seedConsultation(tenantId, { record: false, identities: { clin: 'clinician', pat: 'patient' } });

    /** What the consultation ended as, in the terms the oracle compares. */
    const outcome = async (consultation: { id: string; roomSid: string }) => {
      const db = service.store.db;
      const row = await db.selectFrom('consultations').select(['status']).where('id', '=', consultation.id).executeTakeFirstOrThrow();
      const callbacks = await db.selectFrom('callbacks').select(['processed_at']).where('room_sid', '=', consultation.roomSid).execute();
      const billing = await db
        .selectFrom('billing_records')
        .select(['billable_seconds', 'version'])
        .where('consultation_id', '=', consultation.id)
        .execute();
      const versions = await db
        .selectFrom('billing_record_versions')
        .select('version')
        .where('consultation_id', '=', consultation.id)
        .execute();
      const events = await db
        .selectFrom('tenant_events')
        .select(['type', 'payload', 'sequence'])
        .where('consultation_id', '=', consultation.id)
        .orderBy('sequence')
        .execute();
      // How many status moves a fold logs depends on how the callbacks were batched; the moves
      // themselves must chain (no move logged twice, none missing).
      const moves = events
        .filter((event) => event.type === 'consultation.status')
        .map((event) => JSON.parse(event.payload) as { data?: { from: string; to: string }; from?: string; to?: string })
        .map((payload) => payload.data ?? payload);
      const outbox = await db
        .selectFrom('outbox')
        .select(['kind', 'dedupe_key'])
        .where('dedupe_key', 'like', `%${consultation.roomSid}%`)
        .execute();
      return {
        status: row.status,
        callbacks: callbacks.length,
        unfolded: callbacks.filter((callback) => callback.processed_at === null).length,
        billing: billing.map((record) => ({ seconds: record.billable_seconds, version: record.version })),
        versions: versions.map((version) => version.version).sort(),
        events: events
          .map((event) => event.type)
          .filter((type) => type !== 'consultation.status')
          .sort(),
        statusChain: moves.every((move, index) => index === 0 || move.from === moves[index - 1]!.to) && moves.at(-1)?.to,
        outbox: outbox.length,
      };
    };

    /** The control: the same kind of consultation, no fault. */
    let expected: Awaited<ReturnType<typeof outcome>>;
    const control = async () => {
      if (expected) return expected;
      const consultation = await seed();
      for (const params of consultationCallbacks(consultation.roomSid)) await deliver(params);
      await service.app.roomgate.drain();
      expected = await eventually('the control folded', async () => {
        const result = await outcome(consultation);
        return result.unfolded === 0 && result.status === 'completed' ? result : undefined;
      });
      return expected;
    };

    const settled = async (consultation: { id: string; roomSid: string }, callbacks: Record<string, string>[]) => {
      const want = await control();
      const got = await eventually(
        'the consultation under fault folded like the control',
        async () => {
          await service.app.roomgate.drain();
          const result = await outcome(consultation);
          return result.unfolded === 0 && result.status === want.status && result.versions.length >= want.versions.length
            ? result
            : undefined;
        },
        20_000,
      ).catch(async (error: unknown) => {
        console.log(JSON.stringify(await outcome(consultation)), JSON.stringify(want));
        throw error;
      });
      expect(got).toEqual(want);
      const keys = await service.store.db
        .selectFrom('callbacks')
        .select('dedupe_key')
        .where('room_sid', '=', consultation.roomSid)
        .execute();
      expect(keys.map((row) => row.dedupe_key).sort()).toEqual(callbacks.map(eventDedupeKey).sort());
      expect((await service.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    };

    for (const action of ['drop-answer', 'hang'] as const) {
      it(`folds every callback once when the fold's COMMIT meets ${action}`, async () => {
        await control();
        const consultation = await seed();
        const callbacks = consultationCallbacks(consultation.roomSid);
        const struck = proxy.arm({ armedBy: FOLD, action, times: 2 });
        for (const params of callbacks) await deliver(params);
        await Promise.race([struck, new Promise((resolve) => setTimeout(resolve, 5000))]);
        console.log(`[faults] ${engine.name}: fold COMMIT ${action}: struck ${proxy.struck} time(s)`);
        expect(proxy.struck).toBeGreaterThan(0);
        proxy.disarm();
        if (action === 'hang') setTimeout(() => proxy.heal(), 2000);
        await settled(consultation, callbacks);
        proxy.heal();
      }, 60_000);
    }

    for (const action of ['hang'] as const) {
      it(`stores every callback once when the inbox's COMMIT meets ${action}`, async () => {
        await control();
        const consultation = await seed();
        const callbacks = consultationCallbacks(consultation.roomSid);
        const struck = proxy.arm({ armedBy: INBOX, at: 'statement', action, times: 2 });
        const first = await Promise.all(callbacks.slice(0, 3).map(send));
        const statuses = first.map((answer) => answer.statusCode);
        console.log(`[faults] ${engine.name}: inbox COMMIT ${action}: answers ${statuses.join(' ')}; struck ${proxy.struck}`);
        expect(statuses.every((status) => status === 204 || status === 503)).toBe(true);
        expect(statuses).toContain(503);
        await Promise.race([struck, new Promise((resolve) => setTimeout(resolve, 3000))]);
        proxy.disarm();
        proxy.heal();
        for (const params of callbacks) await deliver(params);
        await settled(consultation, callbacks);
      }, 60_000);
    }

    it("folds a consultation's last callback promptly when its inbox COMMIT's answer was lost (Twilio's retry is a duplicate)", async () => {
      await control();
      const consultation = await seed();
      const callbacks = consultationCallbacks(consultation.roomSid);
      for (const params of callbacks.slice(0, -1)) await deliver(params);
      await service.app.roomgate.drain(); // all folded: nothing else will fold this consultation
      const last = callbacks.at(-1)!;
      const struck = proxy.arm({ armedBy: INBOX, at: 'statement', action: 'drop-answer' });
      expect((await send(last)).statusCode).toBe(503);
      await struck;
      // Committed although answered 503: the retry is a duplicate, answered 204 — and folded soon,
      // not only by the sweep (every 10 s).
      expect((await send(last)).statusCode).toBe(204);
      const acknowledged = Date.now();
      await eventually(
        'the last callback folded after the retry',
        async () => ((await outcome(consultation)).unfolded === 0 ? true : undefined),
        3000,
      );
      console.log(
        `[faults] ${engine.name}: the last callback, committed but answered 503, folded ${Date.now() - acknowledged} ms after its retry`,
      );
      await settled(consultation, callbacks);
    }, 60_000);

    it('answers 503 (never 500) while the database is slow past the commit deadline, and 204 once it is fast again', async () => {
      await control();
      const consultation = await seed();
      const callbacks = consultationCallbacks(consultation.roomSid);
      await deliver(callbacks[0]!);
      proxy.setLatency(700);
      const started = Date.now();
      const slow = await Promise.all(callbacks.slice(1, 4).map(send));
      console.log(
        `[faults] ${engine.name}: 700 ms per packet → ${slow.map((answer) => answer.statusCode).join(' ')} after ${Date.now() - started} ms`,
      );
      expect(slow.map((answer) => answer.statusCode)).toEqual([503, 503, 503]);
      expect(Date.now() - started).toBeLessThan(COMMIT_DEADLINE_MS + 1500);
      proxy.setLatency(0);
      for (const params of callbacks) await deliver(params);
      await settled(consultation, callbacks);
    }, 60_000);
  });
}
