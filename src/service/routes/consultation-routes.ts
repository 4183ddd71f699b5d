/**
 * The tenant's consultations: create (with its Twilio room), list, fetch, end, cancel. Every
 * query is filtered by the authenticated tenant, so another tenant's id is simply not found
 * (404). Every answer is the one Consultation model.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { newId } from '../../storage/ids.js';
import type { Store } from '../../storage/store.js';
import { StoreConstraintError } from '../../storage/store-errors.js';
import { setTimeout as delay } from 'node:timers/promises';
import {
  cancelOpenConsultation,
  findConsultationByExternalRef,
  findTenantConsultation,
  insertConsultations,
  listTenantConsultationsPage,
  markConsultationCancelled,
  setConsultationRoom,
} from '../../storage/consultation-repository.js';
import { IdempotencyHeaders } from '../api/idempotency.js';
import { IdParams, page, withErrors } from '../api/schemas/common.js';
import { CreateConsultationBody, ListCallbacksQuery, ListConsultationsQuery } from '../api/schemas/consultation.js';
import { hasUnfoldedCallbacks, listRoomCallbacksPage } from '../../storage/inbox-repository.js';
import { consultationViews, loadConsultationView } from '../consultations/consultation-view.js';
import { HttpError } from '../errors.js';
import { decodeCursor, pageOf } from './page-cursor.js';
import { retriedWrite } from './retried-write.js';
import type { TwilioRestClient } from '../twilio/twilio-rest-client.js';
import { twilioFailure } from '../twilio/twilio-failure.js';
import { appointmentWindow, maxParticipantDurationSeconds } from '../../core/consultation/appointment-window.js';
import { closeAndProject } from '../consultations/consultation-close.js';
import { listConsultationRooms } from '../../storage/consultation-room-repository.js';

export interface ConsultationRouteOptions {
  readonly store: Store;
  readonly twilio: TwilioRestClient;
  /** A getter: the address is known only once the server listens (unless a public URL is set). */
  readonly statusCallbackUrl: () => string;
  readonly clock: () => Date;
  /** The Twilio account rooms are created under (the API key's): callbacks must name it. */
  readonly accountSid: () => string | undefined;
}

const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
const FINAL = ['completed', 'cancelled', 'no-show'];
/** How long a cancel waits for callbacks already answered to be folded (the fold follows within ≈ 20 ms). */
const FOLD_WAIT_MS = 3_000;
const FOLD_POLL_MS = 20;
const consultation = Type.Ref('Consultation');

