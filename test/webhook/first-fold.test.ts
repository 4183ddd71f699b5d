/**
 * A new consultation is stored with the fold state of no events, so the projector steps its
 * first callbacks onto it: no refold (which reads every callback of its rooms again) and no
 * reading of the tables to compare against. On every engine, batch by batch, the new
 * consultation's fold writes exactly what the old first fold (from a NULL state) writes for a
 * twin consultation given the same callbacks — row, status history, sessions, recordings,
 * billing, outbox, live events — and both equal the full fold. Where stepping from "no events"
 * would be wrong, the projector still folds again: a room whose callbacks were stored before the
 * consultation, and a consultation cancelled before its first callback.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventDedupeKey } from '../../src/core/consultation/consultation-event.js';
import { foldConsultation, foldConsultationState, recordOf } from '../../src/core/consultation/consultation-state.js';
import type { ConsultationFoldInput, ConsultationFoldState } from '../../src/core/consultation/consultation-state.js';
import { statusHistoryJson } from '../../src/core/consultation/status-history.js';
import { videoEventOfParams } from '../../src/service/consultations/parsed-events.js';
import { projectConsultations } from '../../src/service/consultations/consultation-projector.js';
import {
  insertConsultations,
  markConsultationCancelled,
  setConsultationRoom,
  updateConsultation,
} from '../../src/storage/consultation-repository.js';
import { newId } from '../../src/storage/ids.js';
import { insertCallbacks } from '../../src/storage/inbox-repository.js';
import { openStore } from '../../src/storage/open-store.js';
import { insertIssuedParticipants } from '../../src/storage/participant-repository.js';
import type { Store } from '../../src/storage/store.js';
import { insertTenant } from '../../src/storage/tenant-repository.js';
import { enginesUnderTest, type TestDatabase } from '../support/engines.js';

/** 30 hex digits: a room's SIDs are it and two more. */
const newTag = () => randomBytes(15).toString('hex');
const ACCOUNT = `AC${'0'.repeat(32)}`;
const ROLES = new Map([
  ['clin-1', 'clinician'],
  ['pt-1', 'patient'],
]);

/**
 * A recorded meeting, as Twilio's parameters in Timestamp order, cut into the batches they arrive
 * in. Its SIDs are the room's tag and a digit (twins differ by their tags only).
 */
function meeting(tag: string, roomName: string, t0: number): [string, string][][][] {
  const roomSid = `RM${tag}00`;
  const clinician = `PA${tag}01`;
  const patient = `PA${tag}02`;
  const recording = `RT${tag}03`;
  let sequence = 0;
  const at = (seconds: number) => new Date(t0 + seconds * 1000).toISOString();
  const event = (type: string, seconds: number, extra: Record<string, string> = {}): [string, string][] =>
    Object.entries({
      AccountSid: ACCOUNT,
      RoomName: roomName,
      RoomSid: roomSid,
      RoomStatus: type === 'room-ended' ? 'completed' : 'in-progress',
      StatusCallbackEvent: type,
      Timestamp: at(seconds),
      SequenceNumber: String(sequence++),
      ...extra,
    });
  const who = (participantSid: string, identity: string) => ({ ParticipantSid: participantSid, ParticipantIdentity: identity });
  return [
    // The first callbacks: what used to take the refold.
    [event('room-created', 0), event('participant-connected', 5, who(clinician, 'clin-1'))],
    [
      event('participant-connected', 60, who(patient, 'pt-1')),
      event('recording-started', 61, { ...who(clinician, 'clin-1'), RecordingSid: recording, TrackName: 'audio' }),
    ],
    [
      event('participant-disconnected', 400, who(patient, 'pt-1')),
      event('room-ended', 420),
      event('recording-completed', 421, { ...who(clinician, 'clin-1'), RecordingSid: recording, TrackName: 'audio', Duration: '360' }),
    ],
  ];
}

