/**
 * The billing rule: a consultation bills the time a clinician and a care recipient (patient or
 * pet owner) were connected at the same time — the union of clinician intervals intersected
 * with the union of care-recipient intervals. Room time is never billed (a REST room idles until
 * its empty-room timeout, twilio-reference "Facts that shape billing"). Interpreters, observers
 * and caregivers neither make nor add billable time; two clinicians alone bill nothing.
 *
 * `billableSeconds` is the overlap in whole seconds (a fraction of a second is dropped, so a
 * sub-second brush is 0); `roundedSeconds` rounds that UP to the tenant's unit. Zero stays zero.
 */
import { isCareRecipient } from './roles.js';

export interface Interval {
  readonly start: number;
  readonly end: number;
}

export interface BillableSession {
  readonly role: string | undefined;
  readonly connectedAt: number | null;
  readonly disconnectedAt: number | null;
}

export interface Billing {
  /** Whole seconds both sides were connected at once. */
  readonly billableSeconds: number;
  /** billableSeconds rounded up to a multiple of the tenant's unit; 0 stays 0. */
  readonly roundedSeconds: number;
  /** The overlapping intervals billed, ms since the epoch, merged and ordered. */
  readonly intervals: readonly Interval[];
}

/**
 * Computes the billable overlap of a consultation's sessions. Sessions without a known connect
 * or disconnect time, or of zero length, are left out. `roundingSeconds` below 1 is taken as 1.
 *
 * @example computeBilling([{ role: 'clinician', connectedAt: 0, disconnectedAt: 1_200_000 },
 *   { role: 'patient', connectedAt: 300_000, disconnectedAt: 1_500_000 }], { roundingSeconds: 60 }).billableSeconds === 900
 */
export function computeBilling(sessions: readonly BillableSession[], options: { roundingSeconds: number }): Billing {
  const closed = (session: BillableSession): session is BillableSession & { connectedAt: number; disconnectedAt: number } =>
    session.connectedAt !== null && session.disconnectedAt !== null && session.disconnectedAt > session.connectedAt;
  const clinician = mergeIntervals(
    sessions
      .filter((s) => s.role === 'clinician')
      .filter(closed)
      .map(toInterval),
  );
  const recipient = mergeIntervals(
    sessions
      .filter((s) => isCareRecipient(s.role))
      .filter(closed)
      .map(toInterval),
  );
  const intervals = intersect(clinician, recipient);
  const billableMs = intervals.reduce((total, interval) => total + (interval.end - interval.start), 0);
  const billableSeconds = Math.floor(billableMs / 1000);
  const unit = Number.isFinite(options.roundingSeconds) ? Math.max(1, Math.floor(options.roundingSeconds)) : 1;
  const roundedSeconds = Math.ceil(billableSeconds / unit) * unit;
  return { billableSeconds, roundedSeconds, intervals };
}

/**
 * Union of intervals: sorted, overlapping or touching ones merged.
 *
 * @example mergeIntervals([{ start: 5, end: 9 }, { start: 0, end: 5 }]) // [{ start: 0, end: 9 }]
 */
export function mergeIntervals(intervals: readonly Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => a.start - b.start || a.end - b.end);
  const merged: Interval[] = [];
  for (const interval of sorted) {
    const last = merged.at(-1);
    if (last && interval.start <= last.end) merged[merged.length - 1] = { start: last.start, end: Math.max(last.end, interval.end) };
    else merged.push(interval);
  }
  return merged;
}

/** Intersection of two sorted, disjoint interval lists. */
function intersect(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const start = Math.max(a[i]!.start, b[j]!.start);
    const end = Math.min(a[i]!.end, b[j]!.end);
    if (end > start) out.push({ start, end });
    if (a[i]!.end < b[j]!.end) i++;
    else j++;
  }
  return out;
}

function toInterval(session: { connectedAt: number; disconnectedAt: number }): Interval {
  return { start: session.connectedAt, end: session.disconnectedAt };
}
