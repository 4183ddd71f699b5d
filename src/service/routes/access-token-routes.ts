/**
 * POST /v1/consultations/:id/access-tokens — the identity passes the policy, the role is one the
 * tenant's kind allows, the consultation is still open; then the identity is recorded as issued
 * for this room (so a callback naming any other identity is caught) and a Video token bound to
 * this room alone is signed. The token is in the answer only: never logged, never stored.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { IdempotencyHeaders, type IdempotentSecret } from '../api/idempotency.js';
import { IdParams, withErrors } from '../api/schemas/common.js';
import { IssueTokenBody } from '../api/schemas/records.js';
import { createVideoAccessToken } from '../../core/access-token/video-access-token.js';
import { rolesForTenantKind } from '../../core/consultation/roles.js';
import { waitsInLobby } from '../../core/consultation/lobby.js';
import { findLobbyEntry } from '../../storage/lobby-repository.js';
import { waitingRoomOn } from './lobby-routes.js';
import { appointmentWindow, checkWindow, tokenTtlSeconds } from '../../core/consultation/appointment-window.js';
import { checkIdentity } from '../../core/identity/identity-policy.js';
import { issueParticipant } from '../../storage/participant-repository.js';
import type { Store } from '../../storage/store.js';
import type { AuditLog } from '../audit-log.js';
import { findTenantConsultation } from '../../storage/consultation-repository.js';
import { HttpError } from '../errors.js';
import { roomToJoin, type RoomReopenerOptions } from '../consultations/room-reopener.js';
import { retriedWrite } from './retried-write.js';

export interface AccessTokenRouteOptions {
  readonly store: Store;
  readonly clock: () => Date;
  readonly accountSid: string;
  readonly apiKey: { readonly sid: string; readonly secret: string };
  /** Long enough to join; a reconnect later asks for a new token. */
  readonly ttlSeconds: number;
  readonly audit: AuditLog;
  /** Rejoining: how a consultation whose room ended inside its window gets the next one. */
  readonly rooms: Omit<RoomReopenerOptions, 'store'>;
}