export async function consultationRoutes(root: FastifyInstance, options: ConsultationRouteOptions): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { store, twilio, clock } = options;

  const current = async (tenantId: string, id: string) => {
    const view = await loadConsultationView(store, tenantId, id);
    if (!view) throw new HttpError('NOT_FOUND');
    return view;
  };

  app.post(
    '/v1/consultations',
    {
      config: { scope: 'consultations:write', idempotent: true },
      schema: {
        summary: 'Create a consultation and its Twilio room.',
        description:
          'The room is created at once (status callback set to this service). An `externalRef` already used by the tenant → 409 with the existing consultation.',
        headers: IdempotencyHeaders,
        body: CreateConsultationBody,
        response: withErrors({ 201: consultation }, 409, 502),
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      const record = body.record ?? true;
      if (body.durationMinutes !== undefined && !body.scheduledAt) {
        throw new HttpError('VALIDATION_FAILED', 'durationMinutes needs scheduledAt.', { details: { field: 'durationMinutes' } });
      }
      const scheduledAt = body.scheduledAt ? new Date(body.scheduledAt).toISOString() : null;
      const window = appointmentWindow({
        scheduledAt,
        durationMinutes: body.durationMinutes ?? null,
        joinEarlyMinutes: request.tenant.joinEarlyMinutes,
        graceMinutes: request.tenant.joinGraceMinutes,
      });
      const maxParticipantDuration = maxParticipantDurationSeconds(window);
      const now = clock().toISOString();
      const id = newId('con');
      // The room name carries the unguessable id, so a callback can be matched by RoomName even
      // if it arrives before the room's SID is saved below.
      const roomName = `rg-${id}`;
      // Each write below is run again when it lost a row conflict (a lock wait past the lock
      // timeout, a deadlock) with background work holding the same rows — the sweeps, a fold, the
      // webhook's group commit claiming the room's SID: each is a whole transaction or idempotent,
      // and a 503 after Twilio made the room would leave that room orphaned.
      const retryConflicts = <T>(work: () => Promise<T>) => retriedWrite(request.log, id, work);
      try {
        // One transaction: a consultation never exists without its first room.
        await retryConflicts(() =>
          store.transaction((trx) =>
            insertConsultations(trx, [
              {
                id,
                roomSid: null,
                tenantId: request.tenant.id,
                roomName,
                // Recorded before the room exists: its first callbacks may overtake Twilio's answer.
                accountSid: options.accountSid() ?? null,
                record,
                scheduledAt,
                durationMinutes: body.durationMinutes ?? null,
                waitingRoom: body.waitingRoom ?? null,
                patientStatus: body.patientStatus ?? null,
                windowClosesAt: window ? window.closesAt.toISOString() : null,
                externalRef: body.externalRef ?? null,
                metadata: body.metadata ?? null,
                now,
              },
            ]),
          ),
        );
      } catch (error) {
        if (error instanceof StoreConstraintError && error.constraint === 'unique' && body.externalRef) {
          const existing = await findConsultationByExternalRef(store.db, request.tenant.id, body.externalRef);
          const [view] = existing ? await consultationViews(store, [existing]) : [];
          throw new HttpError('CONFLICT', 'Another consultation of this tenant has this externalRef.', {
            details: { field: 'externalRef', ...(view ? { current: view } : {}) },
          });
        }
        throw error;
      }
      let room;
      try {
        room = await twilio.createRoom({
          uniqueName: roomName,
          statusCallback: options.statusCallbackUrl(),
          // Recording that follows consent starts with nothing recorded: Recording Rules add the
          // consenting participants (outbox/recording-rules-handler.ts).
          recordParticipantsOnConnect: record && request.tenant.consentMode === 'off',
          ...(maxParticipantDuration !== undefined ? { maxParticipantDuration } : {}),
        });
      } catch (error) {
        await retryConflicts(() => markConsultationCancelled(store.db, id, clock().toISOString()));
        throw twilioFailure(error, 'Twilio could not create the room; the consultation was cancelled.');
      }
      // Twilio's answer names the account that really owns the room.
      await retryConflicts(() =>
        setConsultationRoom(store.db, id, {
          roomSid: room.sid,
          ...(room.account_sid && ACCOUNT_SID.test(room.account_sid) ? { accountSid: room.account_sid } : {}),
        }),
      );
      const view = await current(request.tenant.id, id);
      return reply.code(201).header('location', `/v1/consultations/${id}`).send(view);
    },
  );

  app.get(
    '/v1/consultations',
    {
      config: { scope: 'consultations:read' },
      schema: {
        summary: "List the tenant's consultations, newest first.",
        querystring: ListConsultationsQuery,
        response: withErrors({ 200: page(consultation) }),
      },
    },
    async (request) => {
      const { limit = 100, cursor, status, externalRef } = request.query;
      const rows = await listTenantConsultationsPage(store.db, {
        tenantId: request.tenant.id,
        limit,
        ...(cursor ? { before: decodeCursor(cursor) } : {}),
        ...(status ? { status } : {}),
        ...(externalRef ? { externalRef } : {}),
      });
      const { pageRows, nextCursor } = pageOf(rows, limit, (last) => ({ createdAt: last.created_at, id: last.id }));
      return {
        data: await consultationViews(store, pageRows),
        nextCursor,
      };
    },
  );

  app.get(
    '/v1/consultations/:id',
    {
      config: { scope: 'consultations:read' },
      schema: {
        summary: 'One consultation: state, status history, participants, billing.',
        params: IdParams,
        response: withErrors({ 200: consultation }, 404),
      },
    },
    async (request) => current(request.tenant.id, request.params.id),
  );

  app.get(
    '/v1/consultations/:id/callbacks',
    {
      config: { scope: 'consultations:read' },
      schema: {
        summary: "The callbacks stored for the consultation's rooms, in Twilio's Timestamp order, page by page.",
        description:
          'Every signed callback of the room, whatever was done with it (accepted, quarantined, held late), and facts the reconciler or an operator added. Follow `nextCursor` until it is null.',
        params: IdParams,
        querystring: ListCallbacksQuery,
        response: withErrors({ 200: page(Type.Ref('ConsultationCallback')) }, 404),
      },
    },
    async (request) => {
      const row = await findTenantConsultation(store.db, request.tenant.id, request.params.id);
      if (!row) throw new HttpError('NOT_FOUND');
      const { limit = 100, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor) : undefined;
      // Every room the consultation had (rejoining), not only the current one.
      const roomSids = [
        ...new Set([
          ...(row.room_sid ? [row.room_sid] : []),
          ...(await listConsultationRooms(store.db, [row.id])).flatMap((room) => (room.roomSid ? [room.roomSid] : [])),
        ]),
      ];
      const rows = roomSids.length
        ? await listRoomCallbacksPage(store.db, {
            roomSids,
            limit,
            ...(after ? { after: { eventTimestamp: after.createdAt, id: after.id } } : {}),
          })
        : [];
      const { pageRows, nextCursor } = pageOf(rows, limit, (last) => ({ createdAt: last.event_timestamp, id: last.id }));
      return {
        data: pageRows.map((entry) => ({
          event: entry.event_type,
          at: entry.event_timestamp,
          identity: entry.participant_identity,
          // A late callback not yet confirmed shows as 'late' (stored, not applied).
          status: entry.held ?? entry.status,
          source: entry.source as 'callback' | 'reconciled' | 'operator',
        })),
        nextCursor,
      };
    },
  );

  app.post(
    '/v1/consultations/:id/end',
    {
      config: { scope: 'consultations:write', idempotent: true },
      schema: {
        summary: 'End the room (Twilio completes it).',
        description:
          'The record changes when Twilio reports the room ended. A consultation that has ended, or whose room Twilio has ended already → 409 with `current`. A consultation with an appointment window is closed at once (no room follows: rejoining ends); an interrupted one completes.',
        params: IdParams,
        headers: IdempotencyHeaders,
        response: withErrors({ 200: consultation }, 404, 409, 502),
      },
    },
    async (request) => {
      const row = await findTenantConsultation(store.db, request.tenant.id, request.params.id);
      if (!row) throw new HttpError('NOT_FOUND');
      if (!row.room_sid) throw await conflict(request.tenant.id, row.id, 'The consultation has no room.');
      if (FINAL.includes(row.status)) throw await conflict(request.tenant.id, row.id, `The consultation is ${row.status}.`);
      // Rejoining: an explicit end closes a consultation with a window — no room follows; an
      // interrupted one (its room ended already) completes now.
      const spansRooms = row.window_closes_at !== null;
      if (spansRooms) {
        const now = clock().toISOString();
        await retriedWrite(request.log, row.id, () => store.transaction((trx) => closeAndProject(trx, row.id, now, now)));
        if (row.status === 'interrupted') return current(request.tenant.id, row.id);
      }
      try {
        await twilio.completeRoom(row.room_sid);
      } catch (error) {
        const failure = twilioFailure(error);
        if (failure.code === 'CONFLICT' && spansRooms) return current(request.tenant.id, row.id);
        if (failure.code === 'CONFLICT') throw await conflict(request.tenant.id, row.id, failure.message);
        throw failure;
      }
      // The record changes when Twilio's room-ended callback arrives, as for every other change.
      return current(request.tenant.id, row.id);
    },
  );

  app.post(
    '/v1/consultations/:id/cancel',
    {
      config: { scope: 'consultations:write', idempotent: true },
      schema: {
        summary: 'Cancel a scheduled or waiting consultation.',
        description:
          'First folds the callbacks Twilio already sent (so one that started or ended the consultation decides: 409), then completes its room at Twilio if one exists (a room Twilio ended already is fine) and records the consultation as cancelled. Once in progress or ended → 409 with `current`. Callbacks not folded within 3 s → 503 `RECORD_CATCHING_UP`, nothing changed.',
        params: IdParams,
        headers: IdempotencyHeaders,
        response: withErrors({ 200: consultation }, 404, 409, 502),
      },
    },
    async (request) => {
      const found = await findTenantConsultation(store.db, request.tenant.id, request.params.id);
      if (!found) throw new HttpError('NOT_FOUND');
      // A callback answered 204 before this request may have started (or ended) it: its status
      // is read once those are folded, not before.
      await untilCallbacksFolded(found.id);
      const row = (await findTenantConsultation(store.db, request.tenant.id, found.id))!;
      if (row.status !== 'scheduled' && row.status !== 'waiting')
        throw await conflict(request.tenant.id, row.id, `The consultation is ${row.status}.`);
      if (row.room_sid) {
        try {
          await twilio.completeRoom(row.room_sid);
        } catch (error) {
          const failure = twilioFailure(error);
          // Twilio ended the room already (or forgot it): nothing left to close there.
          if (failure.code !== 'CONFLICT') throw failure;
        }
      }
      // After Twilio completed the room, a 503 would leave the consultation open: run again on a row conflict.
      const cancelled = await retriedWrite(request.log, row.id, () =>
        cancelOpenConsultation(store.db, request.tenant.id, row.id, clock().toISOString()),
      );
      if (!cancelled) throw await conflict(request.tenant.id, row.id, 'The consultation started or ended meanwhile.');
      return current(request.tenant.id, row.id);
    },
  );

  /** Waits (bounded) until no accepted callback of the consultation's rooms is left unfolded. */
  async function untilCallbacksFolded(id: string): Promise<void> {
    const deadline = Date.now() + FOLD_WAIT_MS;
    while (await hasUnfoldedCallbacks(store.db, id)) {
      if (Date.now() >= deadline) throw new HttpError('RECORD_CATCHING_UP');
      await delay(FOLD_POLL_MS);
    }
  }

  async function conflict(tenantId: string, id: string, message: string): Promise<HttpError> {
    return new HttpError('CONFLICT', message, { details: { current: await current(tenantId, id) } });
  }
}
