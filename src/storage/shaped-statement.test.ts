/**
 * Shaped statements (compiled once per shape, re-run with new parameters) return the same rows
 * and leave the same rows behind as the same statements built by Kysely on every call — on every
 * engine, for lists and row groups of varied lengths and update shapes — and their cache is
 * bounded however many shapes arrive.
 */
import { createQueryId, sql, type KyselyPlugin } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest, type TestDatabase } from '../../test/support/engines.js';
import { appendTenantEvents } from './event-log-repository.js';
import { upsertBillingRecord } from './billing-repository.js';
import {
  findConsultationsForProjection,
  findConsultationsForRooms,
  insertConsultations,
  updateConsultation,
} from './consultation-repository.js';
import { listConsultationRooms, markRoomsEnded } from './consultation-room-repository.js';
import { existingOutboxKeys } from './outbox-repository.js';
import { newId } from './ids.js';
import { acceptedCallbacksOfRooms, insertCallbacks, markCallbacksProcessed, unfoldedCallbacksOfRooms } from './inbox-repository.js';
import { insertIfAbsent } from './insert-if-absent.js';
import { openStore } from './open-store.js';
import {
  deleteSessions,
  findIssuedIdentities,
  findIssuedRoles,
  insertIssuedParticipants,
  insertSessions,
  updateSession,
} from './participant-repository.js';
import { insertRecordings, updateRecording } from './recording-repository.js';
import type { NewCallback } from './schema.js';
import { MAX_SHAPES_PER_STATEMENT, shapedStatement, shapedStatements } from './shaped-statement.js';
import type { Store } from './store.js';

const NOW = '2025-03-01T10:00:00.000Z';
const LATER = '2025-03-01T10:05:00.000Z';
const IDENTITIES = Array.from({ length: 12 }, (_, i) => `pat-${i}`);
// Varied, repeated and shrinking lengths: a shape met again after others must get its own values.
const LENGTHS = [1, 3, 2, 7, 1, 12, 3, 5, 1, 2];

