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
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { withErrors } from '../api/schemas/common.js';
import { choosePseudonym } from '../../core/identity/erasure-pseudonym.js';
import { eraseSubject, purgeErasedBytes } from '../../storage/subject-erasure-repository.js';
import type { Store } from '../../storage/store.js';
import type { AuditLog } from '../audit-log.js';

/** Shorter values would match too much free text; Twilio's own limit is 128 bytes. */
export const ERASABLE_IDENTITY_LENGTH = { min: 3, max: 200 } as const;

export interface SubjectRouteOptions {
  readonly store: Store;
  readonly audit: AuditLog;
  /** Writes what buffered writers still hold (audit rows, security events), so the erasure sees it. */
  readonly settle: () => Promise<void>;
}

const SubjectParams = Type.Object(
  { identity: Type.String({ minLength: ERASABLE_IDENTITY_LENGTH.min, maxLength: ERASABLE_IDENTITY_LENGTH.max }) },
  { additionalProperties: false },
);

export async function subjectRoutes(root: FastifyInstance, options: SubjectRouteOptions): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { store, audit } = options;

  app.delete(
    '/v1/subjects/:identity',
    {
      config: { scope: 'privacy:erase', logUrl: false },
      schema: {
        summary: "Erase one participant's data (GDPR); idempotent.",
        description:
          'The identity is replaced everywhere by a random pseudonym; the record (times, billing) stays correct. A repeat, or an identity never seen, answers zeros.',
        params: SubjectParams,
        response: withErrors({ 200: Type.Ref('Erasure') }),
      },
    },
    async (request) => {
      const { identity } = request.params;
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