export async function accessTokenRoutes(root: FastifyInstance, options: AccessTokenRouteOptions): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const sign = (identity: string, roomName: string, now: Date, ttlSeconds: number) =>
    createVideoAccessToken({
      accountSid: options.accountSid,
      apiKeySid: options.apiKey.sid,
      apiKeySecret: options.apiKey.secret,
      identity,
      roomName,
      ttlSeconds,
      now,
    });
  // A replayed answer (Idempotency-Key) is signed again from what was stored, which lacks the
  // token: the same claims (time included) give the very same token, never kept in the database.
  // The token's lifetime is kept beside the answer (not the token): a window may cut it short.
  const tokenNotStored: IdempotentSecret = {
    strip: ({ token, ...rest }) => ({ ...rest, tokenTtlSeconds: tokenLifetime(String(token)) }),
    restore: ({ tokenTtlSeconds, ...stored }) => {
      const ttl = typeof tokenTtlSeconds === 'number' ? tokenTtlSeconds : options.ttlSeconds;
      const expiresAt = Date.parse(String(stored.expiresAt));
      const token = sign(String(stored.identity), String(stored.roomName), new Date(expiresAt - ttl * 1000), ttl);
      return { token, ...stored };
    },
  };
  app.post(
    '/v1/consultations/:id/access-tokens',
    {
      config: { scope: 'tokens:issue', idempotent: true, idempotentSecret: tokenNotStored },
      schema: {
        summary: 'Sign a Video access token for this room alone.',
        description:
          'The identity must pass the identity policy (422 IDENTITY_REJECTED with the reason) and the role be one of the tenant kind; the consultation must still be open (409); while the waiting room is on, a care recipient needs an admission (409 NOT_ADMITTED); a scheduled consultation with a duration issues tokens only inside its appointment window (422 WINDOW_NOT_OPEN / WINDOW_CLOSED with `window`), each expiring at the window’s end at the latest; inside the window, when its room has ended (a dropped call, Twilio’s timeout) a new room is created and the token is for it (`roomName`; 502 if Twilio cannot create it). The answer has `Location` of the consultation, whose participants now include the identity. The token is never logged or stored.',
        params: IdParams,
        headers: IdempotencyHeaders,
        body: IssueTokenBody,
        response: withErrors({ 201: Type.Ref('AccessToken') }, 404, 409, 502),
      },
    },
    async (request, reply) => {
      const consultation = await findTenantConsultation(options.store.db, request.tenant.id, request.params.id);
      if (!consultation) throw new HttpError('NOT_FOUND');
      const { identity, role } = request.body;
      const policy = checkIdentity(identity);
      if (!policy.ok) {
        options.audit.record({
          tenantId: request.tenant.id,
          actor: request.tenant.apiKeyId,
          action: 'token.issue',
          target: request.params.id,
          outcome: `refused:${policy.reason}`,
        });
        throw new HttpError('IDENTITY_REJECTED', policy.message);
      }
      const allowedRoles = rolesForTenantKind(request.tenant.kind);
      if (!(allowedRoles as readonly string[]).includes(role)) {
        throw new HttpError('VALIDATION_FAILED', `role must be one of: ${allowedRoles.join(', ')}`, { details: { field: 'role' } });
      }
      if (['completed', 'cancelled', 'no-show'].includes(consultation.status)) {
        throw new HttpError('CONFLICT', `The consultation is ${consultation.status}.`);
      }
      const now = options.clock();
      const computed = appointmentWindow({
        scheduledAt: consultation.scheduled_at,
        durationMinutes: consultation.duration_minutes ?? null,
        joinEarlyMinutes: request.tenant.joinEarlyMinutes,
        graceMinutes: request.tenant.joinGraceMinutes,
      });
      // The window's end is fixed at creation (the no-show sweep and rejoining key on it): a
      // grace changed since in the tenant's settings applies to consultations created afterwards.
      const window =
        computed && consultation.window_closes_at ? { ...computed, closesAt: new Date(consultation.window_closes_at) } : computed;
      const inWindow = checkWindow(window, now);
      if (!inWindow.ok && window) {
        options.audit.record({
          tenantId: request.tenant.id,
          actor: request.tenant.apiKeyId,
          action: 'token.issue',
          target: consultation.id,
          outcome: `refused:${inWindow.reason}`,
        });
        throw new HttpError(inWindow.reason === 'window-not-open' ? 'WINDOW_NOT_OPEN' : 'WINDOW_CLOSED', undefined, {
          details: { window: { opensAt: window.opensAt.toISOString(), closesAt: window.closesAt.toISOString() } },
        });
      }
      // The waiting room: a care recipient needs an admission first.
      if (waitingRoomOn(consultation, request.tenant) && waitsInLobby(role)) {
        const entry = await findLobbyEntry(options.store.db, consultation.id, identity);
        if (entry?.status !== 'admitted') {
          options.audit.record({
            tenantId: request.tenant.id,
            actor: request.tenant.apiKeyId,
            action: 'token.issue',
            target: consultation.id,
            outcome: 'refused:not-admitted',
          });
          throw new HttpError(
            'NOT_ADMITTED',
            `The identity is ${entry ? entry.status : 'not in the lobby'}; the waiting room admits first.`,
          );
        }
      }
      // Rejoining: inside the window, a room that has ended is followed by a new one.
      const { roomName } = window
        ? await roomToJoin(
            { store: options.store, ...options.rooms },
            { ...consultation, consentMode: request.tenant.consentMode },
            window,
            now,
          )
        : { roomName: consultation.room_name };
      const ttlSeconds = tokenTtlSeconds(window, now, options.ttlSeconds);
      const expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
      // Its rows reference the consultation's, which a fold or a sweep may hold: a lost row
      // conflict is retried (the inserts are insert-if-absent, so running them again is safe).
      await retriedWrite(request.log, consultation.id, () =>
        options.store.transaction((trx) =>
          issueParticipant(trx, {
            consultationId: consultation.id,
            identity,
            role,
            issuedAt: now.toISOString(),
            expiresAt: expiresAt.toISOString(),
          }),
        ),
      );
      const token = sign(identity, roomName, now, ttlSeconds);
      options.audit.record({
        tenantId: request.tenant.id,
        actor: request.tenant.apiKeyId,
        action: 'token.issue',
        target: consultation.id,
        outcome: 'issued',
        detail: { identity, role },
      });
      return reply
        .code(201)
        .header('location', `/v1/consultations/${consultation.id}`)
        .send({ token, identity, role, roomName, expiresAt: expiresAt.toISOString() });
    },
  );
}

/** The signed lifetime (exp − iat) read from the token's payload: no secret, just two numbers. */
function tokenLifetime(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iat?: unknown; exp?: unknown };
    return typeof payload.iat === 'number' && typeof payload.exp === 'number' ? payload.exp - payload.iat : undefined;
  } catch {
    return undefined;
  }
}