/** The same work under a prefix (its own consultations and keys; Q<digit>x, found in no other value): what it returned, and the rows it left. */
async function workload(store: Store, prefix: string) {
  const consultations = Array.from({ length: 12 }, (_, i) => `${prefix}-con-${i}`);
  const tenantId = `${prefix}-ten`;
  await store.db.insertInto('tenants').values({ id: tenantId, slug: tenantId, name: tenantId, kind: 'human', created_at: NOW }).execute();
  await insertConsultations(
    store.db,
    consultations.map((id, i) => ({
      id,
      tenantId,
      roomName: `rg-${id}`,
      roomSid: `RM${prefix}${i}`,
      accountSid: null,
      record: true,
      scheduledAt: null,
      now: NOW,
    })),
  );
  await insertIssuedParticipants(
    store.db,
    consultations.flatMap((consultationId, c) =>
      IDENTITIES.slice(0, c + 1).map((identity, i) => ({
        consultationId,
        identity,
        role: i === 0 ? 'clinician' : 'patient',
        issuedAt: NOW,
        expiresAt: LATER,
      })),
    ),
  );
  const returned: unknown[] = [];
  const sorted = <T>(rows: T[]) => rows.map((row) => JSON.stringify(row)).sort();
  await store.transaction(async (trx) => {
    for (const [step, length] of LENGTHS.entries()) {
      const some = consultations.slice(step % 3, (step % 3) + length);
      const who = IDENTITIES.slice(step % 2, (step % 2) + length);
      returned.push(sorted(await findIssuedIdentities(trx, some, who)));
      returned.push(sorted(await findIssuedRoles(trx, some, who)));

      const consultationId = consultations[step]!;
      const sessions = Array.from({ length }, (_, i) => ({
        participantSid: `PA${i}`,
        fields: { identity: IDENTITIES[i]!, connected_at: NOW, disconnected_at: i % 2 === 0 ? null : LATER },
      }));
      await insertSessions(trx, consultationId, sessions);
      await updateSession(trx, consultationId, 'PA0', { identity: `again-${step}`, connected_at: LATER, disconnected_at: LATER });
      await deleteSessions(
        trx,
        consultationId,
        sessions.slice(1, 1 + (step % 3)).map((session) => session.participantSid),
      );

      // Recordings with and without the optional columns: rows of different keys in one insert.
      await insertRecordings(
        trx,
        consultationId,
        Array.from({ length }, (_, i) => ({
          recordingSid: `RT${prefix}${step}-${i}`,
          fields: {
            status: 'in-progress',
            created_at: NOW,
            track_name: `track-${i}`,
            ...(i % 2 === 0 ? { participant_sid: `PA${i}`, kind: 'audio' } : {}),
            duration: null,
            size: null,
            media_uri: null,
            completed_at: null,
          },
        })),
      );
      await updateRecording(trx, `RT${prefix}${step}-0`, {
        status: 'completed',
        duration: step,
        // As many columns either way, not the same ones: a shape is its names, not its count.
        ...(step % 2 === 0 ? { size: step * 1000 } : { media_uri: `/media/${step}` }),
        completed_at: LATER,
      });

      // Update shapes: some columns, others, some undefined (left out, as Kysely leaves them).
      await updateConsultation(trx, consultationId, {
        fold_state: `{"step":${step}}`,
        ...(step % 2 === 0 ? { status_history: `[${step}]` } : {}),
        ...(step % 3 === 0 ? { status: 'in-progress', started_at: NOW, ended_at: undefined, updated_at: LATER, version: step + 2 } : {}),
      });

      returned.push(
        await insertIfAbsent(
          trx,
          'outbox',
          { dedupe_key: `${prefix}-key-${step % 4}` },
          {
            id: newId('obx'),
            kind: 'create-composition',
            dedupe_key: `${prefix}-key-${step % 4}`,
            payload: JSON.stringify({ step }),
            status: 'pending',
            attempts: 0,
            next_attempt_at: NOW,
            locked_by: null,
            locked_until: null,
            last_error: null,
            created_at: NOW,
            done_at: null,
          },
        ),
      );

      // Callbacks: a duplicate of an earlier step's key (stored), and of one in the same call.
      const rows: NewCallback[] = Array.from({ length }, (_, i) => callbackRow(`${prefix}-dk-${(step + i) % 9}`, `RM${prefix}${i}`));
      if (length > 1) rows.push(callbackRow(`${prefix}-dk-${step % 9}`, `RM${prefix}0`));
      returned.push(await insertCallbacks(trx, rows));

      // The fold's batch reads and writes.
      const roomSids = consultations.map((_, i) => `RM${prefix}${i}`);
      const names = consultations.map((id) => `rg-${id}`);
      returned.push(sorted(await findConsultationsForRooms(trx, roomSids.slice(step % 4, (step % 4) + length), names.slice(0, step % 3))));
      returned.push(sorted(await findConsultationsForProjection(trx, some)));
      returned.push(await listConsultationRooms(trx, some));
      const unfolded = await unfoldedCallbacksOfRooms(trx, roomSids.slice(0, length));
      returned.push(sorted(unfolded.map(withoutIds)));
      await markCallbacksProcessed(
        trx,
        // By room, not by row order (none is asked for).
        unfolded.filter((row) => roomSids.indexOf(row.room_sid!) % 2 === 0).map((row) => row.id),
        LATER,
      );
      returned.push(sorted((await acceptedCallbacksOfRooms(trx, roomSids.slice(1, 1 + length))).map(withoutIds)));
      returned.push(
        [
          ...(await existingOutboxKeys(
            trx,
            Array.from({ length }, (_, i) => `${prefix}-key-${i}`),
          )),
        ].sort(),
      );
      await markRoomsEnded(trx, consultationId, { [`RM${prefix}${step}`]: LATER, [`RM${prefix}none`]: LATER });
      const events = await appendTenantEvents(
        trx,
        Array.from({ length }, (_, i) => ({ tenantId, consultationId, type: 'participant.joined' as const, at: NOW, data: { i, step } })),
      );
      returned.push(events.map(withoutIds));
      const billed = await upsertBillingRecord(trx, {
        consultationId: consultations[step % 4]!,
        tenantId,
        now: NOW,
        fields: {
          billable_seconds: step,
          rounded_seconds: step * 60,
          intervals: '[]',
          ...(step % 2 ? { evidence: `{"step":${step}}` } : {}),
        },
      });
      returned.push([billed.version, billed.chain.sequence]);
    }
  });
  return {
    returned: JSON.parse(JSON.stringify(returned).replaceAll(prefix, 'Q0x')) as unknown[],
    tables: await tablesOf(store, prefix, consultations),
  };
}

