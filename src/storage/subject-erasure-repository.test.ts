/**
 * eraseSubject on every engine, for generated identities of every shape a callback can carry —
 * LIKE wildcards (`%`, `_`, `!`), quotes, backslashes, non-ASCII, a trailing space — each stored
 * where Roomgate stores identities, next to neighbours that must keep theirs: an identity that
 * contains it (`…-2`), the same without the trailing space (MySQL compares with PAD SPACE), in
 * another case (SQLite's LIKE ignores case), and the same identity in another tenant. Afterwards
 * a scan of every table finds the identity only inside a neighbour's identity or in the other
 * tenant's rows, which are unchanged; the neighbours keep their identity fields (a quarantined
 * callback's aside: those lose every occurrence).
 */
import BetterSqlite3 from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest, type TestDatabase } from '../../test/support/engines.js';
import { filesContaining, findInDatabase, sqliteFiles } from '../../test/support/identity-scan.js';
import { newId } from './ids.js';
import { openStore } from './open-store.js';
import type { Store } from './store.js';
import { eraseSubject, purgeErasedBytes } from './subject-erasure-repository.js';

const NOW = new Date().toISOString();
const hex = (n: number) => [...Array(n)].map(() => Math.floor(Math.random() * 16).toString(16)).join('');
const sid = (prefix: string) => `${prefix}${hex(32)}`;

const identityArb = fc
  .tuple(
    fc.string({ unit: fc.constantFrom(...'a%_!\\"\'é☃-.:'), maxLength: 5 }),
    fc.string({ unit: fc.constantFrom(...'Z%_!\\"\'ü-.: '), maxLength: 5 }),
  )
  .map(([head, tail]) => `${head}Pt${hex(6)}${tail}`);

/** A key for a scanned row: its id, or its primary key columns. */
const rowKey = (table: string, row: Record<string, unknown>) =>
  `${table}:${String(row.id ?? `${String(row.consultation_id)}/${String(row.identity)}`)}`;

const sorted = <T>(items: T[]) => items.map((item) => JSON.stringify(item)).sort();

