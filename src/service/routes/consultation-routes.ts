/**
 * The tenant's consultations: create (with its Twilio room), list, fetch, end. Every query is
 * filtered by the authenticated tenant, so another tenant's id is simply not found (404).
 */
import type { FastifyInstance } from 'fastify';
import { newId } from '../../storage/ids.js';
import {
  insertConsultations,
  listTenantConsultationsPage,
  markConsultationCancelled,
  setConsultationRoom,
} from '../../storage/consultation-repository.js';
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
      await insertConsultations(store.db, [
        {
          id,
          tenantId: request.tenant.id,
          roomSid: null,
          roomName,
          // Recorded before the room exists: its first callbacks may overtake Twilio's answer.
          accountSid: options.accountSid() ?? null,
          record,
          scheduledAt: scheduledAt ? new Date(scheduledAt).toISOString() : null,
          now,
        },
      ]);
      let room;
      try {
        room = await twilio.createRoom({
          uniqueName: roomName,
          statusCallback: options.statusCallbackUrl(),
          recordParticipantsOnConnect: record,
        });
      } catch (error) {
        await markConsultationCancelled(store.db, id, clock().toISOString());
        throw new HttpError('UPSTREAM_UNAVAILABLE', 'Twilio could not create the room; the consultation was cancelled.', { cause: error });
      }
      // Twilio's answer names the account that really owns the room.
      const owner = room.account_sid && ACCOUNT_SID.test(room.account_sid) ? { accountSid: room.account_sid } : {};
      await setConsultationRoom(store.db, id, { roomSid: room.sid, ...owner });
      const view = await loadConsultationView(store, request.tenant.id, id);
      return reply.code(201).send(view);
    },
  );

  app.get<{ Querystring: { status?: string; cursor?: string; limit?: string } }>(
    '/v1/consultations',
    { config: { scope: 'consultations:read' } },
    async (request) => {
      const limit = Math.min(MAX_PAGE, Math.max(1, Number(request.query.limit ?? 20) || 20));
      if (request.query.status !== undefined && typeof request.query.status !== 'string')
        throw new HttpError('VALIDATION_FAILED', 'status must be given once');
      const rows = await listTenantConsultationsPage(store.db, {
        tenantId: request.tenant.id,
        limit,
        ...(request.query.status ? { status: request.query.status } : {}),
        ...(request.query.cursor ? { before: decodeCursor(request.query.cursor) } : {}),
      });
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