const withoutIds = (row: object) => Object.fromEntries(Object.entries(row).filter(([key]) => key !== 'id'));

function callbackRow(dedupeKey: string, roomSid: string): NewCallback {
  return {
    id: newId('cb'),
    dedupe_key: dedupeKey,
    idempotency_token: null,
    account_sid: 'AC00000000000000000000000000000000',
    room_sid: roomSid,
    composition_sid: null,
    event_type: 'participant-connected',
    event_timestamp: NOW,
    sequence_number: 1,
    participant_sid: 'PA0',
    participant_identity: 'pat-0',
    params: '[]',
    status: 'accepted',
    received_at: NOW,
    processed_at: null,
  };
}

const GENERATED = new Set(['id', 'billing_record_id', 'hash', 'previous_hash']);

/** The rows the workload left, its prefix and generated ids taken out so two prefixes compare. */
async function tablesOf(store: Store, prefix: string, consultations: string[]) {
  const strip = (rows: object[]) =>
    rows
      // Ids are drawn fresh; the chain's hashes hash the (prefixed) ids.
      .map((row) =>
        JSON.stringify(Object.fromEntries(Object.entries(row).filter(([key]) => !GENERATED.has(key)))).replaceAll(prefix, 'Q0x'),
      )
      .sort();
  const db = store.db;
  return {
    consultations: strip(
      await db
        .selectFrom('consultations')
        .select(['id', 'fold_state', 'status_history', 'status', 'started_at', 'ended_at', 'updated_at', 'version'])
        .where('id', 'in', consultations)
        .execute(),
    ),
    sessions: strip(await db.selectFrom('participant_sessions').selectAll().where('consultation_id', 'in', consultations).execute()),
    recordings: strip(await db.selectFrom('recordings').selectAll().where('consultation_id', 'in', consultations).execute()),
    outbox: strip(await db.selectFrom('outbox').selectAll().where('dedupe_key', 'like', `${prefix}-%`).execute()),
    callbacks: strip(await db.selectFrom('callbacks').selectAll().where('dedupe_key', 'like', `${prefix}-%`).execute()),
    rooms: strip(await db.selectFrom('consultation_rooms').selectAll().where('consultation_id', 'in', consultations).execute()),
    events: strip(await db.selectFrom('tenant_events').selectAll().where('tenant_id', '=', `${prefix}-ten`).execute()),
    billing: strip(await db.selectFrom('billing_records').selectAll().where('consultation_id', 'in', consultations).execute()),
    chain: strip(await db.selectFrom('billing_record_versions').selectAll().where('tenant_id', '=', `${prefix}-ten`).execute()),
    heads: strip(
      await db.selectFrom('billing_chain_heads').select(['tenant_id', 'last_sequence']).where('tenant_id', '=', `${prefix}-ten`).execute(),
    ),
  };
}

