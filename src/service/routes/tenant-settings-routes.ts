/**
 * /v1/tenant/settings — a tenant reads and changes its own appointment-window, waiting-room and
 * consent-mode settings (scope settings:manage). A changed window applies to consultations created afterwards
 * (their window's end is fixed at creation; the join-early minutes apply to every token request);
 * the waiting room to every consultation that does not say otherwise. Changes are audited.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { WINDOW_DEFAULTS } from '../../core/consultation/appointment-window.js';
import { consentModeOf } from '../../core/consultation/consent.js';
import type { Store } from '../../storage/store.js';
import { findTenantSettings, updateTenantSettings } from '../../storage/tenant-repository.js';
import { withErrors } from '../api/schemas/common.js';
import { UpdateTenantSettingsBody } from '../api/schemas/tenant-settings.js';
import type { AuditLog } from '../audit-log.js';
import { HttpError } from '../errors.js';

const settings = Type.Ref('TenantSettings');

export async function tenantSettingsRoutes(root: FastifyInstance, options: { store: Store; audit: AuditLog }): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { store, audit } = options;

  const view = async (tenantId: string) => {
    const row = await findTenantSettings(store.db, tenantId);
    if (!row) throw new HttpError('NOT_FOUND');
    return {
      joinEarlyMinutes: row.join_early_minutes ?? WINDOW_DEFAULTS.joinEarlyMinutes,
      joinGraceMinutes: row.join_grace_minutes ?? WINDOW_DEFAULTS.graceMinutes,
      waitingRoom: Boolean(row.waiting_room),
      consentMode: consentModeOf(row.consent_mode),
      defaults: { joinEarlyMinutes: WINDOW_DEFAULTS.joinEarlyMinutes, joinGraceMinutes: WINDOW_DEFAULTS.graceMinutes },
    };
  };

  app.get(
    '/v1/tenant/settings',
    {
      config: { scope: 'settings:manage' },
      schema: {
        summary: 'This tenant’s appointment-window and waiting-room settings.',
        response: withErrors({ 200: settings }),
      },
    },
    async (request) => view(request.tenant.id),
  );

  app.patch(
    '/v1/tenant/settings',
    {
      config: { scope: 'settings:manage' },
      schema: {
        summary: 'Change this tenant’s appointment-window and waiting-room settings.',
        description:
          'Only the fields sent change; null resets a window setting to its default. A window applies to consultations created afterwards; the waiting room to every consultation that does not set its own.',
        body: UpdateTenantSettingsBody,
        response: withErrors({ 200: settings }),
      },
    },
    async (request) => {
      const body = request.body;
      await updateTenantSettings(store.db, request.tenant.id, {
        ...(body.joinEarlyMinutes !== undefined ? { join_early_minutes: body.joinEarlyMinutes } : {}),
        ...(body.joinGraceMinutes !== undefined ? { join_grace_minutes: body.joinGraceMinutes } : {}),
        ...(body.waitingRoom !== undefined ? { waiting_room: body.waitingRoom ? 1 : 0 } : {}),
        ...(body.consentMode !== undefined ? { consent_mode: body.consentMode === 'off' ? null : body.consentMode } : {}),
      });
      audit.record({
        tenantId: request.tenant.id,
        actor: request.tenant.apiKeyId,
        action: 'tenant.settings',
        target: request.tenant.id,
        outcome: 'updated',
        detail: body,
      });
      return view(request.tenant.id);
    },
  );
}
