/**
 * Refusals counted by reason per time bucket, for the operator's chart. Pure: the period and
 * the events are given; buckets are aligned to the bucket size (UTC), empty ones included, so
 * a chart shows quiet hours as quiet rather than leaving them out.
 *
 * @example
 *   refusalBuckets([{ reason: 'bad-signature', at: '2026-03-01T09:10:00.000Z' }], { from, to, bucketMs: 3_600_000 })
 *   // → { reasons: ['bad-signature'], buckets: [{ start: '2026-03-01T09:00:00.000Z', counts: { 'bad-signature': 1 }, total: 1 }, …] }
 */
export interface RefusalBucket {
  readonly start: string;
  readonly counts: Readonly<Record<string, number>>;
  readonly total: number;
}

export interface RefusalChart {
  /** Every reason seen, most frequent first. */
  readonly reasons: readonly string[];
  readonly buckets: readonly RefusalBucket[];
  readonly total: number;
}

export function refusalBuckets(
  events: readonly { readonly reason: string; readonly at: string }[],
  period: { readonly from: Date; readonly to: Date; readonly bucketMs: number },
): RefusalChart {
  const { bucketMs } = period;
  const first = Math.floor(period.from.getTime() / bucketMs) * bucketMs;
  const last = Math.floor(period.to.getTime() / bucketMs) * bucketMs;
  const counts: Map<string, number>[] = [];
  for (let start = first; start <= last; start += bucketMs) counts.push(new Map());
  const totals = new Map<string, number>();
  for (const event of events) {
    const at = Date.parse(event.at);
    if (!(at >= period.from.getTime() && at <= period.to.getTime())) continue;
    const bucket = counts[Math.floor((at - first) / bucketMs)];
    if (!bucket) continue;
    bucket.set(event.reason, (bucket.get(event.reason) ?? 0) + 1);
    totals.set(event.reason, (totals.get(event.reason) ?? 0) + 1);
  }
  const reasons = [...totals.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([reason]) => reason);
  return {
    reasons,
    buckets: counts.map((bucket, index) => ({
      start: new Date(first + index * bucketMs).toISOString(),
      counts: Object.fromEntries(bucket),
      total: [...bucket.values()].reduce((sum, n) => sum + n, 0),
    })),
    total: [...totals.values()].reduce((sum, n) => sum + n, 0),
  };
}
