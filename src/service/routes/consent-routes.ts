/**
 * The consent ledger (issue 20): `POST /v1/consultations/:id/consents` appends one decision — an
 * identity gives or withdraws consent to recording or transcription, under a version of the
 * consent text, recorded by someone — and `GET` lists the ledger with each identity's current
 * decision. Append-only: a change of mind is a new entry. In the same transaction: the tenant
 * event (`consent.given` / `consent.withdrawn`) and, when the tenant's recording follows consent,
 * an outbox entry that sets the room's Recording Rules from the ledger as it is when it runs.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { checkIdentity } from '../../core/identity/identity-policy.js';
import { appendConsent, listConsents } from '../../storage/consent-repository.js';
import { findTenantConsultation } from '../../storage/consultation-repository.js';
import { appendTenantEvents } from '../../storage/event-log-repository.js';
import { enqueueOutboxEntry } from '../../storage/outbox-repository.js';
import type { Store } from '../../storage/store.js';
import { IdempotencyHeaders } from '../api/idempotency.js';
import { IdParams, withErrors } from '../api/schemas/common.js';
import { RecordConsentBody } from '../api/schemas/consent.js';
import { consentEntryView, currentConsents } from '../consultations/consent-view.js';
import type { AuditLog } from '../audit-log.js';
import { HttpError } from '../errors.js';
import { retriedWrite } from './retried-write.js';
import { APPLY_RECORDING_RULES } from '../outbox/consent-effects.js';

export interface ConsentRouteOptions {
  readonly store: Store;
  readonly clock: () => Date;
  readonly audit: AuditLog;
  /** Wakes the outbox worker after a commit that queued Recording Rules. */
  readonly onOutbox: () => void;
}

/** Rooms of these consultations are over: their Recording Rules no longer matter. */
const FINAL = ['completed', 'cancelled', 'no-show'];

export async function consentRoutes(root: FastifyInstance, options: ConsentRouteOptions): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { store, clock } = options;

  app.post(
    '/v1/consultations/:id/consents',
    {
      config: { scope: 'consents:write', idempotent: true },
      schema: {
        summary: 'Record a participant’s consent to recording or transcription, or its withdrawal.',
        description:
          'Appends one entry to the consultation’s consent ledger (never changes one). When the tenant’s consent mode is `all-parties` or `one-party`, the room’s Recording Rules follow within seconds: only participants who currently consent are recorded (README, "Recording only with consent").',
        params: IdParams,
        headers: IdempotencyHeaders,
        body: RecordConsentBody,
        response: withErrors({ 201: Type.Ref('ConsentEntry') }, 404),
      },
    },
    async (request, reply) => {
      const { identity, kind, decision, textVersion, recordedBy } = request.body;
      const policy = checkIdentity(identity);
      if (!policy.ok) throw new HttpError('IDENTITY_REJECTED', policy.message);
      const consultation = await findTenantConsultation(store.db, request.tenant.id, request.params.id);
      if (!consultation) throw new HttpError('NOT_FOUND');
      const now = clock().toISOString();
      // Recording Rules follow recording consent of a consultation that records at all.
      const managed = request.tenant.consentMode !== 'off' && kind === 'recording' && Boolean(consultation.record);
      // Appended with the consultation's row locked, which a fold or a sweep may hold: a lost row
      // conflict runs the whole transaction again (it kept nothing).
      const { entry, queued } = await retriedWrite(request.log, consultation.id, () =>
        store.transaction(async (trx) => {
          const entry = await appendConsent(trx, {
            tenantId: request.tenant.id,
            consultationId: consultation.id,
            identity,
            kind,
            decision,
            textVersion,
            recordedBy: recordedBy ?? null,
            apiKeyId: request.tenant.apiKeyId,
            recordedAt: now,
          });
          await appendTenantEvents(trx, [
            {
              tenantId: request.tenant.id,
              consultationId: consultation.id,
              type: decision === 'given' ? 'consent.given' : 'consent.withdrawn',
              at: now,
              data: { identity, kind, textVersion, recordedBy: entry.recordedBy, position: entry.position, at: now },
            },
          ]);
          // The rules are computed when the entry runs, from the ledger as it is then: whichever
          // entry runs last sets the latest rules (outbox/recording-rules-handler.ts).
          const queued =
            managed && consultation.room_sid !== null && !FINAL.includes(consultation.status)
              ? await enqueueOutboxEntry(trx, {
                  kind: APPLY_RECORDING_RULES,
                  key: `recording-rules:${consultation.id}:consent-${entry.position}`,
                  payload: { consultationId: consultation.id, roomSid: consultation.room_sid },
                  now,
                })
              : false;
          return { entry, queued };
        }),
      );
      if (queued) options.onOutbox();
      options.audit.record({
        tenantId: request.tenant.id,
        actor: request.tenant.apiKeyId,
        action: decision === 'given' ? 'consent.given' : 'consent.withdrawn',
        target: consultation.id,
        outcome: 'ok',
        detail: { identity, kind, textVersion, position: entry.position },
      });
      return reply.code(201).header('location', `/v1/consultations/${consultation.id}/consents`).send(consentEntryView(entry));
    },
  );

  app.get(
    '/v1/consultations/:id/consents',
    {
      config: { scope: 'consultations:read' },
      schema: {
        summary: 'The consultation’s consent ledger, in order, and each identity’s current decision.',
        params: IdParams,
        response: withErrors({ 200: Type.Ref('ConsentLedger') }, 404),
      },
    },
    async (request) => {
      const consultation = await findTenantConsultation(store.db, request.tenant.id, request.params.id);
      if (!consultation) throw new HttpError('NOT_FOUND');
      const entries = await listConsents(store.db, [consultation.id]);
      return { consentMode: request.tenant.consentMode, data: entries.map(consentEntryView), current: currentConsents(entries) };
    },
  );
}