/** Stores callbacks as the webhook accepts them (not yet folded). */
async function receive(store: Store, params: readonly [string, string][][], processedAt: string | null = null): Promise<void> {
  const now = new Date().toISOString();
  await insertCallbacks(
    store.db,
    params.map((list) => {
      const fields = Object.fromEntries(list);
      return {
        id: newId('cb'),
        dedupe_key: eventDedupeKey(fields),
        idempotency_token: null,
        account_sid: ACCOUNT,
        room_sid: fields.RoomSid!,
        composition_sid: null,
        event_type: fields.StatusCallbackEvent!,
        event_timestamp: fields.Timestamp!,
        sequence_number: Number(fields.SequenceNumber),
        participant_sid: fields.ParticipantSid ?? null,
        participant_identity: fields.ParticipantIdentity ?? null,
        params: JSON.stringify(list),
        status: 'accepted',
        received_at: now,
        processed_at: processedAt,
      };
    }),
  );
}

interface Seeded {
  readonly id: string;
  readonly tag: string;
  readonly roomSid: string;
  readonly roomName: string;
}

/** Everything a fold writes about one consultation, with its ids named generically (twins compare equal). */
async function written(store: Store, consultation: Seeded) {
  const db = store.db;
  const row = await db
    .selectFrom('consultations')
    .select(['status', 'started_at', 'ended_at', 'version', 'fold_state', 'status_history'])
    .where('id', '=', consultation.id)
    .executeTakeFirstOrThrow();
  const sessions = await db
    .selectFrom('participant_sessions')
    .select(['participant_sid', 'identity', 'connected_at', 'disconnected_at'])
    .where('consultation_id', '=', consultation.id)
    .orderBy('connected_at')
    .execute();
  const recordings = await db
    .selectFrom('recordings')
    .select(['status', 'track_name', 'duration', 'completed_at'])
    .where('consultation_id', '=', consultation.id)
    .execute();
  const billing = await db
    .selectFrom('billing_records')
    .select(['billable_seconds', 'rounded_seconds', 'intervals', 'evidence'])
    .where('consultation_id', '=', consultation.id)
    .execute();
  const outbox = await db.selectFrom('outbox').select(['kind', 'dedupe_key', 'payload']).orderBy('dedupe_key').execute();
  const generic = (text: string | null) =>
    text === null ? null : text.replaceAll(consultation.id, 'CONSULTATION').replaceAll(consultation.tag, 'TAG');
  return {
    row: { ...row, fold_state: generic(row.fold_state) },
    sessions: sessions.map(({ participant_sid: _sid, ...session }) => session),
    recordings,
    billing: billing.map((record) => ({ ...record, evidence: generic(record.evidence) })),
    outbox: outbox
      .filter((entry) => entry.dedupe_key.includes(consultation.id) || entry.dedupe_key.includes(consultation.tag))
      .map((entry) => ({ kind: entry.kind, key: generic(entry.dedupe_key), payload: generic(entry.payload) })),
  };
}