for (const engine of enginesUnderTest()) {
  describe(`shaped statements on ${engine.name}`, () => {
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
    afterEach(() => {
      shapedStatements.enabled = true;
    });

    it('return the same rows and leave the same rows as the builder, for varied list lengths and shapes', async () => {
      shapedStatements.enabled = false;
      const built = await workload(store, 'Q1x');
      shapedStatements.enabled = true;
      const shaped = await workload(store, 'Q2x');
      // Twice: the second run meets every shape already compiled.
      const again = await workload(store, 'Q3x');
      expect(shaped.returned).toEqual(built.returned);
      expect(again.returned).toEqual(built.returned);
      expect(shaped.tables).toEqual(built.tables);
      expect(again.tables).toEqual(built.tables);
      // The workload did write and read: not a comparison of nothing.
      expect(built.tables.sessions.length).toBeGreaterThan(10);
      expect(built.tables.callbacks.length).toBe(9);
      expect(built.returned.filter((value) => value === true).length).toBe(4);
      expect(built.tables.events.length).toBe(LENGTHS.reduce((sum, n) => sum + n, 0));
      expect(built.tables.chain.length).toBe(LENGTHS.length);
      expect(built.tables.rooms.filter((row) => row.includes(LATER)).length).toBeGreaterThan(0);
    });

    it('keeps at most MAX_SHAPES_PER_STATEMENT shapes, and answers right after starting over', async () => {
      const select = shapedStatement('test: identities in', (db, identities: string[]) =>
        db.selectFrom('issued_identities').select('identity').distinct().where('identity', 'in', identities),
      );
      await insertIssuedParticipants(
        store.db,
        IDENTITIES.map((identity) => ({
          consultationId: 'Q1x-con-0',
          identity: `bound-${identity}`,
          role: 'patient',
          issuedAt: NOW,
          expiresAt: LATER,
        })),
      );
      for (let length = 1; length <= 3 * MAX_SHAPES_PER_STATEMENT; length++) {
        // One real identity, at a position that moves; the rest match nothing.
        const identities = Array.from({ length }, (_, i) => (i === length - 1 ? `bound-pat-${length % 12}` : `none-${i}`));
        const { rows } = await select(store.db, identities);
        expect(rows).toEqual([{ identity: `bound-pat-${length % 12}` }]);
        expect(select.shapes(store.db)).toBeLessThanOrEqual(MAX_SHAPES_PER_STATEMENT);
      }
      expect(select.shapes(store.db)).toBeGreaterThan(0);
    });

    it('builds every call through a database with plugins: each plugin sees the call’s own tree and values', async () => {
      const select = shapedStatement('test: tenant by id', (db, id: string) => db.selectFrom('tenants').select('id').where('id', '=', id));
      await select(store.db, 'Q1x-ten'); // the shape is compiled and kept
      const seen: unknown[][] = [];
      const capture: KyselyPlugin = {
        transformQuery: ({ node }) => {
          seen.push(store.db.getExecutor().compileQuery(node, createQueryId()).parameters.slice());
          return node;
        },
        transformResult: async ({ result }) => result,
      };
      const withCapture = store.db.withPlugin(capture);
      expect((await select(withCapture, 'Q1x-ten')).rows).toEqual([{ id: 'Q1x-ten' }]);
      expect((await select(withCapture, 'no-such-tenant')).rows).toEqual([]);
      expect(seen).toEqual([['Q1x-ten'], ['no-such-tenant']]);
    });

    it('builds a call whose arguments hold an expression through Kysely, and refuses an object parameter', async () => {
      const update = shapedStatement('test: version', (db, args: { id: string; fields: { version: unknown } }) =>
        db
          .updateTable('consultations')
          .set(args.fields as { version: number })
          .where('id', '=', args.id),
      );
      await update(store.db, { id: 'Q1x-con-1', fields: { version: 40 } });
      await update(store.db, { id: 'Q1x-con-1', fields: { version: sql<number>`version + 2` } });
      const row = await store.db.selectFrom('consultations').select('version').where('id', '=', 'Q1x-con-1').executeTakeFirstOrThrow();
      expect(Number(row.version)).toBe(42);

      const whole = shapedStatement('test: object value', (db, args: { payload: object }) =>
        db
          .selectFrom('tenants')
          .select('id')
          .where('name', '=', args.payload as unknown as string),
      );
      await expect(whole(store.db, { payload: { nested: 'x' } })).rejects.toThrow(/parameter 0 is an object/);
    });
  });
}
