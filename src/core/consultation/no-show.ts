/**
 * Naming a no-show when an appointment window closes: who never came (`clinician`,
 * `care-recipient`, `both`) and how long the side that came waited. Pure: sessions, lobby
 * entries and the window's end are passed in. Null when the two sides did overlap (a visit).
 */
import { isCareRecipient } from './roles.js';

export type NoShowMissing = 'clinician' | 'care-recipient' | 'both';

export interface Presence {
  readonly role: string;
  readonly from: string;
  /** Null: still there at the window's end. */
  readonly to: string | null;
}

export function noShowVerdict(presences: readonly Presence[], closesAt: Date): { missing: NoShowMissing; waitedSeconds: number } | null {
  const end = closesAt.getTime();
  const spans = presences
    .map((p) => ({ role: p.role, from: Date.parse(p.from), to: Math.min(p.to ? Date.parse(p.to) : end, end) }))
    .filter((span) => span.to >= span.from && span.from < end);
  const clinician = spans.filter((span) => span.role === 'clinician');
  const recipient = spans.filter((span) => isCareRecipient(span.role) || span.role === 'caregiver');
  const overlapped = clinician.some((c) => recipient.some((r) => c.from < r.to && r.from < c.to));
  if (overlapped) return null;
  if (clinician.length === 0 && recipient.length === 0) return { missing: 'both', waitedSeconds: 0 };
  // Both came but never met: the side that came first waited, the other counts as missing.
  const first = (list: typeof spans) => Math.min(...list.map((span) => span.from));
  const recipientCameFirst = recipient.length > 0 && (clinician.length === 0 || first(recipient) <= first(clinician));
  const present = recipientCameFirst ? recipient : clinician;
  const waited = Math.max(...present.map((span) => span.to)) - first(present);
  return { missing: recipientCameFirst ? 'clinician' : 'care-recipient', waitedSeconds: Math.max(0, Math.floor(waited / 1000)) };
}
