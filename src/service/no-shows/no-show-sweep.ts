/**
 * The no-show sweep: consultations whose appointment window closed while still scheduled or
 * waiting become `no-show`, named (who never came, how long the other waited), and their room is
 * completed at Twilio if still open. Bounded (a batch per pass), and safe on every instance at
 * once: the mark is a compare-and-set on the status, and only the instance that marked a
 * consultation completes its room.
 */
import type { Logger } from 'pino';
import { noShowVerdict } from '../../core/consultation/no-show.js';
import { listClosedWindowConsultations, loadPresences, markNoShow } from '../../storage/no-show-repository.js';
import type { Store } from '../../storage/store.js';
import { appendTenantEvents } from '../../storage/event-log-repository.js';
import { isRowConflict } from '../../storage/store-errors.js';
import type { TwilioRestClient } from '../twilio/twilio-rest-client.js';

export interface NoShowSweepOptions {
  readonly store: Store;
  readonly twilio: Pick<TwilioRestClient, 'completeRoom'>;
  readonly clock: () => Date;
  readonly logger?: Pick<Logger, 'warn' | 'info'>;
  /** Consultations per pass (default 100). */
  readonly batch?: number;
}

/** One pass; returns the consultations it marked. */
export async function sweepNoShows(options: NoShowSweepOptions): Promise<{ id: string; missing: string; waitedSeconds: number }[]> {
  const now = options.clock().toISOString();
  const due = await listClosedWindowConsultations(options.store.db, now, options.batch ?? 100);
  const marked: { id: string; missing: string; waitedSeconds: number }[] = [];
  for (const consultation of due) {
    const closesAt = new Date(consultation.window_closes_at!);
    const verdict = noShowVerdict(await loadPresences(options.store.db, consultation.id), closesAt);
    // They met (the fold has not caught up yet): not a no-show; the fold decides.
    if (!verdict) continue;
    let done: boolean;
    try {
      done = await options.store.transaction(async (trx) => {
        if (!(await markNoShow(trx, consultation.id, { ...verdict, endedAt: closesAt.toISOString(), now }))) return false;
        const base = { tenantId: consultation.tenant_id, consultationId: consultation.id, at: now };
        // The tenant's event log, in the same transaction as the mark.
        await appendTenantEvents(trx, [
          ...(consultation.status !== 'no-show'
            ? [{ ...base, type: 'consultation.status' as const, data: { from: consultation.status, to: 'no-show' } }]
            : []),
          { ...base, type: 'consultation.no_show', data: { endedAt: closesAt.toISOString(), ...verdict } },
        ]);
        return true;
      });
    } catch (error) {
      if (!isRowConflict(error)) throw error;
      // Held past the lock timeout by another transaction (a fold, a request): it stays due and
      // the next pass names it; the consultations after it in the batch are not held up.
      options.logger?.warn({ err: error, consultationId: consultation.id }, 'no-show: the consultation is held; named at the next pass');
      continue;
    }
    if (!done) continue;
    marked.push({ id: consultation.id, ...verdict });
    options.logger?.info({ consultationId: consultation.id, missing: verdict.missing }, 'no-show: the appointment window closed');
    if (consultation.room_sid) {
      // Twilio answers 4xx for a room that already ended: nothing to do then.
      await options.twilio.completeRoom(consultation.room_sid).catch((error: unknown) => {
        options.logger?.warn({ err: error, consultationId: consultation.id }, 'no-show: could not complete the room');
      });
    }
  }
  return marked;
}
