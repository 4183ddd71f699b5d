/**
 * Closing a consultation that spans rooms (rejoining): from the close on no room may follow, so an
 * interrupted consultation completes (and one that never met is a no-show). The close is stored
 * (`consultations.closed_at`, first one wins) and folded in the same transaction — the fold places
 * it among the events (core/consultation/consultation-state.ts). Used when the appointment window
 * closes (the sweep, `closeWindows`), on `POST …/end`, and by an operator's completion.
 */
import { closeConsultation, listInterruptedPastWindow } from '../../storage/consultation-room-repository.js';
import { lockConsultations } from '../../storage/row-locks.js';
import type { Store, StoreTransaction } from '../../storage/store.js';
import { isRowConflict } from '../../storage/store-errors.js';
import { projectConsultations } from './consultation-projector.js';

/** Closes and folds one consultation inside the caller's transaction. True when this call closed it. */
export async function closeAndProject(trx: StoreTransaction, consultationId: string, at: string, now: string): Promise<boolean> {
  await lockConsultations(trx, [consultationId]);
  const closed = await closeConsultation(trx, consultationId, at);
  // Folded either way: a close set earlier (POST …/end before Twilio answered) may not be folded yet.
  await projectConsultations(trx, [consultationId], now);
  return closed;
}

/**
 * One pass: every interrupted consultation whose window has closed is closed at the window's end
 * (so it completes). Bounded by `batch`; safe on every instance at once (the close is set once).
 */
export async function closeWindows(options: {
  store: Store;
  clock: () => Date;
  batch?: number;
  logger?: { warn(details: object, message: string): void };
}): Promise<string[]> {
  const now = options.clock().toISOString();
  const due = await listInterruptedPastWindow(options.store.db, now, options.batch ?? 100);
  const closed: string[] = [];
  for (const consultation of due) {
    try {
      const done = await options.store.transaction((trx) => closeAndProject(trx, consultation.id, consultation.window_closes_at!, now));
      if (done) closed.push(consultation.id);
    } catch (error) {
      // Held past the lock timeout (or a deadlock's victim): still due, closed at the next pass;
      // the others of the batch are not held up behind it.
      if (!isRowConflict(error)) throw error;
      options.logger?.warn(
        { err: error, consultationId: consultation.id },
        'window close: the consultation is held; closed at the next pass',
      );
    }
  }
  return closed;
}