/** Everything one identity leaves in one tenant's records; returns the keys of the rows it wrote. */
async function seedSubject(store: Store, tenantId: string, identity: string): Promise<{ keys: Set<string>; unowned: string }> {
  const keys = new Set<string>();
  let unowned = '';
  const consultationId = newId('con');
  const roomSid = sid('RM');
  const participantSid = sid('PA');
  await store.db
    .insertInto('consultations')
    .values({
      id: consultationId,
      tenant_id: tenantId,
      room_sid: roomSid,
      room_name: `rg-${consultationId}`,
      status: 'completed',
      record: 1,
      scheduled_at: null,
      started_at: NOW,
      ended_at: NOW,
      created_at: NOW,
      updated_at: NOW,
      version: 1,
    })
    .execute();
  keys.add(`consultations:${consultationId}`);
  const participantId = `par_${consultationId}_${identity}`.slice(0, 64); // the id shape of today's issuance
  await store.db
    .insertInto('participants')
    .values({ id: participantId, consultation_id: consultationId, identity, role: 'patient', participant_sid: null, created_at: NOW })
    .execute();
  keys.add(`participants:${participantId}`);
  await store.db
    .insertInto('issued_identities')
    .values({ consultation_id: consultationId, identity, role: 'patient', issued_at: NOW, expires_at: NOW })
    .execute();
  keys.add(`issued_identities:${consultationId}/${identity}`);
  const sessionId = `ps_${consultationId}_${participantSid}`.slice(0, 64);
  await store.db
    .insertInto('participant_sessions')
    .values({
      id: sessionId,
      consultation_id: consultationId,
      participant_sid: participantSid,
      identity,
      connected_at: NOW,
      disconnected_at: NOW,
    })
    .execute();
  keys.add(`participant_sessions:${sessionId}`);
  const recordingId = newId('rec');
  await store.db
    .insertInto('recordings')
    .values({
      id: recordingId,
      consultation_id: consultationId,
      recording_sid: sid('RT'),
      track_name: `audio-${identity}`,
      status: 'completed',
      duration: 60,
      size: 1000,
      media_uri: null,
      created_at: NOW,
      completed_at: NOW,
    })
    .execute();
  keys.add(`recordings:${recordingId}`);
  const params = (extra: [string, string][] = []): string =>
    JSON.stringify([
      ['AccountSid', sid('AC')],
      ['RoomSid', roomSid],
      ['StatusCallbackEvent', 'participant-connected'],
      ['ParticipantSid', participantSid],
      ['ParticipantIdentity', identity],
      ['TrackName', `video-${identity}`],
      ['Timestamp', NOW],
      ...extra,
    ]);
  for (const [status, room, extra] of [
    ['accepted', roomSid, []],
    ['quarantined', roomSid, [[`ParticipantIdentity${identity}`, '']]],
    ['unmatched', sid('RM'), []],
  ] as const) {
    const id = newId('cb');
    await store.db
      .insertInto('callbacks')
      .values({
        id,
        dedupe_key: hex(64),
        idempotency_token: null,
        account_sid: sid('AC'),
        room_sid: room,
        composition_sid: null,
        event_type: 'participant-connected',
        event_timestamp: NOW,
        sequence_number: 1,
        participant_sid: participantSid,
        participant_identity: identity,
        params: params(extra.map(([name, value]): [string, string] => [name, value])),
        status,
        received_at: NOW,
        processed_at: null,
      })
      .execute();
    keys.add(`callbacks:${id}`);
    if (status === 'unmatched') unowned = `callbacks:${id}`;
  }
  const auditId = newId('aud');
  await store.db
    .insertInto('audit_log')
    .values({
      id: auditId,
      tenant_id: tenantId,
      actor: 'key_1',
      action: 'token.issue',
      target: consultationId,
      outcome: 'issued',
      detail: JSON.stringify({ identity, role: 'patient', note: `for ${identity}` }),
      created_at: NOW,
    })
    .execute();
  keys.add(`audit_log:${auditId}`);
  const eventId = newId('sev');
  await store.db
    .insertInto('security_events')
    .values({
      id: eventId,
      reason: 'identity-never-issued',
      remote_address: '127.0.0.1',
      path: '/webhooks/twilio/video',
      claimed_account_sid: null,
      detail: JSON.stringify({ roomSid, identity }),
      created_at: NOW,
    })
    .execute();
  keys.add(`security_events:${eventId}`);
  const outboxId = newId('obx');
  await store.db
    .insertInto('outbox')
    .values({
      id: outboxId,
      kind: 'deliver-event',
      dedupe_key: `event:${hex(16)}`,
      payload: JSON.stringify({ consultationId, data: { identity } }),
      status: 'failed',
      attempts: 1,
      next_attempt_at: NOW,
      locked_by: null,
      locked_until: null,
      last_error: `refused for ${identity}`,
      created_at: NOW,
      done_at: null,
    })
    .execute();
  keys.add(`outbox:${outboxId}`);
  return { keys, unowned };
}

async function createTenant(store: Store): Promise<string> {
  const id = newId('ten');
  await store.db.insertInto('tenants').values({ id, slug: id, name: 'Clinic', kind: 'human', created_at: NOW }).execute();
  return id;
}

