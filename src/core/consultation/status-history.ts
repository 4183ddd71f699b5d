/**
 * The status history as `consultations.status_history` holds it and the API reads it: JSON
 * `[{ status, at, source? }]`, `at` an ISO timestamp (null when not known). One writer of the
 * form, so a new consultation's history and the projector's are the same text.
 */
import type { StatusChange } from './consultation-state.js';

/** @example statusHistoryJson([{ status: 'scheduled', at: null }]) // '[{"status":"scheduled","at":null}]' */
export function statusHistoryJson(timeline: readonly StatusChange[]): string {
  return JSON.stringify(
    timeline.map((change) => ({
      status: change.status,
      at: change.at === null ? null : new Date(change.at).toISOString(),
      ...(change.source ? { source: change.source } : {}),
    })),
  );
}
