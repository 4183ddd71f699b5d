/**
 * The tenant's consultations: create (with its Twilio room), list, fetch, end. Every query is
 * filtered by the authenticated tenant, so another tenant's id is simply not found (404).
 */
import type { FastifyInstance } from 'fastify';
import { newId } from '../../storage/ids.js';
import type { Store } from '../../storage/store.js';
import { HttpError } from '../errors.js';
import { decodeCursor, encodeCursor } from './page-cursor.js';
import { loadConsultationView, findTenantConsultation } from '../consultations/consultation-queries.js';
import type { TwilioRestClient } from '../twilio/twilio-rest-client.js';
import { TwilioApiError } from '../twilio/twilio-rest-client.js';

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

const MAX_PAGE = 100;

export async function consultationRoutes(app: FastifyInstance, options: ConsultationRouteOptions): Promise<void> {
  const { store, twilio, clock } = options;

  app.post<{ Body: { record?: unknown; scheduledAt?: unknown; reference?: unknown } }>(
    '/v1/consultations',
    { config: { scope: 'consultations:write' } },
    async (request, reply) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const record = body.record === undefined ? true : body.record;
      if (typeof record !== 'boolean') throw new HttpError('VALIDATION_FAILED', 'record must be a boolean');
      const scheduledAt = body.scheduledAt;
      if (scheduledAt !== undefined && (typeof scheduledAt !== 'string' || Number.isNaN(Date.parse(scheduledAt)))) {
        throw new HttpError('VALIDATION_FAILED', 'scheduledAt must be an ISO 8601 date-time');
      }
      const now = clock().toISOString();
      const id = newId('con');
      // The room name carries the unguessable id, so a callback can be matched by RoomName even
      // if it arrives before the room's SID is saved below.
      const roomName = `rg-${id}`;
      await store.db
        .insertInto('consultations')
        .values({
          id,
          tenant_id: request.tenant.id,
          room_sid: null,
          room_name: roomName,
          // Recorded before the room exists: its first callbacks may overtake Twilio's answer.
          account_sid: options.accountSid() ?? null,
          status: 'scheduled',
          record: record ? 1 : 0,
          scheduled_at: scheduledAt ? new Date(scheduledAt).toISOString() : null,
          started_at: null,
          ended_at: null,
          created_at: now,
          updated_at: now,
          version: 0,
        })
        .execute();
      let room;
      try {
        room = await twilio.createRoom({
          uniqueName: roomName,
          statusCallback: options.statusCallbackUrl(),
          recordParticipantsOnConnect: record,
        });
      } catch (error) {
        await store.db
          .updateTable('consultations')
          .set({ status: 'cancelled', updated_at: clock().toISOString() })
          .where('id', '=', id)
          .execute();
        throw new HttpError('UPSTREAM_UNAVAILABLE', 'Twilio could not create the room; the consultation was cancelled.', { cause: error });
      }
      // Twilio's answer names the account that really owns the room.
      const owner = room.account_sid && ACCOUNT_SID.test(room.account_sid) ? { account_sid: room.account_sid } : {};
      await store.db
        .updateTable('consultations')
        .set({ room_sid: room.sid, ...owner })
        .where('id', '=', id)
        .execute();
      const view = await loadConsultationView(store, request.tenant.id, id);
      return reply.code(201).send(view);
    },
  );

  app.get<{ Querystring: { status?: string; cursor?: string; limit?: string } }>(
    '/v1/consultations',
    { config: { scope: 'consultations:read' } },
    async (request) => {
      const limit = Math.min(MAX_PAGE, Math.max(1, Number(request.query.limit ?? 20) || 20));
      let query = store.db
        .selectFrom('consultations')
        .select(['id', 'status', 'room_sid', 'room_name', 'record', 'scheduled_at', 'started_at', 'ended_at', 'created_at'])
        .where('tenant_id', '=', request.tenant.id)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit + 1);
      if (request.query.status !== undefined && typeof request.query.status !== 'string')
        throw new HttpError('VALIDATION_FAILED', 'status must be given once');
      if (request.query.status) query = query.where('status', '=', request.query.status);
      if (request.query.cursor) {
        const cursor = decodeCursor(request.query.cursor);
        query = query.where((eb) =>
          eb.or([eb('created_at', '<', cursor.createdAt), eb.and([eb('created_at', '=', cursor.createdAt), eb('id', '<', cursor.id)])]),
        );
      }
      const rows = await query.execute();
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        data: page.map((row) => ({ ...row, record: Boolean(row.record) })),
        nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.created_at, id: last.id }) : null,
      };
    },
  );

  app.get<{ Params: { id: string } }>('/v1/consultations/:id', { config: { scope: 'consultations:read' } }, async (request) => {
    const view = await loadConsultationView(store, request.tenant.id, request.params.id);
    if (!view) throw new HttpError('NOT_FOUND');
    return view;
  });

  app.post<{ Params: { id: string } }>('/v1/consultations/:id/end', { config: { scope: 'consultations:write' } }, async (request) => {
    const consultation = await findTenantConsultation(store, request.tenant.id, request.params.id);
    if (!consultation) throw new HttpError('NOT_FOUND');
    if (!consultation.room_sid) throw new HttpError('CONFLICT', 'The consultation has no room.');
    if (['completed', 'cancelled', 'no-show'].includes(consultation.status)) {
      return loadConsultationView(store, request.tenant.id, consultation.id);
    }
    try {
      await twilio.completeRoom(consultation.room_sid);
    } catch (error) {
      if (error instanceof TwilioApiError && error.status === 404) throw new HttpError('CONFLICT', 'Twilio no longer knows the room.');
      throw new HttpError('UPSTREAM_UNAVAILABLE', undefined, { cause: error });
    }
    // The record changes when Twilio's room-ended callback arrives, as for every other change.
    return loadConsultationView(store, request.tenant.id, consultation.id);
  });
}