for (const engine of enginesUnderTest()) {
  describe(`eraseSubject on ${engine.name}`, () => {
    let database: TestDatabase;
    let store: Store;

    beforeAll(async () => {
      database = await engine.createTestDatabase();
      store = await openStore(database.url);
      await store.migrate();
    });
    afterAll(async () => {
      await store?.close();
      await database?.drop();
    });

    it('replaces every trace of any identity, and keeps other identities where they are the subject', async () => {
      await fc.assert(
        fc.asyncProperty(identityArb, async (identity) => {
          const tenantId = await createTenant(store);
          const otherTenantId = await createTenant(store);
          await seedSubject(store, tenantId, identity);
          const containing = `${identity}-2`;
          const neighbours = [containing, ...new Set([identity.trimEnd(), identity.toUpperCase()])].filter((n) => n !== identity);
          for (const neighbour of neighbours) await seedSubject(store, tenantId, neighbour);
          // The other tenant's subject, except its callback of a room nobody knows (which belongs to no tenant).
          const other = await seedSubject(store, otherTenantId, identity);
          const othersRows = (traces: Awaited<ReturnType<typeof findInDatabase>>) =>
            traces.filter((trace) => other.keys.has(rowKey(trace.table, trace.row)) && rowKey(trace.table, trace.row) !== other.unowned);
          const othersBefore = othersRows(await findInDatabase(store, identity));

          const pseudonym = `erased-${hex(20)}`;
          const counts = await store.transaction((trx) => eraseSubject(trx, { tenantId, identity, pseudonym }));
          // Identity columns: its own rows only. Free text of the neighbour that contains it goes too.
          expect(counts).toMatchObject({ participants: 1, sessions: 1, issuedIdentities: 1, securityEvents: 1 });
          expect(counts.callbacks).toBe(3 + 1 + 3); // its own; the other tenant's unowned one; the containing neighbour's track names
          expect(counts).toMatchObject({ recordings: 2, auditEntries: 2, outbox: 2 });

          const left = await findInDatabase(store, identity);
          // Only inside the containing neighbour's identity, or in the other tenant's rows.
          const escaped = (text: string) => JSON.stringify(text).slice(1, -1);
          const stray = left.filter((trace) => {
            if (othersRows([trace]).length > 0) return false;
            const rest = String(trace.row[trace.column]).replaceAll(escaped(containing), '').replaceAll(containing, '');
            return rest.includes(identity) || rest.includes(escaped(identity));
          });
          expect(stray).toEqual([]);
          expect(sorted(othersRows(left))).toEqual(sorted(othersBefore));
          for (const neighbour of neighbours) {
            const holds = async (table: 'participants' | 'issued_identities' | 'participant_sessions') =>
              (await store.db.selectFrom(table).select('identity').where('identity', '=', neighbour).execute()).filter(
                (row) => row.identity === neighbour,
              ).length;
            expect([await holds('participants'), await holds('issued_identities'), await holds('participant_sessions')]).toEqual([1, 1, 1]);
            const callbacks = await store.db
              .selectFrom('callbacks')
              .select(['params', 'participant_identity'])
              .where('participant_identity', '=', neighbour)
              .execute();
            const own = callbacks.filter((row) => row.participant_identity === neighbour);
            // Never-applied callbacks lose every occurrence, even inside another identity.
            expect(own).toHaveLength(neighbour === containing ? 1 : 3);
            for (const row of own) expect(JSON.parse(row.params)).toContainEqual(['ParticipantIdentity', neighbour]);
          }

          const again = await store.transaction((trx) => eraseSubject(trx, { tenantId, identity, pseudonym: `erased-${hex(20)}` }));
          expect(Object.values(again).every((n) => n === 0)).toBe(true);
        }),
        { numRuns: engine.name === 'sqlite' ? 12 : 6, seed: Number(process.env.FUZZ_SEED ?? 20260713), endOnFailure: true },
      );
    });

    // SQLite alone: the other engines' files are the server's (see afterErasure).
    if (engine.name === 'sqlite')
      it('leaves no old bytes in the SQLite files once the WAL is checkpointed', async () => {
        const tenantId = await createTenant(store);
        const identity = `pt-bytes-${hex(8)}`;
        await seedSubject(store, tenantId, identity);
        expect(await filesContaining(sqliteFiles(database.url), identity)).not.toEqual([]);
        await store.transaction((trx) => eraseSubject(trx, { tenantId, identity, pseudonym: `erased-${hex(20)}` }));
        expect(await purgeErasedBytes(store.db)).toBe(true);
        expect(await filesContaining(sqliteFiles(database.url), identity)).toEqual([]);
      });

    if (engine.name === 'sqlite')
      it('waits a bounded time for a reader that holds an old snapshot, then finishes once it is gone', async () => {
        const tenantId = await createTenant(store);
        const identity = `pt-reader-${hex(8)}`;
        await seedSubject(store, tenantId, identity);
        // Another process's connection, in the middle of a read: the WAL cannot be emptied under it.
        const reader = new BetterSqlite3(sqliteFiles(database.url)[0]!);
        try {
          reader.prepare('begin').run();
          reader.prepare('select count(*) from callbacks').get();
          await store.transaction((trx) => eraseSubject(trx, { tenantId, identity, pseudonym: `erased-${hex(20)}` }));
          const started = Date.now();
          expect(await purgeErasedBytes(store.db, { timeoutMs: 200 })).toBe(false);
          expect(Date.now() - started).toBeLessThan(5000);
          reader.prepare('commit').run();
        } finally {
          reader.close();
        }
        expect(await purgeErasedBytes(store.db)).toBe(true);
        expect(await filesContaining(sqliteFiles(database.url), identity)).toEqual([]);
      });
  });
}
