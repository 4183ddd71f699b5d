/** Recordings and the composition of one consultation; the tenant's billing records. */
import type { FastifyInstance } from 'fastify';
import { listTenantBillingRecords } from '../../storage/billing-repository.js';
import { findConsultationComposition, listConsultationRecordings } from '../../storage/recording-repository.js';
import type { Store } from '../../storage/store.js';
import { findTenantConsultation } from '../consultations/consultation-queries.js';
import { HttpError } from '../errors.js';

export async function recordRoutes(app: FastifyInstance, options: { store: Store }): Promise<void> {
  const { store } = options;

  app.get<{ Params: { id: string } }>('/v1/consultations/:id/recordings', { config: { scope: 'recordings:read' } }, async (request) => {
    const consultation = await findTenantConsultation(store, request.tenant.id, request.params.id);
    if (!consultation) throw new HttpError('NOT_FOUND');
    const [recordings, composition] = await Promise.all([
      listConsultationRecordings(store.db, consultation.id),
      findConsultationComposition(store.db, consultation.id),
    ]);
    return {
      recordings: recordings.map((row) => ({
        recordingSid: row.recording_sid,
        trackName: row.track_name,
        status: row.status,
        duration: row.duration,
        size: row.size,
        mediaUri: row.status === 'completed' ? row.media_uri : null,
        completedAt: row.completed_at,
      })),
      composition: composition
        ? {
            compositionSid: composition.composition_sid,
            status: composition.status,
            attempts: composition.attempts,
            // The media link is shown only once Twilio said composition-available.
            mediaUri: composition.status === 'available' ? composition.media_uri : null,
            updatedAt: composition.updated_at,
          }
        : null,
    };
  });

  app.get<{ Querystring: { since?: string; limit?: string } }>(
    '/v1/billing-records',
    { config: { scope: 'billing:read' } },
    async (request) => {
      const limit = Math.min(500, Math.max(1, Number(request.query.limit ?? 100) || 100));
      if (request.query.since !== undefined && typeof request.query.since !== 'string')
        throw new HttpError('VALIDATION_FAILED', 'since must be given once');
      const rows = await listTenantBillingRecords(store.db, {
        tenantId: request.tenant.id,
        limit,
        ...(request.query.since ? { since: request.query.since } : {}),
      });
      return {
        data: rows.map((row) => ({
          id: row.id,
          consultationId: row.consultation_id,
          billableSeconds: row.billable_seconds,
          roundedSeconds: row.rounded_seconds,
          intervals: JSON.parse(row.intervals) as unknown,
          recordedAt: row.created_at,
        })),
      };
    },
  );
}