for (const engine of enginesUnderTest()) {
  describe(`a new consultation's first fold on ${engine.name}`, () => {
    let database: TestDatabase;
    let store: Store;
    const tenantId = 'ten_first_fold';

    beforeAll(async () => {
      database = await engine.createTestDatabase();
      store = await openStore(database.url);
      await store.migrate();
      await insertTenant(store.db, {
        id: tenantId,
        slug: 'first-fold',
        name: 'First fold',
        kind: 'human',
        created_at: new Date().toISOString(),
      });
    });
    afterAll(async () => {
      await store?.close();
      await database?.drop();
    });

    /**
     * A consultation as the API creates it: no room SID yet, then the SID Twilio answered; or, as
     * fixtures do, with its room SID from the start.
     */
    async function create(options: { tag?: string; id?: string; withRoomSid?: boolean } = {}): Promise<Seeded> {
      const id = options.id ?? newId('con');
      const tag = options.tag ?? newTag();
      const roomSid = `RM${tag}00`;
      const roomName = `rg-${id}`;
      const now = new Date().toISOString();
      await insertConsultations(store.db, [
        {
          id,
          tenantId,
          roomSid: options.withRoomSid ? roomSid : null,
          roomName,
          accountSid: ACCOUNT,
          record: true,
          scheduledAt: null,
          now,
        },
      ]);
      if (!options.withRoomSid) await setConsultationRoom(store.db, id, { roomSid });
      await insertIssuedParticipants(
        store.db,
        [...ROLES.keys()].map((identity) => ({
          consultationId: id,
          identity,
          role: ROLES.get(identity)!,
          issuedAt: now,
          expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
        })),
      );
      return { id, tag, roomSid, roomName };
    }

    const project = (id: string) => store.transaction((trx) => projectConsultations(trx, [id], new Date().toISOString()));

    /** The full fold of these callbacks, as state and as record. */
    function fullFold(consultation: Seeded, params: readonly [string, string][][], extra = {}) {
      const input: ConsultationFoldInput = {
        consultation: {
          id: consultation.id,
          roomSid: consultation.roomSid,
          roomSids: [consultation.roomSid],
          record: true,
          roundingSeconds: 60,
          ...extra,
        },
        events: params.map((list) => videoEventOfParams(JSON.stringify(list))!),
        roles: ROLES,
      };
      return { input, state: foldConsultationState(input), record: foldConsultation(input) };
    }

    it('is stored with the state of no events; its callbacks are stepped (no refold), writing what the refold wrote, the full fold', async () => {
      const t0 = Date.now() - 10 * 60_000;
      const fresh = await create();
      // The twin, as consultations were created before: no state stored, the first fold refolds.
      const twin = await create();
      await updateConsultation(store.db, twin.id, { fold_state: null, status_history: null });

      const [row] = await store.db
        .selectFrom('consultations')
        .select(['fold_state', 'status_history'])
        .where('id', '=', fresh.id)
        .execute();
      const nothing = fullFold(fresh, []);
      expect(JSON.parse(row!.fold_state!)).toEqual(JSON.parse(JSON.stringify(nothing.state)));
      expect(row!.status_history).toBe(statusHistoryJson(nothing.state.timeline));

      const batches = { fresh: meeting(fresh.tag, fresh.roomName, t0), twin: meeting(twin.tag, twin.roomName, t0) };
      for (const [index, batch] of batches.fresh.entries()) {
        await receive(store, batch);
        await receive(store, batches.twin[index]!);
        const stepped = await project(fresh.id);
        const refolded = await project(twin.id);
        expect(stepped.refolded).toBe(0);
        expect(refolded.refolded).toBe(index === 0 ? 1 : 0);
        // The same writes and the same live events, whichever path folded.
        const live = (events: typeof stepped.live, of: Seeded): unknown =>
          JSON.parse(
            JSON.stringify(events.map(({ at: _at, ...event }) => event))
              .replaceAll(of.id, 'CONSULTATION')
              .replaceAll(of.tag, 'TAG'),
          );
        expect(stepped.live.length).toBeGreaterThan(0);
        expect(live(stepped.live, fresh)).toEqual(live(refolded.live, twin));
        expect(await written(store, fresh)).toEqual(await written(store, twin));
      }

      const { input, state, record } = fullFold(fresh, batches.fresh.flat());
      const stored = await written(store, fresh);
      expect(record.status).toBe('completed');
      expect(stored.row).toMatchObject({
        status: record.status,
        started_at: new Date(record.startedAt!).toISOString(),
        ended_at: new Date(record.endedAt!).toISOString(),
        status_history: statusHistoryJson(record.timeline),
      });
      const folded = JSON.parse(stored.row.fold_state!.replaceAll('TAG', fresh.tag)) as ConsultationFoldState;
      expect(folded).toEqual(JSON.parse(JSON.stringify(state)));
      expect(recordOf(folded, input.consultation)).toEqual(record);
      const billing = record.effects.find((effect) => effect.kind === 'record-billing');
      expect(billing?.kind === 'record-billing' && billing.billing.billableSeconds).toBe(340);
      expect(stored.billing.map((row) => row.billable_seconds)).toEqual([340]);
      expect(stored.outbox.map((entry) => entry.key)).toEqual(['composition:RMTAG00']);
    });

    it('a room whose callbacks were stored before the consultation: no state stored, the first fold reads them all', async () => {
      const t0 = Date.now() - 10 * 60_000;
      const tag = newTag();
      const id = newId('con');
      const [first, ...rest] = meeting(tag, `rg-${id}`, t0);
      // Folded already (as for a consultation since gone): stepping from "no events" would lose them.
      await receive(store, first!, new Date().toISOString());
      const consultation = await create({ tag, id, withRoomSid: true });
      const [row] = await store.db
        .selectFrom('consultations')
        .select(['fold_state', 'status_history'])
        .where('id', '=', consultation.id)
        .execute();
      expect(row).toEqual({ fold_state: null, status_history: null });
      await receive(store, rest.flat());
      expect((await project(consultation.id)).refolded).toBe(1);
      const { state } = fullFold(consultation, [first!, ...rest].flat());
      const stored = await written(store, consultation);
      expect(JSON.parse(stored.row.fold_state!.replaceAll('TAG', tag))).toEqual(JSON.parse(JSON.stringify(state)));
      expect(stored.row.status).toBe('completed');
    });

    it('a consultation cancelled before its first callback is folded again, and stays cancelled: the full fold', async () => {
      const t0 = Date.now() - 10 * 60_000;
      const consultation = await create();
      await markConsultationCancelled(store.db, consultation.id, new Date().toISOString());
      const history = async () =>
        (await store.db.selectFrom('consultations').select('status_history').where('id', '=', consultation.id).executeTakeFirstOrThrow())
          .status_history;
      const cancelledHistory = await history();
      const [first, second] = meeting(consultation.tag, consultation.roomName, t0);
      await receive(store, first!);
      expect((await project(consultation.id)).refolded).toBe(1);
      // Folded cancelled, it is stepped on from then on.
      await receive(store, second!);
      expect((await project(consultation.id)).refolded).toBe(0);
      const { state } = fullFold(consultation, [first!, second!].flat(), { cancelled: true });
      const stored = await written(store, consultation);
      expect(stored.row.status).toBe('cancelled');
      expect(JSON.parse(stored.row.fold_state!.replaceAll('TAG', consultation.tag))).toEqual(JSON.parse(JSON.stringify(state)));
      // The status history stays as the cancel left it (the API closes it with the cancellation at its moment).
      expect(stored.row.status_history).toBe(cancelledHistory);
      expect(await history()).toBe(statusHistoryJson([{ status: 'scheduled', at: null }]));
    });

    it('a state stored with one composition for every room is folded again at the next callback, into a row per room', async () => {
      const t0 = Date.now() - 10 * 60_000;
      const consultation = await create();
      const batches = meeting(consultation.tag, consultation.roomName, t0);
      const composition = (type: string, seconds: number, sid: string): [string, string][] => [
        ['AccountSid', ACCOUNT],
        ['RoomSid', consultation.roomSid],
        ['StatusCallbackEvent', type],
        ['Timestamp', new Date(t0 + seconds * 1000).toISOString()],
        ['CompositionSid', sid],
        ['SequenceNumber', String(seconds)],
      ];
      const failedSid = `CJ${consultation.tag}04`;
      const retrySid = `CJ${consultation.tag}05`;
      const before = [
        ...batches.flat(),
        composition('composition-enqueued', 430, failedSid),
        composition('composition-failed', 440, failedSid),
      ];
      await receive(store, before);
      await project(consultation.id);
      // As the previous version stored it: one composition, one list of failures, for the whole consultation.
      const [row] = await store.db.selectFrom('consultations').select('fold_state').where('id', '=', consultation.id).execute();
      const { roomCompositions, ...rest } = JSON.parse(row!.fold_state!) as ConsultationFoldState;
      const own = roomCompositions![consultation.roomSid]!;
      const legacy = { ...rest, composition: { status: own.status, compositionSid: own.compositionSid }, failedCompositions: own.failed };
      await updateConsultation(store.db, consultation.id, { fold_state: JSON.stringify(legacy) });

      const after = [composition('composition-enqueued', 450, retrySid), composition('composition-available', 460, retrySid)];
      await receive(store, after);
      expect((await project(consultation.id)).refolded).toBe(1);
      const { state, record } = fullFold(consultation, [...before, ...after]);
      const [folded] = await store.db.selectFrom('consultations').select('fold_state').where('id', '=', consultation.id).execute();
      expect(JSON.parse(folded!.fold_state!)).toEqual(JSON.parse(JSON.stringify(state)));
      const rows = await store.db
        .selectFrom('compositions')
        .select(['room_sid', 'composition_sid', 'status'])
        .where('consultation_id', '=', consultation.id)
        .execute();
      expect(rows).toEqual([{ room_sid: consultation.roomSid, composition_sid: retrySid, status: 'available' }]);
      expect(record.compositions).toMatchObject([{ roomSid: consultation.roomSid, compositionSid: retrySid, failures: 1 }]);
    });
  });
}
