/**
 * DELETE /v1/subjects/:identity — GDPR erasure of one participant within the tenant. The identity
 * is replaced everywhere by a random pseudonym (storage/subject-erasure-repository.ts), so the
 * record (time, billing) stays correct while nothing links it to the person; then, on SQLite,
 * the WAL is checkpointed so the old bytes leave the files.
 *
 * Idempotent: every call answers 200 with the same shape — the rows this call changed, so a
 * repeat (or an identity never seen) answers zeros. Each call is audited by its own pseudonym,
 * in the erasing transaction; nothing remembers which identity a pseudonym replaced. The
 * identity may get tokens again afterwards: it is then a new participant.
 *
 * The identity is in the URL, so these routes log their pattern, never the URL (`logUrl`).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { choosePseudonym } from '../../core/identity/erasure-pseudonym.js';
import { eraseSubject, purgeErasedBytes } from '../../storage/subject-erasure-repository.js';
import type { Store } from '../../storage/store.js';
import type { AuditLog } from '../audit-log.js';
import { HttpError } from '../errors.js';

/** Shorter values would match too much free text; Twilio's own limit is 128 bytes. */
export const ERASABLE_IDENTITY_LENGTH = { min: 3, max: 200 } as const;

export interface SubjectRouteOptions {
  readonly store: Store;
  readonly audit: AuditLog;
  /** Writes what buffered writers still hold (audit rows, security events), so the erasure sees it. */
  readonly settle: () => Promise<void>;
}

export async function subjectRoutes(app: FastifyInstance, options: SubjectRouteOptions): Promise<void> {
  const { store, audit } = options;

  app.delete<{ Params: { identity: string } }>(
    '/v1/subjects/:identity',
    { config: { scope: 'privacy:erase', logUrl: false } },
    async (request) => {
      const { identity } = request.params;
      const { min, max } = ERASABLE_IDENTITY_LENGTH;
      if (identity.length < min || identity.length > max) {
        throw new HttpError('VALIDATION_FAILED', `identity must be ${min} to ${max} characters`);
      }
      const pseudonym = choosePseudonym(identity, () => randomBytes(10).toString('hex'));
      await options.settle();
      const counts = await store.transaction(async (trx) => {
        const changed = await eraseSubject(trx, { tenantId: request.tenant.id, identity, pseudonym });
        await audit.recordIn(trx, {
          tenantId: request.tenant.id,
          actor: request.tenant.apiKeyId,
          action: 'subject.erase',
          target: pseudonym,
          outcome: 'erased',
          detail: { ...changed },
        });
        return changed;
      });
      const purged = await purgeErasedBytes(store.db).catch(() => false);
      if (!purged) request.log.warn({ pseudonym }, 'erasure committed; its old bytes stay in the SQLite WAL until the next checkpoint');
      return { erased: true, pseudonym, ...counts };
    },
  );
}
