/**
 * DELETE /v1/subjects/:identity — GDPR erasure of one participant within the tenant. The
 * identity is replaced everywhere by a stable pseudonym that cannot be reversed, so the record
 * (time, billing) stays correct while nothing links it to the person. Recorded in the audit log.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Store, StoreTransaction } from '../../storage/store.js';
import type { AuditLog } from '../audit-log.js';
import { HttpError } from '../errors.js';

export async function subjectRoutes(app: FastifyInstance, options: { store: Store; audit: AuditLog }): Promise<void> {
  app.delete<{ Params: { identity: string } }>('/v1/subjects/:identity', { config: { scope: 'privacy:erase' } }, async (request) => {
    const identity = request.params.identity;
    if (!identity || identity.length > 200) throw new HttpError('VALIDATION_FAILED', 'identity is required');
    // Random salt: the pseudonym must not be recomputable from the identity later.
    const pseudonym = `erased-${createHash('sha256').update(randomBytes(16)).update(identity).digest('hex').slice(0, 20)}`;
    const counts = await options.store.transaction((trx) => erase(trx, request.tenant.id, identity, pseudonym));
    if (counts.participants === 0) throw new HttpError('NOT_FOUND');
    options.audit.record({
      tenantId: request.tenant.id,
      actor: request.tenant.apiKeyId,
      action: 'subject.erase',
      target: pseudonym,
      outcome: 'erased',
      detail: counts,
    });
    return { erased: true, pseudonym, ...counts };
  });
}

async function erase(trx: StoreTransaction, tenantId: string, identity: string, pseudonym: string) {
  const consultationIds = (await trx.selectFrom('consultations').select('id').where('tenant_id', '=', tenantId).execute()).map(
    (row) => row.id,
  );
  if (consultationIds.length === 0) return { participants: 0, sessions: 0, callbacks: 0 };
  const participants = await trx
    .updateTable('participants')
    .set({ identity: pseudonym })
    .where('consultation_id', 'in', consultationIds)
    .where('identity', '=', identity)
    .executeTakeFirst();
  const sessions = await trx
    .updateTable('participant_sessions')
    .set({ identity: pseudonym })
    .where('consultation_id', 'in', consultationIds)
    .where('identity', '=', identity)
    .executeTakeFirst();
  await trx
    .updateTable('issued_identities')
    .set({ identity: pseudonym })
    .where('consultation_id', 'in', consultationIds)
    .where('identity', '=', identity)
    .execute();
  const roomSids = (
    await trx.selectFrom('consultations').select('room_sid').where('id', 'in', consultationIds).where('room_sid', 'is not', null).execute()
  ).map((row) => row.room_sid!);
  let callbacks = 0;
  if (roomSids.length > 0) {
    const rows = await trx
      .selectFrom('callbacks')
      .select(['id', 'params'])
      .where('room_sid', 'in', roomSids)
      .where('participant_identity', '=', identity)
      .execute();
    for (const row of rows) {
      const params = (JSON.parse(row.params) as [string, string][]).map(([key, value]): [string, string] => [
        key,
        key === 'ParticipantIdentity' ? pseudonym : value,
      ]);
      await trx
        .updateTable('callbacks')
        .set({ participant_identity: pseudonym, params: JSON.stringify(params) })
        .where('id', '=', row.id)
        .execute();
      callbacks += 1;
    }
  }
  return { participants: Number(participants.numUpdatedRows), sessions: Number(sessions.numUpdatedRows), callbacks };
}
