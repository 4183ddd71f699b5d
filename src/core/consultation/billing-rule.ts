/**
 * The billing rule: a consultation bills the time a clinician and a care recipient (patient or
 * pet owner) were connected at the same time — the union of clinician intervals intersected
 * with the union of care-recipient intervals — rounded UP to the tenant's unit. Room time is
 * never billed (a REST room idles until its empty-room timeout). Zero stays zero.
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
  readonly billableSeconds: number;
  readonly roundedSeconds: number;
  /** The overlapping intervals billed, ms since the epoch, merged and ordered. */
  readonly intervals: readonly Interval[];
}

/**
 * @example computeBilling([{ role: 'clinician', connectedAt: 0, disconnectedAt: 1_200_000 },
 *   { role: 'patient', connectedAt: 300_000, disconnectedAt: 1_500_000 }], { roundingSeconds: 60 }).billableSeconds === 900
 */
export function computeBilling(sessions: readonly BillableSession[], options: { roundingSeconds: number }): Billing {
  const closed = (session: BillableSession): session is BillableSession & { connectedAt: number; disconnectedAt: number } =>
    session.connectedAt !== null && session.disconnectedAt !== null && session.disconnectedAt > session.connectedAt;
  const clinician = mergeIntervals(sessions.filter((s) => s.role === 'clinician').filter(closed).map(toInterval));
  const recipient = mergeIntervals(sessions.filter((s) => isCareRecipient(s.role)).filter(closed).map(toInterval));
  const intervals = intersect(clinician, recipient);
  const billableMs = intervals.reduce((total, interval) => total + (interval.end - interval.start), 0);
  const billableSeconds = Math.floor(billableMs / 1000);
  const unit = Math.max(1, Math.floor(options.roundingSeconds));
  const roundedSeconds = billableMs === 0 ? 0 : Math.ceil(billableMs / 1000 / unit) * unit;
  return { billableSeconds, roundedSeconds, intervals };
}

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
