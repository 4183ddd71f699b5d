/**
 * A request's write that background work can hold up: a fold, the no-show sweep or a webhook
 * batch may hold the consultation's row past the lock timeout under load, and the write then lost
 * a row conflict although nothing is wrong. It is run again (storage/row-conflict-retry.ts: up to
 * 3 runs, each waiting at most the lock timeout), each retry logged; a row held through all of
 * them still answers 503. `work` must be one transaction or idempotent statements.
 */
import type { FastifyBaseLogger } from 'fastify';
import { retryRowConflicts } from '../../storage/row-conflict-retry.js';

export function retriedWrite<T>(log: FastifyBaseLogger, consultationId: string, work: () => Promise<T>): Promise<T> {
  return retryRowConflicts(work, {
    onRetry: (error, attempt) => log.warn({ err: error, attempt, consultationId }, 'row conflict; retrying the write'),
  });
}
