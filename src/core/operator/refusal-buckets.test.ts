import { describe, expect, it } from 'vitest';
import { refusalBuckets } from './refusal-buckets.js';

describe('refusalBuckets', () => {
  const from = new Date('2026-03-01T09:00:00.000Z');
  const to = new Date('2026-03-01T11:59:59.000Z');

  it('counts by reason per aligned bucket, empty buckets included, reasons most frequent first', () => {
    const chart = refusalBuckets(
      [
        { reason: 'signature-mismatch', at: '2026-03-01T09:10:00.000Z' },
        { reason: 'signature-mismatch', at: '2026-03-01T11:59:00.000Z' },
        { reason: 'missing-signature', at: '2026-03-01T11:00:00.000Z' },
        { reason: 'signature-mismatch', at: '2026-03-01T11:30:00.000Z' },
      ],
      { from, to, bucketMs: 3_600_000 },
    );
    expect(chart.reasons).toEqual(['signature-mismatch', 'missing-signature']);
    expect(chart.total).toBe(4);
    expect(chart.buckets).toEqual([
      { start: '2026-03-01T09:00:00.000Z', counts: { 'signature-mismatch': 1 }, total: 1 },
      { start: '2026-03-01T10:00:00.000Z', counts: {}, total: 0 },
      { start: '2026-03-01T11:00:00.000Z', counts: { 'missing-signature': 1, 'signature-mismatch': 2 }, total: 3 },
    ]);
  });

  it('leaves out events outside the period and unreadable times', () => {
    const chart = refusalBuckets(
      [
        { reason: 'replay', at: '2026-03-01T08:59:59.999Z' },
        { reason: 'replay', at: '2026-03-01T12:00:00.000Z' },
        { reason: 'replay', at: 'not a time' },
      ],
      { from, to, bucketMs: 900_000 },
    );
    expect(chart.total).toBe(0);
    expect(chart.reasons).toEqual([]);
    expect(chart.buckets).toHaveLength(12);
  });
});
