/**
 * The waiting room (issue 19): a care recipient joins the lobby of a consultation whose waiting
 * room is on (`POST /v1/consultations/:id/lobby`, scope tokens:issue, no Twilio room used); the
 * clinician's side admits or declines (scope consultations:write); the care recipient may leave.
 * While the waiting room is on, only an admitted care recipient gets an access token. The identity
 * is in the path of the per-identity routes: they log their pattern, never the URL.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { nextLobbyStatus, waitsInLobby, type LobbyAction, type LobbyStatus } from '../../core/consultation/lobby.js';
import { rolesForTenantKind } from '../../core/consultation/roles.js';
import { checkIdentity } from '../../core/identity/identity-policy.js';
import { findTenantConsultation } from '../../storage/consultation-repository.js';
import { findLobbyEntry, saveLobbyEntry } from '../../storage/lobby-repository.js';
import { appendTenantEvents } from '../../storage/event-log-repository.js';
import type { ConsultationRow } from '../../storage/schema.js';
import type { Store } from '../../storage/store.js';
import { StoreConstraintError } from '../../storage/store-errors.js';
import { IdParams, withErrors } from '../api/schemas/common.js';
import { LobbyJoinBody, LobbyParams } from '../api/schemas/lobby.js';
import type { AuditLog } from '../audit-log.js';
import type { AuthenticatedTenant } from '../auth/api-key-auth.js';
import { lobbyEntryView } from '../consultations/lobby-view.js';
import { HttpError } from '../errors.js';
import { retriedWrite } from './retried-write.js';

export interface LobbyRouteOptions {
  readonly store: Store;
  readonly clock: () => Date;
  readonly audit: AuditLog;
}

const FINAL = ['completed', 'cancelled', 'no-show'];
const LOBBY_EVENT = { join: 'lobby.joined', admit: 'lobby.admitted', decline: 'lobby.declined', leave: 'lobby.left' } as const;
const entry = Type.Ref('LobbyEntry');

/** The consultation's waiting room setting wins over the tenant's; both unset → off. */
export function waitingRoomOn(consultation: Pick<ConsultationRow, 'waiting_room'>, tenant: AuthenticatedTenant): boolean {
  return Boolean(consultation.waiting_room ?? tenant.waitingRoom);
}

export async function lobbyRoutes(root: FastifyInstance, options: LobbyRouteOptions): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { store, clock } = options;

  /** Steps one identity's entry by the action in one transaction; 404 / 409 when it may not. */
  const step = async (
    log: FastifyBaseLogger,
    tenant: AuthenticatedTenant,
    id: string,
    identity: string,
    action: LobbyAction,
    role?: string,
  ) => {
    const consultation = await findTenantConsultation(store.db, tenant.id, id);
    if (!consultation) throw new HttpError('NOT_FOUND');
    if (FINAL.includes(consultation.status)) throw new HttpError('CONFLICT', `The consultation is ${consultation.status}.`);
    if (!waitingRoomOn(consultation, tenant)) throw new HttpError('CONFLICT', 'The consultation has no waiting room.');
    const now = clock().toISOString();
    try {
      // The consultation's rows may be held by a fold or a sweep: a lost row conflict runs it again.
      return await retriedWrite(log, consultation.id, () =>
        store.transaction(async (trx) => {
          const current = await findLobbyEntry(trx, consultation.id, identity);
          if (!current && action !== 'join') throw new HttpError('NOT_FOUND', 'This identity is not in the lobby.');
          const next = nextLobbyStatus(current?.status as LobbyStatus | undefined, action);
          if (next === null) throw new HttpError('CONFLICT', `The identity is ${current?.status ?? 'not in the lobby'}.`);
          const rejoin = action === 'join' && next === 'waiting' && current?.status !== 'waiting';
          const saved = {
            consultationId: consultation.id,
            identity,
            role: current && !rejoin ? current.role : (role ?? current?.role ?? ''),
            status: next,
            joinedAt: rejoin || !current ? now : current.joinedAt,
            decidedAt: action === 'admit' || action === 'decline' ? now : rejoin ? null : (current?.decidedAt ?? null),
            leftAt: action === 'leave' ? now : rejoin ? null : (current?.leftAt ?? null),
          };
          if (!current || current.status !== next || rejoin) {
            await saveLobbyEntry(trx, saved, current !== undefined);
            // The tenant's event log, in the same transaction: the event exists exactly when the change does.
            await appendTenantEvents(trx, [
              {
                tenantId: tenant.id,
                consultationId: consultation.id,
                type: LOBBY_EVENT[action],
                at: now,
                data: { identity, role: saved.role, at: now, waitedSeconds: lobbyEntryView(saved).waitedSeconds },
              },
            ]);
          }
          return { consultationId: consultation.id, entry: saved };
        }),
      );
    } catch (error) {
      // Two joins at once: the second finds the first's row.
      if (error instanceof StoreConstraintError && error.constraint === 'unique')
        throw new HttpError('CONFLICT', 'The identity just joined.');
      throw error;
    }
  };

  const record = (tenant: AuthenticatedTenant, target: string, action: LobbyAction, identity: string, role: string) =>
    options.audit.record({
      tenantId: tenant.id,
      actor: tenant.apiKeyId,
      action: `lobby.${action === 'join' ? 'joined' : action === 'admit' ? 'admitted' : action === 'decline' ? 'declined' : 'left'}`,
      target,
      outcome: 'ok',
      detail: { identity, role },
    });

  app.post(
    '/v1/consultations/:id/lobby',
    {
      config: { scope: 'tokens:issue' },
      schema: {
        summary: 'Place a care recipient in the waiting room.',
        description:
          'For a consultation whose waiting room is on (its own setting, else the tenant’s; 409 otherwise). The role must be a care recipient’s of the tenant kind (patient, pet-owner, caregiver). No Twilio room is used. Joining again while waiting or admitted changes nothing; after leaving or a decline it waits again.',
        params: IdParams,
        body: LobbyJoinBody,
        response: withErrors({ 201: entry }, 404, 409),
      },
    },
    async (request, reply) => {
      const { identity, role } = request.body;
      const policy = checkIdentity(identity);
      if (!policy.ok) throw new HttpError('IDENTITY_REJECTED', policy.message);
      if (!(rolesForTenantKind(request.tenant.kind) as readonly string[]).includes(role) || !waitsInLobby(role)) {
        throw new HttpError('VALIDATION_FAILED', 'role must be a care recipient’s role of the tenant kind', { details: { field: 'role' } });
      }
      const result = await step(request.log, request.tenant, request.params.id, identity, 'join', role);
      record(request.tenant, result.consultationId, 'join', identity, result.entry.role);
      return reply.code(201).send(lobbyEntryView(result.entry));
    },
  );

  for (const action of ['admit', 'decline', 'leave'] as const) {
    app.post(
      `/v1/consultations/:id/lobby/:identity/${action}`,
      {
        config: { scope: action === 'leave' ? 'tokens:issue' : 'consultations:write', logUrl: false },
        schema: {
          summary:
            action === 'admit'
              ? 'Admit a waiting care recipient: access tokens are issued to them from now on.'
              : action === 'decline'
                ? 'Decline a waiting care recipient: no access token for them.'
                : 'The care recipient leaves the waiting room (or gives up an admission).',
          params: LobbyParams,
          response: withErrors({ 200: entry }, 404, 409),
        },
      },
      async (request) => {
        const result = await step(request.log, request.tenant, request.params.id, request.params.identity, action);
        record(request.tenant, result.consultationId, action, request.params.identity, result.entry.role);
        return lobbyEntryView(result.entry);
      },
    );
  }
}
